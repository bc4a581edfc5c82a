"""What the room tests (test_room.py, test_seat_scope.py) share: opening a room as the instructor, signing a
student's browser in to a seat, pressing a seat's steps, reading the progress grid, and finding (and removing)
what a seat made on the real engine.

Each test module opens its rooms on ports of its own (test_room 86xx, test_seat_scope 88xx; e2e/test_room uses
87xx), so its seats' names (seat-PORT-…) never clash with another test's; the `room` fixture ends the room and
force-removes every container, volume and image carrying one of its seats' `classroom.seat` labels, pass or fail.
"""

import fcntl
import html
import re
import time
from dataclasses import dataclass

import docker
import pytest

from tests.support import csrf_of, page_hooks
from tests.support.engine import SEAT_LABEL
from dashboard import create_app

LESSON_LOCK = "/tmp/lesson-tests.lock"  # held by tests that make, or sweep away, a lesson's containers
ROOM_NETWORK = {"REMOTE_ADDR": "192.0.2.50"}  # a student's laptop on the room's network, not this machine
MIB = 1024 * 1024


def text_of(response):
    """A page's text as a reader sees it: no tags, entities unescaped, whitespace as single spaces."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def room_form(count=3, first_port=8601, minutes=60, memory="256m", cpus="0.5", pids="100", **more):
    return {"count": str(count), "first_port": str(first_port), "minutes": str(minutes), "memory": memory,
            "cpus": str(cpus), "pids": str(pids), **more}


def open_room(instructor, **form):
    """Press "Open the room" as the instructor; the roster's room."""
    response = instructor.post("/room", data=room_form(**form))
    assert response.status_code == 303, response.text
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
        page = self.page()
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
    """A fresh browser on the room's network that opens a seat's link (`/s/TOKEN`) and lands on its page."""
    client = signed_out(app)
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].endswith("/seat"), response.text
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
    cells = {(seat, step): state for seat, step, state in
             re.findall(r'<td data-seat="([^"]+)" data-step="([^"]+)" data-check="([^"]+)"', response.text)}
    counts = dict(re.findall(r'<li data-step="([^"]+)"><strong>(\d+ of \d+)</strong>', response.text))
    return cells, counts, response.text


# The engine's view of a seat's things.

def seat_containers(docker_client, seat):
    return docker_client.api.containers(all=True, filters={"label": f"{SEAT_LABEL}={seat}"})


def seat_volumes(docker_client, seat):
    return docker_client.api.volumes(filters={"label": f"{SEAT_LABEL}={seat}"}).get("Volumes") or []


def seat_images(docker_client, seat):
    return docker_client.api.images(filters={"label": f"{SEAT_LABEL}={seat}"})


def container_names(docker_client, seat):
    return {name.lstrip("/") for row in seat_containers(docker_client, seat) for name in row["Names"]}


def inspect(docker_client, name):
    """The container's inspection, or None when it is gone."""
    try:
        return docker_client.api.inspect_container(name)
    except docker.errors.NotFound:
        return None


def remove_seat_things(docker_client, seats):
    """Force-remove every container, volume and image labelled with one of these seats (only ours: the seats'
    names carry this module's ports)."""
    for seat in seats:
        for row in seat_containers(docker_client, seat):
            try:
                docker_client.api.remove_container(row["Id"], force=True, v=True)
            except docker.errors.NotFound:
                pass
        for volume in seat_volumes(docker_client, seat):
            try:
                docker_client.api.remove_volume(volume["Name"], force=True)
            except docker.errors.APIError:
                pass
        for image in seat_images(docker_client, seat):
            try:
                docker_client.api.remove_image(image["Id"], force=True)
            except docker.errors.APIError:
                pass


def hold_lesson_lock(timeout=900):
    """Hold /tmp/lesson-tests.lock exclusively (the open file; closing it lets go): a seat's containers carry a
    lesson's label, which tests that sweep a lesson's containers (or count them) remove or count too."""
    handle = open(LESSON_LOCK, "a")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                raise AssertionError(f"{LESSON_LOCK} still held by another test after {timeout} s") from None
            time.sleep(0.2)


class Room:
    """A test's app, its instructor (on this machine) and the seats it opened, holding the lesson tests' lock;
    `close()` ends the room on the engine, removes every trace of its seats and lets go of the lock."""

    def __init__(self, app, docker_client):
        self.app, self.docker = app, docker_client
        self.instructor = app.test_client()
        self.seat_names = set()
        self.lock = hold_lesson_lock()

    @property
    def roster(self):
        return self.app.extensions["roster"]

    def open(self, **form):
        room = open_room(self.instructor, **form)
        self.seat_names |= set(room.seats)
        return room

    def students(self):
        return students(self.app, self.instructor)

    def close(self):
        try:
            self.app.extensions["room_life"].clock.cancel()
            if self.roster.room is not None and not self.roster.room.ended:
                self.instructor.delete("/room", headers={"HX-Request": "true"})
            self.roster.close()
            remove_seat_things(self.docker, self.seat_names)
        finally:
            self.lock.close()


def make_room(tmp_path, docker_client, **config):
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3"), **config})
    return Room(app, docker_client)


@pytest.fixture
def room(tmp_path, docker_client):
    """An app with its instructor; the test opens the room (room.open(first_port=…)); ended and cleaned after."""
    made = make_room(tmp_path, docker_client)
    yield made
    made.close()
