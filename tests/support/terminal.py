"""The app as gunicorn serves it, with each seat's shell a plain local bash (tests/test_terminal.py): a real pty
and process, in a folder per seat under $TERMINAL_TEST_HOME, where the seat host's confined shell would run.

Serve it as `gunicorn -c python:dashboard.gunicorn_conf 'tests.support.terminal:app_with_local_shell()'`.
"""

import json
import os
import re
import time
from pathlib import Path

import requests
import websocket

from dashboard import create_app
from tests.support import csrf_of

WAIT = 20  # seconds: only so that a broken test ends


def local_shell(home):
    """A spawner for Terminals: bash without profiles in home/SEAT, its environment bare (and SEAT_CWD, the
    folder the seat's own shell would start in, to check)."""

    def spawn(seat, cwd):
        folder = Path(home) / seat
        folder.mkdir(parents=True, exist_ok=True)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "TERM": "xterm-256color", "PS1": "$ ",
               "SEAT_CWD": cwd}
        return ["/bin/bash", "--noprofile", "--norc"], env, lambda: os.chdir(folder)

    return spawn


def app_with_local_shell():
    """The app served for the terminal's own tests: its seats have no engines (PaperSeats: a room opens at once)
    and each seat's shell is a plain local bash."""
    import dashboard
    from tests.support.room import PaperSeats

    dashboard.open_seat_host = lambda settings: PaperSeats(settings["SEATS_DIR"])
    app = create_app()
    app.extensions["terminal_spawn"] = local_shell(os.environ["TERMINAL_TEST_HOME"])
    return app


# A browser on this machine and a terminal socket, as tests drive a served app (test_terminal, the seat tests).

class Browser(requests.Session):
    """A browser on this machine: its cookies, and the page's CSRF token once it read one."""

    def __init__(self, base, certificate=None):
        super().__init__()
        self.trust_env, self.base, self.csrf = False, base, None
        self.verify = certificate or True

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", 30)
        return super().request(method, self.base + url, **kwargs)

    def act(self, method, url, **data):
        return self.request(method, url, data=data, headers={"X-CSRF-Token": self.csrf, "HX-Request": "true"})

    @property
    def cookie(self):
        return "; ".join(f"{c.name}={c.value}" for c in self.cookies)


def instructor(base, token, browser=None, certificate=None):
    """A browser signed in as the instructor (`browser` signed in again, if given)."""
    browser = browser or Browser(base, certificate)
    form = browser.get("/signin")
    answer = browser.post("/signin", data={"token": token, "csrf_token": csrf_of(form.text)})
    assert answer.status_code in (200, 302, 303), answer.text
    browser.csrf = csrf_of(browser.get("/room").text)
    return browser


def student(base, link):
    browser = Browser(base)
    answer = browser.get(link)
    assert answer.status_code == 200 and browser.cookie, answer.text
    browser.csrf = csrf_of(answer.text)
    return browser


class Term:
    """A terminal socket: `write` types, `read_until` reads the screen's bytes up to a text, `closed` waits for
    the server's close frame."""

    def __init__(self, browser, path="/seat/terminal", origin=None):
        url = re.sub(r"^http", "ws", browser.base) + path
        tls = {"ca_certs": browser.verify} if isinstance(browser.verify, str) else {}
        self.ws = websocket.create_connection(url, cookie=browser.cookie, origin=origin or browser.base,
                                              timeout=WAIT, sslopt=tls)
        self.seen, self.texts = b"", []

    def write(self, text):
        self.ws.send_binary(text.encode())

    def send_text(self, text):
        self.ws.send(text)

    def frame(self):
        """Read one frame: output is kept in `seen`, text frames in `texts`; a close frame's (code, reason)."""
        self.ws.settimeout(1)
        try:
            opcode, data = self.ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            return None
        if opcode == websocket.ABNF.OPCODE_BINARY:
            self.seen += data
        elif opcode == websocket.ABNF.OPCODE_TEXT:
            self.texts.append(json.loads(data))
        elif opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big"), data[2:].decode()
        return None

    def read_until(self, pattern, timeout=WAIT):
        """The output so far once it matches the regex `pattern` (bytes seen are kept: each call searches all)."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.seen.decode(errors="replace")):
            assert time.monotonic() < deadline, f"no {pattern!r} in {self.seen[-2000:]!r} ({self.texts})"
            closed = self.frame()
            assert closed is None, f"closed {closed} before {pattern!r}: {self.seen[-2000:]!r}"
        return self.seen.decode(errors="replace")

    def run(self, command, answer):
        """Type `command` and its Enter; the output once `answer` (a regex) shows."""
        self.write(command + "\r")
        return self.read_until(answer)

    def closed(self, timeout=WAIT):
        """(code, reason) of the server's close frame, reading past any output first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            closed = self.frame()
            if closed is not None:
                return closed
        raise AssertionError("the socket stayed open")

    def close(self):
        try:
            self.ws.close(timeout=2)
        except (OSError, websocket.WebSocketException):  # the server closed it first
            pass
