"""A room of real seat engines served as in class (gunicorn's gevent worker, `dashboard:create_app()`), and a
student typing into their seat's terminal (`GET /seat/terminal`): the seat tests that need the WebSocket.

`served_room(count)` opens ONE room for a module, with a seats' folder and seat names of its own, and on the way out
ends the class, stops the server and checks nothing of the seats is left on the machine.
"""

import contextlib
import html
import re
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from dashboard.seat_host import layout
from tests.support import free_ports, free_tcp_port, wait_until
from tests.support.room import grid_of, leftovers, room_form, shown_commands, text_of
from tests.support.seat_shell import ESCAPES
from tests.support.terminal import Term, instructor, student

TOKEN = "seat-typing-tests-token-0123456789"
PROMPT = re.compile(r"student@[\w.-]+:[^\n]*\$ $")  # the seat shell's prompt (seat_host/view.py), at the end


@dataclass
class ServedRoom:
    """The served app's base URL, the instructor's browser, a student's browser per seat ({seat: Browser}, in
    port order), and where the seats live."""

    url: str
    teacher: object
    seats: dict
    base: Path
    first_port: int
    log: Path
    names: list = field(default_factory=list)
    links: dict = field(default_factory=dict)  # {seat: its link's path}

    def choose_lesson(self, lesson_id):
        """Make the lesson current, as the instructor's "Teach this lesson now" does."""
        answer = self.teacher.act("POST", "/lessons/current", lesson=lesson_id)
        assert answer.status_code == 200, answer.text

    def commands(self, seat):
        """{step id: the command the seat's page shows}, in the page's order (the current lesson's)."""
        page = self.seats[seat].get("/seat")
        assert page.status_code == 200, page.text
        return shown_commands(page.text)

    def check(self, seat, lesson_id, step_id):
        """The step's check asked now by the seat's page (its Check again): passed, failed, ..."""
        answer = self.seats[seat].act("POST", f"/seat/lessons/{lesson_id}/steps/{step_id}/check")
        assert answer.status_code == 200, answer.text
        return re.search(r'data-check="(\w+)"', answer.text)[1]

    def wait_for_grid(self, expected, timeout=30):
        """The instructor's grid once each (seat, step) of `expected` shows its state."""
        def matches():
            answer = self.teacher.get("/room/grid")
            assert answer.status_code == 200, answer.text
            cells = grid_of(answer.text)[0]
            matches.wrong = {key: cells.get(key) for key, state in expected.items() if cells.get(key) != state}
            return not matches.wrong
        matches.wrong = None
        try:
            wait_until(matches, "the grid showing the seats' cells", timeout=timeout, every=0.5)
        except AssertionError:
            raise AssertionError(f"grid cells that differ (shown): {matches.wrong}") from None

    @contextlib.contextmanager
    def grid_open(self, every=1.0):
        """The instructor's room page open meanwhile: its grid polled every `every` seconds, as the page does."""
        stop = threading.Event()

        def poll():
            while not stop.wait(every):
                with contextlib.suppress(requests.RequestException):
                    requests.get(self.url + "/room/grid", cookies=self.teacher.cookies, timeout=30)
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            yield
        finally:
            stop.set()
            poller.join(40)

    def host_port(self, seat, port=8000):
        """The host port the seat's `port` is published at (its block of ports)."""
        index = self.names.index(seat)
        return self.first_port + index * layout.PORT_BLOCK + (8000, 8080, 8090, 8100, 8200).index(port)

    def terminal(self, seat, shell=1):
        return Typist(Term(self.seats[seat], f"/seat/terminal?shell={shell}"))


class Typist:
    """A student at their seat's terminal: types a line as written and waits for the shell's prompt."""

    def __init__(self, term):
        self.term = term
        term.send_text('{"resize": [400, 50]}')  # wide: readline never wraps a lesson's long command
        self.wait_for_prompt(0)

    def screen(self, since=0):
        """What the terminal showed since byte `since`, without escapes and carriage returns."""
        return ESCAPES.sub("", self.term.seen[since:].decode(errors="replace")).replace("\r", "")

    def wait_for_prompt(self, since, timeout=60, then=None):
        deadline = time.monotonic() + timeout
        while not (PROMPT.search(self.screen(since)) and (then is None or then.search(self.screen(since)))):
            assert time.monotonic() < deadline, f"no prompt within {timeout} s: {self.screen(since)[-2500:]!r}"
            closed = self.term.frame()
            assert closed is None, f"closed {closed}: {self.screen(since)[-2000:]!r}"
        return self.screen(since)

    def type(self, line, timeout=60):
        """(exit status, output) of a line typed as written, then Enter, once its prompt is back."""
        since = len(self.term.seen)
        self.term.write(line + "\r")
        shown = self.wait_for_prompt(since, timeout, then=re.compile(r"\n[\s\S]*" + PROMPT.pattern))
        output = PROMPT.sub("", shown.split("\n", 1)[1]) if "\n" in shown else ""
        since = len(self.term.seen)
        self.term.write('echo "exit=$?"\r')
        status = re.search(r"\nexit=(\d+)\n", self.wait_for_prompt(since, 20, then=re.compile(r"\nexit=\d+\n")))
        return int(status[1]), output

    def close(self):
        self.term.close()


def wait_for_seats(teacher, timeout=300):
    """The room's grid once every seat's engine answers (no "Starting the seats' engines"), failing on an error."""
    def opened():
        answer = teacher.get("/room/grid")
        assert "data-opening-failed" not in answer.text, text_of(answer)
        return answer.status_code == 200 and "data-seats-starting" not in answer.text
    wait_until(opened, "the seats' engines answering", timeout=timeout, every=1)


def open_seats(teacher, count, first_port, patience=600, limits=None):
    """Open the room and wait for its seats. Seat indexes (their links' names) are the machine's: while another
    run's room holds them, opening is refused saying so, and is tried again after a while."""
    deadline = time.monotonic() + patience
    while True:
        answer = teacher.act("POST", "/room", **room_form(count=count, first_port=first_port, **(limits or {})))
        assert answer.status_code in (200, 303), answer.text
        try:
            return wait_for_seats(teacher)
        except AssertionError as error:
            if "belongs to another seat" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(10)


@contextlib.contextmanager
def served_room(folder, count=2, token=TOKEN, students=True, limits=None, **settings):
    """A served app (gunicorn, gevent) with a room of `count` real seats opened by its instructor over HTTP (its
    settings: DASHBOARD_<name>=value); the ServedRoom. Afterwards: the class ended, the server stopped, and
    nothing of the seats left (checked). Without `students`, no browser holds a seat yet (ServedRoom.links).
    `limits`: the room form's memory, cpus, pids, when not its defaults."""
    from tests.e2e.conftest import _serve  # the dashboard under gunicorn, as in class

    base = Path("/tmp") / f"cowserv-typed-{uuid.uuid4().hex[:8]}"
    prefix = f"t{uuid.uuid4().hex[:5]}-"
    first = free_ports(count * layout.PORT_BLOCK)[0]
    env = {"DASHBOARD_SEATS_DIR": str(base), "DASHBOARD_SEAT_PREFIX": prefix, "DASHBOARD_INSTRUCTOR_TOKEN": token,
           "DASHBOARD_INSTANCE_PATH": str(Path(folder) / "instance"),
           "DASHBOARD_HTTPS_BIND": f"127.0.0.1:{free_tcp_port('127.0.0.1')}",
           **{f"DASHBOARD_{name}": str(value) for name, value in settings.items()}}
    log = Path(folder) / "gunicorn.log"
    names = []
    try:
        with _serve(log, env) as url:
            teacher = instructor(url, token)
            try:
                open_seats(teacher, count, first, limits=limits)
                sheet = teacher.get("/room/sheet").text
                links = {name: re.sub(r"^https?://[^/]+", "", html.unescape(link))
                         for name, link in re.findall(r'data-seat="([^"]+)" data-seat-url="([^"]+)"', sheet)}
                names = list(links)
                seats = {name: student(url, link) for name, link in links.items()} if students else {}
                yield ServedRoom(url, teacher, seats, base, first, log, names, links)
            finally:
                ended = teacher.act("DELETE", "/room")
                assert ended.status_code == 200 or "No room is open" in ended.text, ended.text
    finally:
        try:
            with contextlib.suppress(AssertionError):  # the last processes of a seat take a moment to go
                wait_until(lambda: leftovers(base, names) == [], "nothing of the seats left", timeout=30, every=1)
            left = leftovers(base, names)
            assert left == [], left
        finally:
            subprocess.run(["rm", "-rf", "--one-file-system", str(base)], check=False)
