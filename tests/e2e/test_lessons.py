"""The workshop's lessons as data, in the browser: part 4 (a more realistic Dockerfile) done by clicks as in class,
the current lesson followed by the pages that show it, and lesson texts shown as text.

The realistic lesson's containers have fixed names (website, website-live), and the running lesson's too (hello,
ticker): the tests here force-remove every container of those two lessons before and after them. Other test runs
that use the same names must not run at the same time on the same engine.
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support import free_ports
from tests.support.lessons import remove_lesson_containers

from .test_lesson import BUILD_TIMEOUT_MS, REFRESH_TIMEOUT_MS, build_cowserv, open_link

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_PAGE = ROOT / "dashboard" / "lessons" / "04-realistic-dockerfile" / "index.html"
STEP_TIMEOUT_MS = 30_000  # an action, then its check (asked again for a few seconds while a server starts)
FOLLOW_TIMEOUT_MS = 15_000  # pages that follow the current lesson are nudged by the live stream, then ask
OTHER_LESSONS = ("realistic", "running")


@pytest.fixture(autouse=True)
def other_lessons_cleared(docker_client):
    """No container of the realistic or the running lesson before each test here, nor after it, pass or fail."""
    for lesson in OTHER_LESSONS:
        remove_lesson_containers(docker_client, lesson)
    yield
    for lesson in OTHER_LESSONS:
        remove_lesson_containers(docker_client, lesson)


@pytest.fixture
def website_page_as_shipped():
    """The realistic lesson's index.html in the workshop folder (the live server's, from DASHBOARD_WORKSHOP_DIR) as
    shipped, before and after the test: its edit step rewrites it."""
    served = Path(os.environ["DASHBOARD_WORKSHOP_DIR"]) / "website" / "index.html"
    served.write_text(SHIPPED_PAGE.read_text())
    yield served
    served.write_text(SHIPPED_PAGE.read_text())


def teach(page: Page, lesson_id):
    """The instructor makes the lesson current with its page's button; `/` then shows it."""
    page.goto(f"/lessons/{lesson_id}")
    page.get_by_role("button", name="Teach this lesson now").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("section.intro")).to_have_attribute("data-lesson", lesson_id)


@pytest.fixture
def cowserv_taught_after(open_page):
    """After the test, pass or fail, the images lesson is the current one again, as every other test expects."""
    yield
    page = open_page("/lessons/cowserv")
    if page.get_by_role("button", name="Teach this lesson now").count():
        teach(page, "cowserv")


def section(page: Page, step_id):
    return page.locator(f"section.step#step-{step_id}")


def expect_passed(page: Page, step_id):
    """The step's check passed: its section says so (data-check), and its badge reads it."""
    expect(section(page, step_id)).to_have_attribute("data-check", "passed", timeout=STEP_TIMEOUT_MS)
    expect(page.locator(f"#{step_id}-status .badge")).to_have_text("Check passed")


def expect_active(page: Page, step_id):
    expect(page.locator("section.step.active")).to_have_count(1)
    expect(page.locator("section.step.active")).to_have_attribute("data-step", step_id, timeout=REFRESH_TIMEOUT_MS)


def press(page: Page, step_id, button, title):
    """Press the step's button; its result says the step was done, and its status shows the run (data-done)."""
    section(page, step_id).get_by_role("button", name=button, exact=True).click()
    expect(page.locator(f"#{step_id}-result")).to_contain_text(f"Done: {title}.", timeout=STEP_TIMEOUT_MS)
    expect(section(page, step_id)).to_have_attribute("data-done", "true")


def run_on(page: Page, step_id, title, port, command, engine_cleanup=None):
    """Type the host port in the step's own Host port field, see the command follow it, press its Run; returns the
    link its status shows. With `engine_cleanup`, what the run starts is removed after the test."""
    field = section(page, step_id).get_by_label("Host port")
    field.click()
    field.press("ControlOrMeta+a")
    field.press_sequentially(str(port), delay=40)
    expect(field).to_have_value(str(port))
    expect(page.locator(f"#{step_id}-cli [data-cli]")).to_have_text(command)
    if engine_cleanup is not None:
        engine_cleanup.host_port(port)  # before the click: removed even if the id is never read
    press(page, step_id, "Run", title)
    link = page.locator(f"#{step_id}-status a")
    url = f"http://127.0.0.1:{port}/"
    expect(link).to_have_attribute("href", url)
    expect(page.locator(f"#{step_id}-status [data-run-output]")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    return link


def build_website(page: Page):
    """Press "Build website" and wait for this build's outcome in the panel: built, tagged website."""
    panel = page.locator("#build-panel")
    expect(panel.locator("[data-cli]").first).to_have_text(re.compile(r"^cd \S+/website && docker build .*-t website \.$"))
    shown_before = panel.element_handle()
    panel.get_by_role("button", name="Build website").click()
    page.wait_for_function(
        """old => {
             const panel = document.querySelector("#build-panel");
             return !old.isConnected && panel && !panel.querySelector(".build-live")
                    && /(Built \\S+ in|The build failed)/.test(panel.textContent);
           }""",
        arg=shown_before,
        timeout=BUILD_TIMEOUT_MS,
    )
    expect(panel.get_by_role("status").filter(has_text=re.compile(r"Built|The build failed"))).to_contain_text("Built")
    expect(panel.locator(".build-log li").filter(has_text="Successfully tagged website:latest")).to_have_count(1)


def test_the_images_lesson_by_clicks_on_its_own_page(open_page, engine_cleanup):
    """Part 3 on /lessons/cowserv: build, then run on a host port typed in; each check passes, the active step
    moves from the build to the run, and the link the run's status shows serves the cow."""
    port, = free_ports(1)
    page = open_page("/lessons/cowserv")
    expect(page).to_have_title("Docker workshop: Docker images: cowserv")
    expect(page.get_by_role("button", name="Teach this lesson now")).to_have_count(0)  # it is the current one

    build_cowserv(page)
    expect_passed(page, "build")
    expect_active(page, "run")

    link = run_on(page, "run", "Run a container", port, f"docker run -d -p {port}:8000 cowserv", engine_cleanup)
    engine_cleanup.container(page.locator("#run-status [data-run-output]").inner_text().strip())
    expect_passed(page, "run")
    expect_active(page, "run")  # the last step stays the active one once the lesson is done
    cow = open_link(page, link, f"http://127.0.0.1:{port}/")
    expect(cow.locator("pre")).to_contain_text("(oo)")
    cow.close()


def test_the_realistic_dockerfile_lesson_by_clicks(open_page, website_page_as_shipped):
    """Part 4 by its buttons, in order: build, serve (on a host port typed in), exec, logs, rm -f, serve the folder
    with a bind mount, edit the page and see the served page change without a rebuild, clean up. Each check
    passes, and the active step moves on with the lesson, on the instructor's page and on a student's."""
    run_port, live_port = free_ports(2)
    page = open_page("/lessons/realistic")
    viewer = open_page("/lessons/realistic", instructor=False)
    viewer.evaluate("() => { window.__neverReloaded = true; }")
    expect(page).to_have_title("Docker workshop: A more realistic Dockerfile")
    # Nothing done yet (no container of the lesson): the lesson is at its start, not at a clean-up step whose
    # "gone" check passes already.
    for screen in (page, viewer):
        expect(screen.locator("section.step.active")).to_have_attribute("data-step", re.compile(r"^(build|run)$"))

    build_website(page)
    expect_passed(page, "build")
    expect_active(page, "run")

    # Serve it, on a port typed in: the served page is the copy in the image.
    served_link = run_on(page, "run", "Serve it", run_port, f"docker run -d --name website -p {run_port}:8000 website")
    expect_passed(page, "run")
    expect_active(page, "exec")
    served = open_link(page, served_link, f"http://127.0.0.1:{run_port}/")
    expect(served.locator("h1")).to_have_text("Hello from the image")
    served.close()

    press(page, "exec", "Run it inside", "Run a command inside it")
    expect_passed(page, "exec")
    expect(page.locator("#exec-status [data-step-output]")).to_contain_text("index.html")
    expect_active(page, "logs")

    press(page, "logs", "Show the logs", "Read its request log")
    expect(page.locator("#logs-status [data-step-output]")).to_contain_text("GET /")
    expect_active(page, "remove")

    press(page, "remove", "Remove it (-f)", "Remove it, running or not")
    expect_passed(page, "remove")
    expect_active(page, "live")

    # Serve the folder instead, on another port typed in; open the served page in a tab of its own.
    live_link = run_on(page, "live", "Serve this folder instead, with a bind mount", live_port,
                       re.compile(rf'^cd \S+/website && docker run -d --name website-live -p {live_port}:8000 '
                                  r'-v "\$\(pwd\)":/site website$'))
    expect_passed(page, "live")
    expect_active(page, "edit")
    live_url = live_link.get_attribute("href")
    live = open_link(page, live_link, live_url)
    expect(live.locator("h1")).to_have_text("Hello from the image")

    # The edit: written in the folder on the host, served at once through the bind mount, no rebuild.
    expect(section(page, "edit").locator("pre.file-content")).to_contain_text("<h1>Edited live, no rebuild</h1>")
    press(page, "edit", "Write the file", "Edit the page, and reload")
    expect_passed(page, "edit")
    expect_active(page, "clean")
    live.reload()
    expect(live.locator("h1")).to_have_text("Edited live, no rebuild")
    assert "Edited live" in website_page_as_shipped.read_text()
    live.close()

    press(page, "clean", "Remove it (-f)", "Clean up")
    expect_passed(page, "clean")
    expect_active(page, "clean")  # the last step stays the active one once the lesson is done

    # The student's page followed along without reloading: the image built, every other step ran, the clean-up
    # checked.
    expect(section(viewer, "build")).to_have_attribute("data-check", "passed")
    for step_id in ("run", "exec", "logs", "remove", "live", "edit", "clean"):
        expect(section(viewer, step_id)).to_have_attribute("data-done", "true", timeout=REFRESH_TIMEOUT_MS)
    expect(section(viewer, "clean")).to_have_attribute("data-check", "passed")
    expect(viewer.locator("#clean-status .badge")).to_have_text("Check passed")
    expect(viewer.locator("#live-status [data-run-output]")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    expect_active(viewer, "clean")
    assert viewer.evaluate("() => window.__neverReloaded === true"), "the student's page was reloaded"
    expect(viewer.locator("form[method=post], [hx-post], [hx-delete]")).to_have_count(0)


def test_a_page_open_on_the_current_lesson_follows_the_instructor_s_pick(open_page, cowserv_taught_after):
    """The instructor makes the running-containers lesson current: a signed-out page open on `/` shows it by
    itself, in place (its live stream stays open: no reload); the lessons list marks it current."""
    viewer = open_page("/", instructor=False)
    expect(viewer.locator("section.intro")).to_have_attribute("data-lesson", "cowserv")
    expect(viewer.locator("#lesson-title")).to_have_text("Docker images: cowserv")
    viewer.evaluate("() => { window.__beforeThePick = true; }")

    instructor = open_page("/lessons/running")
    expect(instructor.locator("#lesson-title")).to_have_text("Running containers")
    teach(instructor, "running")
    expect(instructor.locator("#lesson-title")).to_have_text("Running containers")
    expect(instructor.get_by_role("button", name="Teach this lesson now")).to_have_count(0)

    expect(viewer.locator("#lesson-title")).to_have_text("Running containers", timeout=FOLLOW_TIMEOUT_MS)
    expect(viewer).to_have_title("Docker workshop: Running containers")
    expect(viewer.locator("section.intro")).to_have_attribute("data-lesson", "running")
    assert viewer.evaluate("() => window.__beforeThePick === true"), "the page reloaded rather than swap in place"
    expect(viewer.locator("nav.lessons a[aria-current='page']")).to_have_text("Running containers")

    viewer.goto("/lessons")
    expect(viewer.locator("li[data-lesson='running'] .badge")).to_have_text("current")
    expect(viewer.locator("li[data-lesson='cowserv'] .badge")).to_have_count(0)


# Every element a lesson's own text may make: paragraphs and code spans, nothing from the file as markup.
LESSON_TEXT = "section.intro > p:not(.note), .step-text, details.hint"


@pytest.mark.parametrize("lesson_id", ["running", "cowserv", "realistic"])
def test_a_lesson_s_text_is_text_with_code_spans(open_page, lesson_id):
    """A lesson file's `code` spans are <code> elements, no backtick shows, and nothing else in its texts is
    markup; the edit step's new page (HTML) is shown as text."""
    page = open_page(f"/lessons/{lesson_id}", instructor=False)
    texts = page.locator(LESSON_TEXT)
    expect(texts.first).to_be_visible()
    assert "`" not in "".join(texts.all_text_contents()), "a raw backtick shows in the lesson's text"
    tags = page.evaluate(
        """selector => [...new Set([...document.querySelectorAll(selector)]
                         .flatMap(text => [...text.querySelectorAll("*")].map(element => element.tagName)))]""",
        LESSON_TEXT)
    assert set(tags) <= {"P", "CODE", "SUMMARY"}, f"lesson text made elements: {sorted(tags)}"
    spans = page.locator(f":is({LESSON_TEXT}) code")
    assert spans.count() > 0
    if lesson_id == "running":
        intro_ps = page.locator("section.intro code").filter(has_text=re.compile(r"^docker ps -a$"))
        expect(intro_ps).to_have_count(1)
        assert intro_ps.evaluate("element => element.tagName") == "CODE"
        expect(page.locator("#step-hello .step-text code").first).to_have_text("docker run IMAGE COMMAND")
    if lesson_id == "realistic":
        content = section(page, "edit").locator("pre.file-content")
        expect(content).to_contain_text("<h1>Edited live, no rebuild</h1>")
        expect(content.locator("*")).to_have_count(0)
