"""The room's domain with no engine and no web: the seats' port blocks and states, the limits, the roster kept in
its file, and the progress grid read from the board."""

import json
import time

import pytest

from dashboard import open_lessons
from dashboard.config import defaults
from dashboard.domain import progress, seats
from dashboard.domain import room as room_life
from dashboard.domain.errors import PortInUse
from dashboard.domain.checks import FAILED, PASSED, Board, Ran, Result, Throttle, scope_of
from dashboard.seat_host import layout


@pytest.fixture(scope="module")
def catalog():
    return open_lessons(defaults())


def test_each_seat_gets_a_block_of_host_ports_named_by_its_first(monkeypatch):
    planned = room_life.plan_seats("seat-", 8001, 3, probe_ports=False)
    assert planned == [("seat-8001", 8001), ("seat-8006", 8006), ("seat-8011", 8011)]
    with pytest.raises(PortInUse, match="past 65535"):
        room_life.plan_seats("seat-", 65530, 2, probe_ports=False)
    monkeypatch.setattr(room_life, "host_port_free", lambda port: port != 8008)
    with pytest.raises(PortInUse, match="Host port 8008 .*seat-8006's ports 8006-8010"):
        room_life.plan_seats("seat-", 8001, 3)


def test_a_seats_state_maps_its_block_to_the_ports_the_lessons_publish(tmp_path, catalog):
    assert seats.lesson_ports(catalog.lessons) == (8000, 8080, 8090, 8100, 8200)  # runs' and compose.yaml's
    assert len(seats.lesson_ports(catalog.lessons)) <= layout.PORT_BLOCK  # a seat's block maps every one
    roster = seats.Roster(tmp_path / "room.json")
    room = roster.open([("seat-8001", 8001), ("seat-8006", 8006)], 30, seats.Limits("512m", 1, 200), cards=2)
    settings = room_life.SeatSettings("127.0.0.1", 4 * 1024 ** 3, (8000, 8080, 8090), 300, str(tmp_path / "seats"))
    first, second = room_life.seat_states(room, room.limits, settings)
    assert (first.name, first.index, first.room, first.bind_host) == ("seat-8001", 0, room.id, "127.0.0.1")
    assert first.ports == ((8001, 8000), (8002, 8080), (8003, 8090))
    assert second.ports == ((8006, 8000), (8007, 8080), (8008, 8090))
    assert (second.memory, second.cpus, second.pids, second.disk) == (512 * 1024 ** 2, 1, 200, 4 * 1024 ** 3)


def test_a_room_of_more_seats_than_the_host_holds_is_refused_saying_by_which_figure():
    assert room_life.too_many_seats(30, 300, memory=16 * 1024 ** 3, cores=2) is None
    assert "at most 20 (DASHBOARD_MAX_SEATS)" in room_life.too_many_seats(21, 20, memory=16 * 1024 ** 3)
    assert "enough for 8 seats" in room_life.too_many_seats(9, 300, memory=1024 ** 3)
    assert room_life.too_many_seats(30, 300, memory=16 * 1024 ** 3, cores=2) is None
    assert "enough for 30 seats" in room_life.too_many_seats(31, 300, memory=16 * 1024 ** 3, cores=2)


def test_limits_are_checked(catalog):
    assert seats.Limits("128m", 0.25, 50).memory_bytes == 128 * 1024 ** 2
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


def test_a_check_after_previous_counts_for_its_step_only_once_the_step_before_is_done(catalog):
    """Part 8's `restart` asks the page `up` made answer: passing right after `up`, it is not yet done on the grid
    until the steps before it are, then it is (typed or pressed alike)."""
    lesson = catalog.get("microservices")
    board, seat = Board(), seats.Seat("seat-1", 1, "t")
    scope = scope_of(lesson.id, seat.name)
    restart = lesson.step("restart")
    assert restart.check.after_previous and restart.check.waits_its_turn and not restart.check.absence
    before = lesson.steps[:lesson.steps.index(restart)]
    board.ran(scope, "up", Ran("docker compose up -d --build", "", True))
    board.put(scope, "up", Result(PASSED, "the page answers"))
    board.put(scope, restart.id, Result(PASSED, "the page answers"))
    state = lambda: dict((c.step_id, c.state) for c in progress.grid(board, lesson, [seat])[0][0].cells)
    assert state()[restart.id] == progress.NOT_YET  # the steps between are not done yet
    for step in before[1:]:  # typed: the steps with a check seen passing; those without one leave no trace
        if step.check is not None:
            board.put(scope, step.id, Result(FAILED, "not yet"))
            board.put(scope, step.id, Result(PASSED, "done"))
    assert state()[restart.id] == progress.PASSED_CELL


def test_a_grid_cell_of_a_step_still_running_is_not_yet_and_says_where_it_is(catalog):
    lesson = catalog.get("running")
    board, seat = Board(), seats.Seat("seat-1", 1, "t")
    hello = lesson.step("hello")
    board.ran(scope_of(lesson.id, seat.name), hello.id,
              Ran("docker compose up -d --build", "#1 …\n", False, running=True, stage="#5 [api 2/4] RUN apt-get"))
    cell = progress.cell(board, lesson, seat, hello)
    assert (cell.state, cell.reason) == (progress.NOT_YET, "Running, at #5 [api 2/4] RUN apt-get…")


def test_a_step_typed_in_the_terminal_is_done_on_the_grid_as_a_pressed_one(catalog):
    """No press, only what the student typed: a check seen failing (the container was there) and then passing
    (it is gone) is done, and stays done when a later step undoes it, as after a press."""
    lesson = catalog.get("running")
    board, seat = Board(), seats.Seat("seat-1", 1, "t")
    scope = scope_of(lesson.id, seat.name)
    stop, hello = lesson.step("stop"), lesson.step("hello")
    board.put(scope, stop.id, Result(FAILED, "ticker is there"))
    assert progress.cell(board, lesson, seat, stop).state == progress.NOT_YET
    board.put(scope, stop.id, Result(PASSED, "gone"))
    assert progress.cell(board, lesson, seat, stop).state == progress.PASSED_CELL
    board.put(scope, hello.id, Result(FAILED, "no hello yet"))
    board.put(scope, hello.id, Result(PASSED, "printed it"))
    board.put(scope, hello.id, Result(FAILED, "removed by the rm step"))
    assert progress.cell(board, lesson, seat, hello).state == progress.PASSED_CELL


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
