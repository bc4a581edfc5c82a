"""A room of students on seats of their own, on the real engine: the instructor opens it, students sign in by
their links or the join code and do the current lesson's steps on their own containers (named seat-PORT-…,
labelled classroom.seat, with the room's limits), the grid shows who is where, and revoking, resetting, ending
and the end time do what they say. Also who may be the instructor (this machine, or HTTPS) and bad input.

Rooms here open on ports 8601-8699 (test_seat_scope.py uses 88xx, e2e/test_room.py 87xx); the `room` fixture
ends each room and force-removes every container, volume and image labelled with one of its seats.
"""

import html
import re
import threading
import time
from pathlib import Path

import pytest

from tests.support.room import (
    MIB,
    choose_lesson,
    container_names,
    grid,
    inspect,
    make_room,
    remove_seat_things,
    output,
    room,  # noqa: F401  (a fixture)
    room_form,
    seat_containers,
    seat_images,
    seat_volumes,
    sheet_links,
    signed_out,
    student,
    text_of,
)
from tests.support import csrf_of, form_csrf, get_cow, shell, wait_until
from tests.support.engine import LESSON_LABEL, SEAT_LABEL, reaping
from dashboard.domain import checks, seats
from dashboard.domain import room as room_life
from dashboard.web.security import NOT_OVER_PLAIN_HTTP

# Both engine passes (engine_specific): seats' limits, labels, volumes, builds and exec.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]

TOKEN = "correct horse battery staple"
SHIPPED = Path(__file__).parent.parent / "dashboard" / "lessons"


def wait_for_grid(instructor, expected, counts=None, timeout=20):
    """The grid once every (seat, step) in `expected` shows its state (and `counts` its "N of M"): the seats'
    checks are also refreshed in the background, so a cell may lag a moment behind the engine."""
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


# 1. A class of several seats.

def test_a_class_of_three_does_the_running_lesson_each_on_its_own_containers(room, docker_client):
    """Three students press the running lesson's steps: each seat's containers carry its labels and name, its
    `docker ps` lists its own only, and the grid shows each seat's cells and the counts."""
    opened = room.open(count=3, first_port=8601)
    choose_lesson(room.instructor, "running")
    first, second, third = room.students()
    assert [s.seat for s in (first, second, third)] == list(opened.seats)

    assert first.done("running", "hello").strip() == "Hello from a container"
    assert second.done("running", "hello").strip() == "Hello from a container"
    assert first.done("running", "ps").startswith("CONTAINER ID")
    listed = first.done("running", "ps-all")
    assert f"{first.seat}-hello" in listed and second.seat not in listed, listed
    ticker = first.done("running", "detached").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", ticker)
    wait_until(lambda: docker_client.api.logs(ticker).strip(), "the ticker's first date")
    assert re.search(r"\d\d:\d\d:\d\d", first.done("running", "logs"))
    assert second.done("running", "ps").startswith("CONTAINER ID")
    refused = third.press("running", "logs")  # third has no ticker: its press fails, and its cell says so
    assert refused.status_code == 404 and "No lesson container" in refused.text

    assert container_names(docker_client, first.seat) == {f"{first.seat}-hello", f"{first.seat}-ticker"}
    assert container_names(docker_client, second.seat) == {f"{second.seat}-hello"}
    assert container_names(docker_client, third.seat) == set()
    for seat in (first.seat, second.seat):
        for row in seat_containers(docker_client, seat):
            assert row["Labels"][LESSON_LABEL] == "running" and row["Labels"][SEAT_LABEL] == seat
            assert all(name.lstrip("/").startswith(f"{seat}-") for name in row["Names"])
    assert inspect(docker_client, ticker)["State"]["Running"]

    expected = {(first.seat, step): "passed" for step in ("hello", "ps", "ps-all", "detached", "logs")}
    expected.update({(first.seat, step): "not-yet" for step in ("stop", "rm", "rm-flag", "interactive")})
    expected.update({(second.seat, "hello"): "passed", (second.seat, "ps"): "passed",
                     (second.seat, "detached"): "not-yet", (second.seat, "ps-all"): "not-yet"})
    expected.update({(third.seat, "logs"): "failed", (third.seat, "hello"): "not-yet",
                     (third.seat, "stop"): "not-yet"})
    wait_for_grid(room.instructor, expected, counts={
        "hello": "2 of 3", "ps": "2 of 3", "ps-all": "1 of 3", "detached": "1 of 3", "logs": "1 of 3",
        "stop": "0 of 3", "rm": "0 of 3"})
    _, _, page = grid(room.instructor)
    assert "1 stuck" in page  # the logs step: the third seat's press failed


def test_a_seats_running_lesson_pressed_back_to_back_never_loses_a_race(room, docker_client):
    """A quick student on a seat: the running lesson's steps one after another, 20 rounds, no pause, on an engine
    that removes each ended container at once (all but hello): no press answers an error, and the `--rm` run
    shows what it printed (see test_lessons_by_button's twin for the instructor)."""
    room.open(count=1, first_port=8612)
    choose_lesson(room.instructor, "running")
    (seat,) = room.students()
    with reaping(f"{SEAT_LABEL}={seat.seat}", spare={f"{seat.seat}-hello"}):
        for round_ in range(20):
            for step in ("hello", "ps", "ps-all", "detached", "logs", "stop", "rm", "rm-flag", "interactive"):
                response = seat.press("running", step)
                assert response.status_code == 200 and "Done:" in response.text, (round_, step, response.text)
                if step == "rm-flag":
                    assert output(response).strip() == "Gone when done", (round_, output(response))
            assert container_names(docker_client, seat.seat) == set()


def test_a_seat_builds_and_runs_the_cowserv_image_as_its_own(room, docker_client, cowserv_image):
    """On the images lesson a seat's build makes its own tag (from the instructor's cache) and its run
    publishes the seat's port, labelled as the seat's; the grid counts it."""
    room.open(count=2, first_port=8606)
    choose_lesson(room.instructor, "cowserv")
    builder, idle = room.students()
    port = room.roster.room.seats[builder.seat].port

    assert builder.check("cowserv", "build") == "failed"
    log = builder.done("cowserv", "build")
    assert "Successfully built" in log and "Using cache" in log, log
    tag = f"cowserv:{builder.seat}"
    image = docker_client.api.inspect_image(tag)
    assert image["Config"]["Labels"][SEAT_LABEL] == builder.seat
    assert [row["Id"] for row in seat_images(docker_client, builder.seat)] == [image["Id"]]
    assert builder.check("cowserv", "build") == "passed"
    assert idle.check("cowserv", "build") == "failed"  # the other seat has not built its own

    response = builder.press("cowserv", "run")
    assert response.status_code == 200, response.text
    container_id = output(response).strip()
    attrs = inspect(docker_client, container_id)
    assert attrs["Config"]["Image"] == tag
    assert attrs["Config"]["Labels"][LESSON_LABEL] == "cowserv"
    assert attrs["Config"]["Labels"][SEAT_LABEL] == builder.seat
    assert docker_client.api.port(container_id, 8000)[0]["HostPort"] == str(port)
    assert "^__^" in get_cow(port).text
    assert f"http://localhost:{port}/" in response.text

    wait_for_grid(room.instructor, {(builder.seat, "build"): "passed", (builder.seat, "run"): "passed",
                                    (idle.seat, "build"): "not-yet", (idle.seat, "run"): "not-yet"},
                  counts={"build": "1 of 2", "run": "1 of 2"})


def test_however_often_the_grid_is_polled_each_seats_checks_run_at_most_once_a_second(room):
    """Polling the grid (as several screens do) refreshes each seat's checks in the background at most every
    REFRESH_SECONDS, and the engine-asking ones go through the throttle (10 a second)."""
    room.open(count=3, first_port=8678)
    choose_lesson(room.instructor, "running")
    for seat in room.students():
        seat.done("running", "hello")
    board = room.app.extensions["board"]
    grid(room.instructor)
    time.sleep(1.5)  # the first refresh ends
    before, started = board.background_evaluations, time.monotonic()
    assert before >= 3  # the first poll refreshed each seat's hello check (it asks the engine for the logs)
    for _ in range(40):
        grid(room.instructor)
        time.sleep(0.05)
    seconds = time.monotonic() - started
    refreshes = 3 * (int(seconds / room.app.config["REFRESH_SECONDS"]) + 2)  # per seat, one a second at most
    assert board.background_evaluations - before <= refreshes  # one engine-asking check (hello's) a seat each


def test_the_throttle_lets_ten_checks_through_a_second():
    """checks.Throttle(10): 15 waits from several threads take at least 1.4 s."""
    throttle, started = checks.Throttle(10), time.monotonic()
    workers = [threading.Thread(target=lambda: [throttle.wait() for _ in range(5)]) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert time.monotonic() - started >= 1.4


# 3. Revoke.

def test_revoking_a_seat_ends_its_sessions_and_old_link_at_once(room, docker_client):
    """A new link for a seat: the browser signed in with the old one gets 403 on its page and on presses at
    once, the old link is refused, the new one works, and the other seat goes on."""
    room.open(count=2, first_port=8616)
    choose_lesson(room.instructor, "running")
    old_links = sheet_links(room.instructor)
    revoked, other = room.students()
    revoked.done("running", "hello")

    answer = room.instructor.post(f"/room/seats/{revoked.seat}/revoke", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "has a new link" in answer.text

    page = revoked.client.get("/seat")
    assert page.status_code == 403 and "no longer works" in page.text
    press = revoked.press("running", "ps")
    assert press.status_code == 403 and "no longer works" in press.text
    poll = revoked.client.get("/seat/board", headers={"HX-Request": "true"})  # the open page's poll: reload
    assert poll.headers.get("HX-Refresh") == "true" and poll.text == ""
    assert signed_out(room.app).get(old_links[revoked.seat]).status_code == 403

    new_link = sheet_links(room.instructor)[revoked.seat]
    assert new_link != old_links[revoked.seat]
    again = student(room.app, new_link)
    assert again.seat == revoked.seat
    assert again.done("running", "ps-all").count(f"{revoked.seat}-hello") == 1  # the seat's things stay
    assert other.done("running", "ps").startswith("CONTAINER ID")
    assert other.client.get(old_links[other.seat]).status_code == 302  # the other seat's link still works


# 4. Join.

def join_path(instructor):
    page = instructor.get("/room/join")
    assert page.status_code == 200
    found = re.search(r'data-join-url="([^"]+)"', page.text)
    return re.sub(r"^https?://[^/]+", "", html.unescape(found[1])) if found else None


def joins(app, path, browser=None):
    """(browser, its seat or None, the answer) after opening the join link in `browser` (a new one if None)."""
    browser = browser or signed_out(app)
    answer = browser.get(path)
    if answer.status_code == 200:  # the join page's button: a GET alone takes no seat
        csrf = form_csrf(answer.text)
        answer = browser.post(path, data={"csrf_token": csrf})
    if answer.status_code not in (302, 303):
        return browser, None, answer
    page = browser.get("/seat")
    return browser, re.search(r'data-seat="([^"]+)"', page.text)[1], answer


def test_the_join_code_hands_each_browser_the_next_free_seat_once(room):
    """Each new browser gets the next free join seat; the same browser keeps its seat; when every join seat is
    taken, or joining is closed, it is refused; opening joining again makes a new code, and the old one stops
    working."""
    opened = room.open(count=0, join_count=2, first_port=8621)
    first_name, second_name = opened.seats
    code_path = join_path(room.instructor)
    assert code_path and code_path.startswith("/join/")

    browser, seat, _ = joins(room.app, code_path)
    assert seat == first_name
    _, seat, answer = joins(room.app, code_path, browser)  # scanned again: the same seat, no other handed out
    assert seat == first_name and answer.headers["Location"].endswith("/seat")
    _, seat, _ = joins(room.app, code_path)
    assert seat == second_name
    _, seat, refused = joins(room.app, code_path)
    assert seat is None and refused.status_code == 403 and "every seat it hands out is taken" in refused.text

    room.instructor.post(f"/room/seats/{second_name}/revoke")  # still taken: never handed to a stranger
    assert room.instructor.post("/room/joining", data={"open": "0"}).status_code == 303
    assert join_path(room.instructor) is None and "Joining is closed" in room.instructor.get("/room/join").text
    _, seat, refused = joins(room.app, code_path)
    assert seat is None and refused.status_code == 403

    assert room.instructor.post("/room/joining", data={"open": "1"}).status_code == 303
    new_path = join_path(room.instructor)
    assert new_path and new_path != code_path
    assert joins(room.app, code_path)[2].status_code == 403  # a photo of the old code
    _, seat, refused = joins(room.app, new_path)
    assert seat is None and "every seat it hands out is taken" in refused.text  # the revoked seat is not re-handed


# 5. Limits.

def test_a_seats_run_has_the_rooms_limits_and_cannot_fork_past_them(room, docker_client):
    """The room's memory, CPUs and processes (128m, 0.25, 50) are the seat's run's host config and in its shown
    command; inside it, forking past 50 processes fails and the count stays within the limit."""
    room.open(count=1, first_port=8626, memory="128m", cpus="0.25", pids="50")
    choose_lesson(room.instructor, "running")
    (seat,) = room.students()
    shown = seat.commands()["detached"]
    assert "--memory 128m --cpus 0.25 --pids-limit 50" in shown, shown
    ticker = seat.done("running", "detached").strip()
    host_config = inspect(docker_client, ticker)["HostConfig"]
    assert host_config["Memory"] == 128 * MIB
    assert host_config["NanoCpus"] == 250_000_000
    assert host_config["PidsLimit"] == 50

    # At most 80 background sleeps, never a fork bomb; the shell stops at its first failed fork.
    script = "i=0; while [ $i -lt 80 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); done; echo started $i"
    container = docker_client.containers.get(ticker)
    try:
        exit_code, printed = container.exec_run(["sh", "-c", script])
        printed = printed.decode(errors="replace")
        assert exit_code != 0 and "started 80" not in printed, printed
        assert re.search(r"can't fork|cannot fork|resource temporarily unavailable", printed, re.I), printed
        # As the engine counts them (`docker stats`' PIDS): `docker top` needs a `ps` beside the engine.
        processes = container.stats(stream=False)["pids_stats"]["current"]
        assert 30 < processes <= 50, processes
    finally:
        docker_client.api.remove_container(ticker, force=True)


def test_the_room_form_limits_default_to_256m_half_a_cpu_and_100_processes(room, docker_client):
    """With the form's defaults, a seat's one-shot run gets --memory 256m --cpus 0.5 --pids-limit 100."""
    room.open(count=1, first_port=8631)
    choose_lesson(room.instructor, "running")
    (seat,) = room.students()
    assert "--memory 256m --cpus 0.5 --pids-limit 100" in seat.commands()["hello"]
    seat.done("running", "hello")
    host_config = inspect(docker_client, f"{seat.seat}-hello")["HostConfig"]
    assert (host_config["Memory"], host_config["NanoCpus"], host_config["PidsLimit"]) == (256 * MIB, 500_000_000, 100)


def test_a_room_asking_more_cpus_than_the_engine_has_is_refused_when_opened(room, docker_client):
    """More CPUs than the engine has is refused by the room form (400), not by every seat's later run (502)."""
    too_many = docker_client.info()["NCPU"] + 1
    response = room.instructor.post("/room", data=room_form(count=1, first_port=8636, cpus=str(too_many)))
    assert response.status_code == 400 and "CPUs" in text_of(response)


# 6. Expiry.

def make_things(room, a, b):
    """A volume (state lesson), an image (realistic lesson's build) and containers (running lesson) for seats
    a and b; the current lesson is running afterwards."""
    choose_lesson(room.instructor, "state")
    a.done("state", "volume")
    b.done("state", "volume")
    choose_lesson(room.instructor, "realistic")
    a.done("realistic", "build")
    b.done("realistic", "build")
    choose_lesson(room.instructor, "running")
    for seat in (a, b):
        seat.done("running", "hello")
        seat.done("running", "detached")


def things(docker_client, seat):
    return (len(seat_containers(docker_client, seat)), len(seat_volumes(docker_client, seat)),
            len(seat_images(docker_client, seat)))


def test_at_its_end_time_the_next_request_ends_the_room(room, docker_client):
    """Past the end time, the next request (any page, a signed-out one too) removes every seat's containers,
    volumes and images, and every seat's link and session stop working; the grid stays to look at."""
    opened = room.open(count=2, first_port=8641)
    links = sheet_links(room.instructor)
    a, b = room.students()
    make_things(room, a, b)
    for seat in (a, b):
        assert things(docker_client, seat.seat) == (2, 1, 1)

    room.roster.room.ends_at = time.time() - 1
    room.roster._save()
    assert signed_out(room.app).get("/lessons").status_code == 200

    assert room.roster.room.ended
    for seat in (a, b):
        assert things(docker_client, seat.seat) == (0, 0, 0)
        assert seat.client.get("/seat").status_code == 403
        assert seat.press("running", "hello").status_code == 403
        assert signed_out(room.app).get(links[seat.seat]).status_code == 403
    cells, _, page = grid(room.instructor)
    assert "The class ended" in page and set(cells) >= {(name, "hello") for name in opened.seats}


def test_the_room_clock_ends_the_room_at_its_end_time_without_a_request(room, docker_client):
    """The end time's timer removes the seats' things by itself, with no request coming in."""
    room.open(count=1, first_port=8646)
    choose_lesson(room.instructor, "running")
    (seat,) = room.students()
    seat.done("running", "detached")
    ends_at = time.time() + 1.5
    room.roster.room.ends_at = ends_at
    room.roster._save()
    room.app.extensions["room_life"].clock.schedule(ends_at)

    wait_until(lambda: room.roster.room.ended, "the room's end by its clock", timeout=20)  # no request meanwhile
    assert time.time() >= ends_at
    wait_until(lambda: things(docker_client, seat.seat) == (0, 0, 0), "the seat's containers removed")
    assert seat.client.get("/seat").status_code == 403


def test_the_room_clock_fires_once_at_the_latest_time_and_not_when_cancelled():
    """RoomClock: a new schedule replaces the old one (one firing, at the new time); cancel stops it."""
    fired = []
    clock = room_life.RoomClock(lambda: fired.append(time.time()))
    start = time.time()
    clock.schedule(start + 0.3)
    clock.schedule(start + 1.0)
    wait_until(lambda: fired, "the clock firing", timeout=10)
    time.sleep(0.5)
    assert len(fired) == 1 and fired[0] >= start + 0.95

    clock.schedule(time.time() + 0.3)
    clock.cancel()
    time.sleep(0.8)
    assert len(fired) == 1


def test_the_room_clock_survives_an_end_that_fails(monkeypatch):
    """An end that raises (the engine away) is logged, not raised out of the timer's thread."""
    done, uncaught = threading.Event(), []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)

    def fail():
        done.set()
        raise RuntimeError("engine away")

    room_life.RoomClock(fail).schedule(time.time())
    assert done.wait(5)
    time.sleep(0.2)
    assert uncaught == []


def test_ending_the_class_now_removes_every_seats_things_and_stops_the_links(room, docker_client):
    """DELETE /room (End the class now) does at once what the end time does."""
    room.open(count=2, first_port=8651)
    a, b = room.students()
    make_things(room, a, b)
    ended = room.instructor.delete("/room", headers={"HX-Request": "true"})
    assert ended.status_code == 200 and "The class ended: 8 of the seats'" in text_of(ended)
    for seat in (a, b):
        assert things(docker_client, seat.seat) == (0, 0, 0)
        assert seat.client.get("/seat").status_code == 403


def test_a_seats_run_makes_its_named_volume_with_the_seats_label_and_only_labelled_volumes_go(room, docker_client):
    """A seat's run naming a volume it has not made (the state lesson's run before its volume step) makes it with
    the seat's and the lesson's labels first, as its command shows; the end of the class removes the seat's
    labelled things only: an unlabelled volume whose name merely looks like the seat's stays."""
    room.open(count=1, first_port=8613)
    choose_lesson(room.instructor, "state")
    (seat,) = room.students()
    stranger = docker_client.api.create_volume(f"{seat.seat}-foo")["Name"]  # not a seat's: no label
    try:
        printed = seat.done("state", "run")
        assert printed.split()[0] == f"{seat.seat}-pgdata", printed
        labels = docker_client.api.inspect_volume(f"{seat.seat}-pgdata")["Labels"]
        assert labels == {LESSON_LABEL: "state", SEAT_LABEL: seat.seat}
        assert seat.check("state", "volume") == "passed"

        ended = room.instructor.delete("/room", headers={"HX-Request": "true"})
        assert ended.status_code == 200, ended.text
        assert things(docker_client, seat.seat) == (0, 0, 0)
        assert docker_client.api.inspect_volume(stranger)["Labels"] is None
    finally:
        docker_client.api.remove_volume(stranger, force=True)


def test_a_volume_named_like_a_seats_that_is_not_the_seats_is_refused_not_used(room, docker_client):
    """An unlabelled volume with the name a seat's run mounts (left from before the room) is not the seat's: the
    run is refused with a 409 that says how to remove it, and nothing is started on it."""
    room.open(count=1, first_port=8615)
    choose_lesson(room.instructor, "state")
    (seat,) = room.students()
    stranger = docker_client.api.create_volume(f"{seat.seat}-pgdata")["Name"]
    try:
        refused = seat.press("state", "run")
        assert refused.status_code == 409, refused.text
        assert f"`docker volume rm {stranger}`" in text_of(refused)
        assert container_names(docker_client, seat.seat) == set()
        assert docker_client.api.inspect_volume(stranger)["Labels"] is None
    finally:
        docker_client.api.remove_volume(stranger, force=True)


# 7. Reset.

def test_resetting_a_seat_removes_its_things_only_and_brings_back_its_files(room, docker_client):
    """Reset: the seat's containers, volume and image go, the other seat's stay; its edited files are as
    shipped again; its grid row is back to not yet while the other's is unchanged."""
    room.open(count=2, first_port=8656)
    a, b = room.students()
    make_things(room, a, b)
    workshop = room.app.extensions["workshop"]
    page = workshop.seat_folder(a.seat) / "website" / "index.html"
    shipped = (SHIPPED / "04-realistic-dockerfile" / "index.html").read_text()
    assert page.read_text() == shipped
    page.write_text("<p>broken by the student</p>\n")
    other_page = workshop.seat_folder(b.seat) / "website" / "index.html"
    other_page.write_text("<p>the other student's work</p>\n")
    wait_for_grid(room.instructor, {(a.seat, "hello"): "passed", (a.seat, "detached"): "passed",
                                    (b.seat, "hello"): "passed"})
    b_before = {row["Id"] for row in seat_containers(docker_client, b.seat)}

    answer = room.instructor.post(f"/room/seats/{a.seat}/reset", headers={"HX-Request": "true"})
    assert answer.status_code == 200, answer.text
    assert f"{a.seat} is reset: 4 containers" in text_of(answer), text_of(answer)

    assert things(docker_client, a.seat) == (0, 0, 0)
    assert things(docker_client, b.seat) == (2, 1, 1)
    assert {row["Id"] for row in seat_containers(docker_client, b.seat)} == b_before
    assert page.read_text() == shipped
    assert other_page.read_text() == "<p>the other student's work</p>\n"
    wait_for_grid(room.instructor, {(a.seat, "hello"): "not-yet", (a.seat, "detached"): "not-yet",
                                    (b.seat, "hello"): "passed", (b.seat, "detached"): "passed"},
                  counts={"hello": "1 of 2"})
    assert a.client.get("/seat").status_code == 200  # a reset keeps the seat's link
    assert a.done("running", "hello").strip() == "Hello from a container"


# 8. Loopback or HTTPS for the instructor; plain HTTP for seats.

@pytest.fixture
def token_room(tmp_path, docker_client):
    made = make_room(tmp_path, docker_client, INSTRUCTOR_TOKEN=TOKEN)
    yield made
    made.close()


def sign_in(client, token=TOKEN, **kwargs):
    """Sign in through the real form (its CSRF field), with the request options given (base_url)."""
    csrf = form_csrf(client.get("/signin", **kwargs).text)
    return client.post("/signin", data={"token": token, "csrf_token": csrf}, **kwargs)


def test_the_instructor_cannot_sign_in_over_the_rooms_plain_http(token_room):
    """From another machine over plain HTTP the sign-in page has no form, and the right token posted anyway is
    refused (403, saying why): no session is made."""
    browser = signed_out(token_room.app)
    assert 'name="token"' not in browser.get("/signin").text
    answer = browser.post("/signin", data={"token": TOKEN, "csrf_token": csrf_of(browser.get("/").text)})
    assert answer.status_code == 403
    assert "only from the dashboard's own machine" in text_of(answer)
    assert "Sign out" not in browser.get("/").text


def test_the_instructor_signs_in_over_https_from_anywhere_with_a_secure_cookie(token_room):
    """Over HTTPS the sign-in works from the room's network, its cookie is Secure (never sent over plain HTTP),
    and the instructor can open a room; the seats' links on the sheet use plain HTTP."""
    browser = signed_out(token_room.app)
    https = {"base_url": "https://localhost"}
    answer = sign_in(browser, **https)
    assert answer.status_code == 302, answer.text
    cookie = answer.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    page = browser.get("/room", **https)
    assert "Sign out" in page.text
    opened = browser.post("/room", data=room_form(count=1, first_port=8661),
                          headers={"X-CSRF-Token": csrf_of(page.text)}, **https)
    assert opened.status_code == 303, opened.text
    token_room.seat_names |= set(token_room.roster.room.seats)
    sheet = browser.get("/room/sheet", **https)
    assert sheet.status_code == 200
    assert re.findall(r'data-seat-url="([^"]+)"', sheet.text)[0].startswith("http://localhost")


def test_an_instructor_session_is_refused_over_plain_http_from_another_machine(token_room):
    """The HTTPS session's cookie, copied to a plain-HTTP request from the room's network, acts on nothing."""
    browser = signed_out(token_room.app)
    https = {"base_url": "https://localhost"}
    assert sign_in(browser, **https).status_code == 302
    csrf = csrf_of(browser.get("/", **https).text)
    current = token_room.app.extensions["lesson_pick"].id

    refused = browser.post("/lessons/current", data={"lesson": "running"}, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403
    assert NOT_OVER_PLAIN_HTTP[:60] in html.unescape(refused.text)
    assert token_room.app.extensions["lesson_pick"].id == current
    assert browser.post("/room", data=room_form(count=1, first_port=8663),
                        headers={"X-CSRF-Token": csrf}).status_code == 403
    assert token_room.roster.room is None
    assert browser.get("/room/sheet").status_code == 403
    assert "Sign out" not in browser.get("/").text  # the page over plain HTTP shows no instructor
    assert browser.post("/lessons/current", data={"lesson": "running"}, headers={"X-CSRF-Token": csrf},
                        base_url="https://localhost").status_code == 302  # the same session over HTTPS acts


def test_the_instructor_signs_in_on_this_machine_over_plain_http(token_room):
    """Loopback over plain HTTP is this machine: the sign-in works."""
    browser = token_room.app.test_client(instructor=False)
    assert sign_in(browser).status_code == 302
    assert "Sign out" in browser.get("/").text


def test_a_seat_works_over_plain_http_from_the_rooms_network(room, docker_client):
    """A student's laptop (192.0.2.50, plain HTTP) signs in by its link and runs its steps."""
    room.open(count=1, first_port=8666)
    choose_lesson(room.instructor, "running")
    (seat,) = room.students()
    assert seat.client.environ_base["REMOTE_ADDR"] == "192.0.2.50"
    assert seat.done("running", "hello").strip() == "Hello from a container"
    assert inspect(docker_client, f"{seat.seat}-hello") is not None


# 9. Bad input.

BAD_ROOM_FORMS = [
    ({"count": "0"}, "number of seats"),
    ({"count": "100000"}, "number of seats"),
    ({"count": "three"}, "number of seats"),
    ({"first_port": "eighty"}, "host port"),
    ({"first_port": "0"}, "host port"),
    ({"count": "3", "first_port": "65535"}, "past port 65535"),
    ({"minutes": "0"}, "1 to 1440 minutes"),
    ({"minutes": "1441"}, "1 to 1440 minutes"),
    ({"minutes": "ten"}, "1 to 1440 minutes"),
    ({"memory": "lots"}, "Memory"),
    ({"memory": "5m"}, "at least 6m"),
    ({"memory": "256"}, "Memory"),
    ({"cpus": "x"}, "CPUs"),
    ({"cpus": "0"}, "CPUs"),
    ({"cpus": "65"}, "CPUs"),
    ({"cpus": "0.001"}, "CPUs"),
    ({"pids": "5"}, "Processes 5"),
    ({"pids": "lots"}, "Processes"),
    ({"pids": "1000000"}, "Processes"),
    ({"colour": "red"}, "Unknown field(s): colour"),
]


def test_a_bad_room_form_is_400_with_a_message_and_the_open_room_goes_on(room, docker_client):
    """Each bad field of the room form is refused with a message saying what is wrong (never a 500), before
    the open room is touched: its seats' links, sessions and running containers all stay."""
    opened = room.open(count=1, first_port=8671)
    choose_lesson(room.instructor, "running")
    (seat,) = room.students()
    ticker = seat.done("running", "detached").strip()
    tokens = {name: s.token for name, s in opened.seats.items()}
    for changes, message in BAD_ROOM_FORMS:
        answer = room.instructor.post("/room", data={**room_form(count=1, first_port=8671), **changes},
                                      headers={"HX-Request": "true"})
        assert answer.status_code == 400, (changes, answer.status_code, text_of(answer))
        assert message in text_of(answer), (changes, text_of(answer))
    assert room.roster.room is opened and not opened.ended
    assert {name: s.token for name, s in opened.seats.items()} == tokens
    assert inspect(docker_client, ticker)["State"]["Running"]
    assert seat.client.get("/seat").status_code == 200


def test_bad_links_seat_names_and_flags_are_refused_with_a_message(room):
    """Garbage seat links and join codes are 403; a seat name that cannot be one is 400 and one not in the
    room 404; the joining and names flags take 1 or 0 only."""
    browser = signed_out(room.app)
    assert browser.get("/room/sheet").status_code == 403
    assert room.instructor.get("/room/sheet").status_code == 404  # no room open yet
    assert "No room is open" in room.instructor.get("/room/sheet").text
    assert room.instructor.delete("/room").status_code == 404
    assert room.instructor.post("/room/joining", data={"open": "1"}).status_code == 404

    room.open(count=1, first_port=8676)
    for path in ("/s/garbage", "/s/" + "x" * 500, "/join/garbage", "/s/%00%01"):
        answer = browser.get(path)
        assert answer.status_code == 403 and "ask" in text_of(answer).lower(), path
    assert browser.get("/seat").status_code == 403
    for name, status in (("bad name!", 400), ("..", 400), ("x" * 100, 400), ("seat-1", 404)):
        for method, path in (("GET", f"/room/seats/{name}"), ("GET", f"/room/seats/{name}/board"),
                             ("POST", f"/room/seats/{name}/revoke"), ("POST", f"/room/seats/{name}/reset")):
            answer = room.instructor.open(path, method=method)
            assert answer.status_code in (status, 404), (method, path, answer.status_code)
            assert answer.status_code < 500 and "message error" in answer.text
    for path, field in (("/room/joining", "open"), ("/room/names", "hide")):
        for value in ("2", "yes", ""):
            assert room.instructor.post(path, data={field: value}).status_code == 400, (path, value)
        assert room.instructor.post(path, data={field: "1", "other": "1"}).status_code == 400


def test_a_students_name_is_one_short_line_and_shown_escaped(room):
    """A name over 40 characters or with control characters is 400; a good one shows on the grid, escaped."""
    room.open(count=1, first_port=8681)
    (seat,) = room.students()
    for bad in ("x" * 41, "line\nbreak\x07", "tab\x00"):
        answer = seat.post("/seat/name", data={"student": bad})
        assert answer.status_code == 400 and "up to 40 characters" in answer.text, repr(bad)
    assert seat.post("/seat/name", data={"student": "Ada", "extra": "1"}).status_code == 400
    assert seat.post("/seat/name", data={"student": "<b>Ada</b>  Lovelace"}).status_code == 200
    _, _, page = grid(room.instructor)
    assert "&lt;b&gt;Ada&lt;/b&gt; Lovelace" in page and "<b>Ada" not in page


def test_names_are_hidden_from_every_signed_out_screen_until_the_instructor_shows_them(room):
    """A new room hides the names students type from every signed-out page (the projector's included); the
    instructor's own screen shows them, and the instructor can show them to everyone (grid.__doc__ says so)."""
    room.open(count=1, first_port=8683)
    (seat,) = room.students()
    assert seat.post("/seat/name", data={"student": "Grace Hopper"}).status_code == 200
    viewer = signed_out(room.app)
    assert "Grace Hopper" not in viewer.get("/room/grid?projector=1").text
    assert "Grace Hopper" not in viewer.get("/present").text
    assert "Grace Hopper" in room.instructor.get("/room/grid").text  # the instructor's own screen keeps them
    assert "Grace Hopper" not in viewer.get("/room/grid").text
    assert "Grace Hopper" not in viewer.get("/room").text
    assert "Show names on the projector" in room.instructor.get("/room").text
    assert room.instructor.post("/room/names", data={"hide": "0"}).status_code == 303
    assert "Grace Hopper" in viewer.get("/room/grid?projector=1").text
    assert "Grace Hopper" in viewer.get("/room/grid").text
    assert room.instructor.post("/room/names", data={"hide": "1"}).status_code == 303
    assert "Grace Hopper" not in viewer.get("/room/grid?projector=1").text


def run_on_every_seat(room, step_id):
    """Press Run on every seat for the step and wait for every seat to finish; (the answer's text, the run)."""
    answer = room.instructor.post("/room/every-seat", data={"step": step_id}, headers={"HX-Request": "true"})
    assert answer.status_code == 200, answer.text
    job = room.app.extensions["room_life"].every_seat
    wait_until(lambda: not job.running, "the run on every seat's end", timeout=120)
    return html.unescape(answer.text), job


def every_seat_loop(text):
    """The loop shown with a run on every seat."""
    return re.search(r"<code data-cli>(for port in .*?done)</code>", text, re.S)[1]


def test_a_step_runs_on_every_seat_as_each_seat_would_and_as_its_loop_does(room, docker_client):
    """Run on every seat: the step runs on each seat's own things (its name, labels, port, limits), the grid
    fills in, and the loop shown beside it, pasted into bash, makes the same containers."""
    opened = room.open(count=3, first_port=8701, memory="128m", cpus="0.25", pids="50")
    choose_lesson(room.instructor, "running")
    text, job = run_on_every_seat(room, "detached")
    assert {name: run.state for name, run in job.runs.items()} == {name: "done" for name in opened.seats}, job.runs
    cells, counts, _ = grid(room.instructor)
    assert {cells[(name, "detached")] for name in opened.seats} == {"passed"}
    assert counts["detached"] == "3 of 3"
    by_button = {name: inspect(docker_client, f"{name}-ticker") for name in opened.seats}
    assert all(by_button.values())

    loop = every_seat_loop(text)
    assert loop.startswith("for port in $(seq 8701 8703); do\n"), loop
    remove_seat_things(docker_client, opened.seats)
    ran = shell(loop)
    assert ran.returncode == 0, ran.stderr
    for name, seat in opened.seats.items():
        by_command = inspect(docker_client, f"{name}-ticker")
        assert by_command["Id"] != by_button[name]["Id"]
        for key in ("Image", "Cmd", "Labels"):
            assert by_command["Config"][key] == by_button[name]["Config"][key], key
        assert by_command["Config"]["Labels"][SEAT_LABEL] == name
        for key in ("Memory", "NanoCpus", "PidsLimit"):
            assert by_command["HostConfig"][key] == by_button[name]["HostConfig"][key], key


def test_run_on_every_seat_skips_a_seat_busy_with_its_own_press(room, docker_client):
    """One press per seat holds: a seat whose student's press is still running is skipped, never run twice."""
    opened = room.open(count=2, first_port=8706)
    choose_lesson(room.instructor, "running")
    busy, free = opened.seats
    with room.app.extensions["seat_presses"].pressing(busy, "a press of its own"):
        _, job = run_on_every_seat(room, "detached")
    assert job.runs[busy].state == "skipped" and "a press of its own" in job.runs[busy].note
    assert job.runs[free].state == "done"
    assert inspect(docker_client, f"{busy}-ticker") is None and inspect(docker_client, f"{free}-ticker")


def test_run_on_every_seat_is_the_instructors_and_refuses_bad_input(room):
    room.open(count=1, first_port=8709)
    choose_lesson(room.instructor, "running")
    assert room.instructor.post("/room/every-seat", data={"step": "no-such-step"}).status_code == 404
    assert room.instructor.post("/room/every-seat", data={"step": "detached", "extra": "1"}).status_code == 400
    assert room.instructor.get("/room/every-seat/command?step=nope").status_code == 404
    (seat,) = room.students()
    assert seat.post("/room/every-seat", data={"step": "detached"}).status_code == 403
    assert signed_out(room.app).get("/room/every-seat/command?step=detached").status_code == 403
    assert room.app.extensions["room_life"].every_seat is None


def test_stop_and_remove_every_seats_things_as_its_command_does(room, docker_client):
    """Stop and remove every seat's things removes each seat's containers and volumes; the command beside it,
    pasted into bash, does the same."""
    opened = room.open(count=2, first_port=8711)
    choose_lesson(room.instructor, "running")
    run_on_every_seat(room, "detached")
    page = html.unescape(room.instructor.get("/room").text)
    command = re.search(r"<code data-cli>(docker ps -aq --filter label=classroom.seat \| .*?)</code>", page)[1]
    answer = room.instructor.delete("/room/seats", headers={"HX-Request": "true"})
    assert answer.status_code == 200, answer.text
    assert all(things(docker_client, name) == (0, 0, 0) for name in opened.seats)

    run_on_every_seat(room, "detached")
    assert all(things(docker_client, name)[0] == 1 for name in opened.seats)
    ran = shell(command)
    assert ran.returncode == 0, ran.stderr
    assert all(things(docker_client, name) == (0, 0, 0) for name in opened.seats)
    assert signed_out(room.app).delete("/room/seats").status_code == 403


@pytest.mark.parametrize("path", ["", "/sheet", "/new?count=3&first_port=8001"])
def test_classroom_modes_old_addresses_open_the_room(room, path):
    """Classroom mode became the room: its bookmarks answer with the room page's address."""
    answer = room.instructor.get(f"/classroom{path}")
    assert answer.status_code == 301 and answer.headers["Location"].endswith("/room")


# 10. The commands shown are true.

def test_the_commands_a_seat_is_shown_make_the_same_containers(room, docker_client):
    """The seat's `docker run` for hello, pasted into bash, makes a container with the button's name, labels,
    image, command and limits, which the seat's check then counts; its `docker ps -a` lists the seat's only."""
    room.open(count=2, first_port=8691, memory="128m", cpus="0.25", pids="50")
    choose_lesson(room.instructor, "running")
    seat, other = room.students()
    other.done("running", "hello")
    commands = seat.commands()
    seat.done("running", "hello")
    name = f"{seat.seat}-hello"
    by_button = inspect(docker_client, name)
    docker_client.api.remove_container(name, force=True)
    assert seat.check("running", "hello") == "failed"

    ran = shell(commands["hello"])
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "Hello from a container"
    by_command = inspect(docker_client, name)
    assert by_command["Id"] != by_button["Id"]
    for key in ("Image", "Cmd", "Labels"):
        assert by_command["Config"][key] == by_button["Config"][key], key
    assert by_command["Config"]["Labels"][SEAT_LABEL] == seat.seat
    for key in ("Memory", "NanoCpus", "PidsLimit"):
        assert by_command["HostConfig"][key] == by_button["HostConfig"][key], key
    assert by_command["HostConfig"]["Memory"] == 128 * MIB
    assert seat.check("running", "hello") == "passed"  # the dashboard takes it for the seat's

    listed = shell(commands["ps-all"])
    assert listed.returncode == 0, listed.stderr
    assert re.search(rf"\b{name}$", listed.stdout, re.M) and other.seat not in listed.stdout, listed.stdout
    assert shell(commands["rm"]).stdout.strip() == name
    assert inspect(docker_client, name) is None


def test_the_state_lessons_run_a_seat_is_shown_makes_its_volume_with_the_seats_label_first(room, docker_client):
    """The seat's `docker run -v SEAT-pgdata:…` is shown after the `docker volume create --label …` that makes its
    volume the seat's (the engine would make it with no label); pasted into bash, it does what the button does."""
    room.open(count=1, first_port=8614)
    choose_lesson(room.instructor, "state")
    (seat,) = room.students()
    volume = f"{seat.seat}-pgdata"
    command = seat.commands()["run"]
    create = (f"docker volume create --label {LESSON_LABEL}=state --label {SEAT_LABEL}={seat.seat} {volume} && "
              "docker run -d ")
    assert command.startswith(create) and f" -v {volume}:/var/lib/postgresql/data " in command, command

    ran = shell(command)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split()[0] == volume  # as the button prints it: the volume's name, then the container's id
    labels = docker_client.api.inspect_volume(volume)["Labels"]
    assert labels == {LESSON_LABEL: "state", SEAT_LABEL: seat.seat}
    assert seat.check("state", "volume") == "passed" and seat.check("state", "run") == "passed"


def test_the_build_command_a_seat_is_shown_builds_the_seats_own_image(room, docker_client):
    """The seat's `cd … && docker build …` of the realistic lesson, pasted into bash, tags the seat's own image
    with its label, which the seat's check then finds."""
    room.open(count=1, first_port=8698)
    choose_lesson(room.instructor, "realistic")
    (seat,) = room.students()
    assert seat.check("realistic", "build") == "failed"
    command = seat.commands()["build"]
    assert f"--label {SEAT_LABEL}={seat.seat}" in command and f"-t website:{seat.seat}" in command, command
    built = shell(command)
    assert built.returncode == 0, built.stderr
    labels = docker_client.api.inspect_image(f"website:{seat.seat}")["Config"]["Labels"]
    assert labels[SEAT_LABEL] == seat.seat and labels[LESSON_LABEL] == "realistic"
    assert seat.check("realistic", "build") == "passed"


# Opening a room again; the end time while the engine is away.

def test_opening_a_new_room_ends_the_old_one(room, docker_client):
    """A new room on the same ports: the old seats' things are removed and their sessions end, though the new
    seats have the same names; the new links work."""
    room.open(count=1, first_port=8604)
    choose_lesson(room.instructor, "running")
    (old,) = room.students()
    old.done("running", "detached")
    reopened = room.open(count=1, first_port=8604)
    assert list(reopened.seats) == [old.seat]
    assert things(docker_client, old.seat) == (0, 0, 0)
    assert old.client.get("/seat").status_code == 403
    (new,) = room.students()
    assert new.seat == old.seat and new.done("running", "hello").strip() == "Hello from a container"


@pytest.fixture
def switched_room(tmp_path, docker_client, engine_switch):
    """A room of one seat (a running ticker) whose app reaches the engine through a switch the test can stop;
    (room, the seat, its link)."""
    room = make_room(tmp_path, docker_client)  # through the switch: engine_switch set DOCKER_HOST
    try:
        room.open(count=1, first_port=8694)
        choose_lesson(room.instructor, "running")
        (seat,) = room.students()
        seat.done("running", "detached")
        yield room, seat, sheet_links(room.instructor)[seat.seat]
    finally:
        engine_switch.start()
        room.close()


def test_past_its_end_time_the_end_is_tried_again_once_the_engine_is_back(switched_room, engine_switch, docker_client):
    """With the engine away at the end time, pages still answer (no 5xx): the room is ended (its links stop)
    and its seats' things stay to be removed; once the engine is back, the next try removes them."""
    room, seat, link = switched_room
    engine_switch.stop()
    room.roster.room.ends_at = time.time() - 1
    room.roster._save()
    assert signed_out(room.app).get("/lessons").status_code == 200
    assert room.roster.room.ended and not room.roster.room.cleared
    assert things(docker_client, seat.seat) == (1, 0, 0)
    engine_switch.start()
    room.app.extensions["room_life"].retry_at = 0  # the next try now, not 30 s later
    assert signed_out(room.app).get("/lessons").status_code == 200
    assert room.roster.room.cleared and things(docker_client, seat.seat) == (0, 0, 0)
    assert seat.client.get("/seat").status_code == 403


def test_past_its_end_time_a_seat_is_refused_even_while_the_engine_is_away(switched_room, engine_switch):
    """The end time stops the seats' links and sessions even when their things cannot be removed yet."""
    room, seat, link = switched_room
    engine_switch.stop()
    room.roster.room.ends_at = time.time() - 1
    room.roster._save()
    assert signed_out(room.app).get(link).status_code == 403
    assert seat.client.get("/seat").status_code == 403


def expire_with_the_engine_away(room, engine_switch):
    """The end time passes while the engine is away: the room is ended, its seats' things left on the engine."""
    engine_switch.stop()
    room.roster.room.ends_at = time.time() - 1
    room.roster._save()
    assert signed_out(room.app).get("/lessons").status_code == 200
    assert room.roster.room.ended and not room.roster.room.cleared


def test_a_room_whose_seats_things_are_left_closes_only_once_they_are_removed(switched_room, engine_switch,
                                                                              docker_client):
    """Close the room with the seats' things still on the engine (it was away at the end) is refused, saying
    what is left and why; the room page offers Close anyway. Once the engine is back, Close removes them first."""
    room, seat, _ = switched_room
    expire_with_the_engine_away(room, engine_switch)

    refused = room.instructor.post("/room/close")
    assert refused.status_code == 409, refused.text
    message = text_of(refused)
    assert f"{seat.seat}'s containers, volumes and images are still on the engine" in message, message
    assert "does not answer" in message and "Close anyway" in message, message
    assert room.roster.room is not None and things(docker_client, seat.seat) == (1, 0, 0)
    page = room.instructor.get("/room").text
    assert 'name="anyway" value="1"' in page and "Close anyway" in page

    engine_switch.start()
    closed = room.instructor.post("/room/close")
    assert closed.status_code == 303, closed.text
    assert room.roster.room is None and things(docker_client, seat.seat) == (0, 0, 0)


def test_a_room_closed_anyway_leaves_its_things_for_the_next_rooms_opening_to_sweep(switched_room, engine_switch,
                                                                                     docker_client):
    """Close anyway puts the room away with its seats' things left (the engine may be gone for good); opening the
    next room sweeps every seat's leftovers first, and is refused (503, nothing opened) while the engine is away."""
    room, seat, _ = switched_room
    expire_with_the_engine_away(room, engine_switch)

    closed = room.instructor.post("/room/close", data={"anyway": "1"})
    assert closed.status_code == 303, closed.text
    assert room.roster.room is None and things(docker_client, seat.seat) == (1, 0, 0)

    refused = room.instructor.post("/room", data=room_form(count=1, first_port=8695))
    assert refused.status_code == 503 and "does not answer" in text_of(refused), refused.text
    assert room.roster.room is None

    engine_switch.start()
    room.open(count=1, first_port=8695)
    assert things(docker_client, seat.seat) == (0, 0, 0)


def test_opening_a_room_sweeps_every_seats_labelled_leftovers_and_nothing_else(room, docker_client):
    """A container, volume and image labelled as an earlier room's seat (a room closed anyway, a dashboard that
    stopped) are removed when a room opens, before its seats are made; a volume merely named like a seat's stays."""
    seat = "seat-8619"
    labels = {LESSON_LABEL: "running", SEAT_LABEL: seat}
    image = room.app.config["BASE_IMAGE"] or "python:3.12-slim"
    volume = docker_client.api.create_volume(f"{seat}-pgdata", labels=labels)["Name"]
    stranger = docker_client.api.create_volume(f"{seat}-foo")["Name"]
    container = docker_client.api.create_container(image, ["true"], name=f"{seat}-hello", labels=labels)["Id"]
    committed = docker_client.api.commit(container, repository="leftover", tag=seat)["Id"]  # its labels with it
    try:
        assert docker_client.api.inspect_image(committed)["Config"]["Labels"][SEAT_LABEL] == seat
        room.open(count=1, first_port=8617)
        assert inspect(docker_client, container) is None
        assert things(docker_client, seat) == (0, 0, 0)
        assert [v["Name"] for v in docker_client.api.volumes()["Volumes"] or [] if v["Name"] == volume] == []
        assert docker_client.api.inspect_volume(stranger)["Labels"] is None
    finally:
        room.seat_names.add(seat)  # whatever is left goes with the room's
        docker_client.api.remove_volume(stranger, force=True)


def test_a_seats_refusal_names_its_container_in_full(room):
    """A press on a container the seat does not have says which one, by its whole name."""
    room.open(count=1, first_port=8689)
    choose_lesson(room.instructor, "running")
    (seat,) = room.students()
    refused = seat.press("running", "logs")
    assert refused.status_code == 404
    assert f"No lesson container {seat.seat}-ticker:" in text_of(refused)


# Run on every seat: what it refuses, and what it does once the class ends (rooms on 8901-8919).
def test_a_run_of_an_image_the_seats_have_not_built_is_refused_up_front(room):
    """Each seat builds its own tag (cowserv:seat-PORT): its run before the build is refused at once (409, naming
    the build to run on every seat first), and the picker offers the build first."""
    room.open(count=2, first_port=8901)
    choose_lesson(room.instructor, "cowserv")
    answer = room.instructor.post("/room/every-seat", data={"step": "run"}, headers={"HX-Request": "true"})
    assert answer.status_code == 409 and "Build the image" in html.unescape(answer.text), answer.text
    assert room.app.extensions["room_life"].every_seat is None
    assert re.search(r'<option value="build" selected>', room.instructor.get("/room").text)


def test_a_new_room_is_refused_during_a_run_on_every_seat_and_the_class_goes_on(room):
    opened = room.open(count=1, first_port=8903)
    choose_lesson(room.instructor, "running")
    life = room.app.extensions["room_life"]
    step = seats.for_seat(room.app.extensions["catalog"].get("running"), opened.seats["seat-8903"]).step("hello")
    life.every_seat = room_life.EverySeat(step, "running", "true", 1, {})  # under way
    answer = room.instructor.post("/room", data=room_form(count=1, first_port=8905))
    assert answer.status_code == 409 and "is running on every seat" in html.unescape(answer.text)
    assert room.roster.room is opened and not opened.ended
    life.every_seat.finished = time.monotonic()


def test_seats_not_begun_when_the_class_ends_are_skipped(room, monkeypatch):
    """A run on every seat stops starting seats once the class ended: those not begun say so."""
    opened = room.open(count=2, first_port=8907)
    choose_lesson(room.instructor, "running")
    life = room.app.extensions["room_life"]
    life.workers = 1
    first_began, go_on = threading.Event(), threading.Event()
    real = room_life.run_on_seat

    def held_first(engine, rooms, seat, *args, **kwargs):
        if seat.name == "seat-8907":
            first_began.set()
            go_on.wait(30)
        return real(engine, rooms, seat, *args, **kwargs)
    monkeypatch.setattr(room_life, "run_on_seat", held_first)
    assert room.instructor.post("/room/every-seat", data={"step": "detached"},
                                headers={"HX-Request": "true"}).status_code == 200
    assert first_began.wait(30)
    assert room.instructor.delete("/room", headers={"HX-Request": "true"}).status_code == 200
    go_on.set()
    job = life.every_seat
    wait_until(lambda: not job.running, "the run on every seat's end", timeout=60)
    assert (job.runs["seat-8908"].state, job.runs["seat-8908"].note) == ("skipped", "skipped: the class ended")
    assert inspect(room.docker, "seat-8908-ticker") is None
    assert opened.ended


def test_each_seats_check_runs_workers_at_a_time_and_a_failed_one_is_logged(room, monkeypatch, caplog):
    room.open(count=3, first_port=8910)
    choose_lesson(room.instructor, "running")
    room.app.extensions["room_life"].workers = 2
    pools = []
    real_pool = room_life.ThreadPoolExecutor

    def pool(max_workers):
        pools.append(max_workers)
        return real_pool(max_workers=max_workers)

    def failing_check(*args):
        raise RuntimeError("the check broke")
    monkeypatch.setattr(room_life, "ThreadPoolExecutor", pool)
    monkeypatch.setattr(room_life, "check_step", failing_check)
    _, job = run_on_every_seat(room, "detached")
    assert {run.state for run in job.runs.values()} == {"done"}
    assert pools and max(pools) <= 2, pools
    wait_until(lambda: sum("the check broke" in str(r.exc_info) for r in caplog.records) == 3, "three logged checks")


def test_stop_and_remove_every_seats_things_needs_no_room_and_is_always_offered(room):
    page = html.unescape(room.instructor.get("/room").text)
    assert "Stop and remove every seat's things" in page and "docker ps -aq --filter label=classroom.seat" in page
    answer = room.instructor.delete("/room/seats", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "Removed every seat's things" in html.unescape(answer.text), answer.text
    room.open(count=1, first_port=8914)
    choose_lesson(room.instructor, "compose")  # not one seats can do
    assert "Stop and remove every seat's things" in html.unescape(room.instructor.get("/room").text)
    assert "Stop and remove every seat's things" not in html.unescape(signed_out(room.app).get("/room").text)


def test_the_every_seat_form_posts_without_javascript_and_a_lesson_seats_cannot_do_is_409(room):
    room.open(count=1, first_port=8916)
    choose_lesson(room.instructor, "running")
    page = room.instructor.get("/room").text
    assert re.search(r'<form class="every-seat" action="/room/every-seat" method="post"', page), page
    answer = room.instructor.post("/room/every-seat", data={"step": "hello"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/room")
    job = room.app.extensions["room_life"].every_seat
    wait_until(lambda: not job.running, "the run on every seat's end", timeout=60)
    choose_lesson(room.instructor, "compose")
    assert room.instructor.post("/room/every-seat", data={"step": "up"}).status_code == 409
