"""The lessons seats do, typed as written into a seat's terminal (`GET /seat/terminal`, the real confined shell on the
seat's own engine): each step's command read from the seat's page (so a drift between page and lesson fails), typed
in the current lesson's folder, its prompt waited for; then the step's check passes and the instructor's grid shows
the seat's cell done. The `-it` step runs with a terminal; two seats start cowserv at the same moment and each
answers at its own host port.

Root only, real seat engines: ONE room of two seats for the module, served by gunicorn's gevent worker.
"""

import contextlib
import html
import re
import subprocess
import threading
import tomllib
from pathlib import Path

import pytest
import requests

from tests.support import wait_until
from tests.support.seat_server import served_room
from dashboard.domain import lessons

REAL_SEATS = True  # conftest: this module's apps start real seat engines
pytestmark = pytest.mark.engine

LESSONS = Path(__file__).parent.parent / "dashboard" / "lessons"
STARTING = re.compile(r"no response|rejecting connections|Is the server running|starting up|Connection refused|"
                      r"returned error: 50[23]", re.I)  # the last: a proxy whose API is still starting


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    needs = lessons.load_catalog(LESSONS).get("microservices").seat_needs  # the most a lesson needs of a seat
    with served_room(tmp_path_factory.mktemp("typed"), count=2,
                     limits={"memory": needs.memory, "pids": needs.pids}) as made:
        yield made


def lesson_toml(lesson_id):
    for path in LESSONS.glob("*/lesson.toml"):
        lesson = tomllib.loads(path.read_text())
        if lesson["id"] == lesson_id:
            return lesson
    raise AssertionError(f"no lesson {lesson_id}")


def checked_steps(lesson_id):
    """The ids of the lesson's steps that have a check (from its lesson.toml)."""
    return {step["id"] for step in lesson_toml(lesson_id)["steps"] if "check" in step}


def absence_steps(lesson_id):
    """The ids of the steps whose check is that something is gone: it passes before the thing was made too."""
    return {step["id"] for step in lesson_toml(lesson_id)["steps"]
            if step.get("check", {}).get("kind") in ("gone", "volume_gone", "empty")}


def type_step(room, typist, seat, lesson_id, step_id, command, checked, timeout=120):
    """Type the step's command as shown; a database still starting is asked again, as a student would. Then the
    step's check passes and the grid shows the seat's cell done."""
    if step_id in absence_steps(lesson_id):  # the thing it removes is there, as the seat's open page shows
        wait_until(lambda: room.check(seat, lesson_id, step_id) == "failed", f"{step_id}'s check failing first",
                   timeout=60, every=1)
    for _ in range(30):
        status, output = typist.type(command.replace("\n", "\r"), timeout=timeout)
        if status == 0 or not STARTING.search(output):
            break
        wait_until(lambda: True, "a moment", timeout=1)
    assert status == 0, (step_id, command, output)
    if step_id in checked:
        wait_until(lambda: room.check(seat, lesson_id, step_id) == "passed", f"{step_id}'s check passing",
                   timeout=90, every=1)
        room.wait_for_grid({(seat, step_id): "passed"})
    return output


@pytest.mark.parametrize("lesson_id", ["running", "realistic", "state", "compose", "monolith", "microservices"])
def test_a_lesson_typed_as_written_in_a_seats_terminal_passes_each_check_and_the_grid_follows(room, lesson_id):
    seat = room.names[0]
    room.choose_lesson(lesson_id)
    commands, checked = room.commands(seat), checked_steps(lesson_id)
    assert commands, "the seat's page shows the lesson's commands"
    typist = room.terminal(seat)
    try:
        with room.grid_open():  # the instructor's room page open, its grid polling
            folder = typist.type("pwd")[1].strip()  # the lesson's folder in the seat's own
            assert folder == f"/home/student/docker-workshop/{lesson_toml(lesson_id).get('folder', '')}".rstrip("/")
            if lesson_id in ("state", "microservices"):  # its stand-in is loaded into the seats' engines once the class reaches it
                wait_until(lambda: typist.type("docker image inspect -f ok postgres:16")[0] == 0,
                           "postgres:16 on the seat's engine", timeout=180, every=2)
            for step_id, command in commands.items():
                output = type_step(room, typist, seat, lesson_id, step_id, command, checked, timeout=300)
                if " -it " in command:  # the terminal's own: without one docker says "the input device is not a TTY"
                    assert "not a TTY" not in output and re.search(r"inside \w+", output), output
    finally:
        since = len(typist.term.seen)
        typist.term.write("\x03")  # whatever still runs (a failed test's) interrupted: the prompt back
        with contextlib.suppress(AssertionError):
            typist.wait_for_prompt(since, timeout=20)
        typist.term.write("exit\r")  # the next lesson's shell starts in its folder
        closed = typist.term.closed()
        typist.close()
    assert closed[0] == 1000, closed


def test_the_images_lesson_typed_on_two_seats_and_both_start_cowserv_at_the_same_moment(room):
    """Each seat builds cowserv (a real classic build on its engine) by typing the command; both then type
    `docker run -d -p 8000:8000 cowserv` at once, and each answers at its own host port with its own page."""
    room.choose_lesson("cowserv")
    commands = room.commands(room.names[0])
    assert list(commands) == ["build", "run"] and commands["run"] == "docker run -d -p 8000:8000 cowserv", commands
    assert room.commands(room.names[1]) == commands
    typists = {seat: room.terminal(seat) for seat in room.names}
    try:
        results = {}

        def build(seat):
            results[seat] = type_step(room, typists[seat], seat, "cowserv", "build", commands["build"], {"build"},
                                      timeout=600)
        threads = [threading.Thread(target=build, args=(seat,)) for seat in room.names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(700)
        assert set(results) == set(room.names), "each seat's build typed to its end"
        for seat, typist in typists.items():  # at the same moment: both lines sent before either is read
            typist.since = len(typist.term.seen)
            typist.term.write(commands["run"] + "\r")
        pages = {}
        for seat, typist in typists.items():
            shown = typist.wait_for_prompt(typist.since, 60, then=re.compile(r"\n[0-9a-f]{64}\n"))
            assert "Error" not in shown, shown
            port = room.host_port(seat)
            pages[seat] = wait_until(lambda port=port: _page(port), f"{seat}'s cow at {port}", timeout=60)
            assert "^__^" in pages[seat]
            wait_until(lambda seat=seat: room.check(seat, "cowserv", "run") == "passed", "the run's check",
                       timeout=60, every=1)
        for seat, typist in typists.items():  # its host port serves the seat's own container, as localhost does
            status, inside = typist.type("curl -s localhost:8000")
            assert status == 0 and inside.strip() == pages[seat].strip(), (inside, pages[seat])
        room.wait_for_grid({(seat, step): "passed" for seat in room.names for step in ("build", "run")})
    finally:
        for typist in typists.values():
            typist.close()


def _page(port):
    try:
        return requests.get(f"http://127.0.0.1:{port}/", timeout=3).text
    except requests.RequestException:
        return None


def test_part_8_by_a_seats_buttons_and_on_every_seat_by_its_loop_reads_nothing_of_the_host(room):
    """Part 8's Compose on a seat runs as its student types it, in the seat's view (its build contexts packed as the
    student): by the seat's own button, by the instructor's run on every seat, and by that run's loop pasted here as
    root; and a compose.yaml the student wrote asking for the dashboard's secret, or a build context of this host's
    /etc, gets neither."""
    room.choose_lesson("microservices")
    first, second = room.names
    asking = room.terminal(first)
    try:
        wait_until(lambda: asking.type("docker image inspect -f ok postgres:16")[0] == 0,
                   "postgres:16 on the seat's engine", timeout=180, every=2)
    finally:
        asking.close()
    pressed = room.seats[first].act("POST", "/seat/lessons/microservices/steps/up")
    assert pressed.status_code == 200 and "Done:" in pressed.text, pressed.text
    wait_until(lambda: room.check(first, "microservices", "up") == "passed", "the wallet up on the seat",
               timeout=90, every=1)
    assert room.seats[first].act("POST", "/seat/lessons/microservices/steps/down-volumes").status_code == 200

    loop = room.teacher.get("/room/every-seat/command", params={"step": "up"})
    assert loop.status_code == 200, loop.text
    loop = html.unescape(re.search(r"<code data-cli>(for seat in .*?done)</code>", loop.text, re.S)[1])
    assert "nsenter" in loop and "bash -c 'docker compose up -d --build'" in loop, loop
    ran = subprocess.run(["bash", "-c", loop], capture_output=True, text=True, timeout=900)
    assert ran.returncode == 0, (ran.stdout[-2000:], ran.stderr[-2000:])
    for seat in room.names:
        wait_until(lambda seat=seat: room.check(seat, "microservices", "up") == "passed", f"{seat}'s wallet up",
                   timeout=90, every=1)
        room.seats[seat].act("POST", "/seat/lessons/microservices/steps/down-volumes")

    typist = room.terminal(second)
    try:  # the student's own compose.yaml: the dashboard's secret asked for, and this host's /etc as a context
        typist.type("cd ~/docker-workshop/microservices")  # a shell an earlier test left may be elsewhere
        typist.type("cat > compose.yaml <<'EOF'\rname: nosy\rservices:\r  nosy:\r    image: python:3.12-slim\r"
                    "    command: [sleep, infinity]\r    environment: {T: \"${DASHBOARD_INSTRUCTOR_TOKEN:-none}\"}\r"
                    "EOF")
        pressed = room.seats[second].act("POST", "/seat/lessons/microservices/steps/up")
        assert pressed.status_code == 200 and "Done:" in pressed.text, pressed.text
        status, said = typist.type("docker exec nosy-nosy-1 printenv T")
        assert status == 0 and said.strip() == "none", said
        typist.type("docker rm -f nosy-nosy-1")
        typist.type("cat > compose.yaml <<'EOF'\rname: nosy\rservices:\r  nosy:\r    build: {context: /etc}\rEOF")
        pressed = room.seats[second].act("POST", "/seat/lessons/microservices/steps/up")
        assert pressed.status_code == 200 and "Done:" not in pressed.text, pressed.text
        status, said = typist.type("docker images -q nosy-nosy")
        assert said.strip() == "", said
    finally:
        typist.type("docker rm -f nosy-nosy-1; rm compose.yaml")
        typist.term.write("exit\r")
        typist.close()
