"""A room of students on seats of their own, its web and roster: the instructor opens it (each seat a block of
host ports, the room's limits for the whole seat), students sign in by their links or the join code, the grid
shows who is where, and revoking, ending, closing and the end time do what they say to the seats' engines. Also
who may be the instructor (this machine, or HTTPS) and bad input.

The seats here have no engines (PaperSeats, tests/support/room.py): what happens on a seat's own engine is
test_seat_engines_room.py's, with one room of real seat engines.
"""

import html
import os
import re
import threading
import time
from pathlib import Path

import pytest

from tests.support.room import (
    PaperRoom,
    choose_lesson,
    grid,
    room,  # noqa: F401  (a fixture)
    room_form,
    sheet_links,
    signed_out,
    student,
    text_of,
)
from tests.support import csrf_of, form_csrf, wait_until
from dashboard import create_app
from dashboard.domain import checks
from dashboard.domain import room as room_life
from dashboard.seat_host.layout import PORT_BLOCK
from dashboard.web.security import NOT_OVER_PLAIN_HTTP

pytestmark = pytest.mark.engine  # the instructor's pages ask the host engine

TOKEN = "correct horse battery staple"
SHIPPED = Path(__file__).parent.parent / "dashboard" / "lessons"


# 1. A class of several seats.

def test_opening_a_room_gives_each_seat_an_engine_on_a_block_of_host_ports_with_the_rooms_limits(room):
    """The room form opens a seat engine per seat (SeatHost.open): each seat PREFIX + its first port, a block of
    PORT_BLOCK host ports mapped to the ports the lessons publish, the form's limits for the whole seat, the
    room's address for its ports; the seat page, the sheet and the grid show each mapping."""
    opened = room.open(count=2, first_port=8601, memory="512m", cpus="1", pids="200")
    assert list(opened.seats) == ["seat-8601", f"seat-{8601 + PORT_BLOCK}"]
    life = room.app.extensions["room_life"]
    assert life.seat_host.opened == list(opened.seats)
    first, second = life.states(opened)
    assert first.ports == ((8601, 8000), (8602, 8080), (8603, 8090), (8604, 8100), (8605, 8200))
    assert second.ports[0] == (8606, 8000)
    assert (first.memory, first.cpus, first.pids, first.room) == (512 * 1024 ** 2, 1, 200, opened.id)
    assert first.bind_host == "127.0.0.1"  # DASHBOARD_BIND's host
    seat = student(room.app, sheet_links(room.instructor)["seat-8601"])
    page = text_of(seat.client.get("/seat"))
    assert "http://localhost:8601/ → your port 8000" in page and "http://localhost:8603/ → your port 8090" in page
    assert "local stand-ins under the lessons' names" in page
    assert "--label" not in page and "--memory" not in page
    assert "http://localhost:8606/ → your port 8000" in text_of(room.instructor.get("/room/sheet"))
    assert 'href="http://localhost:8607/">:8607</a>→8080' in grid(room.instructor)[2]


def test_the_room_form_says_what_part_8_needs_of_a_seat_and_a_room_short_of_it_is_told(room):
    """Part 8's seat_needs (its lesson file) shown by the form; a room opened with less is told its last steps would
    fail; one opened with enough is not."""
    needs = room.app.extensions["catalog"].get("microservices").seat_needs
    form = text_of(room.instructor.get("/room"))
    assert (f"Microservices: the wallet with Compose needs, on each seat, at least {needs.memory} of memory and "
            f"{needs.pids} processes") in form
    room.open(count=1, first_port=8611)  # the form's defaults: 256m, 100 processes
    assert "more than this room's seats have" in text_of(room.instructor.get("/room"))
    room.open(count=1, first_port=8611, memory=needs.memory, pids=str(needs.pids))
    assert "more than this room's seats have" not in text_of(room.instructor.get("/room"))


def test_seats_unavailable_here_say_why_and_open_nothing(room):
    """Where this host cannot give seats engines (the compose deployment), the room page says why and offers no
    room form; a room posted anyway is refused (503) and nothing opens."""
    life = room.app.extensions["room_life"]
    life.seat_host.unavailable = lambda: "The dashboard runs inside a container (the compose deployment)."
    page = text_of(room.instructor.get("/room"))
    assert "No seats here: The dashboard runs inside a container" in page and "host deployment" in page
    assert 'name="count"' not in room.instructor.get("/room").text
    refused = room.instructor.post("/room", data=room_form(count=1, first_port=8601))
    assert refused.status_code == 503 and "nothing was opened" in text_of(refused)
    assert room.roster.room is None and life.seat_host.opened == []


def test_more_seats_than_the_host_holds_are_refused(room):
    room.app.config["MAX_SEATS"] = 2
    refused = room.instructor.post("/room", data=room_form(count=2, join_count=1, first_port=8601))
    assert refused.status_code == 400 and "at most 2" in text_of(refused), text_of(refused)
    life = room.app.extensions["room_life"]
    life.settings = life.settings.__class__(**{**life.settings.__dict__, "max_seats": 2})
    refused = room.instructor.post("/room", data=room_form(count=3, first_port=8601))
    assert refused.status_code == 400 and room.roster.room is None


def test_a_seat_engine_that_fails_to_start_closes_the_room_and_says_why(room):
    """No half-working seats: a seat engine that does not start closes every seat and the room, and the room page
    says why."""
    life = room.app.extensions["room_life"]

    def fail(states, progress=None, images=()):
        raise RuntimeError(f"{states[1].name}: its engine did not answer")
    life.seat_host.open = fail
    answer = room.instructor.post("/room", data=room_form(count=2, first_port=8601))
    assert answer.status_code == 303
    wait_until(lambda: life.opening.finished, "the opening's end")
    assert room.roster.room is None and life.seat_host.closed == ["seat-8601", f"seat-{8601 + PORT_BLOCK}"]
    assert "could not be started (seat-8606: its engine did not answer)" in text_of(room.instructor.get("/room"))


def test_however_often_the_grid_is_polled_each_seats_checks_run_at_most_once_a_second(room):
    """Polling the grid (as several screens do) refreshes each seat's checks in the background at most every
    REFRESH_SECONDS, and the engine-asking ones go through the throttle (10 a second)."""
    room.open(count=3, first_port=8678)
    choose_lesson(room.instructor, "running")
    board = room.app.extensions["board"]
    grid(room.instructor)
    time.sleep(1.5)  # the first refresh ends
    before, started = board.background_evaluations, time.monotonic()
    assert before >= 3  # the first poll refreshed each seat's hello check (it asks the seat's engine for the logs)
    for _ in range(40):
        grid(room.instructor)
        time.sleep(0.05)
    seconds = time.monotonic() - started
    refreshes = 3 * (int(seconds / room.app.config["REFRESH_SECONDS"]) + 2)  # per seat, one a second at most
    assert board.background_evaluations - before <= refreshes  # one engine-asking check (hello's) a seat each


def test_the_throttle_lets_ten_checks_through_a_second():
    """checks.Throttle(10): 15 waits from several threads take at least 1.4 s."""
    throttle, started = checks.Throttle(10), time.monotonic()
    workers = [threading.Thread(target=lambda: [throttle.wait() for _ in range(5)]) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert time.monotonic() - started >= 1.4


# 3. Revoke.

def test_revoking_a_seat_ends_its_sessions_and_old_link_at_once(room, docker_client):
    """A new link for a seat: the browser signed in with the old one gets 403 on its page and on presses at
    once, the old link is refused, the new one works, and the other seat goes on."""
    room.open(count=2, first_port=8616)
    choose_lesson(room.instructor, "running")
    old_links = sheet_links(room.instructor)
    revoked, other = room.students()

    answer = room.instructor.post(f"/room/seats/{revoked.seat}/revoke", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "has a new link" in answer.text

    page = revoked.client.get("/seat")
    assert page.status_code == 403 and "no longer works" in page.text
    press = revoked.press("running", "ps")
    assert press.status_code == 403 and "no longer works" in press.text
    poll = revoked.client.get("/seat/board", headers={"HX-Request": "true"})  # the open page's poll: reload
    assert poll.headers.get("HX-Refresh") == "true" and poll.text == ""
    assert signed_out(room.app).get(old_links[revoked.seat]).status_code == 403

    new_link = sheet_links(room.instructor)[revoked.seat]
    assert new_link != old_links[revoked.seat]
    again = student(room.app, new_link)
    assert again.seat == revoked.seat
    assert room.app.extensions["room_life"].seat_host.closed == []  # the seat's engine stays, with its things
    assert other.client.get(old_links[other.seat]).status_code == 302  # the other seat's link still works


# 4. Join.

def join_path(instructor):
    page = instructor.get("/room/join")
    assert page.status_code == 200
    found = re.search(r'data-join-url="([^"]+)"', page.text)
    return re.sub(r"^https?://[^/]+", "", html.unescape(found[1])) if found else None


def joins(app, path, browser=None):
    """(browser, its seat or None, the answer) after opening the join link in `browser` (a new one if None)."""
    browser = browser or signed_out(app)
    answer = browser.get(path)
    if answer.status_code == 200:  # the join page's button: a GET alone takes no seat
        csrf = form_csrf(answer.text)
        answer = browser.post(path, data={"csrf_token": csrf})
    if answer.status_code not in (302, 303):
        return browser, None, answer
    page = browser.get("/seat")
    return browser, re.search(r'data-seat="([^"]+)"', page.text)[1], answer


def test_the_join_code_hands_each_browser_the_next_free_seat_once(room):
    """Each new browser gets the next free join seat; the same browser keeps its seat; when every join seat is
    taken, or joining is closed, it is refused; opening joining again makes a new code, and the old one stops
    working."""
    opened = room.open(count=0, join_count=2, first_port=8621)
    first_name, second_name = opened.seats
    code_path = join_path(room.instructor)
    assert code_path and code_path.startswith("/join/")

    browser, seat, _ = joins(room.app, code_path)
    assert seat == first_name
    _, seat, answer = joins(room.app, code_path, browser)  # scanned again: the same seat, no other handed out
    assert seat == first_name and answer.headers["Location"].endswith("/seat")
    _, seat, _ = joins(room.app, code_path)
    assert seat == second_name
    _, seat, refused = joins(room.app, code_path)
    assert seat is None and refused.status_code == 403 and "every seat it hands out is taken" in refused.text

    room.instructor.post(f"/room/seats/{second_name}/revoke")  # still taken: never handed to a stranger
    assert room.instructor.post("/room/joining", data={"open": "0"}).status_code == 303
    assert join_path(room.instructor) is None and "Joining is closed" in room.instructor.get("/room/join").text
    _, seat, refused = joins(room.app, code_path)
    assert seat is None and refused.status_code == 403

    assert room.instructor.post("/room/joining", data={"open": "1"}).status_code == 303
    new_path = join_path(room.instructor)
    assert new_path and new_path != code_path
    assert joins(room.app, code_path)[2].status_code == 403  # a photo of the old code
    _, seat, refused = joins(room.app, new_path)
    assert seat is None and "every seat it hands out is taken" in refused.text  # the revoked seat is not re-handed


# 5. Limits.

def test_a_room_asking_more_cpus_than_the_host_has_is_refused_when_opened(room):
    """More CPUs than this host has is refused by the room form (400), not by every seat's later run."""
    too_many = (os.cpu_count() or 1) + 1
    response = room.instructor.post("/room", data=room_form(count=1, first_port=8636, cpus=str(too_many)))
    assert response.status_code == 400 and "CPUs" in text_of(response)


# 6. Expiry.

def test_at_its_end_time_the_next_request_ends_the_room(room):
    """Past the end time, the next request (any page, a signed-out one too) removes every seat's engine, and every
    seat's link and session stop working; the grid stays to look at."""
    opened = room.open(count=2, first_port=8641)
    links = sheet_links(room.instructor)
    a, b = room.students()
    choose_lesson(room.instructor, "running")

    room.roster.room.ends_at = time.time() - 1
    room.roster._save()
    assert signed_out(room.app).get("/lessons").status_code == 200

    assert room.roster.room.ended and room.roster.room.cleared
    assert room.app.extensions["room_life"].seat_host.closed == list(opened.seats)
    for seat in (a, b):
        assert seat.client.get("/seat").status_code == 403
        assert seat.press("running", "hello").status_code == 403
        assert signed_out(room.app).get(links[seat.seat]).status_code == 403
    cells, _, page = grid(room.instructor)
    assert "The class ended" in page and set(cells) >= {(name, "hello") for name in opened.seats}


def test_the_room_clock_ends_the_room_at_its_end_time_without_a_request(room):
    """The end time's timer removes the seats' engines by itself, with no request coming in."""
    room.open(count=1, first_port=8646)
    (seat,) = room.students()
    ends_at = time.time() + 1.5
    room.roster.room.ends_at = ends_at
    room.roster._save()
    room.app.extensions["room_life"].clock.schedule(ends_at)

    wait_until(lambda: room.roster.room.ended, "the room's end by its clock", timeout=20)  # no request meanwhile
    assert time.time() >= ends_at
    wait_until(lambda: room.roster.room.cleared, "the seat's engine removed")
    assert room.app.extensions["room_life"].seat_host.closed == [seat.seat]
    assert seat.client.get("/seat").status_code == 403


def test_the_room_clock_fires_once_at_the_latest_time_and_not_when_cancelled():
    """RoomClock: a new schedule replaces the old one (one firing, at the new time); cancel stops it."""
    fired = []
    clock = room_life.RoomClock(lambda: fired.append(time.time()))
    start = time.time()
    clock.schedule(start + 0.3)
    clock.schedule(start + 1.0)
    wait_until(lambda: fired, "the clock firing", timeout=10)
    time.sleep(0.5)
    assert len(fired) == 1 and fired[0] >= start + 0.95

    clock.schedule(time.time() + 0.3)
    clock.cancel()
    time.sleep(0.8)
    assert len(fired) == 1


def test_the_room_clock_survives_an_end_that_fails(monkeypatch):
    """An end that raises (the engine away) is logged, not raised out of the timer's thread."""
    done, uncaught = threading.Event(), []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)

    def fail():
        done.set()
        raise RuntimeError("engine away")

    room_life.RoomClock(fail).schedule(time.time())
    assert done.wait(5)
    time.sleep(0.2)
    assert uncaught == []


def test_ending_the_class_now_removes_every_seats_engine_and_stops_the_links(room):
    """DELETE /room (End the class now) does at once what the end time does."""
    opened = room.open(count=2, first_port=8651)
    a, b = room.students()
    ended = room.instructor.delete("/room", headers={"HX-Request": "true"})
    assert ended.status_code == 200 and "The class ended: 2 seats' engines stopped and removed" in text_of(ended)
    assert room.app.extensions["room_life"].seat_host.closed == list(opened.seats)
    for seat in (a, b):
        assert seat.client.get("/seat").status_code == 403


# 8. Loopback or HTTPS for the instructor; plain HTTP for seats.

@pytest.fixture
def token_room(tmp_path):
    made = PaperRoom(create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3"),
                                 "INSTRUCTOR_TOKEN": TOKEN}))
    yield made
    made.app.extensions["room_life"].clock.cancel()


def sign_in(client, token=TOKEN, **kwargs):
    """Sign in through the real form (its CSRF field), with the request options given (base_url)."""
    csrf = form_csrf(client.get("/signin", **kwargs).text)
    return client.post("/signin", data={"token": token, "csrf_token": csrf}, **kwargs)


def test_the_instructor_cannot_sign_in_over_the_rooms_plain_http(token_room):
    """From another machine over plain HTTP the sign-in page has no form, and the right token posted anyway is
    refused (403, saying why): no session is made."""
    browser = signed_out(token_room.app)
    assert 'name="token"' not in browser.get("/signin").text
    answer = browser.post("/signin", data={"token": TOKEN, "csrf_token": csrf_of(browser.get("/").text)})
    assert answer.status_code == 403
    assert "only from the dashboard's own machine" in text_of(answer)
    assert "Sign out" not in browser.get("/").text


def test_the_instructor_signs_in_over_https_from_anywhere_with_a_secure_cookie(token_room):
    """Over HTTPS the sign-in works from the room's network, its cookie is Secure (never sent over plain HTTP),
    and the instructor can open a room; the seats' links on the sheet use plain HTTP."""
    browser = signed_out(token_room.app)
    https = {"base_url": "https://localhost"}
    answer = sign_in(browser, **https)
    assert answer.status_code == 302, answer.text
    cookie = answer.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    page = browser.get("/room", **https)
    assert "Sign out" in page.text
    opened = browser.post("/room", data=room_form(count=1, first_port=8661),
                          headers={"X-CSRF-Token": csrf_of(page.text)}, **https)
    assert opened.status_code == 303, opened.text
    sheet = browser.get("/room/sheet", **https)
    assert sheet.status_code == 200
    assert re.findall(r'data-seat-url="([^"]+)"', sheet.text)[0].startswith("http://localhost")


def test_an_instructor_session_is_refused_over_plain_http_from_another_machine(token_room):
    """The HTTPS session's cookie, copied to a plain-HTTP request from the room's network, acts on nothing."""
    browser = signed_out(token_room.app)
    https = {"base_url": "https://localhost"}
    assert sign_in(browser, **https).status_code == 302
    csrf = csrf_of(browser.get("/", **https).text)
    current = token_room.app.extensions["lesson_pick"].id

    refused = browser.post("/lessons/current", data={"lesson": "running"}, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403
    assert NOT_OVER_PLAIN_HTTP[:60] in html.unescape(refused.text)
    assert token_room.app.extensions["lesson_pick"].id == current
    assert browser.post("/room", data=room_form(count=1, first_port=8663),
                        headers={"X-CSRF-Token": csrf}).status_code == 403
    assert token_room.roster.room is None
    assert browser.get("/room/sheet").status_code == 403
    assert "Sign out" not in browser.get("/").text  # the page over plain HTTP shows no instructor
    assert browser.post("/lessons/current", data={"lesson": "running"}, headers={"X-CSRF-Token": csrf},
                        base_url="https://localhost").status_code == 302  # the same session over HTTPS acts


def test_the_instructor_signs_in_on_this_machine_over_plain_http(token_room):
    """Loopback over plain HTTP is this machine: the sign-in works."""
    browser = token_room.app.test_client(instructor=False)
    assert sign_in(browser).status_code == 302
    assert "Sign out" in browser.get("/").text


# 9. Bad input.

BAD_ROOM_FORMS = [
    ({"count": "0"}, "number of seats"),
    ({"count": "100000"}, "number of seats"),
    ({"count": "three"}, "number of seats"),
    ({"first_port": "eighty"}, "host port"),
    ({"first_port": "0"}, "host port"),
    ({"count": "3", "first_port": "65535"}, "past port 65535"),
    ({"count": "3", "first_port": "65525"}, "past port 65535"),  # 3 seats of 5 host ports each
    ({"minutes": "0"}, "1 to 1440 minutes"),
    ({"minutes": "1441"}, "1 to 1440 minutes"),
    ({"minutes": "ten"}, "1 to 1440 minutes"),
    ({"memory": "lots"}, "Memory"),
    ({"memory": "5m"}, "at least 6m"),
    ({"memory": "256"}, "Memory"),
    ({"cpus": "x"}, "CPUs"),
    ({"cpus": "0"}, "CPUs"),
    ({"cpus": "65"}, "CPUs"),
    ({"cpus": "0.001"}, "CPUs"),
    ({"pids": "5"}, "Processes 5"),
    ({"pids": "lots"}, "Processes"),
    ({"pids": "1000000"}, "Processes"),
    ({"colour": "red"}, "Unknown field(s): colour"),
]


def test_a_bad_room_form_is_400_with_a_message_and_the_open_room_goes_on(room):
    """Each bad field of the room form is refused with a message saying what is wrong (never a 500), before
    the open room is touched: its seats' links, sessions and engines all stay."""
    opened = room.open(count=1, first_port=8671)
    (seat,) = room.students()
    tokens = {name: s.token for name, s in opened.seats.items()}
    for changes, message in BAD_ROOM_FORMS:
        answer = room.instructor.post("/room", data={**room_form(count=1, first_port=8671), **changes},
                                      headers={"HX-Request": "true"})
        assert answer.status_code == 400, (changes, answer.status_code, text_of(answer))
        assert message in text_of(answer), (changes, text_of(answer))
    assert room.roster.room is opened and not opened.ended
    assert {name: s.token for name, s in opened.seats.items()} == tokens
    assert room.app.extensions["room_life"].seat_host.closed == []
    assert seat.client.get("/seat").status_code == 200


def test_bad_links_seat_names_and_flags_are_refused_with_a_message(room):
    """Garbage seat links and join codes are 403; a seat name that cannot be one is 400 and one not in the
    room 404; the joining and names flags take 1 or 0 only."""
    browser = signed_out(room.app)
    assert browser.get("/room/sheet").status_code == 403
    assert room.instructor.get("/room/sheet").status_code == 404  # no room open yet
    assert "No room is open" in room.instructor.get("/room/sheet").text
    assert room.instructor.delete("/room").status_code == 404
    assert room.instructor.post("/room/joining", data={"open": "1"}).status_code == 404

    room.open(count=1, first_port=8676)
    for path in ("/s/garbage", "/s/" + "x" * 500, "/join/garbage", "/s/%00%01"):
        answer = browser.get(path)
        assert answer.status_code == 403 and "ask" in text_of(answer).lower(), path
    assert browser.get("/seat").status_code == 403
    for name, status in (("bad name!", 400), ("..", 400), ("x" * 100, 400), ("seat-1", 404)):
        for method, path in (("GET", f"/room/seats/{name}"), ("GET", f"/room/seats/{name}/board"),
                             ("POST", f"/room/seats/{name}/revoke"), ("POST", f"/room/seats/{name}/reset")):
            answer = room.instructor.open(path, method=method)
            assert answer.status_code in (status, 404), (method, path, answer.status_code)
            assert answer.status_code < 500 and "message error" in answer.text
    for path, field in (("/room/joining", "open"), ("/room/names", "hide")):
        for value in ("2", "yes", ""):
            assert room.instructor.post(path, data={field: value}).status_code == 400, (path, value)
        assert room.instructor.post(path, data={field: "1", "other": "1"}).status_code == 400


def test_a_students_name_is_one_short_line_and_shown_escaped(room):
    """A name over 40 characters or with control characters is 400; a good one shows on the grid, escaped."""
    room.open(count=1, first_port=8681)
    (seat,) = room.students()
    for bad in ("x" * 41, "line\nbreak\x07", "tab\x00"):
        answer = seat.post("/seat/name", data={"student": bad})
        assert answer.status_code == 400 and "up to 40 characters" in answer.text, repr(bad)
    assert seat.post("/seat/name", data={"student": "Ada", "extra": "1"}).status_code == 400
    assert seat.post("/seat/name", data={"student": "<b>Ada</b>  Lovelace"}).status_code == 200
    _, _, page = grid(room.instructor)
    assert "&lt;b&gt;Ada&lt;/b&gt; Lovelace" in page and "<b>Ada" not in page


def test_names_are_hidden_from_every_signed_out_screen_until_the_instructor_shows_them(room):
    """A new room hides the names students type from every signed-out page (the projector's included); the
    instructor's own screen shows them, and the instructor can show them to everyone (grid.__doc__ says so)."""
    room.open(count=1, first_port=8683)
    (seat,) = room.students()
    assert seat.post("/seat/name", data={"student": "Grace Hopper"}).status_code == 200
    viewer = signed_out(room.app)
    assert "Grace Hopper" not in viewer.get("/room/grid?projector=1").text
    assert "Grace Hopper" not in viewer.get("/present").text
    assert "Grace Hopper" in room.instructor.get("/room/grid").text  # the instructor's own screen keeps them
    assert "Grace Hopper" not in viewer.get("/room/grid").text
    assert "Grace Hopper" not in viewer.get("/room").text
    assert "Show names on the projector" in room.instructor.get("/room").text
    assert room.instructor.post("/room/names", data={"hide": "0"}).status_code == 303
    assert "Grace Hopper" in viewer.get("/room/grid?projector=1").text
    assert "Grace Hopper" in viewer.get("/room/grid").text
    assert room.instructor.post("/room/names", data={"hide": "1"}).status_code == 303
    assert "Grace Hopper" not in viewer.get("/room/grid?projector=1").text


def test_run_on_every_seat_is_the_instructors_and_refuses_bad_input(room):
    room.open(count=1, first_port=8709)
    choose_lesson(room.instructor, "running")
    assert room.instructor.post("/room/every-seat", data={"step": "no-such-step"}).status_code == 404
    assert room.instructor.post("/room/every-seat", data={"step": "detached", "extra": "1"}).status_code == 400
    assert room.instructor.get("/room/every-seat/command?step=nope").status_code == 404
    (seat,) = room.students()
    assert seat.post("/room/every-seat", data={"step": "detached"}).status_code == 403
    assert signed_out(room.app).get("/room/every-seat/command?step=detached").status_code == 403
    assert room.app.extensions["room_life"].every_seat is None


@pytest.mark.parametrize("path", ["", "/sheet", "/new?count=3&first_port=8001"])
def test_classroom_modes_old_addresses_open_the_room(room, path):
    """Classroom mode became the room: its bookmarks answer with the room page's address."""
    answer = room.instructor.get(f"/classroom{path}")
    assert answer.status_code == 301 and answer.headers["Location"].endswith("/room")


# Opening a room again; the end time while the engine is away.

def test_opening_a_new_room_ends_the_old_one(room):
    """A new room on the same ports: the old seats' engines are removed and their sessions end, though the new
    seats have the same names; every seat engine of no room is swept first; the new links work."""
    room.open(count=1, first_port=8604)
    (old,) = room.students()
    life = room.app.extensions["room_life"]
    swept = []
    life.seat_host.sweep = swept.append
    reopened = room.open(count=1, first_port=8604)
    assert list(reopened.seats) == [old.seat]
    assert life.seat_host.closed == [old.seat] and swept == [None]
    assert old.client.get("/seat").status_code == 403
    (new,) = room.students()
    assert new.seat == old.seat


class FailingClose:
    """The seats' engines cannot be removed (for the room's retries): SeatHost.close raises until `works`."""

    def __init__(self, seat_host):
        self.seat_host, self.works, self.real = seat_host, False, seat_host.close
        seat_host.close = self

    def __call__(self, names):
        if not self.works:
            raise RuntimeError("seat-8694: a mount under its folder is busy")
        self.real(names)


@pytest.fixture
def failing_room(room):
    """A room of one seat whose engine cannot be removed until the test says so; (room, the seat, its link, the
    FailingClose)."""
    room.open(count=1, first_port=8694)
    (seat,) = room.students()
    yield room, seat, sheet_links(room.instructor)[seat.seat], FailingClose(room.app.extensions["room_life"].seat_host)


def expire(room):
    room.roster.room.ends_at = time.time() - 1
    room.roster._save()
    assert signed_out(room.app).get("/lessons").status_code == 200
    assert room.roster.room.ended


def test_past_its_end_time_the_end_is_tried_again_once_the_seats_engines_can_go(failing_room):
    """With the seats' engines not removable at the end time, pages still answer (no 5xx): the room is ended
    (its links stop) and its engines stay to be removed; the next try removes them."""
    room, seat, link, failing = failing_room
    expire(room)
    assert not room.roster.room.cleared
    assert signed_out(room.app).get(link).status_code == 403 and seat.client.get("/seat").status_code == 403
    failing.works = True
    room.app.extensions["room_life"].retry_at = 0  # the next try now, not 30 s later
    assert signed_out(room.app).get("/lessons").status_code == 200
    assert room.roster.room.cleared and room.app.extensions["room_life"].seat_host.closed == [seat.seat]


def test_a_room_whose_seats_engines_are_left_closes_only_once_they_are_removed(failing_room):
    """Close the room with the seats' engines still there is refused, saying which and why; the room page offers
    Close anyway. Once they can go, Close removes them first."""
    room, seat, _, failing = failing_room
    expire(room)
    refused = room.instructor.post("/room/close")
    assert refused.status_code == 409, refused.text
    message = text_of(refused)
    assert f"{seat.seat}'s engines could not be stopped and removed now" in message, message
    assert "a mount under its folder is busy" in message and "Close anyway" in message, message
    page = room.instructor.get("/room").text
    assert 'name="anyway" value="1"' in page and "Close anyway" in page
    failing.works = True
    closed = room.instructor.post("/room/close")
    assert closed.status_code == 303, closed.text
    assert room.roster.room is None and room.app.extensions["room_life"].seat_host.closed == [seat.seat]


def test_a_room_closed_anyway_leaves_its_engines_for_the_next_opening_to_sweep(failing_room):
    """Close anyway puts the room away with its seats' engines left; opening the next room sweeps every seat of
    no room first."""
    room, seat, _, failing = failing_room
    expire(room)
    closed = room.instructor.post("/room/close", data={"anyway": "1"})
    assert closed.status_code == 303, closed.text
    assert room.roster.room is None
    swept = []
    room.app.extensions["room_life"].seat_host.sweep = swept.append
    room.open(count=1, first_port=8695)
    assert swept == [None]


def test_a_new_room_is_refused_during_a_run_on_every_seat_and_the_class_goes_on(room):
    opened = room.open(count=1, first_port=8903)
    choose_lesson(room.instructor, "running")
    life = room.app.extensions["room_life"]
    step = room.app.extensions["catalog"].get("running").step("hello")
    life.every_seat = room_life.EverySeat(step, "running", "true", 1, {})  # under way
    answer = room.instructor.post("/room", data=room_form(count=1, first_port=8905))
    assert answer.status_code == 409 and "is running on every seat" in html.unescape(answer.text)
    assert room.roster.room is opened and not opened.ended
    life.every_seat.finished = time.monotonic()


def test_seats_not_begun_when_the_class_ends_are_skipped(room, monkeypatch):
    """A run on every seat stops starting seats once the class ended: those not begun say so."""
    opened = room.open(count=2, first_port=8907)
    choose_lesson(room.instructor, "running")
    life = room.app.extensions["room_life"]
    life.workers = 1
    first_began, go_on = threading.Event(), threading.Event()
    real = room_life.run_on_seat
    second = f"seat-{8907 + PORT_BLOCK}"

    def held_first(engine, rooms, seat, *args, **kwargs):
        if seat.name == "seat-8907":
            first_began.set()
            go_on.wait(30)
        return real(engine, rooms, seat, *args, **kwargs)
    monkeypatch.setattr(room_life, "run_on_seat", held_first)
    assert room.instructor.post("/room/every-seat", data={"step": "detached"},
                                headers={"HX-Request": "true"}).status_code == 200
    assert first_began.wait(30)
    assert room.instructor.delete("/room", headers={"HX-Request": "true"}).status_code == 200
    go_on.set()
    job = life.every_seat
    wait_until(lambda: not job.running, "the run on every seat's end", timeout=60)
    assert (job.runs[second].state, job.runs[second].note) == ("skipped", "skipped: the class ended")
    assert opened.ended


def test_stop_and_remove_every_seats_things_needs_no_room_and_is_always_offered(room):
    page = html.unescape(room.instructor.get("/room").text)
    seats_dir = room.app.config["SEATS_DIR"]
    assert "Stop and remove every seat's things" in page and f"for socket in {seats_dir}/*/run/docker.sock" in page
    answer = room.instructor.delete("/room/seats", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "Removed every seat's things" in html.unescape(answer.text), answer.text
    room.open(count=1, first_port=8914)
    choose_lesson(room.instructor, "compose")
    assert "Stop and remove every seat's things" in html.unescape(room.instructor.get("/room").text)
    assert "Stop and remove every seat's things" not in html.unescape(signed_out(room.app).get("/room").text)


def test_the_every_seat_form_posts_without_javascript_and_compose_runs_on_seats_too(room):
    """Each seat has an engine (and so a Compose project namespace) of its own: a Compose lesson is one seats do."""
    room.open(count=1, first_port=8916)
    for lesson, step in (("running", "hello"), ("compose", "up")):
        choose_lesson(room.instructor, lesson)
        page = room.instructor.get("/room").text
        assert re.search(r'<form class="every-seat" action="/room/every-seat" method="post"', page), page
        answer = room.instructor.post("/room/every-seat", data={"step": step})
        assert answer.status_code == 303 and answer.headers["Location"].endswith("/room")
        job = room.app.extensions["room_life"].every_seat
        wait_until(lambda: not job.running, "the run on every seat's end", timeout=60)
