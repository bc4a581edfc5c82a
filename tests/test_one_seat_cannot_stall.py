"""One student cannot stall the class: a seat has one press running at a time (a second answers 409 naming the
first), a seat's build waits a bounded time for the seats' build turn (then 503 with the reason) while the
instructor's own build goes on, a build that waited past the class end builds nothing, and one browser's requests
to its seat are limited. (A seat's checks that run a command in its container, spaced out: test_seat_engines_room.)

The tests hold the seats' build turn themselves (the app's BuildTurns, as a seat's build would), so a press waits
for as long as the test says and no timing is asserted. The seats have no engines here (PaperSeats): a build
whose turn comes reaches its seat's engine, which does not answer (503), and nothing is built.
"""

import contextlib
import threading

import pytest

from tests.support.room import (
    PaperRoom,
    choose_lesson,
    room,  # noqa: F401  (a fixture)
    text_of,
)
from tests.support import wait_until
from dashboard import create_app
from dashboard.domain import presses

pytestmark = pytest.mark.engine  # the instructor's build, and pages asking the host engine


@contextlib.contextmanager
def turn_held(app, seat):
    """The seats' build turn, taken as `seat`'s build would take it, for as long as the block runs."""
    roster = app.extensions["roster"]
    with app.extensions["build_turns"].turn(roster.stint(roster.room.seat(seat))):
        yield


class Pressing:
    """A seat's press in a thread of its own: its answer once it ends."""

    def __init__(self, student, lesson_id, step_id):
        self.answer = None
        self.thread = threading.Thread(target=self._press, args=(student, lesson_id, step_id), daemon=True)
        self.thread.start()

    def _press(self, student, lesson_id, step_id):
        self.answer = student.press(lesson_id, step_id)

    def result(self):
        self.thread.join(300)
        assert not self.thread.is_alive(), "the press never answered"
        return self.answer


def waiting_for_turn(app, seat):
    """Wait until `seat`'s press waits for the build turn (it is queued behind the holder)."""
    turns = app.extensions["build_turns"]
    wait_until(lambda: seat in turns.queued, f"{seat}'s build waiting for its turn")


@contextlib.contextmanager
def build_waiting(room, first_port):
    """A room of two seats on the cowserv lesson whose first seat pressed Build, its build waiting for the turn the
    other seat holds until the block ends: the pressing student, and its Pressing."""
    room.open(count=2, first_port=first_port)
    choose_lesson(room.instructor, "cowserv")
    builder, other = room.students()
    with turn_held(room.app, other.seat):
        pressed = Pressing(builder, "cowserv", "build")
        waiting_for_turn(room.app, builder.seat)
        yield builder, pressed


def make_room(tmp_path, **config):
    return PaperRoom(create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3"), **config}))


@pytest.fixture
def small_wait_room(tmp_path):
    """A room whose seats wait at most 1 s for the build turn."""
    return make_room(tmp_path, BUILD_WAIT_SECONDS=1)


@pytest.fixture
def slow_browsers_room(tmp_path):
    """A room whose browsers may send one request to their seat's routes every 1000 s."""
    return make_room(tmp_path, SEAT_REQUESTS_PER_SECOND=0.001)


def reached_its_engine(answer):
    """The press went past the seats' turn to its seat's engine, which (a paper seat's) does not answer: a build
    says so in its log, any other press with a 503."""
    text = text_of(answer)
    return "does not answer" in text and (answer.status_code == 503 or "It ran, and failed" in text)


def test_a_second_press_while_the_seats_first_runs_is_409_naming_the_running_step(room):
    """While a seat's build waits for its turn, any other press of that seat answers 409 with what runs (and
    starts nothing); the instructor presses as usual; once the build ends the seat presses again."""
    with build_waiting(room, 8501) as (builder, first):
        for step in ("run", "build"):
            refused = builder.press("cowserv", step)
            assert refused.status_code == 409, refused.text
            assert "Your seat is still running 'Build the image' (started" in text_of(refused), refused.text
            assert "wait for it to finish" in text_of(refused)
        assert room.instructor.post("/lessons/running/steps/ps", headers={"HX-Request": "true"}).status_code == 200
    assert reached_its_engine(first.result())
    assert reached_its_engine(builder.press("cowserv", "run"))  # one press at a time, not one press ever


def test_a_seats_build_waiting_past_the_limit_is_503_while_the_instructors_build_goes_on(small_wait_room,
                                                                                          docker_client):
    """With the turn held longer than BUILD_WAIT_SECONDS, a seat's build answers 503 saying how many builds are
    ahead, and builds nothing; the instructor's build of the lesson is not held by the seats' turn."""
    room = small_wait_room
    room.open(count=2, first_port=8511)
    choose_lesson(room.instructor, "cowserv")
    builder, other = room.students()
    with turn_held(room.app, other.seat):
        refused = builder.press("cowserv", "build")
        assert refused.status_code == 503, refused.text
        assert "1 build is ahead of yours" in text_of(refused) and "try again in a moment" in text_of(refused)

        started = room.instructor.post("/lessons/cowserv/steps/build", headers={"HX-Request": "true"})
        assert started.status_code == 200, started.text
        build = room.app.extensions["builder"].current
        for _ in build.follow():
            pass
        assert build.state == "succeeded", build.error
    assert reached_its_engine(builder.press("cowserv", "build"))  # the turn free: the seat builds


def test_a_build_that_waited_past_the_class_end_is_refused_and_builds_nothing(room):
    """The class ends while a seat's build waits for its turn: when its turn comes it answers 409 and the engine
    builds nothing for it."""
    with build_waiting(room, 8521) as (builder, pressed):
        room.roster.room.ends_at = 0  # the end time passed while it waited (no request ends it meanwhile)
    refused = pressed.result()
    assert refused.status_code == 409, refused.text
    assert "The class ended while your build waited for its turn: nothing was built." in text_of(refused)


def test_a_build_that_waited_while_the_next_room_opened_does_nothing_in_its_seat_of_the_same_name(room):
    """The instructor ends the class and opens the next room, whose seats have the same names, while a seat's
    build waits for its turn: when its turn comes it answers 409, and the next room's seat of that name has
    nothing of it (no image built, no container run)."""
    with build_waiting(room, 8551) as (builder, pressed):
        ended = room.instructor.delete("/room", headers={"HX-Request": "true"})
        assert ended.status_code == 200, ended.text
        assert builder.seat in room.open(count=2, first_port=8551).seats
    refused = pressed.result()
    assert refused.status_code == 409, refused.text
    assert ("The class ended and the next room opened while your build waited for its turn: nothing was built."
            in text_of(refused)), refused.text


def test_a_browsers_requests_to_its_seat_beyond_its_allowance_are_429_before_the_app(slow_browsers_room):
    """Past its allowance (here one request), a browser is answered 429 with Retry-After on its seat's routes, and
    the app does nothing (the step is not run); its seat page and another browser are not held by it."""
    room = slow_browsers_room
    room.open(count=2, first_port=8541)
    choose_lesson(room.instructor, "running")
    a, b = room.students()
    assert a.client.get("/seat/board", headers=a.headers).status_code == 200
    for shed in (a.client.get("/seat/board", headers=a.headers), a.press("running", "hello")):
        assert shed.status_code == 429, shed.text
        assert int(shed.headers["Retry-After"]) > 900 and "Too many requests from this browser" in text_of(shed)
    assert room.app.extensions["board"].last_run(f"running@{a.seat}", "hello") is None
    assert a.client.get("/seat").status_code == 200
    assert b.client.get("/seat/board", headers=b.headers).status_code == 200


def test_the_seat_routes_limit_counts_a_browser_by_its_session_cookie_only(tmp_path):
    """The limit keys on the session cookie alone: a script adding a throw-away cookie to each request is still
    limited, a browser whose other cookie changes (a student's app on another port of this host set it) keeps the
    allowance it has (not a fresh one), and a request with no session cookie is the app's to answer."""
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3"),
                      "SEAT_REQUESTS_PER_SECOND": 0.001})  # one request, then one every 1000 s

    def board(**cookies):
        client = app.test_client(instructor=False)
        for name, value in cookies.items():
            client.set_cookie(name, value)
        return client.get("/seat/board").status_code

    assert [board(session="flood", **{f"junk{n}": "x"}) for n in range(4)] == [200, 429, 429, 429]
    assert [board(theme=theme, session="browser") for theme in ("dark", "light")] == [200, 429]
    assert [board(theme="dark", **{f"junk{n}": "x"}) for n in range(3)] == [200, 200, 200]  # no session: the app's


def test_a_cookie_header_of_any_bytes_is_read_as_flask_reads_it(tmp_path):
    """A Cookie header with bytes that are not UTF-8 (a latin-1 '²') neither breaks the limit nor dodges it."""
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3"),
                      "SEAT_REQUESTS_PER_SECOND": 0.001})
    client = app.test_client(instructor=False, use_cookies=False)  # the header as written, not from a cookie jar
    environ = {"HTTP_COOKIE": "\xb2; session=flood\xb2"}
    assert [client.get("/seat/board", environ_overrides=environ).status_code for _ in range(2)] == [200, 429]


def test_the_allowance_refills_at_its_rate():
    """presses.Allowance(2 a second, 3 at once), on a clock the test moves: 3 at once, then one each half second."""
    now = [100.0]
    allowance = presses.Allowance(2, 3, clock=lambda: now[0])
    assert [allowance.take("a") for _ in range(3)] == [0, 0, 0]
    assert allowance.take("a") == pytest.approx(0.5)
    assert allowance.take("b") == 0  # another browser has its own
    now[0] += 0.5
    assert allowance.take("a") == 0 and allowance.take("a") > 0
    now[0] += 100
    assert [allowance.take("a") for _ in range(4)][:3] == [0, 0, 0]  # full again, never more than 3
