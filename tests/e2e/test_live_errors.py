"""Live lists stay live through errors: a GET answered with an error shows it beside the list, and goes on.

Every open page asks for its lists again (the containers, the build panel, the transcript, the class's seats) when
the live stream nudges it (static/live.js dispatches the list's `*-changed` event), each replacing itself with
the answer. An error answer (a locked transcript file, an engine hiccup) must not take
the list's place: the list would stop polling, and the page would stay stale until reloaded.
"""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

REFRESH_TIMEOUT_MS = 10_000
FAILURE = "The transcript file is locked by another process; try again."
# Chromium logs every 4xx/5xx answer as "Failed to load resource: ... status of 503"; the page itself must
# log nothing more (htmx would log "Response Status Error Code 503" for an error it did not see handled).
CHROMIUM_LOGS_THE_503 = r"Failed to load resource: the server responded with a status of 503"
# Each list: the page it is on, the URL of its GET (with the lesson and the version the page shows), and the body
# event a nudge of the live stream becomes (live.js).
POLLERS = {
    "containers": ("/", r"/containers\?lesson=cowserv&since=", "containers-changed"),
    "build-panel": ("/", r"/images/build\?lesson=cowserv&since=", "build-changed"),
    "transcript": ("/", r"/transcript\?lesson=cowserv&since=", "transcript-changed"),
    "board": ("/", r"/lessons/cowserv/board\?since=", "board-changed"),  # hidden; its error line is not
}


def nudge(page: Page, event):
    """What a nudge of the live stream does to the page: the list's event on the body, which the list answers."""
    page.evaluate("event => htmx.trigger(document.body, event)", event)


def fail_next_poll(page: Page, url_pattern):
    """Answer the next poll matching `url_pattern` with a 503 and an error message, as the app does."""
    body = f'<div class="message error" role="alert"><p>{FAILURE}</p></div>'
    page.route(re.compile(url_pattern), lambda route: route.fulfill(status=503, content_type="text/html", body=body),
               times=1)


def assert_error_shown_beside(page: Page, poller_id):
    """The failure shows in an error line beside the list (same parent), and the list is still there."""
    error_line = page.locator(f"#{poller_id}-error")
    expect(error_line).to_contain_text(FAILURE, timeout=REFRESH_TIMEOUT_MS)
    expect(error_line).to_contain_text("503")
    expect(error_line).to_be_visible()
    expect(error_line).to_have_attribute("role", re.compile(r"^(status|alert)$"))
    poller = page.locator(f"#{poller_id}")
    expect(poller).to_have_count(1)
    if not poller.evaluate("element => element.hidden"):  # the board is a hidden poller: nothing of it to show
        expect(poller).to_be_visible()
    assert poller.evaluate("(list, line) => list.parentElement === line.parentElement",
                           error_line.element_handle()), "the error line is not beside the list"
    return error_line


@pytest.mark.parametrize("poller_id", list(POLLERS))
def test_an_error_on_a_poll_shows_beside_the_list_and_clears(open_page, allowed_console_errors, poller_id):
    """One GET answered 503: the message shows beside the list, the list stays, the next one clears it."""
    allowed_console_errors.append(CHROMIUM_LOGS_THE_503)
    path, polls, event = POLLERS[poller_id]
    page = open_page(path, instructor=False)
    fail_next_poll(page, polls)
    nudge(page, event)
    error_line = assert_error_shown_beside(page, poller_id)
    nudge(page, event)
    expect(error_line).to_be_empty(timeout=REFRESH_TIMEOUT_MS)
    expect(page.locator(f"#{poller_id}")).to_have_count(1)
    if poller_id != "board":
        expect(page.locator(f"#{poller_id}")).to_be_visible()


def test_the_container_list_stays_live_after_an_error(
    open_page, allowed_console_errors, cowserv_image, docker_client, engine_cleanup
):
    """After a GET of the list fails, a container started from the CLI still shows up (the stream's nudge), and the
    error clears."""
    allowed_console_errors.append(CHROMIUM_LOGS_THE_503)
    page = open_page("/", instructor=False)
    fail_next_poll(page, POLLERS["containers"][1])
    nudge(page, "containers-changed")
    error_line = assert_error_shown_beside(page, "containers")

    container_id = docker_client.api.create_container("cowserv:latest")["Id"]
    engine_cleanup.container(container_id)
    docker_client.api.start(container_id)

    expect(page.locator(f'#containers tr[data-container-id="{container_id}"]')).to_be_visible(
        timeout=REFRESH_TIMEOUT_MS
    )
    expect(error_line).to_be_empty()
