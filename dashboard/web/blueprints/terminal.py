"""A seat's terminal over a WebSocket (flask-sock): `GET /seat/terminal` is the signed-in seat's own shell, and
`GET /room/seats/<name>/terminal` the instructor's view of it (read-only until the instructor takes over).

Binary frames carry the pty's bytes both ways; a text frame `{"resize": [cols, rows]}` resizes it, the server
sends `{"control": "student" | "instructor"}` (who types) and `{"exit": message}`, and the instructor's socket
sends `{"control": ...}` to take over or give back. Anyone else is refused before the upgrade (403), as is an
Origin other than the page's own (a student's container on another port is same-site, so cookies alone would
pass). A socket closes with a reason when its session stops being good, as the live stream does: a revoked or
moved seat link, the class's end (which also ends the seat's shells), a sign-out, the session's expiry.
"""

import json
import secrets
import socket
import threading
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, render_template, request, session, url_for
from flask_sock import Sock
from simple_websocket import ConnectionClosed
from werkzeug.exceptions import ServiceUnavailable

from ...domain.terminals import DETACHED, INSTRUCTOR, STUDENT, TOO_SLOW, BadFrame, Terminals, TerminalRefused
from ...seat_host.layout import FOLDER
from .. import forms
from ..extensions import get_roster
from ..security import (
    CONTENT_SECURITY_POLICY,
    SEAT_BLUEPRINT,
    SEAT_MOVED,
    Forbidden,
    current_seat,
    is_instructor,
    seat_lost,
    session_ends,
)
from ..seat_views import seat_current_lesson

bp = Blueprint("terminal", __name__)
sock = Sock()

GUARD_SECONDS = 2  # how often an open socket looks at its session again (and at once on any live nudge)
# Close codes: the browser reconnects after none of these but SLOW (it gets the scrollback again).
POLICY, UNSUPPORTED, GOING_AWAY, SLOW, NORMAL, TRY_AGAIN = 1008, 1003, 1001, 1013, 1000, 1011
SEND_SECONDS = 30  # a send that waits this long for the one before it: the client is gone
SERVER_OPTIONS = {"ping_interval": 25, "max_message_size": 64 * 1024}
NO_SHELLS = "This dashboard gives no terminals here: seats have no engines of their own on this host."
CLASS_ENDED = "The class ended."
STOPPING = "The dashboard is restarting."
WRONG_ORIGIN = "A terminal opens from the dashboard's own pages only (the request's Origin is another site's)."


@bp.record_once
def setup(state):
    """The app's Terminals; the shell comes from app.extensions["terminal_spawn"] (tests: a local bash) or the
    seat host's confined shell (app.extensions["seat_host"].shell)."""
    app = state.app
    app.config.setdefault("SOCK_SERVER_OPTIONS", SERVER_OPTIONS)
    app.extensions["terminals"] = Terminals(lambda seat, cwd: spawner(app)(seat, cwd),
                                            app.config["TERMINAL_SHELLS"])


def spawner(app):
    """The callable that makes a seat's shell's (argv, env, preexec_fn), or None where there is none."""
    spawn = app.extensions.get("terminal_spawn")
    host = app.extensions.get("seat_host")
    return spawn or (host.shell if host is not None else None)


def get_terminals():
    return current_app.extensions["terminals"]


@bp.before_request
def refuse_before_upgrade():
    """Every terminal socket: from the page's own origin, with a terminal to give; who may open it is each
    route's (below), all before the upgrade, so a refusal is a plain 4xx/503 with its message."""
    if request.endpoint == "terminal.watch":
        return
    if request.headers.get("Origin") != request.host_url.rstrip("/"):
        raise Forbidden(WRONG_ORIGIN)
    if spawner(current_app) is None:
        raise ServiceUnavailable(NO_SHELLS)
    g.shell_number = shell_number(request.args.get("shell", "1"))
    if request.endpoint == "terminal.seat_socket":
        seat = current_seat()
        if seat is None:
            raise Forbidden(seat_lost() if session.get("holder") == SEAT_BLUEPRINT else
                            "A terminal is a signed-in seat's own: open your seat's link first.")
        g.seat = seat
    else:
        if not is_instructor():
            raise Forbidden("Only the instructor can watch a seat's terminal: sign in first.")
        g.seat = get_roster().require_seat(request.view_args["name"])


def shell_number(text):
    """`?shell=N`: a whole number (Terminals.attach checks it against the seat's cap)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 3:  # "²" is a digit to isdigit, not to int
        raise forms.InvalidInput("shell: a whole number, 1 for the seat's first shell.")
    return int(text)


def lesson_folder(seat):
    """Where the seat's shell starts: the current lesson's folder in the seat's view (the seat's folder when the
    lesson has none)."""
    lesson, _ = seat_current_lesson(seat)
    return FOLDER + ("/" + lesson.folder if lesson.folder else "")


@sock.route("/seat/terminal", bp=bp, endpoint="seat_socket")
def seat_socket(ws):
    """The signed-in seat's own shell `?shell=N` (1 by default)."""
    seat = g.seat

    def still_good():
        mine = current_seat()
        if mine is None or mine.name != seat.name:
            room = get_roster().room
            if room is None or room.over:
                return CLASS_ENDED
            return "Your seat moved to another browser." if seat_lost() == SEAT_MOVED else \
                "This seat's link no longer works."
        return expired()

    serve(ws, lambda: get_terminals().attach(seat.name, g.shell_number, lesson_folder(seat), STUDENT), still_good)


@sock.route("/room/seats/<name>/terminal", bp=bp, endpoint="watch_socket")
def watch_socket(ws, name):
    """The instructor's view of a seat's shell: read-only until a `{"control": "instructor"}` frame."""
    seat = g.seat

    def still_good():
        if not is_instructor():
            return "Signed out."
        room = get_roster().room
        if room is None or room.over or room.seat(seat.name) is None:
            return CLASS_ENDED
        return expired()

    serve(ws, lambda: get_terminals().attach(seat.name, g.shell_number, lesson_folder(seat), INSTRUCTOR),
          still_good)


@bp.get("/room/seats/<name>/terminal/watch")
def watch(name):
    """The instructor's page watching a seat's shell, with Take over / Give back."""
    if not is_instructor():
        raise Forbidden("Only the instructor can watch a seat's terminal: sign in first.")
    return render_template("terminal_watch.html", seat=get_roster().require_seat(name), no_terminal=NO_SHELLS)


def expired():
    ends = session_ends()
    return "Your session expired: sign in again." if ends is not None and time.time() >= ends else None


class WholeSends:
    """simple_websocket writes each frame with one socket.send, which writes part of it when the client reads
    slowly (a flooding shell): send frames whole, one at a time; a send stuck for SEND_SECONDS drops the client."""

    def __init__(self, sock):
        self._sock, self._lock = sock, threading.Lock()

    def send(self, data):
        if not self._lock.acquire(timeout=SEND_SECONDS):
            self._sock.shutdown(socket.SHUT_RDWR)
            raise BrokenPipeError("the client reads nothing")
        try:
            self._sock.sendall(data)  # a client that reads nothing: the next send's (the pings') wait ends it
            return len(data)
        finally:
            self._lock.release()

    def __getattr__(self, name):
        return getattr(self._sock, name)


def serve(ws, attach, still_good):
    """Attach to the shell and pump both ways until either side ends or `still_good()` gives a reason to close."""
    ws.sock = WholeSends(ws.sock)
    try:
        viewer = attach()
    except TerminalRefused as refused:
        ws.close(POLICY, str(refused))
        return
    except Exception as error:  # the seat host's shell could not start: said, and logged
        current_app.logger.exception("a terminal's shell did not start")
        ws.close(TRY_AGAIN, f"The shell did not start: {error}"[:120])
        return
    retain_open_seats()
    watch_the_room(current_app._get_current_object())
    done = threading.Event()

    def close(code, message):
        if not done.is_set():
            done.set()
            try:
                ws.close(code, message.encode()[:120].decode(errors="ignore"))  # a close frame's 123 bytes
            except Exception:  # already closed by the other side
                pass

    def outward():
        try:
            while not done.is_set():
                item = viewer.next(timeout=GUARD_SECONDS)
                if item is None:
                    continue
                kind, value = item
                if kind == "output":
                    ws.send(value)
                elif kind == "control":
                    ws.send(json.dumps({"control": value}))
                elif kind == "exit":
                    ws.send(json.dumps({"exit": value}))
                    close(NORMAL, "The shell exited.")
                else:
                    close({TOO_SLOW: SLOW, DETACHED: GOING_AWAY, STOPPING: GOING_AWAY}.get(value, POLICY), value)
        except (ConnectionClosed, OSError):
            pass
        finally:
            done.set()
            viewer.detach()  # at once: the seat's window cap counts open sockets only

    def inward():
        try:
            while not done.is_set():
                message = ws.receive(timeout=GUARD_SECONDS)
                if message is None:
                    continue
                if isinstance(message, bytes):
                    viewer.type(message)
                    continue
                try:
                    act(viewer, message)
                except BadFrame as bad:
                    close(UNSUPPORTED if isinstance(bad, NotJSON) else POLICY, str(bad))
        except (ConnectionClosed, OSError):
            pass
        finally:
            done.set()
            viewer.detach()  # at once: the seat's window cap counts open sockets only

    workers = [threading.Thread(target=outward, daemon=True), threading.Thread(target=inward, daemon=True)]
    for worker in workers:
        worker.start()
    hub = current_app.extensions["live"]
    cursor = hub.number
    try:
        while not done.is_set():
            nudges = hub.wait(cursor, GUARD_SECONDS)
            if nudges:
                cursor = nudges[-1].number
            reason = still_good()
            if reason:
                if reason == CLASS_ENDED:
                    retain_open_seats()
                close(POLICY, reason)
    finally:
        done.set()
        viewer.detach()
        for worker in workers:
            worker.join(timeout=GUARD_SECONDS + 1)


class NotJSON(BadFrame):
    """A text frame that is not JSON at all (closed 1003, unsupported data)."""


def act(viewer, text):
    """A text frame: a resize from whoever types, or (the instructor's) take over / give back; BadFrame else."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: thousands of nested brackets
        raise NotJSON("not JSON: a text frame is {\"resize\": [cols, rows]}") from None
    if not isinstance(message, dict) or len(message) != 1:
        raise BadFrame("a text frame is one of {\"resize\": [cols, rows]} or {\"control\": who}")
    (key, value), = message.items()
    if key == "resize":
        if not isinstance(value, list) or len(value) != 2:
            raise BadFrame("resize: [cols, rows]")
        viewer.resize(*value)
    elif key == "control" and viewer.role == INSTRUCTOR and value in (INSTRUCTOR, STUDENT):
        (viewer.shell.take_over if value == INSTRUCTOR else viewer.shell.give_back)()
    else:
        raise BadFrame(f"{key[:20]!r}: a text frame is {{\"resize\": [cols, rows]}}")


def retain_open_seats():
    """End the shells of seats that are not in the open room (its class ended, or another room opened)."""
    room = get_roster().room
    get_terminals().retain(() if room is None or room.over else list(room.seats))


def watch_the_room(app):
    """Once per app: a background loop that ends the shells of seats no longer in the open room (the class ended
    by its clock, or by the instructor) as the live hub nudges, whether or not any socket is open."""
    if app.extensions.get("terminal_watcher"):
        return
    app.extensions["terminal_watcher"] = True
    hub, roster, terminals = app.extensions["live"], app.extensions["roster"], app.extensions["terminals"]

    def loop():
        cursor = hub.number
        while True:
            nudges = hub.wait(cursor, 30)
            if nudges:
                cursor = nudges[-1].number
            room = roster.room
            terminals.retain(() if room is None or room.over else list(room.seats))

    threading.Thread(target=loop, name="terminal-watcher", daemon=True).start()


def close_on_stop(worker):
    """gunicorn's post_worker_init: once the worker is told to stop, end the shells and close their sockets
    (the pages reconnect), or its graceful wait would last as long as any terminal stays open."""
    def loop():
        while worker.alive:
            time.sleep(1)
        worker.wsgi.extensions["terminals"].close_all(STOPPING)

    threading.Thread(target=loop, name="terminal-stop", daemon=True).start()


@bp.app_context_processor
def style_nonce():
    """`terminal_here()` (whether this host gives seats shells), `terminal_socket(role, seat)` and
    `terminal_nonce()` for templates/terminal.html: xterm.js styles its screen with <style> elements, which the
    page's CSP then allows with this response's nonce (and style attributes, for its true colours) only."""
    def terminal_nonce():
        if "terminal_nonce" not in g:
            g.terminal_nonce = secrets.token_urlsafe(16)
        return g.terminal_nonce

    def terminal_socket(role, seat):
        """The socket's path (url_for gives a WebSocket rule's whole ws:// URL, on the host this app believes)."""
        url = url_for("terminal.watch_socket", name=seat.name) if role == INSTRUCTOR else url_for("terminal.seat_socket")
        return urlsplit(url).path

    return {"terminal_nonce": terminal_nonce, "terminal_socket": terminal_socket,
            "terminal_here": lambda: spawner(current_app) is not None}


@bp.after_app_request
def allow_terminal_styles(response):
    nonce = g.get("terminal_nonce")
    if nonce is not None:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "style-src 'self';", f"style-src 'self' 'nonce-{nonce}'; style-src-attr 'unsafe-inline';")
    return response
