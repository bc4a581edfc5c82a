"""A seat acts on its own things only: each seat has a Docker engine of its own, and seat A's session, given seat
B's container ids, names, volume, seat name and step URLs, can neither see nor stop, exec in or remove anything of
B's, through its own buttons (on A's engine, where B's things are not) or through any other route of the dashboard
(every rule of app.url_map is tried, so a route added later is covered too); a signed-out browser changes nothing.

Real seat engines: ONE room of two seats for the module (B makes one of everything once); its teardown removes
every seat engine.
"""

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.room import (
    SeatRoom,
    choose_lesson,
    on_seat,
    room_form,
    seat_docker,
    seat_files,
    signed_out,
    student,
    sheet_links,
)
from tests.support import csrf_of, free_ports, get_cow, wait_until
from dashboard.seat_host import layout

REAL_SEATS = True  # conftest: this module's apps start real seat engines
pytestmark = pytest.mark.engine

STATE_CHANGING = {"POST", "DELETE", "PUT", "PATCH"}
INSTRUCTOR_ONLY_READS = {"room.sheet", "room.watch", "room.seat_board", "room.every_seat_preview"}


@dataclass
class Things:
    """What seat B made on its engine: a volume (state lesson), an image and a running website (realistic lesson),
    and an exited hello and a running ticker (running lesson)."""

    app: object
    seat: str
    port: int  # B's first host port
    volume: str
    image: str
    website: str
    hello: str
    ticker: str

    def assert_intact(self):
        """Every one of B's things is there, the running ones still running."""
        engine = seat_docker(self.app, self.seat)
        assert engine.api.inspect_container(self.ticker)["State"]["Running"]
        assert engine.api.inspect_container(self.website)["State"]["Running"]
        assert engine.api.inspect_container(self.hello)
        assert [volume.name for volume in engine.volumes.list()] == [self.volume]
        assert engine.images.get("website").id == self.image
        assert len(engine.containers.list(all=True)) == 3


def b_makes_things(room, b):
    """B does a step of each lesson that makes something; the class is on the running lesson afterwards."""
    choose_lesson(room.instructor, "state")
    b.done("state", "volume")
    choose_lesson(room.instructor, "realistic")
    b.done("realistic", "build")
    b.done("realistic", "run")
    choose_lesson(room.instructor, "running")
    b.done("running", "hello")
    b.done("running", "detached")
    engine = seat_docker(room.app, b.seat)
    ids = {name: engine.api.inspect_container(name)["Id"] for name in ("website", "hello", "ticker")}
    things = Things(room.app, b.seat, room.roster.room.seats[b.seat].port, "pgdata", engine.images.get("website").id,
                    **ids)
    things.assert_intact()
    return things


@pytest.fixture(scope="module")
def opened():
    """The module's room of two seats; B has made one of everything, A nothing."""
    base = Path("/tmp") / f"cowserv-seats-scope-{uuid.uuid4().hex[:8]}"
    made = SeatRoom(base, SEAT_PREFIX=f"s{uuid.uuid4().hex[:5]}-")
    try:
        made.open(count=2, first_port=free_ports(2 * layout.PORT_BLOCK)[0])
        a, b = made.students()
        yield made, b_makes_things(made, b)
    finally:
        made.close()


@pytest.fixture
def two_seats(opened):
    """(room, A, B, B's things): A and B signed in afresh, the class on the running lesson, A's engine empty."""
    def open_from(_first_port=None):
        room, things = opened
        choose_lesson(room.instructor, "running")
        a, b = [student(room.app, path) for path in sheet_links(room.instructor).values()]
        for leftover in seat_docker(room.app, a.seat).containers.list(all=True):
            leftover.remove(force=True)
        return room, a, b, things
    return open_from


def container_names(app, seat):
    return {container.name for container in seat_docker(app, seat).containers.list(all=True)}


def message_of(response):
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split())


# A's own buttons, aimed by name at what B has under the same names.

def test_a_seats_buttons_touch_its_own_containers_never_the_other_seats(two_seats):
    """A's logs, stop and rm name A's ticker and hello, which do not exist: 404, and B's are untouched; A's
    `docker ps -a` and checks see A's things only, though B's would pass."""
    room, a, b, things = two_seats()
    for step in ("logs", "stop", "rm"):
        answer = a.press("running", step)
        assert answer.status_code == 404, (step, answer.status_code)
        assert "No lesson container" in message_of(answer)
    listed = a.done("running", "ps-all")
    assert listed.strip().splitlines() == [listed.splitlines()[0]] and b.seat not in listed  # the header only
    assert a.check("running", "hello") == "failed" and b.check("running", "hello") == "passed"
    assert a.check("running", "detached") == "failed" and b.check("running", "detached") == "passed"
    page = a.page()
    assert b.seat not in page and things.ticker not in page
    board = a.client.get("/seat/board")
    assert board.status_code == 200 and b.seat not in board.text
    things.assert_intact()
    assert container_names(room.app, a.seat) == set()


def test_a_seat_cannot_exec_in_or_remove_the_other_seats_website(two_seats):
    """On the realistic lesson A's exec, logs and removals find no website of A's (404), so nothing runs in
    B's; A's checks fail though B's website answers."""
    room, a, b, things = two_seats()
    choose_lesson(room.instructor, "realistic")
    for step in ("exec", "logs", "remove", "clean"):
        answer = a.press("realistic", step)
        assert answer.status_code == 404, (step, answer.status_code, message_of(answer))
    assert a.check("realistic", "run") == "failed" and b.check("realistic", "run") == "passed"
    assert a.check("realistic", "exec") == "failed"
    exit_code, _ = seat_docker(room.app, b.seat).containers.get(things.website).exec_run(
        ["test", "-e", "/tmp/note.txt"])
    assert exit_code == 1  # A's exec did not run in B's container
    things.assert_intact()


def test_a_seat_cannot_remove_the_other_seats_volume(two_seats):
    """On the state lesson A's volume removal and its check look at A's volume only."""
    room, a, b, things = two_seats()
    choose_lesson(room.instructor, "state")
    answer = a.press("state", "remove-volume")
    assert answer.status_code == 404 and "No volume" in message_of(answer)
    assert a.check("state", "volume") == "failed" and b.check("state", "volume") == "passed"
    assert a.done("state", "volumes").split() == ["DRIVER", "VOLUME", "NAME"]  # A's engine has none
    things.assert_intact()


def test_a_seats_edit_and_bind_mount_use_its_own_folder(two_seats):
    """A's live run binds A's own copy of the lesson folder (as A's engine sees it) and A's edit writes there: A's
    page changes at A's host port, while B's website, B's files and the instructor's workshop files stay."""
    room, a, b, things = two_seats()
    choose_lesson(room.instructor, "realistic")
    workshop, realistic = room.app.extensions["workshop"], room.app.extensions["catalog"].get("realistic")
    files = {who: folder / "index.html" for who, folder in (
        ("a", seat_files(room.app, a.seat) / "website"), ("b", seat_files(room.app, b.seat) / "website"),
        ("instructor", workshop.folder(realistic)))}
    before = {who: path.read_text() for who, path in files.items()}
    try:
        a.done("realistic", "build")
        a.done("realistic", "live")
        live = seat_docker(room.app, a.seat).api.inspect_container("website-live")
        assert [mount["Source"] for mount in live["Mounts"]] == [f"{layout.FOLDER}/website"]
        a.done("realistic", "edit")
        assert "Edited live" in files["a"].read_text()
        assert files["b"].read_text() == before["b"] and files["instructor"].read_text() == before["instructor"]
        a_port = room.life.seat_place(a.seat).host_ports(room.life.settings.lesson_ports)[1][0]  # its 8080
        assert "Edited live" in get_cow(a_port).text
        b_port = room.life.seat_place(b.seat).host_ports(room.life.settings.lesson_ports)[1][0]
        assert "Hello from the image" in get_cow(b_port).text
        assert a.check("realistic", "edit") == "passed" and b.check("realistic", "edit") == "failed"
        things.assert_intact()
    finally:
        files["a"].write_text(before["a"])


# Every route of the dashboard, from A's session, aimed at B.

def filled(rule, values):
    """The rule's URL with each of its parameters given (a KeyError names a parameter a new route added)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda found: str(values[found[1]]), rule.rule)


def every_route(app, values):
    """(endpoint, method, url) for every rule and method of the app but the static files and the live stream (it
    never ends; test_live_stream checks a seat's stream names no other seat's things)."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if rule.endpoint in ("static", "live.stream"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, filled(rule, values)


def aimed_at(things):
    """Path parameters naming B's things (or, for sign-in links, text that is no link)."""
    return {"container_id": things.ticker, "lesson_id": "running", "step_id": "stop", "name": things.seat,
            "folder": "website", "token": "not-a-seat-link", "code": "not-a-join-code", "rest": "sheet"}


def forms_for(things):
    """What each state-changing route is sent: a form it would act on, were it not refused."""
    return {
        "room.open_room": room_form(count=1, first_port=things.port),
        "room.joining": {"open": "0"}, "room.names": {"hide": "0"},
        "lessons.choose": {"lesson": "cowserv"},
        "room.run_on_every_seat": {"step": "detached"},
        "containers.run": {"host_port": str(things.port)},
        "auth.signin": {"token": "not the token"},
        "seat.name": {"student": "A"},
    }


# The projector's grid names every seat, and its cells' reasons the seats' containers ("Container seat-…-hello
# printed …"), by design; no page shows their ids.
GRID_PAGES = {"room.index", "room.grid", "lessons.present"}


def shows_bs_things(endpoint, text, things):
    """Whether a page shows B's containers' ids, or (but for the grid) B's seat or containers' names."""
    ids = [things.ticker[:12], things.website[:12], things.hello[:12]]
    return any(word in text for word in ids) or (endpoint not in GRID_PAGES and things.seat in text)


def test_every_route_refuses_seat_a_anything_of_seat_bs(two_seats):
    """Each route of app.url_map, from A's signed-in session with B's ids and names in its path: every
    state-changing one outside A's own seat URLs is 403 with a message, the instructor's pages are 403, no page
    shows B's containers, none is a 5xx; afterwards B's things, both sessions, the room, the lesson and the transcript are as before."""
    room, a, b, things = two_seats()
    app = room.app
    tokens = {name: seat.token for name, seat in room.roster.room.seats.items()}
    transcript = app.extensions["transcript"].entries()
    forms, wrong = forms_for(things), []
    routes = list(every_route(app, aimed_at(things)))
    assert {"containers.remove", "room.reset", "steps.press", "seat.press"} <= {e for e, _, _ in routes}

    for endpoint, method, url in routes:
        answer = a.open(url, method=method, data=forms.get(endpoint))
        status = answer.status_code
        if status >= 500:
            wrong.append((method, url, status, message_of(answer)[:200]))
        elif method in STATE_CHANGING and not endpoint.startswith("seat."):
            if status != 403 or "message error" not in answer.text:
                wrong.append((method, url, status, "expected 403 with a message"))
        elif endpoint in INSTRUCTOR_ONLY_READS and status != 403:
            wrong.append((method, url, status, "the instructor's only: expected 403"))
        elif status == 200 and shows_bs_things(endpoint, answer.text, things):
            wrong.append((method, url, status, "shows B's containers"))
    assert not wrong, "\n".join(map(str, wrong))

    things.assert_intact()
    assert a.client.get("/seat").status_code == 200 and b.client.get("/seat").status_code == 200
    assert {name: seat.token for name, seat in room.roster.room.seats.items()} == tokens
    assert not room.roster.room.ended and room.roster.room.joining and room.roster.room.hide_names
    assert app.extensions["lesson_pick"].id == "running"
    assert app.extensions["transcript"].entries() == transcript
    assert container_names(room.app, a.seat) == set()


def test_a_signed_out_browser_is_refused_every_state_changing_route(two_seats):
    """Every POST and DELETE of app.url_map from a browser with no session is 403 with a message, without a
    CSRF token and with one of its own alike; nothing of B's, of the room or of the lesson changes."""
    room, a, b, things = two_seats()
    app = room.app
    tokens = {name: seat.token for name, seat in room.roster.room.seats.items()}
    forms, wrong = forms_for(things), []
    browser = signed_out(app)
    own_csrf = csrf_of(browser.get("/").text)
    for endpoint, method, url in every_route(app, aimed_at(things)):
        if method not in STATE_CHANGING:
            continue
        for headers in ({"HX-Request": "true"}, {"HX-Request": "true", "X-CSRF-Token": own_csrf}):
            answer = browser.open(url, method=method, data=forms.get(endpoint), headers=headers)
            if answer.status_code != 403 or "message error" not in answer.text:
                wrong.append((method, url, sorted(headers), answer.status_code))
    assert not wrong, "\n".join(map(str, wrong))
    things.assert_intact()
    assert {name: seat.token for name, seat in room.roster.room.seats.items()} == tokens
    assert app.extensions["lesson_pick"].id == "running" and not room.roster.room.ended
    assert b.client.get("/seat").status_code == 200


def test_a_seat_may_press_the_current_lessons_steps_only_and_compose_on_its_own_engine(two_seats):
    """A step of a lesson that is not the current one is 404 (the class moved on), of a lesson that is not
    there 404 too; the Compose lesson's `docker compose up -d`, as written, brings its project up on the seat's own
    engine (its own project namespace), which answers, and `down` takes it away."""
    room, a, b, things = two_seats()
    answer = a.press("cowserv", "build")
    assert answer.status_code == 404 and "The class is on" in message_of(answer)
    assert a.press("no-such-lesson", "build").status_code == 404
    assert a.press("running", "no-such-step").status_code == 404
    assert a.press("running", "hello").status_code == 200
    assert a.post("/seat/lessons/running/steps/hello", data={"host_port": "8080"}).status_code == 400

    choose_lesson(room.instructor, "compose")
    try:
        assert a.commands()["up"] == "cd ~/docker-workshop/compose && docker compose up -d"
        assert a.press("compose", "up").status_code == 200
        assert container_names(room.app, a.seat) >= {"hello", "compose-api-1", "compose-web-1"}
        assert a.check("compose", "up") == "passed"
        assert a.press("compose", "down").status_code == 200
        assert container_names(room.app, a.seat) == {"hello"}
    finally:
        on_seat(room.app, a.seat, "docker rm -f compose-api-1 compose-web-1 hello; docker network prune -f")
    things.assert_intact()


def test_the_instructor_watches_a_seats_page_read_only(two_seats):
    """The instructor's copy of B's page shows B's steps and checks, without B's buttons."""
    room, a, b, things = two_seats()
    page = room.instructor.get(f"/room/seats/{b.seat}")
    assert page.status_code == 200
    assert 'data-check="passed"' in page.text and "read-only copy" in page.text
    assert "/seat/lessons/" not in page.text
    assert room.instructor.get(f"/room/seats/{b.seat}/board").status_code == 200


def test_a_seat_cannot_read_the_other_seats_containers_through_the_containers_routes(two_seats):
    """A's session (and a signed-out browser) asking for B's ticker's logs, or B's website's answer, by id is
    refused (404) and sees nothing B's printed; the containers list leaves B's out (they are on B's engine)."""
    room, a, b, things = two_seats()
    engine = seat_docker(room.app, b.seat)
    wait_until(lambda: engine.api.logs(things.ticker).strip(), "the ticker's first date")
    printed = [word for word in engine.api.logs(things.ticker).decode().split()
               if re.fullmatch(r"\d\d:\d\d:\d\d", word)]
    for browser in (a.client, signed_out(room.app)):
        for url in (f"/containers/{things.ticker}/logs", f"/containers/{things.website}/cow"):
            answer = browser.get(url)
            assert answer.status_code == 404 and "message error" in answer.text, (url, answer.status_code)
            assert not any(word in answer.text for word in printed) and "Hello from the image" not in answer.text
        listed = browser.get("/containers", query_string={"lesson": "running"}, headers={"HX-Request": "true"})
        assert listed.status_code == 200 and things.ticker[:12] not in listed.text and b.seat not in listed.text
    # The containers routes are the instructor's engine's (the host's): B's ticker is on B's own engine.
    assert room.instructor.get(f"/containers/{things.ticker}/logs").status_code == 404
