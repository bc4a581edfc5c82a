"""The live list: one shared snapshot for every viewer, re-read when the engine's events say the list changed.

What is checked is how a change arrives (the engine's events, then a nudge on the live stream the page answers with
one GET, for one or two engine list calls however many pages watch), not how fast: the waits below are generous
bounds that only keep a broken build from hanging. Speed is measured in bench/.
"""

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import HTMX, page_hooks, run_by_button, wait_until
from tests.support.live import Stream
from dashboard import create_app

# Both engine passes (engine_specific): the list follows the engine's events.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]


@pytest.fixture
def app(tmp_path):
    """An app whose list is never re-read for its age (an hour): only the engine's events, or its actions, re-read it."""
    return create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3"), "SNAPSHOT_SECONDS": 3600})


def list_version(client):
    fragment = client.get("/containers", headers=HTMX).text
    return fragment.split("since=")[1].split('"')[0]


def settled_version(client, snapshot):
    """The list's version once the snapshot follows the engine's events and is quiet: a poll answers 204 unread."""
    client.get("/containers", headers=HTMX)  # the first viewer starts the watcher; its stream's opening re-reads
    wait_until(lambda: snapshot.following, "the engine's event stream to open")

    def quiet():
        since, reads = list_version(client), snapshot.reads
        unchanged = client.get(f"/containers?since={since}", headers=HTMX).status_code == 204
        return since if unchanged and snapshot.reads == reads else None

    return wait_until(quiet, "the list to settle")


def poll_until(client, since, wanted, what):
    """Poll the list as an open page does, with the version it shows, until wanted(ids listed); the number of polls."""
    polls = []

    def answered():
        response = client.get(f"/containers?since={since}", headers=HTMX)
        polls.append(response.status_code)
        return response.status_code == 200 and wanted(page_hooks(response.text)[1])

    wait_until(answered, what, timeout=30)
    return len(polls)


def test_a_container_started_from_the_cli_reaches_a_pages_stream_as_a_nudge(app, cowserv_image, created, free_port):
    client, snapshot = app.test_client(), app.extensions["snapshot"]
    since = settled_version(client, snapshot)
    stream = Stream(client)
    reads = snapshot.reads
    result = subprocess.run(["docker", "run", "-d", "-p", f"{free_port}:8000", "cowserv:latest"],
                            capture_output=True, text=True, check=True)
    container_id = result.stdout.strip()
    created(container_id)

    gets = 0
    while True:  # as live.js does: each "containers" nudge is answered with the list's one GET
        event = stream.changed(timeout=30)
        assert event is not None and event["event"] == "changed", event
        if "containers" not in event["data"].split():
            continue
        response = client.get(f"/containers?since={since}", headers=HTMX)
        gets += 1
        if response.status_code == 200 and container_id in page_hooks(response.text)[1]:
            break
    stream.close()
    # Only an event can have re-read the list (its age would not for an hour): its create and start events, one
    # list call each at most, and one GET per nudge.
    assert 1 <= snapshot.reads - reads <= 2 and gets <= 2, (snapshot.reads - reads, gets)


def test_a_container_removed_from_the_cli_goes_through_the_engines_events(app, cowserv_image, created, free_port):
    client, snapshot = app.test_client(), app.extensions["snapshot"]
    container_id = run_by_button(client, free_port, created)
    since = settled_version(client, snapshot)
    assert container_id in page_hooks(client.get("/containers", headers=HTMX).text)[1]
    reads = snapshot.reads
    subprocess.run(["docker", "rm", "-f", container_id], capture_output=True, check=True)

    polls = poll_until(client, since, lambda ids: container_id not in ids, "the CLI-removed container leaving the list")
    assert 1 <= snapshot.reads - reads <= 3, (snapshot.reads - reads, polls)  # its kill, die and destroy events


def test_an_unchanged_list_answers_204_so_nothing_is_swapped(client, cowserv_image):
    since = list_version(client)
    assert client.get(f"/containers?since={since}", headers=HTMX).status_code == 204


def test_many_viewers_share_one_engine_list_call(app, cowserv_image):
    client = app.test_client()
    snapshot = app.extensions["snapshot"]
    client.get("/containers", headers=HTMX)
    snapshot.stop()  # other tests' containers' events (a shared engine) would re-read it meanwhile, rightly
    client.get("/containers", headers=HTMX)  # the read its stream's end asks for
    reads = snapshot.reads
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: app.test_client().get("/containers", headers=HTMX).status_code,
                                 range(200)))
    assert statuses == [200] * 200
    assert snapshot.reads - reads <= 1
