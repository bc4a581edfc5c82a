"""A seat acts on its own things only, on the real engine: seat A's session, given seat B's container ids,
names, volume, seat name and step URLs, can neither see nor stop, exec in or remove anything of B's, through
its own buttons or through any other route of the dashboard (every rule of app.url_map is tried, so a route
added later is covered too); a signed-out browser changes nothing at all.

Rooms here open on ports 8801-8899 (test_room.py uses 86xx, e2e/test_room.py 87xx); the `room` fixture ends
each room and force-removes every container, volume and image labelled with one of its seats.
"""

import re
from dataclasses import dataclass

import pytest

from tests.support.room import (
    choose_lesson,
    container_names,
    inspect,
    room,  # noqa: F401  (a fixture)
    room_form,
    seat_containers,
    seat_images,
    seat_volumes,
    signed_out,
)
from tests.support import csrf_of, get_cow, wait_until

# Both engine passes (engine_specific): a seat's scope rests on the engine's label filters and name lookups.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]

STATE_CHANGING = {"POST", "DELETE", "PUT", "PATCH"}
INSTRUCTOR_ONLY_READS = {"room.sheet", "room.watch", "room.seat_board", "room.every_seat_preview"}


@dataclass
class Things:
    """What seat B made: a volume (state lesson), an image and a running website (realistic lesson), and an
    exited hello and a running ticker (running lesson)."""

    seat: str
    port: int
    volume: str
    image: str
    website: str
    hello: str
    ticker: str

    def assert_intact(self, docker_client):
        """Every one of B's things is there, the running ones still running."""
        assert inspect(docker_client, self.ticker)["State"]["Running"]
        assert inspect(docker_client, self.website)["State"]["Running"]
        assert inspect(docker_client, self.hello) is not None
        assert [volume["Name"] for volume in seat_volumes(docker_client, self.seat)] == [self.volume]
        assert [image["Id"] for image in seat_images(docker_client, self.seat)] == [self.image]
        assert len(seat_containers(docker_client, self.seat)) == 3


def b_makes_things(room, b, docker_client):
    """B does a step of each lesson that makes something; the class is on the running lesson afterwards."""
    choose_lesson(room.instructor, "state")
    b.done("state", "volume")
    choose_lesson(room.instructor, "realistic")
    b.done("realistic", "build")
    b.done("realistic", "run")
    choose_lesson(room.instructor, "running")
    b.done("running", "hello")
    b.done("running", "detached")
    ids = {name: inspect(docker_client, f"{b.seat}-{name}")["Id"] for name in ("website", "hello", "ticker")}
    (image,) = seat_images(docker_client, b.seat)
    things = Things(b.seat, room.roster.room.seats[b.seat].port, f"{b.seat}-pgdata", image["Id"], **ids)
    things.assert_intact(docker_client)
    return things


@pytest.fixture
def two_seats(room, docker_client):
    """Open a room of two seats from a port: (room, A, B, B's things); A has made nothing, B one of everything."""
    def open_from(first_port):
        room.open(count=2, first_port=first_port)
        a, b = room.students()
        return room, a, b, b_makes_things(room, b, docker_client)
    return open_from


def message_of(response):
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split())


# A's own buttons, aimed by name at what B has under the same names.

def test_a_seats_buttons_touch_its_own_containers_never_the_other_seats(two_seats, docker_client):
    """A's logs, stop and rm name A's ticker and hello, which do not exist: 404, and B's are untouched; A's
    `docker ps -a` and checks see A's things only, though B's would pass."""
    room, a, b, things = two_seats(8801)
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
    things.assert_intact(docker_client)
    assert container_names(docker_client, a.seat) == set()


def test_a_seat_cannot_exec_in_or_remove_the_other_seats_website(two_seats, docker_client):
    """On the realistic lesson A's exec, logs and removals find no website of A's (404), so nothing runs in
    B's; A's checks fail though B's website answers."""
    room, a, b, things = two_seats(8803)
    choose_lesson(room.instructor, "realistic")
    for step in ("exec", "logs", "remove", "clean"):
        answer = a.press("realistic", step)
        assert answer.status_code == 404, (step, answer.status_code, message_of(answer))
    assert a.check("realistic", "run") == "failed" and b.check("realistic", "run") == "passed"
    assert a.check("realistic", "exec") == "failed"
    exit_code, _ = docker_client.containers.get(things.website).exec_run(["test", "-e", "/tmp/note.txt"])
    assert exit_code == 1  # A's exec did not run in B's container
    things.assert_intact(docker_client)


def test_a_seat_cannot_remove_the_other_seats_volume(two_seats, docker_client):
    """On the state lesson A's volume removal and its check look at A's volume only."""
    room, a, b, things = two_seats(8805)
    choose_lesson(room.instructor, "state")
    answer = a.press("state", "remove-volume")
    assert answer.status_code == 404 and "No volume" in message_of(answer)
    assert a.check("state", "volume") == "failed" and b.check("state", "volume") == "passed"
    assert a.done("state", "volumes").split() == ["DRIVER", "VOLUME", "NAME"]
    things.assert_intact(docker_client)


def test_a_seats_edit_and_bind_mount_use_its_own_folder(two_seats, docker_client):
    """A's live run binds A's own copy of the lesson folder and A's edit writes there: A's page changes, while
    B's website, B's files and the instructor's workshop files stay as they were."""
    room, a, b, things = two_seats(8817)
    choose_lesson(room.instructor, "realistic")
    workshop, realistic = room.app.extensions["workshop"], room.app.extensions["catalog"].get("realistic")
    files = {who: folder / "index.html" for who, folder in (
        ("a", workshop.seat_folder(a.seat) / "website"), ("b", workshop.seat_folder(b.seat) / "website"),
        ("instructor", workshop.folder(realistic)))}
    before = {who: path.read_text() for who, path in files.items()}
    a.done("realistic", "build")
    a.done("realistic", "live")
    live = inspect(docker_client, f"{a.seat}-website-live")
    assert [mount["Source"] for mount in live["Mounts"]] == [str(files["a"].parent)]
    a.done("realistic", "edit")
    assert "Edited live" in files["a"].read_text()
    assert files["b"].read_text() == before["b"] and files["instructor"].read_text() == before["instructor"]
    a_port = room.roster.room.seats[a.seat].port
    assert "Edited live" in get_cow(a_port).text
    assert "Hello from the image" in get_cow(things.port).text
    assert a.check("realistic", "edit") == "passed" and b.check("realistic", "edit") == "failed"
    things.assert_intact(docker_client)


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


def test_every_route_refuses_seat_a_anything_of_seat_bs(two_seats, docker_client):
    """Each route of app.url_map, from A's signed-in session with B's ids and names in its path: every
    state-changing one outside A's own seat URLs is 403 with a message, the instructor's pages are 403, no page
    shows B's containers, none is a 5xx; afterwards B's things, both sessions, the room, the lesson and the transcript are as before."""
    room, a, b, things = two_seats(8807)
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

    things.assert_intact(docker_client)
    assert a.client.get("/seat").status_code == 200 and b.client.get("/seat").status_code == 200
    assert {name: seat.token for name, seat in room.roster.room.seats.items()} == tokens
    assert not room.roster.room.ended and room.roster.room.joining and room.roster.room.hide_names
    assert app.extensions["lesson_pick"].id == "running"
    assert app.extensions["transcript"].entries() == transcript
    assert container_names(docker_client, a.seat) == set()


def test_a_signed_out_browser_is_refused_every_state_changing_route(two_seats, docker_client):
    """Every POST and DELETE of app.url_map from a browser with no session is 403 with a message, without a
    CSRF token and with one of its own alike; nothing of B's, of the room or of the lesson changes."""
    room, a, b, things = two_seats(8809)
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
    things.assert_intact(docker_client)
    assert {name: seat.token for name, seat in room.roster.room.seats.items()} == tokens
    assert app.extensions["lesson_pick"].id == "running" and not room.roster.room.ended
    assert b.client.get("/seat").status_code == 200


def test_a_seat_may_press_the_current_lessons_steps_only_and_never_compose(two_seats, docker_client):
    """A step of a lesson that is not the current one is 404 (the class moved on), of a lesson that is not
    there 404 too; on the Compose lesson, current, the seat's presses and checks are 403 and its page has no
    buttons."""
    room, a, b, things = two_seats(8811)
    answer = a.press("cowserv", "build")
    assert answer.status_code == 404 and "The class is on" in message_of(answer)
    assert a.press("no-such-lesson", "build").status_code == 404
    assert a.press("running", "no-such-step").status_code == 404
    assert a.press("running", "hello").status_code == 200
    assert a.post("/seat/lessons/running/steps/hello", data={"host_port": "8080"}).status_code == 400

    choose_lesson(room.instructor, "compose")
    answer = a.press("compose", "up")
    assert answer.status_code == 403 and "Compose" in message_of(answer)
    assert a.post("/seat/lessons/compose/steps/ps/check").status_code in (403, 404)
    page = a.page()
    assert "uses Compose" in page and "/seat/lessons/compose/steps/up" not in page
    assert container_names(docker_client, a.seat) == {f"{a.seat}-hello"}
    things.assert_intact(docker_client)


def test_the_instructor_watches_a_seats_page_read_only(two_seats):
    """The instructor's copy of B's page shows B's steps and checks, without B's buttons."""
    room, a, b, things = two_seats(8813)
    page = room.instructor.get(f"/room/seats/{b.seat}")
    assert page.status_code == 200
    assert f"{b.seat}-ticker" in page.text and "read-only copy" in page.text
    assert "/seat/lessons/" not in page.text
    assert room.instructor.get(f"/room/seats/{b.seat}/board").status_code == 200


def test_a_seat_cannot_read_the_other_seats_containers_through_the_containers_routes(two_seats, docker_client):
    """A's session (and a signed-out browser) asking for B's ticker's logs, or B's website's answer, by id is
    refused (404) and sees nothing B's printed; the containers list leaves B's out; the instructor sees them."""
    room, a, b, things = two_seats(8815)
    wait_until(lambda: docker_client.api.logs(things.ticker).strip(), "the ticker's first date")
    printed = [word for word in docker_client.api.logs(things.ticker).decode().split()
               if re.fullmatch(r"\d\d:\d\d:\d\d", word)]
    for browser in (a.client, signed_out(room.app)):
        for url in (f"/containers/{things.ticker}/logs", f"/containers/{things.website}/cow"):
            answer = browser.get(url)
            assert answer.status_code == 404 and "message error" in answer.text, (url, answer.status_code)
            assert not any(word in answer.text for word in printed) and "Hello from the image" not in answer.text
        listed = browser.get("/containers", query_string={"lesson": "running"}, headers={"HX-Request": "true"})
        assert listed.status_code == 200 and things.ticker[:12] not in listed.text and b.seat not in listed.text
    assert any(word in room.instructor.get(f"/containers/{things.ticker}/logs").text for word in printed)
