"""The instructor's run of a step on every seat of the room, pure: the loop it shows (room.every_seat_command),
the step it offers first, and a seat's message while the instructor's run holds it. Its runs on the engine are in
test_every_seat_engine.py."""

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from dashboard.domain import actions, lessons, seats
from dashboard.domain import room as room_life
from dashboard.domain.errors import SeatBusy
from dashboard.domain.presses import SeatPresses

SHIPPED = Path(__file__).parent.parent / "dashboard" / "lessons"
CATALOG = lessons.load_catalog(SHIPPED)
PORTS = (8001, 8002, 8004)


def a_room(names_ports):
    return seats.Room({name: seats.Seat(name, port, "token") for name, port in names_ports}, 0.0, seats.Limits(),
                      "code")


def place_of(seat):
    return actions.Place(Path("/srv/workshop/seats") / seat.name, Path("/home/teacher"), seat=seat.name,
                         limits=seats.Limits())


def own_command(lesson, step, seat):
    own = seats.for_seat(lesson, seat)
    return actions.command(own, own.step(step.id).action, place_of(seat))


SEAT_STEPS = [pytest.param(lesson, step, id=f"{lesson.id}:{step.id}") for lesson in CATALOG.lessons
              if seats.not_for_seats(lesson) is None for step in lesson.steps]


@pytest.mark.parametrize("lesson, step", SEAT_STEPS)
def test_the_loop_for_every_seat_is_bash_and_runs_each_seats_own_command(lesson, step):
    """For each step seats can do, the loop is true bash (bash -n), and each seat's turn of it, expanded, is the
    seat's own command; where it cannot be a loop, it is each seat's command, one a line."""
    room = a_room([(f"seat-{port}", port) for port in PORTS])
    shown = room_life.every_seat_command(lesson, step, room, "seat-", place_of)
    assert subprocess.run(["bash", "-n"], input=shown, text=True, capture_output=True).returncode == 0, shown
    commands = [own_command(lesson, step, seat) for seat in room.seats.values()]
    if shown.startswith("for port in "):
        head, body = shown.split("\n", 1)
        words = head.removeprefix("for port in ").removesuffix("; do")
        assert subprocess.run(["bash", "-c", f"echo {words}"], capture_output=True, text=True).stdout.split() == \
            [str(port) for port in PORTS]
        assert body.startswith("seat=seat-$port\n"), shown
        body = body.removeprefix("seat=seat-$port\n").removesuffix("\ndone")
        assert [room_life._expanded(body, seat) for seat in room.seats.values()] == commands
    else:
        assert shown == "\n".join(commands)


def lesson_with(command_fields):
    """The running lesson with its detached step's action changed (fields), for the loop's fallbacks."""
    lesson = CATALOG.get("running")
    step = lesson.step("detached")
    changed = replace(step, action=replace(step.action, **command_fields))
    return replace(lesson, steps=tuple(changed if s.id == "detached" else s for s in lesson.steps)), changed


def test_a_seat_name_inside_single_quotes_or_a_here_documents_text_is_no_variable():
    seat = seats.Seat("seat-8001", 8001, "token")
    assert room_life._with_variables("docker run --name 'seat-8001-x' alpine", seat) is None
    assert room_life._with_variables("docker run -p '8001:80' alpine", seat) is None
    assert room_life._with_variables("cat > f <<'EOF'\nseat-8001\nEOF", seat) is None
    assert room_life._with_variables("cat > f <<'EOF'\nport 8001\nEOF", seat) is None
    assert room_life._with_variables('docker run --name "seat-8001-x" -p 8001:80 alpine', seat) == \
        'docker run --name "${seat}-x" -p ${port}:80 alpine'


@pytest.mark.parametrize("names_ports, why", [
    ([("seat-8001", 8001), ("desk-8002", 8002)], "a name that is not the prefix and its port"),
    ([("seat-8000", 8000), ("seat-8001", 8001)], "the first seat's port equal to the container's port"),
])
def test_where_a_loop_would_be_wrong_each_seats_command_is_one_line(names_ports, why):
    lesson = CATALOG.get("cowserv")
    step = lesson.port_run  # -p PORT:8000
    room = a_room(names_ports)
    shown = room_life.every_seat_command(lesson, step, room, "seat-", place_of)
    assert shown == "\n".join(own_command(lesson, step, seat) for seat in room.seats.values()), why


def test_a_seat_name_in_single_quotes_gives_one_command_a_line():
    lesson, step = lesson_with({"command": ("sh", "-c", "echo seat-8001")})
    room = a_room([(f"seat-{port}", port) for port in PORTS])
    shown = room_life.every_seat_command(lesson, step, room, "seat-", place_of)
    assert not shown.startswith("for port in ")
    assert shown.splitlines() == [own_command(lesson, step, seat) for seat in room.seats.values()]


def test_the_step_offered_first_is_one_a_fresh_room_can_run_on_every_seat():
    """The images lessons' port run needs each seat's own build first: the picker offers their first step (the
    build), as it does in a lesson without a port run."""
    assert room_life.default_every_seat_step(CATALOG.get("cowserv")).id == "build"
    assert room_life.default_every_seat_step(CATALOG.get("realistic")).id == "build"
    assert room_life.default_every_seat_step(CATALOG.get("running")).id == "hello"


def test_a_seat_held_by_the_instructors_run_is_told_so():
    presses = SeatPresses()
    with presses.pressing("seat-8001", "Run a container", every_seat=True):
        with pytest.raises(SeatBusy, match="the instructor's run on every seat"):
            with presses.pressing("seat-8001", "Build the image"):
                pass
    with presses.pressing("seat-8001", "Run a container"):
        with pytest.raises(SeatBusy) as busy:
            with presses.pressing("seat-8001", "Build the image"):
                pass
        assert "instructor" not in str(busy.value) and "'Run a container' (started" in str(busy.value)
