"""The instructor's run of a step on every seat of the room, pure: the loop it shows (room.every_seat_command),
the commands a seat shows (the lesson's own), the step it offers first, and a seat's message while the
instructor's run holds it. Its runs on the seats' engines are in test_seat_engines_room.py."""

import subprocess
from pathlib import Path, PurePosixPath

import pytest

from dashboard.domain import actions, lessons, seats
from dashboard.domain import room as room_life
from dashboard.domain.errors import SeatBusy
from dashboard.domain.presses import SeatPresses
from dashboard.seat_host import layout, shell

SHIPPED = Path(__file__).parent.parent / "dashboard" / "lessons"
CATALOG = lessons.load_catalog(SHIPPED)
PORTS = (8001, 8002, 8004)


BASE = "/var/lib/cowserv-seats"


def a_room(names_ports):
    return seats.Room({name: seats.Seat(name, port, "token") for name, port in names_ports}, 0.0, seats.Limits(),
                      "code")


def place_of(lesson):
    def place(seat):
        return actions.Place(Path(BASE) / seat.name / "docker-workshop" / lesson.folder, PurePosixPath(layout.HOME),
                             seat=seat.name, seen=PurePosixPath(layout.FOLDER) / lesson.folder)
    return place


def seat_command(lesson, step, seat):
    """What the seat's page shows: the lesson's command as written, from ~/docker-workshop/FOLDER."""
    return actions.command(lesson, step.action, place_of(lesson)(seat))


ALL_STEPS = [pytest.param(lesson, step, id=f"{lesson.id}:{step.id}") for lesson in CATALOG.lessons
             for step in lesson.steps]


@pytest.mark.parametrize("lesson, step", ALL_STEPS)
def test_the_loop_for_every_seat_is_bash_over_the_seats_doing_each_seats_own_command(lesson, step):
    """The loop is true bash (bash -n) over every seat's folder, each turn the seat's own command as its student
    types it: one that reads or writes the student's files in the lesson's folder inside the seat's view, as the
    student; a request in the seat's network namespace; any other on that seat's engine (DOCKER_HOST its socket)."""
    room = a_room([(f"seat-{port}", port) for port in PORTS])
    shown = room_life.every_seat_command(lesson, step, room, BASE, place_of(lesson))
    assert subprocess.run(["bash", "-n"], input=shown, text=True, capture_output=True).returncode == 0, shown
    head, body = shown.split("\n", 1)
    assert head == "for seat in " + " ".join(f"{BASE}/seat-{port}" for port in PORTS) + "; do (", shown
    lines = body.split("\n")
    assert lines[0] == 'export DOCKER_HOST="unix://$seat/run/docker.sock"' and lines[-2:] == [")", "done"], shown
    turn = "\n".join(lines[1:-2])
    place = place_of(lesson)(room.seats["seat-8001"])
    typed = step.action.definition.typed(lesson, step.action, place)
    if step.action.uses_folder:  # a build, Compose, a bind of the folder, `cat`, an edit
        assert turn == shell.as_student_in_bash('"$seat"', f"{layout.FOLDER}/{lesson.folder}", typed), shown
        assert "nsenter -t \"$view\" -m -- setpriv" in turn and "env -i -C" in turn, shown
    elif step.action.kind == "request":  # the seat's `localhost`: its own network namespace
        assert turn == f'ip netns exec "cowserv-${{seat##*/}}" {typed}', shown
    else:
        assert turn == seat_command(lesson, step, room.seats["seat-8001"]) == typed, shown


def test_a_seats_commands_are_the_lessons_own_with_no_label_limit_or_seat_name():
    seat = seats.Seat("seat-8001", 8001, "token")
    for lesson in CATALOG.lessons:
        for step in lesson.steps:
            shown = seat_command(lesson, step, seat)
            for word in ("--label", "--memory", "--cpus", "--pids-limit", "seat-8001", "BASE_IMAGE", "--filter",
                         "--force-rm"):
                assert word not in shown, (lesson.id, step.id, shown)
    images = CATALOG.get("cowserv")
    assert seat_command(images, images.step("build"), seat) == \
        "cd ~/docker-workshop/images && docker build -t cowserv ."  # the workshop's, word for word
    assert seat_command(images, images.step("run"), seat) == "docker run -d -p 8000:8000 cowserv"


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
