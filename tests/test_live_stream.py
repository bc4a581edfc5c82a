"""The live stream (GET /live): heartbeats, ids and Last-Event-ID, who hears what, and its end when the viewer's
session stops being good. What is asserted is what arrives, never how fast (bench/live.py measures that)."""

import pytest

from tests.support import HTMX, csrf_of
from tests.support.live import Stream
from tests.support.room import open_room, sheet_links, signed_out, students
from dashboard import create_app
from dashboard.domain import checks
from dashboard.domain.checks import Result as CheckResult
from dashboard.web.blueprints import live

pytestmark = pytest.mark.engine  # its viewers open pages, and every page names the engine's version


@pytest.fixture
def room(app):
    """An open room whose seats make nothing on the engine (no step is pressed): no lesson lock is needed."""
    app.instructor = app.test_client()
    yield app
    app.extensions["room_life"].clock.cancel()
    app.extensions["roster"].close()


@pytest.fixture(autouse=True)
def quick_heartbeats(monkeypatch):
    """Heartbeats twice a second, so that a closed test stream's reader notices soon and lets go."""
    monkeypatch.setattr(live, "PING_SECONDS", 0.5)


@pytest.fixture
def streams():
    opened = []

    def open_(client, path="/live", **headers):
        opened.append(Stream(client, path, **headers))
        return opened[-1]

    yield open_
    for stream in opened:
        stream.close()


def test_a_stream_opens_with_retry_and_carries_numbered_nudges(app, streams):
    stream = streams(app.test_client())
    assert stream.next() == {"retry": "2000"}
    hub = app.extensions["live"]
    hub.publish("transcript")
    event = stream.changed()
    assert event == {"id": hub.last_id, "event": "changed", "data": "transcript"}


def test_heartbeat_comments_keep_an_idle_stream_alive(app, streams):
    stream = streams(app.test_client())
    stream.next()
    assert stream.next() == {"ping": "ping"}


def test_last_event_id_resumes_with_the_missed_nudges_or_everything(app, streams):
    hub, client = app.extensions["live"], app.test_client()
    seen = hub.last_id
    hub.publish("lesson")
    hub.publish("containers")
    assert streams(client, **{"Last-Event-ID": seen}).changed()["data"] == "lesson containers"
    assert streams(client, **{"Last-Event-ID": "0123abcd-5"}).changed()["data"] == "all"  # a restart's id
    assert streams(client, path=f"/live?since={seen}").changed()["data"] == "lesson containers"  # as a page asks


def test_the_instructors_lesson_pick_reaches_a_signed_out_screen(app, streams):
    stream = streams(signed_out(app, remote_addr="127.0.0.1"))
    stream.next()
    response = app.test_client().post("/lessons/current", data={"lesson": "cowserv"}, headers=HTMX)
    assert response.status_code == 200
    assert stream.changed()["data"] == "lesson"


def test_a_signed_out_screen_never_hears_of_a_seats_things(app, streams):
    hub = app.extensions["live"]
    stream = streams(signed_out(app))
    stream.next()
    app.extensions["board"].put(checks.scope_of("cowserv", "seat-1"), "run", CheckResult("passed", "ok"))
    hub.publish("containers", "seat-1")
    hub.publish("containers")
    event = stream.changed()
    assert (event["data"], event["id"]) == ("containers", hub.last_id)


def test_a_seats_stream_never_names_another_seats_changes(room, streams):
    open_room(room.instructor, first_port=8961, count=2)
    first, second = students(room, room.instructor)
    hub, board = room.extensions["live"], room.extensions["board"]
    mine = streams(first.client)
    mine.next()
    board.put(checks.scope_of("cowserv", second.seat), "run", CheckResult("passed", "theirs"))
    second.post("/seat/name", data={"name": "Bea"})  # the grid and join code change: not a seat's page's business
    hub.publish("containers", second.seat)
    board.put(checks.scope_of("cowserv", first.seat), "run", CheckResult("passed", "mine"))
    event = mine.changed()
    assert (event["data"], event["id"]) == ("board", hub.last_id)


def test_sign_out_closes_the_instructors_stream(app, streams):
    instructor = app.test_client()
    stream = streams(instructor)
    stream.next()
    assert instructor.post("/signout").status_code == 302
    assert stream.changed() == {"event": "close", "data": "signed out"}
    assert stream.next() is None


def test_a_revoked_link_a_moved_seat_and_the_class_end_close_the_seats_streams(room, streams):
    open_room(room.instructor, first_port=8964, count=3)
    revoked, moved, ended = students(room, room.instructor)
    closing = [streams(student.client) for student in (revoked, moved, ended)]
    for stream in closing:
        stream.next()
    room.instructor.post(f"/room/seats/{revoked.seat}/revoke", headers=HTMX)
    assert closing[0].changed()["event"] == "close"
    other, link = signed_out(room), sheet_links(room.instructor)[moved.seat]  # the seat moves to another browser
    moving = other.post(link, headers={"X-CSRF-Token": csrf_of(other.get(link).text)})
    assert moving.status_code == 303, moving.text
    assert closing[1].changed()["event"] == "close"
    assert room.instructor.delete("/room", headers=HTMX).status_code == 200
    assert closing[2].changed()["event"] == "close"
    assert revoked.client.get("/seat/board", headers=HTMX).headers.get("HX-Refresh") == "true"  # as its GET says


def test_an_expired_session_closes_its_stream(tmp_path, streams):
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3"), "SESSION_MINUTES": 0.05})
    instructor = app.test_client()
    stream = streams(instructor)
    stream.next()
    assert stream.changed() == {"event": "close", "data": "session expired"}
    assert "Instructor</span>" not in instructor.get("/").text  # the next request with it is a screen's too
