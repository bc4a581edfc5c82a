"""What the room tests share: opening a room as the instructor, signing a student's browser in to a seat,
pressing a seat's steps, reading the progress grid, and each seat's own engine (its socket, what is on it).

A seat has a Docker engine of its own (dashboard/seat_host). The modules that test what happens on seat engines
(REAL_SEATS = True) open ONE room of real seat engines for the module (SeatRoom, module-scoped); the others (rooms,
roles, links, streams) get PaperSeats: seats whose engines are never started, so opening a room costs nothing and
a seat's press answers 503 (its engine does not answer).
"""

import html
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from tests.support import csrf_of, form_csrf, page_hooks, wait_until
from dashboard import create_app

ROOM_NETWORK = {"REMOTE_ADDR": "192.0.2.50"}  # a student's laptop on the room's network, not this machine
MIB = 1024 * 1024


def text_of(response):
    """A page's text as a reader sees it: no tags, entities unescaped, whitespace as single spaces."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def room_form(count=3, first_port=8601, minutes=60, memory="256m", cpus="0.5", pids="100", **more):
    return {"count": str(count), "first_port": str(first_port), "minutes": str(minutes), "memory": memory,
            "cpus": str(cpus), "pids": str(pids), **more}


def open_room(instructor, **form):
    """Press "Open the room" as the instructor and wait until every seat's engine answers; the roster's room."""
    response = instructor.post("/room", data=room_form(**form))
    assert response.status_code == 303, response.text
    life = instructor.application.extensions["room_life"]
    wait_until(lambda: life.opening.finished, "the seats' engines starting", timeout=300, every=0.2)
    assert not life.opening.error, life.opening.error
    room = instructor.application.extensions["roster"].room
    assert room is not None and not room.ended
    return room


def choose_lesson(instructor, lesson_id):
    response = instructor.post("/lessons/current", data={"lesson": lesson_id}, headers={"HX-Request": "true"})
    assert response.status_code == 200, response.text


def sheet_links(instructor):
    """{seat name: its link's path} as the printable sheet's cards give them (data-seat-url)."""
    page = instructor.get("/room/sheet")
    assert page.status_code == 200, page.text
    cards = re.findall(r'data-seat="([^"]+)" data-seat-url="([^"]+)"', page.text)
    assert cards, page.text
    return {name: re.sub(r"^https?://[^/]+", "", html.unescape(url)) for name, url in cards}


def signed_out(app, remote_addr=ROOM_NETWORK["REMOTE_ADDR"]):
    """A browser with no session, on the room's network (not this machine) unless told otherwise."""
    client = app.test_client(instructor=False)
    client.environ_base["REMOTE_ADDR"] = remote_addr
    return client


@dataclass
class Student:
    """A student's browser signed in to one seat: it sends its page's CSRF token and HX-Request as htmx does."""

    client: object
    seat: str
    csrf: str

    def page(self):
        response = self.client.get("/seat")
        assert response.status_code == 200, response.text
        return response.text

    def post(self, url, data=None, **kwargs):
        return self.client.post(url, data=data or {}, headers=self.headers, **kwargs)

    def open(self, url, method="GET", data=None):
        return self.client.open(url, method=method, data=data or {}, headers=self.headers)

    @property
    def headers(self):
        return {"X-CSRF-Token": self.csrf, "HX-Request": "true"}

    def press(self, lesson_id, step_id):
        return self.post(f"/seat/lessons/{lesson_id}/steps/{step_id}")

    def done(self, lesson_id, step_id):
        """Press the step and expect it done; what it printed."""
        response = self.press(lesson_id, step_id)
        assert response.status_code == 200, (step_id, response.status_code, response.text)
        assert "Done:" in response.text, (step_id, response.text)
        return output(response)

    def check(self, lesson_id, step_id):
        """Ask the step's check now (its Check again button); passed, failed, …"""
        response = self.post(f"/seat/lessons/{lesson_id}/steps/{step_id}/check")
        assert response.status_code == 200, response.text
        return re.search(r'data-check="(\w+)"', response.text)[1]

    def commands(self):
        """{step id: the command its page shows (data-cli), unescaped}."""
        return shown_commands(self.page())


def shown_commands(page):
    """{step id: the command a seat's page shows for it (data-cli), unescaped}, in the page's order."""
    found = {}
    for step_id, body in re.findall(r'<section class="step" id="step-([\w-]+)"(.*?)(?=<section class="step"|\Z)',
                                    page, re.S):
        commands, _ = page_hooks(body)
        if commands:
            found[step_id] = commands[0].strip()  # the parser gives the text unescaped
    return found


def output(response):
    """What a step printed, as its status fragment shows it ('' when it shows none)."""
    found = re.search(r'<pre class="output" data-(?:step|run)-output[^>]*>(.*?)</pre>', response.text, re.S)
    return html.unescape(found[1]) if found else ""


def student(app, path):
    """A fresh browser on the room's network that opens a seat's link (`/s/TOKEN`) and lands on its page (moving
    the seat to it, where another browser held it: the question page's button)."""
    client = signed_out(app)
    response = client.get(path)
    if response.status_code == 200:  # the seat was held before: "move it here?"
        response = client.post(path, data={"csrf_token": form_csrf(response.text)})
    assert response.status_code in (302, 303) and response.headers["Location"].endswith("/seat"), response.text
    page = client.get("/seat")
    assert page.status_code == 200, page.text
    seat = re.search(r'data-seat="([^"]+)"', page.text)[1]
    return Student(client, seat, csrf_of(page.text))


def students(app, instructor):
    """A signed-in Student per seat of the open room, in port order."""
    return [student(app, path) for path in sheet_links(instructor).values()]


def grid(instructor, **params):
    """{(seat, step): passed/not-yet/failed} and {step: "N of M"} as /room/grid shows them."""
    response = instructor.get("/room/grid", query_string=params)
    assert response.status_code == 200, response.text
    return (*grid_of(response.text), response.text)


def grid_of(page):
    """{(seat, step): passed/not-yet/failed} and {step: "N of M"} of a grid's HTML."""
    cells = {(seat, step): state for seat, step, state in
             re.findall(r'<td data-seat="([^"]+)" data-step="([^"]+)" data-check="([^"]+)"', page)}
    counts = dict(re.findall(r'<li data-step="([^"]+)"><strong>(\d+ of \d+)</strong>', page))
    return cells, counts


def wait_for_grid(instructor, expected, counts=None, timeout=30):
    """The grid once every (seat, step) in `expected` shows its state (and `counts` its "N of M"): the seats'
    checks are refreshed in the background, so a cell may lag a moment behind the seat's engine."""
    def matches():
        cells, shown, _ = grid(instructor)
        wrong = {key: cells.get(key) for key, state in expected.items() if cells.get(key) != state}
        wrong_counts = {step: shown.get(step) for step, text in (counts or {}).items() if shown.get(step) != text}
        matches.last = (wrong, wrong_counts)
        return not wrong and not wrong_counts
    matches.last = None
    try:
        wait_until(matches, "the grid showing what each seat did", timeout=timeout, every=0.3)
    except AssertionError:
        raise AssertionError(f"cells and counts that differ (shown): {matches.last}") from None


# Seats without engines, for the tests of rooms, roles and links.

class PaperSeats:
    """A SeatHost whose seats have no engine: opening says each is ready, closing forgets it; a seat's engine
    never answers (its socket is not there), and gives no shells (its seats' pages have no terminal). For tests of
    the room's web and roster only."""

    shell = None

    def __init__(self, base):
        self.base = Path(base)
        self.opened, self.closed = [], []

    def unavailable(self):
        return None

    def open(self, states, progress=lambda name, what: None, images=()):
        for state in states:
            self.opened.append(state.name)
            progress(state.name, "ready")

    def reattach(self, states):
        self.opened.extend(state.name for state in states)

    def close(self, names):
        self.closed.extend(names)

    def close_all(self):
        pass

    def sweep(self, keep_room):
        pass

    def socket_url(self, name):
        return f"unix://{self.base}/{name}/run/no-engine.sock"

    @staticmethod
    def images_for(lessons):
        return ["python:3.12-slim"]

    def student_files(self, name):
        return PaperFiles(self.base / name / "docker-workshop")


class PaperFiles:
    """A paper seat's folder, written and read here (a real seat's are, as its student, in its view)."""

    def __init__(self, folder):
        self.folder = Path(folder)

    def write(self, files, replace=False):
        for name, text in files.items():
            path = self.folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if replace or not path.exists():
                path.write_text(text)

    def archive(self, relative, into):
        import tarfile

        with tarfile.open(fileobj=into, mode="w") as tar:
            tar.add(self.folder / relative, arcname=".")


# Seats with engines of their own.

def seat_docker(app, name):
    """A Docker client on the seat's own engine."""
    return docker.DockerClient(base_url=app.extensions["room_life"].seat_host.socket_url(name), timeout=60)


def on_seat(app, name, command, cwd=None):
    """Run a command in bash as the seat's student would type it, on the seat's own engine (DOCKER_HOST), from
    `cwd` (default: the current lesson's folder in the seat's own, on this host)."""
    env = {**os.environ, "DOCKER_HOST": app.extensions["room_life"].seat_host.socket_url(name), "DOCKER_BUILDKIT": "0"}
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def seat_files(app, name):
    """The seat's folder on this host (its ~/docker-workshop)."""
    return app.extensions["room_life"].seat_place(name).files


def leftovers(base, names):
    """What is left on this machine of these seats: namespaces, mounts, cgroups, processes, folders."""
    from tests.test_seat_engines import leftovers as seat_engine_leftovers

    return seat_engine_leftovers(Path(base), names)


class PaperRoom:
    """A test's app and its instructor, with PaperSeats."""

    def __init__(self, app):
        self.app, self.instructor = app, app.test_client()

    @property
    def roster(self):
        return self.app.extensions["roster"]

    def open(self, **form):
        return open_room(self.instructor, **form)

    def students(self):
        return students(self.app, self.instructor)


class SeatRoom(PaperRoom):
    """A module's one room of real seat engines: its app (its own seats' folder and seat names), its instructor,
    the room opened once (`open`), and `close()`, which ends it and removes every seat engine, checking nothing is
    left."""

    def __init__(self, base, **config):
        self.base = Path(base)
        from tests.conftest import InstructorClient  # made before the tests' own fixtures: sign it in here too

        app = create_app({"TESTING": True, "SEATS_DIR": str(self.base), **config})
        app.test_client_class = InstructorClient
        super().__init__(app)

    @property
    def life(self):
        return self.app.extensions["room_life"]

    def close(self):
        try:
            self.life.clock.cancel()
            if self.roster.room is not None and not self.roster.room.cleared:
                self.life.end()
            self.roster.close()
        finally:
            try:
                self.life.seat_host.close_all()
            finally:
                subprocess.run(["rm", "-rf", "--one-file-system", str(self.base)], check=False)


@pytest.fixture
def room(tmp_path):
    """An app with its instructor, whose seats have no engines (PaperSeats, conftest's paper_seats): for rooms,
    roles and links; the test opens the room (room.open(first_port=…))."""
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3")})
    made = PaperRoom(app)
    yield made
    made.app.extensions["room_life"].clock.cancel()
