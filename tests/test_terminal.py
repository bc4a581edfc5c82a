"""A seat's terminal (issue 20), driven as tools and tests drive it: gunicorn's gevent worker serving the app, a
real WebSocket (`GET /seat/terminal`, binary frames both ways, `{"resize": [cols, rows]}`), a real pty and shell.
The shell is a plain local bash (tests/support/terminal.py), where the seat host's confined shell runs in class.

One server and one room (seats on ports 8901-8903, named seat-890N, 8904 for a test client's room and 8906
for the last test's, which stops the server; no other test uses them) for the module; the
room is opened over HTTP as the instructor does; its seats have no engines (PaperSeats), their shells are local.
"""

import contextlib
import html
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import websocket

from dashboard import create_app
from dashboard.domain import terminals
from tests.support import form_csrf, free_tcp_port, wait_until
from tests.support.room import PaperRoom, room_form
from tests.support.terminal import Browser, Term, local_shell, student
from tests.support.terminal import instructor as signed_in

pytestmark = pytest.mark.engine  # the app's pages ask the engine; opening a room sweeps it

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "terminal-tests-token-0123456789"
FIRST_PORT = 8901
WAIT = 20  # seconds: only so that a broken test ends


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn (one gevent worker) serving the app with local shells, on a free loopback port; its base URL."""
    folder = tmp_path_factory.mktemp("terminal")
    port, https_port = free_tcp_port("127.0.0.1"), free_tcp_port("127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    log = folder / "gunicorn.log"
    env = {**os.environ, "DASHBOARD_INSTANCE_PATH": str(folder / "instance"), "DASHBOARD_INSTRUCTOR_TOKEN": TOKEN,
           "TERMINAL_TEST_HOME": str(folder / "homes"), "DASHBOARD_HTTPS_BIND": f"127.0.0.1:{https_port}",
           "DASHBOARD_SEATS_DIR": str(folder / "seats")}
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:dashboard.gunicorn_conf",
                                    "--bind", f"127.0.0.1:{port}", "tests.support.terminal:app_with_local_shell()"],
                                   cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        yield {"base": base, "log": log, "https": f"https://127.0.0.1:{https_port}",
               "certificate": str(folder / "instance" / "https-cert.pem"), "process": process}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "Traceback" not in log.read_text(), log.read_text()[-5000:]


def instructor(base, token=TOKEN, browser=None, certificate=None):
    return signed_in(base, token, browser, certificate)


def open_room(teacher, count=3, first_port=FIRST_PORT):
    """Open a room of `count` seats as the instructor; {seat: its link's path}."""
    answer = teacher.act("POST", "/room", **room_form(count=count, first_port=first_port))
    assert answer.status_code in (200, 303), answer.text
    sheet = teacher.get("/room/sheet").text
    return {name: re.sub(r"^https?://[^/]+", "", html.unescape(url))
            for name, url in re.findall(r'data-seat="([^"]+)" data-seat-url="([^"]+)"', sheet)}


@pytest.fixture(scope="module")
def room(server):
    """The instructor, a signed-in student browser per seat of the open room ({seat: Browser}), and the seats'
    links ({seat: path})."""
    teacher = instructor(server["base"])
    try:
        links = open_room(teacher)
        assert len(links) == 3, links
        yield teacher, {name: student(server["base"], link) for name, link in links.items()}, links
    finally:
        with contextlib.suppress(requests.ConnectionError):  # the last test stops the server
            teacher.act("DELETE", "/room")


# The domain alone (Terminals, with real threads here): backpressure and the scrollback's bound.

def test_a_flooding_shell_waits_on_its_pty_while_its_viewer_reads_nothing(tmp_path):
    """`yes` with a viewer that takes nothing: the viewer's queue stops at its bound and the shell is left
    blocked on its pty (no output is read, none is lost); once the viewer reads, it flows again."""
    shells = terminals.Terminals(local_shell(tmp_path))
    viewer = shells.attach("seat-flood", 1, "/home/student/docker-workshop")
    try:
        viewer.type(b"exec yes\r")
        wait_until(lambda: viewer._output >= terminals.QUEUE, "the viewer's queue filling")
        scrollback = bytes(viewer.shell.scrollback)
        time.sleep(1)  # not a timing: time for an unbounded reader to have read on
        assert viewer._output == terminals.QUEUE and bytes(viewer.shell.scrollback) == scrollback
        for _ in range(3 * terminals.QUEUE):
            assert viewer.next(timeout=WAIT)[0] in ("output", "control")
    finally:
        shells.close_all()
    assert viewer.shell.process.wait(timeout=WAIT) is not None


def test_a_new_viewer_gets_the_recent_output_only(tmp_path):
    shells = terminals.Terminals(local_shell(tmp_path))
    first = shells.attach("seat-scroll", 1, "/home/student/docker-workshop")
    try:
        first.type(b"head -c 200000 /dev/zero | tr '\\0' x; echo; echo end-$((2*5))\r")
        seen = b""
        while b"end-10" not in seen:
            kind, value = first.next(timeout=WAIT)
            seen += value if kind == "output" else b""
        second = shells.attach("seat-scroll", 1, "/home/student/docker-workshop")
        kind, replay = second.next(timeout=WAIT)
        assert kind == "output" and len(replay) == terminals.SCROLLBACK and b"end-10" in replay
    finally:
        shells.close_all()


@pytest.mark.parametrize("size", [(0, 24), (501, 24), (80, 0), (80, 201), (80.0, 24), (True, 24), ("80", 24)])
def test_a_size_beyond_the_bounds_is_a_bad_frame(size):
    with pytest.raises(terminals.BadFrame):
        terminals.checked_size(*size)
    assert terminals.checked_size(500, 200) == (500, 200) and terminals.checked_size(1, 1) == (1, 1)


def test_the_seat_page_has_a_terminal_only_where_seats_get_shells(tmp_path):
    """Without a spawner (seats without engines here) the seat's page shows no terminal, and opens no socket bound
    to be refused; with one, the terminal and its socket's address."""
    made = PaperRoom(create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3")}))
    try:
        made.open(count=1, first_port=FIRST_PORT + 3)
        mine = made.students()[0]
        assert "data-terminal" not in mine.page()
        made.app.extensions["terminal_spawn"] = local_shell(tmp_path / "homes")
        page = mine.page()
        assert 'data-terminal-socket="/seat/terminal"' in page and "data-terminal-open-wide" in page
        watch = made.instructor.get(f"/room/seats/{mine.seat}/terminal/watch")
        assert watch.status_code == 200 and f'data-terminal-socket="/room/seats/{mine.seat}/terminal"' in watch.text
        assert "nonce-" in watch.headers["Content-Security-Policy"]
        assert mine.client.get(f"/room/seats/{mine.seat}/terminal/watch").status_code == 403
    finally:
        made.app.extensions["room_life"].clock.cancel()


def seat(room, index):
    return list(room[1].items())[index]


def test_a_seats_terminal_echoes_what_it_types_in_its_lessons_folder(room):
    """The echo round trip on the seat's own shell, which starts in the current lesson's folder of the seat's
    view (the spawner is given it)."""
    _, browser = seat(room, 0)
    term = Term(browser)
    try:
        term.run("echo round-$((20+1)) trip", r"round-21 trip")
        term.run('echo "cwd=$SEAT_CWD"', r"cwd=/home/student/docker-workshop\S*")
    finally:
        term.close()


def test_a_resize_frame_sets_the_ptys_size(room):
    _, browser = seat(room, 0)
    term = Term(browser)
    try:
        term.send_text(json.dumps({"resize": [123, 45]}))
        term.run("stty size", r"45 123")
    finally:
        term.close()


@pytest.mark.parametrize("frame, code, says", [
    ("not json at all", 1003, "not JSON"),
    ("[" * 60_000, 1003, "not JSON"),  # nested too deep for the parser: still a reason, not a dead reader
    ('{"resize": [0, 24]}', 1008, "columns must be a whole number from 1 to 500"),
    ('{"resize": [80, 201]}', 1008, "rows must be a whole number from 1 to 200"),
    ('{"resize": [80.5, 24]}', 1008, "columns"),
    ('{"resize": "big"}', 1008, "resize: [cols, rows]"),
    ('{"control": "instructor"}', 1008, "a text frame is"),
    ('[1, 2]', 1008, "a text frame is"),
])
def test_a_malformed_frame_closes_that_socket_with_the_reason_and_others_go_on(room, frame, code, says):
    """A bad resize or malformed text frame closes that socket with its reason (a student's socket cannot take
    over either); another seat's socket keeps working, and the app answers."""
    (_, browser), (_, other) = seat(room, 0), seat(room, 1)
    bad, good = Term(browser), Term(other)
    try:
        good.run("echo before-$((1+1))", "before-2")
        bad.send_text(frame)
        got, reason = bad.closed()
        assert got == code and says in reason, (got, reason)
        good.run("echo after-$((2+1))", "after-3")
        assert requests.get(f"{browser.base}/healthz", timeout=10).status_code == 200
    finally:
        bad.close()
        good.close()


def test_a_flooding_shell_does_not_stall_the_worker_for_anyone_else(room):
    """`yes` in one seat's socket, whose client reads nothing meanwhile: pages still answer, another seat's shell
    still echoes; then ^C stops it and the flooded socket goes on."""
    (_, browser), (_, other) = seat(room, 0), seat(room, 1)
    flood, good = Term(browser), Term(other)
    try:
        flood.write("yes\r")
        time.sleep(1)  # the flood fills every buffer between the shell and this unread socket
        for attempt in range(3):
            assert requests.get(f"{browser.base}/healthz", timeout=10).status_code == 200
            assert browser.get("/seat").status_code == 200
            good.run(f"echo still-{attempt}-$((40+2))", f"still-{attempt}-42")
        flood.write("\x03")
        flood.run("echo flood-over-$((3*3))", "flood-over-9")
    finally:
        flood.close()
        good.close()


def test_a_dropped_socket_reattaches_to_the_same_shell(room):
    """A socket dropped and opened again gets the same shell (a variable set before is still there) and the recent
    output first."""
    _, browser = seat(room, 2)
    first = Term(browser)
    first.run("export MARK=kept-$((7*6)); echo $MARK", "kept-42")
    first.ws.sock.close()  # dropped, no close frame: as a laptop's network going away
    again = Term(browser)
    try:
        again.read_until("kept-42")  # the scrollback
        again.run("echo mark=$MARK", "mark=kept-42")
    finally:
        again.close()


def test_a_shell_that_exits_tells_its_viewers_and_the_next_socket_starts_a_new_one(room):
    _, browser = seat(room, 1)
    first, watching = Term(browser, "/seat/terminal?shell=2"), Term(browser, "/seat/terminal?shell=2")
    old = int(re.findall(r"pid=(\d+)", first.run("echo pid=$$", r"pid=\d+"))[-1])
    first.write("exit 3\r")
    for term in (first, watching):
        assert term.closed() == (1000, "The shell exited."), term.texts
        assert any("exited (code 3)" in text.get("exit", "") for text in term.texts), term.texts
    again = Term(browser, "/seat/terminal?shell=2")
    try:
        new = int(re.findall(r"pid=(\d+)", again.run("echo pid=$$", r"pid=\d+"))[-1])
        assert new != old
    finally:
        again.close()


def test_shells_per_seat_and_sockets_per_shell_are_capped(room):
    _, browser = seat(room, 2)
    term = Term(browser, "/seat/terminal?shell=3")
    code, reason = term.closed()
    assert code == 1008 and "at most 2 shells" in reason, reason
    second = Term(browser, "/seat/terminal?shell=2")
    try:
        second.run("echo second-$((2*2))", "second-4")
        more = [Term(browser, "/seat/terminal?shell=2") for _ in range(3)]
        refused = Term(browser, "/seat/terminal?shell=2")
        code, reason = refused.closed()
        assert code == 1008 and "windows open already" in reason, reason
        for term in more:
            term.close()
    finally:
        second.close()


def refused(browser, path, origin=None):
    """The status of a refused handshake (the socket never opens)."""
    with pytest.raises(websocket.WebSocketBadStatusException) as refusal:
        Term(browser, path, origin)
    return refusal.value.status_code


def test_strangers_other_seats_the_screen_and_other_origins_are_refused(room, server):
    teacher = room[0]
    (name, browser), (other_name, _) = seat(room, 0), seat(room, 1)
    screen = Browser(server["base"])
    screen.get("/")  # the signed-out projector: a session cookie with nothing in it
    assert refused(screen, "/seat/terminal") == 403
    assert refused(Browser(server["base"]), "/seat/terminal") == 403
    assert refused(screen, f"/room/seats/{name}/terminal") == 403
    assert refused(browser, f"/room/seats/{other_name}/terminal") == 403  # a seat watching another
    assert refused(browser, f"/room/seats/{name}/terminal") == 403  # or itself as the instructor does
    assert refused(teacher, "/seat/terminal") == 403  # the instructor holds no seat
    # A student's container on port 8000 is same-site: its page's socket carries the seat's cookie.
    assert refused(browser, "/seat/terminal", origin="http://127.0.0.1:8000") == 403
    assert refused(teacher, f"/room/seats/{name}/terminal", origin="http://127.0.0.1:8000") == 403
    assert refused(browser, "/seat/terminal?shell=x") == 400
    assert refused(browser, "/seat/terminal?shell=%C2%B2") == 400  # "²": a digit to str.isdigit, not to int


def test_the_instructor_watches_and_takes_over_and_the_student_is_told(room):
    teacher = room[0]
    name, browser = seat(room, 1)
    mine = Term(browser)
    watching = Term(teacher, f"/room/seats/{name}/terminal")
    try:
        mine.run("echo watched-$((5*5))", "watched-25")
        watching.read_until("watched-25")
        watching.write("echo ignored-$((1+1))\r")  # read-only: nothing reaches the shell
        mine.run("echo typed-$((3+3))", "typed-6")
        assert "ignored-2" not in mine.seen.decode()
        told = len(mine.texts)
        watching.send_text(json.dumps({"control": "instructor"}))
        wait_for_text(mine, {"control": "instructor"}, told)
        mine.write("echo blocked-$((4+4))\r")
        watching.run("echo teacher-$((6+6))", "teacher-12")
        mine.read_until("teacher-12")
        told = len(mine.texts)
        watching.send_text(json.dumps({"control": "student"}))
        wait_for_text(mine, {"control": "student"}, told)
        mine.run("echo back-$((9+9))", "back-18")
        assert "blocked-8" not in mine.seen.decode()
    finally:
        mine.close()
        watching.close()


def wait_for_text(term, message, after):
    """Read on until the server sends the text frame `message` (after the first `after` text frames)."""
    deadline = time.monotonic() + WAIT
    while message not in term.texts[after:]:
        assert time.monotonic() < deadline, term.texts
        assert term.frame() is None


def test_a_revoked_link_closes_the_seats_socket(room):
    teacher = room[0]
    name, browser = seat(room, 2)
    term = Term(browser)
    term.run("echo live-$((8+8))", "live-16")
    assert teacher.act("POST", f"/room/seats/{name}/revoke").status_code == 200
    code, reason = term.closed()
    assert code == 1008 and "link no longer works" in reason, reason
    assert refused(browser, "/seat/terminal") == 403


def test_a_seat_moved_to_another_browser_closes_the_first_ones_socket(room, server):
    """The seat's link opened in another browser and the seat moved there: the first browser's socket closes
    saying so, and the new browser's socket gets the same shell."""
    name, browser = seat(room, 0)
    term = Term(browser)
    term.run("export WHERE=first-$((1+1))", r"\$ $")
    link = room[2][name]
    other = Browser(server["base"])
    question = other.get(link)
    assert other.post(link, data={"csrf_token": form_csrf(question.text)}).status_code == 200
    code, reason = term.closed()
    assert code == 1008 and "moved to another browser" in reason, reason
    moved = Term(other)
    try:
        moved.run("echo where=$WHERE", "where=first-2")
    finally:
        moved.close()
    room[1][name] = other


def test_the_instructor_watches_over_https_too(room, server):
    """The instructor's HTTPS listener (DASHBOARD_HTTPS_BIND, the way in from another machine) serves the watch
    socket as the plain one does."""
    name, browser = seat(room, 1)
    teacher = instructor(server["https"], certificate=server["certificate"])
    mine, watching = Term(browser), Term(teacher, f"/room/seats/{name}/terminal")
    try:
        mine.run("echo over-tls-$((6*7))", "over-tls-42")
        watching.read_until("over-tls-42")
    finally:
        mine.close()
        watching.close()


def test_the_instructors_sign_out_closes_the_watch(room):
    """Signing out (which signs the instructor out everywhere) closes every watching socket."""
    teacher = room[0]
    name, _ = seat(room, 1)
    watching = Term(teacher, f"/room/seats/{name}/terminal")
    try:
        assert teacher.act("POST", "/signout").status_code in (200, 302, 303)
        code, reason = watching.closed()
        assert code == 1008 and "Signed out" in reason, reason
    finally:
        watching.close()
        instructor(teacher.base, browser=teacher)


def test_the_class_end_closes_the_sockets_and_ends_the_shells(room):
    teacher = room[0]
    _, browser = seat(room, 0)
    term = Term(browser)
    pid = int(re.findall(r"pid=(\d+)", term.run("echo pid=$$", r"pid=\d+"))[-1])
    assert teacher.act("DELETE", "/room").status_code == 200
    code, reason = term.closed()
    assert code == 1008 and "class ended" in reason, reason
    deadline = time.monotonic() + WAIT
    while running(pid):
        assert time.monotonic() < deadline, f"the shell {pid} is still there"
        time.sleep(0.1)


def running(pid):
    """Whether the process is there and no zombie (one ending between two reads of /proc is gone)."""
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_stopping_the_dashboard_closes_the_terminals_at_once(room, server):
    """gunicorn told to stop (a restart): open terminals close saying so, with 1001 (the page reconnects), and the
    worker's graceful wait does not run out waiting for them. Last: it stops the module's server."""
    teacher = room[0]
    links = open_room(teacher, count=1, first_port=FIRST_PORT + 5)
    term = Term(student(server["base"], next(iter(links.values()))))
    term.run("echo up-$((1+2))", "up-3")
    server["process"].send_signal(signal.SIGTERM)
    assert term.closed() == (1001, "The dashboard is restarting.")
    server["process"].wait(timeout=60)
    assert "graceful timeout" not in server["log"].read_text()
