"""The room's domain with no engine and no web: a lesson as a seat does it, the limits, the roster kept in its
file, and the progress grid read from the board."""

import json
import time

import pytest

from dashboard import open_lessons
from dashboard.config import defaults
from dashboard.domain import progress, seats
from dashboard.domain.checks import FAILED, PASSED, Board, Ran, Result, Throttle, scope_of


@pytest.fixture(scope="module")
def catalog():
    return open_lessons(defaults())


def test_a_seat_does_the_lesson_on_its_own_names_tags_and_port(catalog):
    seat = seats.Seat("seat-8001", 8001, "t" * 24)
    realistic = seats.for_seat(catalog.get("realistic"), seat)
    build, run = realistic.step("build").action, realistic.step("run").action
    assert build.tag == "website:seat-8001" and realistic.step("build").check.tag == "website:seat-8001"
    assert run.image == "website:seat-8001" and run.name == "seat-8001-website"
    assert [(port.host, port.container) for port in run.ports] == [(8001, 8000)]
    live = next(step.action for step in realistic.steps if step.action.volumes)
    assert live.volumes[0].binds_folder  # the seat's own folder, not renamed
    state = seats.for_seat(catalog.get("state"), seat)
    db = next(step.action for step in state.steps if step.action.kind == "run")
    assert db.name == "seat-8001-db" and db.volumes[0].source == "seat-8001-pgdata"
    assert db.image == "postgres:16"  # an image the lesson does not build stays the same for everyone
    assert state.step("volume").check.name == "seat-8001-pgdata"


def test_compose_is_the_instructors_only(catalog):
    assert seats.not_for_seats(catalog.get("compose"))
    assert all(seats.not_for_seats(catalog.get(lesson)) is None for lesson in ("running", "cowserv", "realistic", "state"))


def test_a_tag_of_a_seat_replaces_the_tag_not_a_registry_port():
    assert seats.seat_image("cowserv", "seat-1") == "cowserv:seat-1"
    assert seats.seat_image("cowserv:latest", "seat-1") == "cowserv:seat-1"
    assert seats.seat_image("localhost:5000/web", "seat-1") == "localhost:5000/web:seat-1"


def test_limits_as_flags_and_as_the_engine_takes_them():
    limits = seats.Limits("128m", 0.25, 50)
    assert limits.flags == ("--memory", "128m", "--cpus", "0.25", "--pids-limit", "50")
    assert limits.host_config == {"mem_limit": 128 * 1024 ** 2, "nano_cpus": 250_000_000, "pids_limit": 50}
    for memory, cpus, pids in (("lots", 1, 100), ("1k", 1, 100), ("256m", 0, 100), ("256m", 1, 5)):
        with pytest.raises(seats.RoomError):
            seats.Limits(memory, cpus, pids)


def test_the_roster_keeps_the_room_across_a_restart_and_hands_each_seat_out_once(tmp_path):
    path = tmp_path / "room.json"
    roster = seats.Roster(path)
    room = roster.open([("seat-1", 1), ("seat-2", 2)], 30, seats.Limits(), cards=0, join_seats=2)
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # the tokens are the seats' keys
    code = room.join_code
    assert roster.join("wrong") is None
    assert [roster.join(code).name, roster.join(code).name, roster.join(code)] == ["seat-1", "seat-2", None]
    again = seats.Roster(path)  # a restart
    assert again.room.seats["seat-1"].joined and again.by_token(room.seats["seat-2"].token).name == "seat-2"
    old = room.seats["seat-1"].token
    again.revoke("seat-1")
    assert again.by_token(old) is None and again.room.seats["seat-1"].joined  # its new card: the same student
    again.set_joining(False)
    assert again.join(code) is None
    again.set_joining(True)
    assert again.room.join_code != code  # a photo of the old code no longer works
    again.room.ends_at = time.time() - 1
    assert again.room.expired()
    again.end()
    assert again.by_token(room.seats["seat-2"].token) is None and not again.room.expired()
    assert json.loads(path.read_text())["ended"] is True


def test_a_press_acts_only_in_the_room_and_with_the_link_it_began_with(tmp_path):
    """Roster.lost: a press's Stint holds while its room is open and on and its seat keeps the link; the next room
    (the same seats' names, its id kept in room.json) is never the press's."""
    path = tmp_path / "room.json"
    roster = seats.Roster(path)
    room = roster.open([("seat-1", 1), ("seat-2", 2)], 30, seats.Limits(), cards=2)
    stint, other = roster.stint(room.seats["seat-1"]), roster.stint(room.seats["seat-2"])
    assert roster.lost(stint) is None and roster.class_on(stint.room)
    assert seats.Roster(path).room.id == room.id  # a restart keeps the room's id
    roster.revoke("seat-1")
    assert roster.lost(stint) == "Your seat was given a new link" and roster.class_on(stint.room)
    roster.end()
    assert roster.lost(other) == "The class ended" and not roster.class_on(other.room)
    next_room = roster.open([("seat-1", 1), ("seat-2", 2)], 30, seats.Limits(), cards=2)
    assert next_room.id != room.id and not roster.class_on(other.room)
    assert roster.lost(other) == "The class ended and the next room opened"
    roster.close()
    assert roster.lost(other) == "The class ended" and not roster.class_on(other.room)


def test_a_grid_cell_is_passed_not_yet_or_failed(catalog):
    lesson = catalog.get("running")
    board, seat = Board(), seats.Seat("seat-1", 1, "t")
    scope = scope_of(lesson.id, seat.name)
    hello, ps = lesson.step("hello"), lesson.steps[1]
    assert progress.cell(board, lesson, seat, hello).state == progress.NOT_YET
    board.ran(scope, hello.id, Ran("docker run …", "boom", False))
    assert progress.cell(board, lesson, seat, hello).state == progress.FAILED_CELL
    board.ran(scope, hello.id, Ran("docker run …", "Hello", True))
    board.put(scope, hello.id, Result(PASSED, "printed it"))
    cell = progress.cell(board, lesson, seat, hello)
    assert (cell.state, cell.reason) == (progress.PASSED_CELL, "printed it")
    gone = next(step for step in lesson.steps if step.check is not None and step.check.absence)
    board.put(scope, gone.id, Result(PASSED, "gone"))
    assert progress.cell(board, lesson, seat, gone).state == progress.NOT_YET  # gone before it was ever made
    rows, counts = progress.grid(board, lesson, [seat, seats.Seat("seat-2", 2, "u")])
    assert [row.seat.name for row in rows] == ["seat-1", "seat-2"]
    assert (counts[0].passed, counts[0].of) == (1, 2)
    board.put(scope, ps.id, Result(FAILED, "no"))
    assert progress.cell(board, lesson, seat, ps).state == progress.NOT_YET  # not pressed: not yet, not failed
    board.forget_seat("seat-1")
    assert progress.cell(board, lesson, seat, hello).state == progress.NOT_YET


def test_the_throttle_spaces_calls_across_threads():
    throttle, started = Throttle(50), time.monotonic()
    for _ in range(11):
        throttle.wait()
    assert time.monotonic() - started >= 0.19  # ten gaps of 1/50 s


def test_the_access_log_leaves_out_seat_links_and_join_codes():
    from dashboard.redacted_log import redact

    assert redact('"GET /s/AbC-123_x HTTP/1.1"') == '"GET /s/… HTTP/1.1"'
    assert redact("/join/Zz9?x=1") == "/join/…?x=1"
    assert redact("/seat/board?since=1") == "/seat/board?since=1"


def test_the_join_code_hands_out_join_seats_only_and_cards_stay_their_students(tmp_path):
    roster = seats.Roster(tmp_path / "room.json")
    room = roster.open([("seat-1", 1), ("seat-2", 2), ("seat-3", 3)], 30, seats.Limits(), cards=2, join_seats=1)
    assert [seat.kind for seat in room.seats.values()] == [seats.CARD, seats.CARD, seats.JOIN]
    assert roster.joinable(room.join_code)
    assert roster.join(room.join_code).name == "seat-3"
    assert roster.join(room.join_code) is None and not roster.joinable(room.join_code)  # never a card's seat
    assert not roster.room.seats["seat-1"].joined


def test_a_seat_has_one_holder_at_a_time(tmp_path):
    path = tmp_path / "room.json"
    roster = seats.Roster(path)
    roster.open([("seat-1", 1)], 30, seats.Limits(), cards=1)
    token = roster.room.seats["seat-1"].token
    assert roster.room.seats["seat-1"].sign_ins == 0  # nobody opened its card yet
    first = roster.hold("seat-1", token)
    second = roster.hold("seat-1", token)
    assert (first.sign_ins, second.sign_ins) == (1, 2) and roster.room.seats["seat-1"].sign_ins == 2
    assert first is not roster.room.seats["seat-1"]  # a copy: a later move does not change what was granted
    assert seats.Roster(path).room.seats["seat-1"].sign_ins == 2  # kept across a restart
    assert roster.revoke("seat-1").sign_ins == 0  # a new link: nobody holds the seat until it is opened


def test_a_link_revoked_between_its_look_up_and_the_hold_holds_nothing(tmp_path):
    """The link is looked up (by_token), then a New link happens, then the hold: the old link's browser gets no
    session for the new token (None, answered 403), and nothing changes."""
    roster = seats.Roster(tmp_path / "room.json")
    roster.open([("seat-1", 1), ("seat-2", 2)], 30, seats.Limits(), cards=2)
    old = roster.room.seats["seat-1"].token
    looked_up = roster.by_token(old)
    roster.revoke(looked_up.name)
    assert roster.hold(looked_up.name, old) is None
    assert roster.room.seats["seat-1"].sign_ins == 0
    assert roster.hold("seat-1", roster.room.seats["seat-2"].token) is None  # another seat's link: nothing either
    assert roster.hold("seat-1", roster.room.seats["seat-1"].token).sign_ins == 1


def test_a_plan_of_other_than_the_seats_asked_for_opens_no_room(tmp_path):
    """Cards and join seats are counted from the form, never from the plan's length: a short plan is refused."""
    roster = seats.Roster(tmp_path / "room.json")
    for planned, cards, join_seats in ((1, 2, 1), (2, 3, 0), (3, 1, 1)):
        with pytest.raises(seats.TooFewSeats, match="were planned"):
            roster.open([(f"seat-{n}", n) for n in range(planned)], 30, seats.Limits(), cards, join_seats)
    assert roster.room is None
    room = roster.open([("seat-1", 1), ("seat-2", 2)], 30, seats.Limits(), 1, 1)
    assert [seat.kind for seat in room.seats.values()] == [seats.CARD, seats.JOIN]


def test_a_room_written_before_seats_had_kinds_still_loads(tmp_path):
    path = tmp_path / "room.json"
    roster = seats.Roster(path)
    roster.open([("seat-1", 1)], 30, seats.Limits(), cards=1)
    data = json.loads(path.read_text())
    for seat in data["seats"].values():
        del seat["kind"], seat["sign_ins"]
    path.write_text(json.dumps(data))
    seat = seats.Roster(path).room.seats["seat-1"]
    assert (seat.kind, seat.sign_ins) == (seats.CARD, 0)


def test_a_room_with_the_old_holder_count_is_refused_with_what_to_do(tmp_path):
    """room.json of 0.x before `sign_ins` (its `holder` field): the clear message, never a traceback."""
    path = tmp_path / "room.json"
    seats.Roster(path).open([("seat-1", 1)], 30, seats.Limits(), cards=1)
    data = json.loads(path.read_text())
    data["seats"]["seat-1"]["holder"] = data["seats"]["seat-1"].pop("sign_ins")
    path.write_text(json.dumps(data))
    with pytest.raises(seats.RoomError, match="is not a room this dashboard wrote.*remove it to close the room"):
        seats.Roster(path)
