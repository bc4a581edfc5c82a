"""A compose step that builds, pressed in the browser: the instructor's page, a student's read-only screen and the
presenter view all show its output growing while it runs (the board, nudged by the live stream), where the build
is, then its run and its check, without reloading.

On a dashboard of its own whose only lesson is tests/test_step_runs.py's slow one (its RUN steps print and sleep).
"""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import _serve
from tests.test_step_runs import take_down, write_slow_lesson

pytestmark = pytest.mark.e2e

RUN_TIMEOUT_MS = 300_000


@pytest.fixture
def slow_server(tmp_path, server_log, instructor_token, docker_client):
    """A dashboard on a slow lesson of its own; afterwards what the lesson made is gone."""
    lesson_id = write_slow_lesson(tmp_path / "lessons")
    env = {"DASHBOARD_INSTRUCTOR_TOKEN": instructor_token, "DASHBOARD_LESSONS_DIR": str(tmp_path / "lessons"),
           "DASHBOARD_WORKSHOP_DIR": str(tmp_path / "workshop"), "DASHBOARD_INSTANCE_PATH": str(tmp_path / "instance")}
    try:
        with _serve(server_log.with_name("slow-compose.log"), env) as url:
            yield url, lesson_id
    finally:
        take_down(docker_client, lesson_id, tmp_path / "workshop" / lesson_id)


def test_every_page_follows_a_compose_build_as_it_comes(open_page, slow_server):
    url, lesson = slow_server
    page = open_page("/", base_url=url)
    screen = open_page("/", instructor=False, base_url=url)
    presenter = open_page("/present", instructor=False, base_url=url)
    for viewer in (screen, presenter):
        viewer.evaluate("() => { window.__neverReloaded = true; }")

    page.locator("section.step[data-step='up']").get_by_role("button", name="Run Compose").click()
    expect(page.locator("#up-result")).to_contain_text("Started: Build and start it.")

    # While it runs: the first RUN's line, not yet the last's, with the stage it is at, on every page.
    for viewer in (page, screen, presenter):
        running = viewer.locator("#up-status[data-running='true']")
        expect(running.locator("[data-step-output]")).to_contain_text(f"first of {lesson}", timeout=RUN_TIMEOUT_MS)
        expect(running.locator("[data-stage]")).to_have_text(re.compile(r"^(#\d+ \S|Step \d+/\d+ : )"))
    assert f"third of {lesson}" not in screen.locator("#up-status").inner_text()
    expect(presenter.locator("section.step.active")).to_have_attribute("data-step", "up")

    # Then its run and its check, as any step's.
    for viewer in (page, screen, presenter):
        status = viewer.locator("#up-status")
        expect(status).to_have_attribute("data-done", "true", timeout=RUN_TIMEOUT_MS)
        expect(status.locator("[data-step-output]")).to_contain_text(f"third of {lesson}")
        expect(status.locator(".badge")).to_have_text("Check passed", timeout=30_000)
    for viewer in (screen, presenter):
        assert viewer.evaluate("() => window.__neverReloaded === true")
