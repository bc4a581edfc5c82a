"""The whole lesson by clicks, as an instructor does it in class: build, run, visit the cow, list, copy, remove.

What is asserted is what a person sees: visible text, enabled or disabled buttons, the docker commands.
"""

import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

pytestmark = pytest.mark.e2e

BUILD_TIMEOUT_MS = 300_000  # a first, uncached build downloads packages; a rebuild from cache takes a second
REFRESH_TIMEOUT_MS = 10_000  # open pages refresh their container list every second or two
STOP_TIMEOUT_MS = 30_000  # `docker stop` waits 10 s before it kills a shell that ignores SIGTERM
FULL_ID = re.compile(r"^[0-9a-f]{64}$")
BUILT = re.compile(
    r"Built\s+(sha256:)?[0-9a-f]{12,64}\s+in\s+[\d.]+\s+s;\s+(\d+)\s+of\s+(\d+)\s+steps\s+came\s+from\s+the\s+cache\."
)
# Not docs/screenshot.png: the README's picture changes only when asked for, by scripts/screenshot.
SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshot.png"
STREAMED_FOR_MS = 500  # log lines that came in one burst (a replay of a finished build) did not stream

# Records, as the page changes, whether the build panel showed a running build, how many log lines streamed
# into it while it ran, when the first and the last of those arrived (ms since the page opened), and which step
# the page marked active while the build ran.
WATCH_BUILD = """() => {
  const seen = window.__buildSeen = {building: false, liveLines: 0, firstLineAt: null, lastLineAt: null,
                                     activeWhileBuilding: []};
  const look = () => {
    const button = document.querySelector("#build-panel form button");
    if (button && button.disabled && /Building/.test(button.textContent)) seen.building = true;
    const active = document.querySelector("section.step.active");
    if (document.querySelector("#build-panel .build-live") && active
        && !seen.activeWhileBuilding.includes(active.dataset.step)) {
      seen.activeWhileBuilding.push(active.dataset.step);
    }
    const live = document.querySelectorAll("#build-panel .build-live .build-log li").length;
    if (live > seen.liveLines) {
      seen.lastLineAt = performance.now();
      seen.firstLineAt = seen.firstLineAt ?? seen.lastLineAt;
      seen.liveLines = live;
    }
  };
  new MutationObserver(look).observe(document.body,
                                     {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def build_cowserv(page: Page):
    """Press "Build cowserv" and wait for this build's "Built ..." message; returns what the panel showed while
    it ran (see WATCH_BUILD: a cached rebuild may be over before the panel shows it running)."""
    panel = page.locator("#build-panel")
    button = panel.get_by_role("button", name="Build cowserv")
    expect(button).to_be_enabled()
    expect(panel.locator("[data-cli]").first).to_have_text(re.compile(r"^cd \S+ && docker build .*-t cowserv \.$"))
    page.evaluate(WATCH_BUILD)
    shown_before = panel.element_handle()

    button.click()

    # The panel this click started from is replaced, and the new one reports the build's outcome.
    page.wait_for_function(
        """old => {
             const panel = document.querySelector("#build-panel");
             return !old.isConnected && panel && /(Built \\S+ in|The build failed)/.test(panel.textContent);
           }""",
        arg=shown_before,
        timeout=BUILD_TIMEOUT_MS,
    )
    outcome = panel.get_by_role("status").filter(has_text=re.compile(r"Built|The build failed"))
    expect(outcome).to_contain_text(BUILT)  # on a failure, this shows the app's explanation
    total_steps = int(BUILT.search(outcome.inner_text())[3])

    log = panel.locator(".build-log li")
    for step in range(1, total_steps + 1):
        expect(log.filter(has_text=f"Step {step}/{total_steps} :")).to_have_count(1)
    expect(log.filter(has_text="Successfully tagged cowserv:latest")).to_have_count(1)
    expect(panel.get_by_role("button", name="Build cowserv")).to_be_enabled()
    return page.evaluate("window.__buildSeen")


def assert_the_log_streamed(seen):
    """The panel showed the build running, and its log lines arrived one after another while it ran; meanwhile
    the page marked the build as the lesson's active step (a moment after the running build showed)."""
    assert seen["building"], "the panel never showed the build running"
    assert "build" in seen["activeWhileBuilding"], (
        f"the build step was never the active one while it ran: {seen['activeWhileBuilding']}")
    assert seen["liveLines"] > 1, f"{seen['liveLines']} log line(s) streamed in while the build ran"
    spread = seen["lastLineAt"] - seen["firstLineAt"]
    assert spread >= STREAMED_FOR_MS, f"the log came in one burst ({spread:.0f} ms), not while the build ran"


def run_command(port):
    """The command beside Run for a host port: the tutorial's `docker run -d -p 8000:8000 cowserv`."""
    return f"docker run -d -p {port}:8000 cowserv"


def type_host_port(page: Page, port):
    """Select what the Host port field holds and type the port over it, key by key, as a person does.

    (Emptying the field first would ask the app for the command of an empty port: see
    test_clearing_the_host_port_shows_a_hint_without_console_errors.)
    """
    field = page.get_by_label("Host port")
    field.click()
    field.press("ControlOrMeta+a")
    field.press_sequentially(str(port), delay=40)
    expect(field).to_have_value(str(port))


def run_container(page: Page, port, engine_cleanup):
    """Type the port, check the command beside Run, press Run; returns the id `-d` printed (shown in the run
    step's status, which every open page gets from the board)."""
    type_host_port(page, port)
    expect(page.locator("#run-cli [data-cli]")).to_have_text(run_command(port))

    run = page.locator("form.run").get_by_role("button", name="Run")
    expect(run).to_be_enabled()
    engine_cleanup.host_port(port)  # before the click: whatever it starts is removed, even if reading the id fails
    run.click()

    expect(page.locator("#run-result")).to_contain_text("Done: Run a container.")
    output = page.locator("#run-status [data-run-output]")
    expect(output).to_have_text(FULL_ID)
    container_id = output.inner_text().strip()
    engine_cleanup.container(container_id)
    expect(run).to_be_enabled()
    return container_id


def open_link(page, link, url):
    """Click a link that opens in a new tab, once its server answers; the new tab, loaded."""
    wait_until_answering(url)  # the container's web server takes a moment to start listening
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state()
    return tab


def wait_until_answering(url, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.read().decode(errors="replace")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def clipboard_after(page: Page, expected, seconds=5):
    """The clipboard's text once it equals `expected`, or whatever it holds when `seconds` are up."""
    deadline = time.monotonic() + seconds
    while True:
        text = page.evaluate("() => navigator.clipboard.readText()")
        if text == expected or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def row_of(page: Page, container_id):
    return page.locator(f'#containers tr[data-container-id="{container_id}"]')


def command_beside(page: Page, copy_button):
    """The docker command a copy button copies: the data-cli text in the same command box."""
    return page.locator(".cli").filter(has=copy_button).locator("[data-cli]")


def removal_message(page: Page, short_id):
    """The message a Stop & remove shows, found by what it says: where it lands is the business of
    test_each_stop_and_remove_shows_its_message."""
    return page.get_by_role("status").filter(has_text=f"Stopped and removed {short_id}.")


@pytest.mark.engine_specific  # a fresh build's log, streamed into the browser
def test_the_whole_lesson_by_clicks(open_page, fresh_build_server, engine_cleanup, free_port):
    """Build (watching the log stream in), run on a port typed in, visit the cow, find the row, copy its command,
    stop and remove it.

    On a dashboard whose Dockerfile has a step no cache holds, so the build is still running when the page
    shows it, every time.
    """
    page = open_page(base_url=fresh_build_server)
    # A second viewer (a student's browser) has the page open from the start and never reloads it.
    viewer = open_page(instructor=False, base_url=fresh_build_server)
    viewer.evaluate("() => { window.__neverReloaded = true; }")
    expect(page).to_have_title("Docker workshop: Docker images: cowserv")

    # 1. Build the image, its log streaming in while it runs (the build the active step meanwhile); once built,
    # the lesson moves on to Run, on both pages.
    assert_the_log_streamed(build_cowserv(page))
    for screen in (page, viewer):
        expect(screen.locator("section.step[data-step='build']")).to_have_attribute(
            "data-check", "passed", timeout=REFRESH_TIMEOUT_MS)
        expect(screen.locator("section.step.active")).to_have_attribute("data-step", "run")

    # 2. Run a container: the command beside Run follows the port typed, before anything is pressed.
    expect(page.locator("#run-cli [data-cli]")).to_have_text(run_command(8000))
    container_id = run_container(page, free_port, engine_cleanup)
    short_id = container_id[:12]

    copy_run = page.locator("#run-cli").get_by_role("button", name="Copy: run a container")
    copy_run.click()
    expect(copy_run).to_have_text("Copied")
    assert clipboard_after(page, run_command(free_port)) == run_command(free_port)

    # 3. Follow the link to the container's port: a cow. The run's check then passes, on both pages.
    link = page.locator("#run-status a")
    cow_url = f"http://127.0.0.1:{free_port}/"
    expect(link).to_have_attribute("href", cow_url)
    expect(link).to_have_text(cow_url)
    cow = open_link(page, link, cow_url)
    expect(cow.locator("pre")).to_contain_text("(oo)")
    cow.close()
    for screen in (page, viewer):
        expect(screen.locator("section.step[data-step='run']")).to_have_attribute(
            "data-check", "passed", timeout=REFRESH_TIMEOUT_MS)
        expect(screen.locator("#run-status .badge")).to_have_text("Check passed")
    # The student's page shows the run's output too, from the board, without reloading.
    expect(viewer.locator("#run-status [data-run-output]")).to_have_text(container_id)
    expect(viewer.locator("#run-status a")).to_have_attribute("href", cow_url)

    # 4. The container's row, with its id, its port link, and beside its button the stop-and-remove command.
    row = row_of(page, container_id)
    expect(row).to_be_visible(timeout=REFRESH_TIMEOUT_MS)
    expect(row).to_contain_text(short_id)
    expect(page.locator("#containers")).to_contain_text(container_id)  # the full id, as `docker run -d` printed
    expect(row.get_by_role("link", name=cow_url)).to_have_attribute("href", cow_url)
    copy_remove = page.get_by_role("button", name=f"Copy: stop and remove {short_id}")
    remove_cli = command_beside(page, copy_remove)
    expect(remove_cli).to_have_text(f"docker stop {short_id} && docker rm {short_id}")

    # Its copy button copies exactly that command.
    copy_remove.click()
    expected = remove_cli.text_content()
    assert clipboard_after(page, expected) == expected

    # The student's page shows the new row by itself, and nothing on it can change anything: its only buttons
    # copy a command, ask whether the container answers or read the logs.
    expect(row_of(viewer, container_id)).to_be_visible(timeout=REFRESH_TIMEOUT_MS)
    assert viewer.evaluate("() => window.__neverReloaded === true"), "the second viewer's page was reloaded"
    assert {name.strip() for name in viewer.locator("button").all_inner_texts()} <= {
        "Copy", "Is it answering?", "Logs"
    }
    expect(viewer.locator("form[method=post], [hx-post], [hx-delete]")).to_have_count(0)

    # 5. Stop and remove it: the row goes, on both pages.
    remove = page.get_by_role("button", name=f"Stop & remove {short_id}")
    expect(remove).to_be_enabled()
    remove.click()
    message = removal_message(page, short_id)
    expect(message).to_be_visible(timeout=STOP_TIMEOUT_MS)
    expect(message.locator("[data-cli]")).to_have_text(f"docker stop {short_id} && docker rm {short_id}")
    expect(row).to_have_count(0, timeout=REFRESH_TIMEOUT_MS)
    expect(row_of(viewer, container_id)).to_have_count(0, timeout=REFRESH_TIMEOUT_MS)
    assert viewer.evaluate("() => window.__neverReloaded === true"), "the second viewer's page was reloaded"


def test_screenshot_of_the_page_in_class(open_page, engine_cleanup, free_port):
    """The README's picture (scripts/screenshot copies it to docs/): the page at 1920x1080 after a build, with
    one container running."""
    page = open_page(viewport={"width": 1920, "height": 1080})
    build_cowserv(page)
    container_id = run_container(page, free_port, engine_cleanup)
    wait_until_answering(f"http://127.0.0.1:{free_port}/")
    expect(row_of(page, container_id)).to_be_visible(timeout=REFRESH_TIMEOUT_MS)
    expect(row_of(page, container_id)).to_contain_text("Up", timeout=REFRESH_TIMEOUT_MS)

    # In class the projector shows the running part of the lesson: the run form, what it printed, the list.
    page.locator("#run-title").evaluate("title => title.closest('section').scrollIntoView({block: 'start'})")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.mouse.move(0, 0)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT)
    assert SCREENSHOT.stat().st_size > 10_000


def test_a_fresh_browser_opens_the_page_without_console_errors(launch_browser, live_server, watch):
    """The first page a new browser opens logs no console error at all (a missing favicon would: Chromium asks
    for a site's icon once per browser, so only a fresh browser shows it)."""
    browser = launch_browser()
    try:
        watched = watch(browser.new_page(), "fresh")
        watched.page.goto(live_server)
        try:
            watched.page.wait_for_event("console", lambda m: m.type == "error", timeout=3_000)
        except PlaywrightTimeoutError:
            pass  # three quiet seconds
        assert watched.errors == []
    finally:
        browser.close()


def test_typing_a_host_port_logs_no_console_error(new_context, watch, sign_in, free_port):
    """Typing in the Host port field updates the command beside Run without any console error."""
    watched = watch(new_context().new_page(), "typing")
    page = watched.page
    sign_in(page)
    page.goto("/")
    type_host_port(page, free_port)
    expect(page.locator("#run-cli [data-cli]")).to_have_text(run_command(free_port))
    page.wait_for_timeout(500)  # let the request finish: htmx re-enables the disabled elements after it
    assert watched.errors == []


def test_clearing_the_host_port_shows_a_hint_without_console_errors(new_context, watch, sign_in):
    """Emptying the Host port field puts a hint where the command was, and the console stays clean."""
    watched = watch(new_context().new_page(), "clearing")
    page = watched.page
    sign_in(page)
    page.goto("/")
    page.get_by_label("Host port").fill("")
    expect(page.locator("#run-cli")).to_contain_text("Give a host port")
    page.wait_for_timeout(300)  # the console messages of the answer come just after it
    assert watched.errors == []


def test_each_stop_and_remove_shows_its_message(new_context, watch, sign_in, docker_client, engine_cleanup):
    """Two removals in a row: each shows its own "Stopped and removed" message, and the console stays clean."""
    watched = watch(new_context().new_page(), "two-removals")
    page = watched.page
    sign_in(page)
    page.goto("/")
    build_cowserv(page)
    # Created, never started: listed by `docker ps -a`, and `docker stop` has nothing to wait for.
    container_ids = [docker_client.api.create_container("cowserv:latest")["Id"] for _ in range(2)]
    for container_id in container_ids:
        engine_cleanup.container(container_id)
    for number, container_id in enumerate(container_ids, 1):
        short_id = container_id[:12]
        row = row_of(page, container_id)
        expect(row).to_be_visible(timeout=REFRESH_TIMEOUT_MS)
        page.get_by_role("button", name=f"Stop & remove {short_id}").click()
        expect(removal_message(page, short_id), f"removal {number} of 2 shows its message").to_be_visible(
            timeout=REFRESH_TIMEOUT_MS  # nothing to stop: the answer is immediate
        )
        expect(row).to_have_count(0, timeout=REFRESH_TIMEOUT_MS)
    assert watched.errors == []


def test_stop_and_remove_stays_disabled_until_the_row_goes(
    new_context, watch, sign_in, docker_client, engine_cleanup
):
    """Once pressed, a row's Stop & remove button is never offered again while the container is stopping."""
    # A page of its own: teardown force-removes the container under the pending stop, whose answer is then an
    # error that must not be blamed on this test.
    page = watch(new_context().new_page(), "stopping").page
    sign_in(page)
    page.goto("/")
    build_cowserv(page)
    container_id = docker_client.api.create_container("cowserv:latest")["Id"]
    engine_cleanup.container(container_id)
    docker_client.api.start(container_id)
    short_id = container_id[:12]
    row = row_of(page, container_id)
    remove = page.get_by_role("button", name=f"Stop & remove {short_id}")
    expect(remove).to_be_enabled(timeout=REFRESH_TIMEOUT_MS)

    remove.click()
    pressed = time.monotonic()
    deadline = pressed + 8  # several refreshes of the list (a re-render at least every 5 s); the stop takes 10 s
    while time.monotonic() < deadline and row.count():
        enabled = page.evaluate(
            """name => [...document.querySelectorAll("#containers button")]
                         .some(button => button.textContent.trim() === name && !button.disabled)""",
            f"Stop & remove {short_id}",
        )
        assert not enabled, (
            f"the Stop & remove button is enabled again {time.monotonic() - pressed:.1f} s after it was pressed, "
            "while its container is still stopping"
        )
        time.sleep(0.1)


# The contrast ratio of WCAG 2 between an element's text colour and the background it is actually drawn on.
CONTRAST = """element => {
  const rgb = colour => colour.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const linear = c => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  let background = element;
  while (background && (getComputedStyle(background).backgroundColor.endsWith(", 0)")
                        || getComputedStyle(background).backgroundColor === "transparent")) {
    background = background.parentElement;
  }
  const [light, dark] = [luminance(rgb(getComputedStyle(element).color)),
                         luminance(rgb(getComputedStyle(background || document.body).backgroundColor))]
                        .sort((a, b) => b - a);
  return (light + 0.05) / (dark + 0.05);
}"""


def test_the_build_log_is_readable(page: Page):
    """Every kind of build-log line, the "Step N/M" ones included, is readable: contrast of at least 4.5:1."""
    build_cowserv(page)
    lines = page.locator("#build-panel .build-log li")
    expect(lines.first).to_be_visible()
    low = []
    for index in range(lines.count()):
        ratio = lines.nth(index).evaluate(CONTRAST)
        if ratio < 4.5:
            low.append(f"{ratio:.1f}:1 {lines.nth(index).inner_text()[:60]!r}")
    assert low == [], "build-log lines too faint to read:\n" + "\n".join(low)
