"""A room whose seats have Docker engines of their own (dashboard/seat_host), end to end through the dashboard: a
seat's button runs the lesson's command as written on the seat's engine, what the student types there is what the
checks and the grid see, two seats publish the same port each at its own host port, the instructor's run on every
seat and its loop over the seats' sockets, the room's limits for the whole seat, a reset, a restart that re-attaches
the room's seats and sweeps a seat of no room, and a class end that leaves nothing on the machine.

Root only, real seat engines: ONE room of two seats for the module (plus one stray seat for the restart), in a
seats' folder and with seat names of the module's own; the module's teardown removes every seat engine.
"""

import html
import re
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.support import free_ports, shell, wait_until
from tests.support.room import (
    SeatRoom,
    choose_lesson,
    leftovers,
    on_seat,
    seat_docker,
    seat_files,
    sheet_links,
    student,
    text_of,
    wait_for_grid,
)
from dashboard import create_app
from dashboard.seat_host import cgroups, layout

REAL_SEATS = True  # conftest: this module's apps start real seat engines
pytestmark = pytest.mark.engine

SHIPPED = Path(__file__).parent.parent / "dashboard" / "lessons"


@pytest.fixture(scope="module")
def seats_room():
    """The module's room of two seats with engines of their own, opened once; everything of it removed after."""
    base = Path("/tmp") / f"cowserv-seats-room-{uuid.uuid4().hex[:8]}"
    first = free_ports(3 * layout.PORT_BLOCK)[0]
    made = SeatRoom(base, SEAT_PREFIX=f"r{uuid.uuid4().hex[:5]}-")
    names = []
    try:
        names = list(made.open(count=2, first_port=first).seats)
        yield made
    finally:
        made.close()
    assert leftovers(base, [*names, f"{made.app.config['SEAT_PREFIX']}stray"]) == []


@pytest.fixture
def room(seats_room):
    return seats_room


def names_on(app, seat, all_containers=True):
    return sorted(c.name for c in seat_docker(app, seat).containers.list(all=all_containers))


def fresh_students(room):
    """A browser signed in to each seat (taking the seat from whichever browser held it in an earlier test)."""
    return [student(room.app, path) for path in sheet_links(room.instructor).values()]


# 1. A seat's button and what a student types, on the seat's own engine.

def test_a_seats_button_runs_the_lessons_own_command_on_its_engine_and_the_check_and_grid_see_it(room):
    choose_lesson(room.instructor, "running")
    a, b = fresh_students(room)
    shown = a.commands()
    assert shown["hello"] == "docker run --name hello python:3.12-slim echo 'Hello from a container'", shown
    assert shown["ps-all"] == "docker ps -a"
    assert a.done("running", "hello").strip() == "Hello from a container"
    assert names_on(room.app, a.seat) == ["hello"] and names_on(room.app, b.seat) == []
    listed = a.done("running", "ps-all")
    assert re.search(r"\bhello$", listed, re.M), listed
    assert a.check("running", "hello") == "passed"
    wait_for_grid(room.instructor, {(a.seat, "hello"): "passed", (b.seat, "hello"): "not-yet"},
                  counts={"hello": "1 of 2"})
    refused = b.press("running", "logs")  # b has no ticker: its own engine says so, its cell too
    assert refused.status_code == 404 and "No lesson container ticker" in text_of(refused)


def test_what_a_student_types_on_the_seats_engine_is_what_the_checks_and_the_grid_see(room):
    choose_lesson(room.instructor, "running")
    a, b = fresh_students(room)
    typed = on_seat(room.app, b.seat, b.commands()["detached"])  # as the student types it in their terminal
    assert typed.returncode == 0, typed.stderr
    assert re.fullmatch(r"[0-9a-f]{64}\n", typed.stdout)
    assert names_on(room.app, b.seat, all_containers=False) == ["ticker"]
    assert b.check("running", "detached") == "passed"
    wait_for_grid(room.instructor, {(b.seat, "detached"): "passed", (a.seat, "detached"): "not-yet"})
    wait_until(lambda: re.search(r"\d\d:\d\d:\d\d", b.done("running", "logs")), "the ticker's first date")
    gone = on_seat(room.app, b.seat, b.commands()["stop"])
    assert gone.returncode == 0 and gone.stdout.split() == ["ticker", "ticker"], gone
    assert b.check("running", "stop") == "passed"


def test_a_seat_engines_events_nudge_the_grid_and_the_seats_own_page(room):
    """One event stream per seat engine: what the student types there nudges the room's grid and the seat's own
    board on the live channel, with no page asking."""
    name = list(room.roster.room.seats)[1]
    room.life.seat_engines.forget([name])  # a fresh list of the seat's engine (the tests' teardown closed the last)
    snapshot = room.life.seat_snapshot(name)
    snapshot.current()  # the grid's first look: its events followed from here
    wait_until(lambda: snapshot.following, "the seat engine's event stream open")
    hub = room.app.extensions["live"]
    mark = hub.last_id
    typed = on_seat(room.app, name, "docker run -d --name nudged python:3.12-slim sleep 60")
    assert typed.returncode == 0, typed.stderr
    try:
        wait_until(lambda: {("grid", None), ("board", name)} <= {(n.topic, n.seat) for n in hub.since(mark) or []},
                   "the grid's and the seat's nudges")
    finally:
        on_seat(room.app, name, "docker rm -f nudged")


def test_however_often_the_grid_is_polled_each_seat_engine_is_listed_once_a_period(room):
    """Screens polling the grid read each seat engine's shared list: at most one list call a seat per change or
    SNAPSHOT_SECONDS (the events say when something changed), however many polls."""
    choose_lesson(room.instructor, "running")
    names = list(room.roster.room.seats)
    room.life.seat_engines.forget(names)  # fresh lists, their events followed from the first poll
    instructor = room.instructor
    instructor.get("/room/grid")
    wait_until(lambda: all(room.life.seat_snapshot(name).following for name in names), "the seats' event streams")
    before = {name: room.life.seat_snapshot(name).reads for name in names}
    started = time.monotonic()
    for _ in range(30):
        assert instructor.get("/room/grid").status_code == 200
        time.sleep(0.05)
    periods = int((time.monotonic() - started) / room.app.config["SNAPSHOT_SECONDS"]) + 2
    assert all(room.life.seat_snapshot(name).reads - before[name] <= periods for name in names), \
        {name: room.life.seat_snapshot(name).reads - before[name] for name in names}


def test_the_command_a_seat_is_shown_makes_the_container_its_button_makes(room):
    choose_lesson(room.instructor, "running")
    a, _ = fresh_students(room)
    engine = seat_docker(room.app, a.seat)
    for leftover in engine.containers.list(all=True):
        leftover.remove(force=True)
    a.done("running", "hello")
    by_button = engine.api.inspect_container("hello")
    assert on_seat(room.app, a.seat, a.commands()["rm"]).stdout.strip() == "hello"
    assert a.check("running", "hello") == "failed"
    typed = on_seat(room.app, a.seat, a.commands()["hello"])
    assert typed.returncode == 0 and typed.stdout.strip() == "Hello from a container", typed
    by_command = engine.api.inspect_container("hello")
    assert by_command["Id"] != by_button["Id"]
    for key in ("Image", "Cmd", "Labels"):
        assert by_command["Config"][key] == by_button["Config"][key], key
    assert a.check("running", "hello") == "passed"


# 2. Ports: each seat's block of host ports.

def test_a_link_the_student_made_in_their_folder_leads_the_dashboard_nowhere(room, tmp_path):
    """A student swaps their lesson's folder for a symbolic link to a host folder and presses Build: the dashboard
    writes and reads a seat's folder as its student in its view, where no link is followed, so nothing is written
    into the host folder, nothing of it is read or sent to the seat's engine, and the page says why (409)."""
    choose_lesson(room.instructor, "cowserv")
    seat = fresh_students(room)[0]
    host_folder = tmp_path / "not-the-seats"
    host_folder.mkdir()
    (host_folder / "Dockerfile").write_text("FROM python:3.12-slim\nCOPY . /taken\n")
    (host_folder / "secret.txt").write_text("the host's")
    images = seat_files(room.app, seat.seat) / "images"
    kept = images.with_name("images-kept")
    images.rename(kept)
    try:
        images.symlink_to(host_folder)
        answer = seat.press("cowserv", "build")
        assert answer.status_code == 409 and "symbolic link" in text_of(answer), (answer.status_code, answer.text)
        assert sorted(path.name for path in host_folder.iterdir()) == ["Dockerfile", "secret.txt"]
        assert not seat_docker(room.app, seat.seat).images.list("cowserv")
    finally:
        images.unlink(missing_ok=True)
        kept.rename(images)


def test_two_seats_publish_8000_at_once_and_each_answers_at_its_own_host_port(room, docker_client, cowserv_image):
    """Both seats run `docker run -d -p 8000:8000 cowserv` at the same moment (their buttons); each seat's first
    host port answers with its own cow (the forwarder), and each seat's check and grid cell pass."""
    choose_lesson(room.instructor, "cowserv")
    seats = fresh_students(room)
    saved = subprocess.run(["docker", "save", "cowserv:latest"], capture_output=True, check=True).stdout
    for seat in seats:  # its build needs the mirror: here the host's image is loaded as the seat's own build
        seat_docker(room.app, seat.seat).images.load(saved)
    assert seats[0].commands()["run"] == "docker run -d -p 8000:8000 cowserv"
    answers = {}
    pressing = [threading.Thread(target=lambda seat=seat: answers.setdefault(seat.seat, seat.press("cowserv", "run")))
                for seat in seats]
    for thread in pressing:
        thread.start()
    for thread in pressing:
        thread.join(120)
    assert {name: answer.status_code for name, answer in answers.items()} == {seat.seat: 200 for seat in seats}
    for seat in seats:
        host_port = dict((port, host) for host, port in room.life.seat_place(seat.seat).host_ports((8000,)))[8000]
        page = wait_until(lambda: _answer(host_port), f"{seat.seat}'s cow at its host port {host_port}")
        assert "^__^" in page
        assert seat.check("cowserv", "run") == "passed"
        assert "Your port 8000 answers with" in html.unescape(seat.page())  # not its namespace's address
    wait_for_grid(room.instructor, {(seat.seat, "run"): "passed" for seat in seats}, counts={"run": "2 of 2"})


def _answer(port):
    try:
        return requests.get(f"http://127.0.0.1:{port}/", timeout=3).text
    except requests.RequestException:
        return None


# 3. The room's limits hold for the whole seat.

def test_the_rooms_limits_are_the_whole_seats_and_a_fork_bomb_stops_at_them(room):
    """The form's 256m and 100 processes are the seat's cgroup's (its engine's containers together); forking past
    them in a container of the seat fails."""
    a = room.roster.room.seats[next(iter(room.roster.room.seats))].name
    seat_cgroup = layout.SeatPlace(room.base, a, 0).cgroup
    assert int((cgroups.ROOT / "memory" / seat_cgroup / "memory.limit_in_bytes").read_text()) == 256 * 1024 ** 2
    assert (cgroups.ROOT / "pids" / seat_cgroup / "pids.max").read_text().strip() == "100"
    script = "i=0; while [ $i -lt 150 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); done; echo started $i"
    forked = on_seat(room.app, a, f"docker run --rm python:3.12-slim sh -c '{script}'")
    assert "started 150" not in forked.stdout, forked.stdout
    assert re.search(r"can't fork|cannot fork|resource temporarily unavailable", forked.stdout + forked.stderr,
                     re.I), (forked.stdout, forked.stderr)


def test_a_seat_runs_a_check_inside_its_container_at_most_once_a_period(room):
    """A seat's second "Check again" of an exec check within EXEC_CHECK_SECONDS answers 200 with the latest result
    and a note, and runs nothing in the container; a check that only reads is asked again; another seat is not
    held by it. (The realistic lesson's build, run and exec, each on the seat's own engine.)"""
    choose_lesson(room.instructor, "realistic")
    a, b = fresh_students(room)
    cooldown = room.app.extensions["exec_checks"]
    cooldown.seconds = 600
    try:
        for seat in (a, b):
            for step in ("build", "run", "exec"):
                seat.done("realistic", step)
        assert a.check("realistic", "exec") == "passed"
        seat_docker(room.app, a.seat).containers.get("website").exec_run(["rm", "/tmp/note.txt"])
        again = a.post("/seat/lessons/realistic/steps/exec/check")
        assert again.status_code == 200, again.text
        assert 'data-check="passed"' in again.text  # the latest result, not asked again
        assert "at most once every 600 s" in text_of(again), again.text
        assert a.check("realistic", "run") == "passed"  # a check that reads only is not spaced out
        assert b.check("realistic", "exec") == "passed"  # nor is another seat's
        assert a.done("realistic", "exec")  # a press runs its step, and its check, as always
    finally:
        cooldown.seconds = 5
        for seat in (a, b):
            on_seat(room.app, seat.seat, "docker rm -f website")


# 4. The instructor's actions on every seat.

def html_of(response):
    return html.unescape(response.text)


def run_on_every_seat(room, step_id):
    answer = room.instructor.post("/room/every-seat", data={"step": step_id}, headers={"HX-Request": "true"})
    assert answer.status_code == 200, answer.text
    job = room.life.every_seat
    wait_until(lambda: not job.running, "the run on every seat's end", timeout=120)
    return answer, job


def test_a_step_runs_on_every_seat_as_each_seat_would_and_as_its_loop_over_their_sockets_does(room):
    choose_lesson(room.instructor, "running")
    names = list(room.roster.room.seats)
    for name in names:
        for leftover in seat_docker(room.app, name).containers.list(all=True):
            leftover.remove(force=True)
    answer, job = run_on_every_seat(room, "detached")
    assert {name: run.state for name, run in job.runs.items()} == {name: "done" for name in names}, job.runs
    wait_for_grid(room.instructor, {(name, "detached"): "passed" for name in names})
    by_button = {name: seat_docker(room.app, name).api.inspect_container("ticker") for name in names}

    loop = re.search(r"<code data-cli>(for seat in .*?done)</code>", html_of(answer), re.S)[1]
    assert loop.startswith(f"for seat in {room.base}/{names[0]} {room.base}/{names[1]}; do ("), loop
    for name in names:
        seat_docker(room.app, name).containers.get("ticker").remove(force=True)
    ran = shell(loop)
    assert ran.returncode == 0, ran.stderr
    for name in names:
        by_command = seat_docker(room.app, name).api.inspect_container("ticker")
        assert by_command["Id"] != by_button[name]["Id"]
        for key in ("Image", "Cmd", "Labels"):
            assert by_command["Config"][key] == by_button[name]["Config"][key], key


def test_stop_and_remove_every_seats_things_as_its_command_does_the_stand_ins_stay(room):
    choose_lesson(room.instructor, "running")
    names = list(room.roster.room.seats)
    run_on_every_seat(room, "detached")
    page = html_of(room.instructor.get("/room"))
    command = re.search(r"<code data-cli>(for socket in .*?done)</code>", page, re.S)[1]
    answer = room.instructor.delete("/room/seats", headers={"HX-Request": "true"})
    assert answer.status_code == 200, answer.text
    for name in names:
        assert names_on(room.app, name) == []
        assert seat_docker(room.app, name).images.get("python:3.12-slim")
    run_on_every_seat(room, "detached")
    assert all(names_on(room.app, name) == ["ticker"] for name in names)
    ran = shell(command)
    assert ran.returncode == 0, ran.stderr
    assert all(names_on(room.app, name) == [] for name in names)
    assert all(seat_docker(room.app, name).images.get("python:3.12-slim") for name in names)


def test_resetting_a_seat_gives_it_a_fresh_engine_and_its_files_as_shipped_the_other_seat_keeps_its_own(room):
    choose_lesson(room.instructor, "running")
    a, b = fresh_students(room)
    for seat in (a, b):
        for leftover in seat_docker(room.app, seat.seat).containers.list(all=True):
            leftover.remove(force=True)
        seat.done("running", "hello")
    page = seat_files(room.app, a.seat) / "website" / "index.html"
    shipped = (SHIPPED / "04-realistic-dockerfile" / "index.html").read_text()
    page.write_text("<p>broken by the student</p>\n")
    wait_for_grid(room.instructor, {(a.seat, "hello"): "passed", (b.seat, "hello"): "passed"})

    answer = room.instructor.post(f"/room/seats/{a.seat}/reset", headers={"HX-Request": "true"})
    assert answer.status_code == 200, answer.text
    assert f"{a.seat} is reset" in text_of(answer)
    assert names_on(room.app, a.seat) == [] and names_on(room.app, b.seat) == ["hello"]
    assert page.read_text() == shipped and page.stat().st_uid == room.life.seat_place(a.seat).uid
    wait_for_grid(room.instructor, {(a.seat, "hello"): "not-yet", (b.seat, "hello"): "passed"})
    assert a.client.get("/seat").status_code == 200  # a reset keeps the seat's link
    assert a.done("running", "hello").strip() == "Hello from a container"


# 5. A restart; the class end.

def test_a_restart_reattaches_the_rooms_seats_and_sweeps_a_seat_of_no_room(room):
    """A new app on the same instance folder (the dashboard started again, even after a kill -9): the open room's
    seats are re-attached (their engines and containers go on; SeatHost.reattach starts a dead one again, see
    test_seat_engines.py), and a seat engine left by no open room is swept away."""
    names = list(room.roster.room.seats)
    state = room.life.states(room.roster.room)[0]
    stray = layout.SeatState(name=f"{room.app.config['SEAT_PREFIX']}stray", index=2, first_port=state.first_port,
                             room="a-room-closed-anyway", ports=((state.first_port + 2 * layout.PORT_BLOCK, 8000),),
                             bind_host="127.0.0.1", memory=state.memory, cpus=state.cpus, pids=state.pids,
                             disk=state.disk)
    room.life.seat_host.open([stray], images=())
    assert seat_docker(room.app, stray.name).ping()
    seat_docker(room.app, names[1]).containers.run("python:3.12-slim", ["sleep", "600"], name="kept", detach=True)
    engines = {name: room.life.seat_host.engine_pid(name) for name in names}
    room.roster._save()  # room.json as the dashboard left it

    again = create_app({"TESTING": True, "SEATS_DIR": str(room.base), "SEAT_PREFIX": room.app.config["SEAT_PREFIX"]})
    assert again.extensions["roster"].room.id == room.roster.room.id
    assert not (room.base / stray.name).exists()
    assert f"cowserv-{stray.name}" not in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout
    assert leftovers(room.base, [stray.name]) == []
    assert {name: room.life.seat_host.engine_pid(name) for name in names} == engines  # the same engines
    assert seat_docker(room.app, names[1]).containers.get("kept").status == "running"  # never stopped
    instructor = again.test_client()
    choose_lesson(instructor, "running")
    seat = student(again, sheet_links(instructor)[names[0]])
    assert seat.done("running", "rm-flag").strip() == "Gone when done"  # on the engine started again
    seat_docker(room.app, names[1]).containers.get("kept").remove(force=True)
    again.extensions["room_life"].clock.cancel()


def test_the_class_end_leaves_nothing_of_the_seats_on_the_machine(room):
    names = list(room.roster.room.seats)
    ended = room.instructor.delete("/room", headers={"HX-Request": "true"})
    assert ended.status_code == 200 and "2 seats' engines stopped and removed" in text_of(ended), text_of(ended)
    assert room.roster.room.cleared
    assert leftovers(room.base, names) == []
    assert [name for name in names if (room.base / name).exists()] == []
    assert str(room.base) not in Path("/proc/mounts").read_text()
