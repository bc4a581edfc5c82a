"""The live list: one shared snapshot for every viewer, invalidated by the engine's events."""

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import HTMX, page_hooks, run_by_button

pytestmark = pytest.mark.engine


def list_version(client):
    fragment = client.get("/containers", headers=HTMX).text
    return fragment.split("since=")[1].split('"')[0]


def test_a_container_started_from_the_cli_shows_within_two_seconds(client, cowserv_image, created, free_port):
    since = list_version(client)
    result = subprocess.run(["docker", "run", "-d", "-p", f"{free_port}:8000", "cowserv:latest"],
                            capture_output=True, text=True, check=True)
    container_id = result.stdout.strip()
    created(container_id)
    started = time.monotonic()
    while time.monotonic() - started < 2:
        response = client.get(f"/containers?since={since}", headers=HTMX)
        if response.status_code == 200 and container_id in page_hooks(response.text)[1]:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the container started from the CLI did not show within 2 s")


def test_a_container_removed_from_the_cli_goes_within_two_seconds(client, cowserv_image, created, free_port):
    container_id = run_by_button(client, free_port, created)
    assert container_id in page_hooks(client.get("/containers", headers=HTMX).text)[1]
    subprocess.run(["docker", "rm", "-f", container_id], capture_output=True, check=True)
    started = time.monotonic()
    while container_id in page_hooks(client.get("/containers", headers=HTMX).text)[1]:
        assert time.monotonic() - started < 2, "the removed container still shows after 2 s"
        time.sleep(0.1)


def test_an_unchanged_list_answers_204_so_nothing_is_swapped(client, cowserv_image):
    since = list_version(client)
    assert client.get(f"/containers?since={since}", headers=HTMX).status_code == 204


def test_many_viewers_share_one_engine_list_call(app, cowserv_image):
    client = app.test_client()
    snapshot = app.extensions["snapshot"]
    client.get("/containers", headers=HTMX)
    reads = snapshot.reads
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: app.test_client().get("/containers", headers=HTMX).status_code,
                                 range(200)))
    assert statuses == [200] * 200
    assert snapshot.reads - reads <= 1
