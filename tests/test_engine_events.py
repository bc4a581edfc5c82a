"""Following the engine's events: one watcher per app, a list re-read whenever the stream (re)opens, a stop;
images changed from the CLI reach open build panels; a build's own step containers are never the lesson's."""

import re
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import HTMX, shell, wait_until
from dashboard import create_app
from dashboard.domain.commands import lesson_filter
from tests.support.lessons import DEFAULT_LESSON
from dashboard.web.views import build_plan, current_lesson

# Both engine passes (engine_specific): the engine's events.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]

WAIT = 30  # seconds: only so that a broken test ends; what is asserted is what arrives, never how fast


def counting_events(engine, before_open=None):
    """Count the engine's event streams opened; `before_open` runs just before each one opens."""
    opened, real = [], engine.events

    def events():
        if before_open:
            before_open()
        stream = real()
        opened.append(stream)
        return stream

    engine.events = events
    return opened


def test_the_watcher_starts_once_however_many_viewers_ask_at_once(app):
    snapshot = app.extensions["snapshot"]
    opened = counting_events(app.extensions["engine"])
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda _: snapshot.images_version, range(400)))
    wait_until(lambda: opened, "the event stream opened")
    time.sleep(0.5)  # a second watcher, had one started, opens its stream by now
    assert len(opened) == 1 and snapshot.watching


def test_a_change_made_before_the_event_stream_opens_shows_at_the_next_read(tmp_path, cowserv_image, created):
    app = create_app({"TESTING": True, "SNAPSHOT_SECONDS": 3600,  # only the stream's opening may re-read it
                      "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    gate = threading.Event()
    opened = counting_events(app.extensions["engine"], before_open=lambda: gate.wait(WAIT))
    snapshot = app.extensions["snapshot"]
    snapshot.current()  # the first read; the watcher waits at the gate, its stream not open yet

    made = shell("docker create cowserv:latest").stdout.strip()  # no event reaches a stream not yet open
    created(made)
    gate.set()
    wait_until(lambda: opened, "the event stream opened")
    wait_until(lambda: made in {c.id for c in snapshot.current()[1]}, "the container created meanwhile is listed")


def test_stop_ends_the_watcher_and_closes_its_stream(app):
    snapshot = app.extensions["snapshot"]
    opened = counting_events(app.extensions["engine"])
    snapshot.current()
    wait_until(lambda: opened, "the event stream opened")
    snapshot.stop()
    assert not snapshot.watching
    snapshot.current()  # a stopped snapshot still answers, and starts no watcher again
    assert not snapshot.watching and len(opened) == 1


def panel_version(panel):
    return re.search(r'since=([^"&]+)"', panel)[1]


def test_an_image_built_or_removed_from_the_cli_reaches_open_build_panels(tmp_path, cowserv_image, docker_client):
    tag = f"test-{uuid.uuid4().hex[:10]}"
    app = create_app({"TESTING": True, "IMAGE": tag, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    client = app.test_client()
    with app.test_request_context():
        command = build_plan(current_lesson()).command  # the command the page shows, run from a shell as a student would
    panel = client.get("/images/build", headers=HTMX).text
    assert "data-image-id" not in panel
    try:
        assert shell(command).returncode == 0
        image_id = docker_client.images.get(tag).short_id.removeprefix("sha256:")

        def shows(check):
            nonlocal panel
            answer = client.get(f"/images/build?since={panel_version(panel)}", headers=HTMX)
            if answer.status_code == 200:
                panel = answer.text
            return check(panel)

        wait_until(lambda: shows(lambda text: image_id in text and "data-image-id" in text), "the built image shows")
        assert shell(f"docker rmi {tag}").returncode == 0
        wait_until(lambda: shows(lambda text: "data-image-id" not in text), "the removed image goes")
    finally:
        shell(f"docker rmi {tag}")


def test_a_builds_own_step_containers_are_never_listed_nor_reachable(tmp_path, cowserv_image, docker_client,
                                                                    created):
    """A RUN that takes a while, in the shipped Dockerfile: its container must not be a lesson container. The one
    labelled container the build makes (for the LABEL step, seen in the engine's events) runs the builder's
    `#(nop)` command, and a container of that shape is neither listed nor removable."""
    context = tmp_path / "context"
    shutil.copytree(create_app().config["BUILD_CONTEXT"], context)
    dockerfile = context / "Dockerfile"
    slow_step = f"RUN sleep 3 && echo {uuid.uuid4().hex}\n"  # new every run, so never from the cache
    dockerfile.write_text(re.sub(r"^(ENV .*\n)", lambda m: m[1] + slow_step, dockerfile.read_text(), flags=re.M))
    tag = f"test-{uuid.uuid4().hex[:10]}"
    app = create_app({"TESTING": True, "IMAGE": tag, "BUILD_CONTEXT": str(context),
                      "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    engine, client = app.extensions["engine"], app.test_client()
    before = {c.id for c in engine.containers()}
    listed, labelled = set(), set()
    since = int(time.time()) - 1
    try:
        assert client.post("/images/build", headers=HTMX).status_code == 200
        build = app.extensions["builder"].current
        while build.running:
            listed |= {c.id for c in engine.containers() if c.lesson == "cowserv"} - before  # this build's lesson
            labelled |= {row["Id"] for row in docker_client.api.containers(all=True, filters={"label": lesson_filter(DEFAULT_LESSON)})}
            time.sleep(0.05)
        assert build.state == "succeeded", build.error
        assert any("Running in" in line.text for line in build.lines)  # the build did run steps in containers
        assert listed == set(), "a build step's container was listed as the lesson's"
        made = {event["id"] for event in docker_client.api.events(
            since=since, until=int(time.time()) + 1, decode=True,
            filters={"type": "container", "event": "create", "label": lesson_filter(DEFAULT_LESSON)})}
        assert made - before, "the build made no labelled container (its LABEL step's), so this test shows nothing"
        for step in (labelled | made) - before:
            assert client.delete(f"/containers/{step}", headers=HTMX).status_code == 404
    finally:
        shell(f"docker rmi {tag}")

    # A container as the builder makes for a metadata step, on the real engine: left out, out of reach.
    step = docker_client.api.create_container(
        "cowserv:latest", ["/bin/sh", "-c", "#(nop) ", "LABEL classroom.lesson=cowserv"])["Id"]
    created(step)
    assert docker_client.api.inspect_container(step)["Config"]["Labels"]["classroom.lesson"] == "cowserv"
    assert step not in {c.id for c in engine.containers()}
    answer = client.delete(f"/containers/{step}", headers=HTMX)
    assert answer.status_code == 404 and docker_client.api.inspect_container(step)["Id"] == step
