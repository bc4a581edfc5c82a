"""Each seat's shells on ptys, and who watches them: a shell outlives its sockets (a dropped socket re-attaches and
gets the recent output first), a seat has at most `shells_per_seat`, a shell at most `viewers_per_shell` viewers.

Made for gunicorn's one gevent worker: the pty master is non-blocking and read after gevent's wait_read, a chunk at
a time, yielding after each; while any viewer's queue is full, reading pauses, so a flooding shell (`yes`) blocks on
its own pty instead of starving the worker; a viewer full for SLOW_VIEWER_SECONDS is dropped (it re-attaches).
Only the one in control types: the student, or the instructor while taking over (viewers hear who, as "control").
"""

import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import termios
import threading
import time
from collections import deque

from gevent.socket import wait_read, wait_write

STUDENT, INSTRUCTOR = "student", "instructor"
DETACHED, TOO_SLOW = "detached", "too slow: reconnecting"  # why a viewer closed, besides a kill's reason
CHUNK = 16 * 1024  # bytes read from a pty at a time
SCROLLBACK = 64 * 1024  # the recent output a new viewer gets first
QUEUE = 32  # output chunks a viewer may lag behind before the shell waits for it
SLOW_VIEWER_SECONDS = 20  # a viewer that takes nothing for this long is dropped (its page reconnects)
MAX_COLS, MAX_ROWS = 500, 200
START_SIZE = (80, 24)
# What a shell gets when the spawner gives no environment: never the dashboard's own (its secrets).
BARE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "TERM": "xterm-256color", "LANG": "C.UTF-8"}


class TerminalRefused(Exception):
    """A socket the terminal cannot serve (a cap reached, a shell number out of range); the message says why."""


class BadFrame(TerminalRefused):
    """A frame that breaks the protocol (a size out of bounds, a text frame that is no known message)."""


def checked_size(cols, rows):
    """(cols, rows) when both are whole numbers within 1..MAX_COLS and 1..MAX_ROWS; else BadFrame."""
    for value, top, what in ((cols, MAX_COLS, "columns"), (rows, MAX_ROWS, "rows")):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise BadFrame(f"resize: {what} must be a whole number from 1 to {top}")
    return cols, rows


class Viewer:
    """One socket's view of a shell: a queue of ("output", bytes), ("control", who), ("exit", message) and finally
    ("closed", reason) items, in order. `role` is STUDENT or INSTRUCTOR."""

    def __init__(self, shell, role):
        self.shell, self.role = shell, role
        self._items, self._output = deque(), 0
        self.closed = None  # the reason, once closed

    def next(self, timeout=None):
        """The next item, waiting up to `timeout` seconds; None when none came."""
        cond = self.shell.cond
        with cond:
            if not cond.wait_for(lambda: self._items or self.closed, timeout):
                return None
            if not self._items:
                return ("closed", self.closed)
            item = self._items.popleft()
            if item[0] == "output":
                self._output -= 1
                cond.notify_all()  # the reader may be waiting for room
            return item

    def type(self, data):
        """Send keystrokes to the shell; ignored unless this viewer is in control. True when they went."""
        return self.shell.write(self, data)

    def resize(self, cols, rows):
        """Resize the pty (checked_size's bounds: BadFrame beyond them); only the one in control does."""
        cols, rows = checked_size(cols, rows)
        if self.shell.control == self.role:
            self.shell.resize(cols, rows)

    def detach(self):
        self.shell.detach(self)

    # Called with shell.cond held.
    def _push(self, item):
        self._items.append(item)
        if item[0] == "output":
            self._output += 1

    def _full(self):
        return self._output >= QUEUE

    def _close(self, reason):
        if self.closed is None:
            self.closed = reason


class Shell:
    """A process on a pty: its output goes to every viewer and the scrollback; its input comes from the one in
    control. `on_end(shell)` is told once it has exited."""

    def __init__(self, argv, env, preexec_fn, on_end=lambda shell: None):
        self.cond = threading.Condition()
        self._io = threading.Lock()  # writes, resizes and the final close of the pty: never on a reused fd number
        self.viewers, self.control, self.alive, self.ending = [], STUDENT, True, False
        self.scrollback = bytearray()
        self.exit_message = None
        self._on_end = on_end
        master, slave = os.openpty()
        try:
            _set_size(slave, *START_SIZE)

            def child():
                os.setsid()  # its own session, the pty its controlling terminal: job control and ^C work
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)
                if preexec_fn is not None:
                    preexec_fn()

            self.process = subprocess.Popen(argv, env=env if env is not None else BARE_ENV, stdin=slave,
                                            stdout=slave, stderr=slave, preexec_fn=child, close_fds=True)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self.fd = master
        threading.Thread(target=self._read, name=f"pty-{self.process.pid}", daemon=True).start()

    def attach(self, role):
        """A new viewer, given the scrollback and who is in control first."""
        with self.cond:
            viewer = Viewer(self, role)
            if self.scrollback:
                viewer._push(("output", bytes(self.scrollback)))
            viewer._push(("control", self.control))
            if not self.alive:
                viewer._push(("exit", self.exit_message))
            self.viewers.append(viewer)
            self.cond.notify_all()  # reading resumes when the first viewer comes
            return viewer

    def detach(self, viewer):
        with self.cond:
            if viewer in self.viewers:
                self.viewers.remove(viewer)
            viewer._close(DETACHED)
            if viewer.role == INSTRUCTOR and self.control == INSTRUCTOR and \
                    not any(v.role == INSTRUCTOR for v in self.viewers):
                self._set_control(STUDENT)  # the instructor left: the keyboard is the student's again
            self.cond.notify_all()

    def take_over(self):
        with self.cond:
            self._set_control(INSTRUCTOR)

    def give_back(self):
        with self.cond:
            self._set_control(STUDENT)

    def _set_control(self, who):
        if self.control != who:
            self.control = who
            for viewer in self.viewers:
                viewer._push(("control", who))
            self.cond.notify_all()

    def write(self, viewer, data):
        if viewer.role != self.control or viewer.closed:
            return False
        view = memoryview(data)
        with self._io:
            while view and self.fd >= 0:
                try:
                    view = view[os.write(self.fd, view):]
                except BlockingIOError:
                    try:
                        wait_write(self.fd, timeout=10)  # a shell that reads no input: the rest is dropped
                    except Exception:
                        return False
                except OSError:
                    return False
        return not view

    def resize(self, cols, rows):
        with self._io:
            if self.fd >= 0:
                try:
                    _set_size(self.fd, cols, rows)
                except OSError:
                    pass

    def kill(self, reason):
        """End the shell and its process group; its viewers are closed with `reason`."""
        with self.cond:
            self.ending = True  # read on to the end, viewers or none
            for viewer in self.viewers:
                viewer._close(reason)
            self.cond.notify_all()
        if self.alive:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _room(self):
        """Wait until every viewer has room for a chunk (backpressure); drop those full for too long. False when
        the shell is ending."""
        with self.cond:
            deadline = time.monotonic() + SLOW_VIEWER_SECONDS
            while self.alive:
                if self.ending:
                    return True
                full = [viewer for viewer in self.viewers if viewer._full()]
                if self.viewers and not full:
                    return True
                left = deadline - time.monotonic()
                if full and left <= 0:
                    for viewer in full:
                        self.viewers.remove(viewer)
                        viewer._close(TOO_SLOW)
                    self.cond.notify_all()
                    continue
                self.cond.wait(left if full else None)
            return False

    def _read(self):
        try:
            while self._room():
                try:
                    wait_read(self.fd, timeout=5)
                except TimeoutError:
                    continue
                try:
                    data = os.read(self.fd, CHUNK)
                except BlockingIOError:
                    continue
                except OSError:  # EIO: every process holding the pty's other end has gone
                    data = b""
                if not data:
                    break
                with self.cond:
                    self.scrollback += data
                    del self.scrollback[:-SCROLLBACK]
                    for viewer in self.viewers:
                        viewer._push(("output", data))
                    self.cond.notify_all()
                time.sleep(0)  # let the worker's other greenlets run between chunks
        finally:
            self._ended()

    def _ended(self):
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # the pty closed, yet the shell lives on: it ends now
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            code = self.process.wait()
        with self._io:
            os.close(self.fd)
            self.fd = -1
        with self.cond:
            self.alive = False
            self.exit_message = f"The shell exited (code {code}): the next connection starts a new one."
            for viewer in self.viewers:
                viewer._push(("exit", self.exit_message))
            self.cond.notify_all()
        self._on_end(self)


def _set_size(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Terminals:
    """Every seat's shells, by (seat, number 1..shells_per_seat). `spawn(seat, cwd) -> (argv, env, preexec_fn)`
    makes a seat's shell (the seat host's confined one; in tests a local bash)."""

    def __init__(self, spawn, shells_per_seat=2, viewers_per_shell=4):
        self.spawn, self.shells_per_seat, self.viewers_per_shell = spawn, shells_per_seat, viewers_per_shell
        self._shells, self._lock = {}, threading.Lock()

    def attach(self, seat, number, cwd, role=STUDENT):
        """A viewer of the seat's shell `number`, started in `cwd` when the seat has none (or it exited)."""
        if not 1 <= number <= self.shells_per_seat:
            raise TerminalRefused(f"shell {number}: a seat has at most {self.shells_per_seat} shells "
                                  f"(shell=1 to {self.shells_per_seat})")
        with self._lock:
            shell = self._shells.get((seat, number))
            if shell is None or not shell.alive:
                argv, env, preexec_fn = self.spawn(seat, cwd)
                shell = self._shells[(seat, number)] = Shell(argv, env, preexec_fn,
                                                             on_end=lambda ended: self._forget(seat, number, ended))
            if len(shell.viewers) >= self.viewers_per_shell:
                raise TerminalRefused(f"this shell has {self.viewers_per_shell} windows open already: "
                                      "close one first")
            return shell.attach(role)

    def shell(self, seat, number):
        """The seat's live shell `number`, or None."""
        shell = self._shells.get((seat, number))
        return shell if shell is not None and shell.alive else None

    def seats(self):
        return {seat for seat, _ in list(self._shells)}

    def kill_seat(self, seat, reason):
        """End every shell of the seat (its viewers closed with `reason`)."""
        for (name, _), shell in list(self._shells.items()):
            if name == seat:
                shell.kill(reason)

    def retain(self, seats, reason="The class ended."):
        """End the shells of every seat not in `seats` (the open room's)."""
        for seat in self.seats() - set(seats):
            self.kill_seat(seat, reason)

    def close_all(self, reason="The dashboard is stopping."):
        self.retain((), reason)

    def _forget(self, seat, number, ended):
        with self._lock:
            if self._shells.get((seat, number)) is ended:
                del self._shells[(seat, number)]
