"""The one live stream per browser: an instructor's eight tabs share it (a seventh tab must not wait on HTTP/1.1's
six connections) and all update on a change; with EventSource removed the pages still update, by the old polling."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

TABS = 8
WAIT_MS = 15_000  # only so that a broken build ends; bench/live.py measures how fast


def row(page, container_id):
    return page.locator(f'#containers tr[data-container-id="{container_id}"]')


def test_eight_tabs_of_the_instructor_share_one_stream_and_all_update(open_page, cowserv_image, docker_client,
                                                                     engine_cleanup):
    first = open_page("/")
    tabs = [first] + [first.context.new_page() for _ in range(TABS - 1)]
    for tab in tabs[1:]:
        tab.goto("/", timeout=WAIT_MS)  # a tab that waited for a free connection would time out here
    for tab in tabs:
        expect(tab.locator("html")).to_have_attribute("data-live-mode", "shared-worker")
    container_id = docker_client.api.create_container("cowserv:latest")["Id"]
    engine_cleanup.container(container_id)
    for tab in tabs:
        expect(row(tab, container_id)).to_have_count(1, timeout=WAIT_MS)
    ninth = first.context.new_page()
    ninth.goto("/", timeout=WAIT_MS)  # and the browser still has connections for pages and their GETs
    expect(row(ninth, container_id)).to_have_count(1)


def test_without_eventsource_the_pages_update_by_polling(open_page, cowserv_image, docker_client, engine_cleanup):
    page = open_page(None, instructor=False)
    page.context.add_init_script("delete window.EventSource")
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("data-live-mode", "polling")
    container_id = docker_client.api.create_container("cowserv:latest")["Id"]
    engine_cleanup.container(container_id)
    expect(row(page, container_id)).to_have_count(1, timeout=WAIT_MS)


def test_without_sharedworker_the_tabs_elect_one_leader_and_all_update(open_page, cowserv_image, docker_client,
                                                                      engine_cleanup):
    first = open_page(None, instructor=False)
    first.context.add_init_script("delete window.SharedWorker")
    tabs = [first] + [first.context.new_page() for _ in range(TABS - 1)]
    for tab in tabs:
        tab.goto("/", timeout=WAIT_MS)
        expect(tab.locator("html")).to_have_attribute("data-live-mode", "leader")
    container_id = docker_client.api.create_container("cowserv:latest")["Id"]
    engine_cleanup.container(container_id)
    for tab in tabs:
        expect(row(tab, container_id)).to_have_count(1, timeout=WAIT_MS)
