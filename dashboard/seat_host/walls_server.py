"""The walls' server: ONE detached process serving the authorization plugin of every seat's engine, each on its
seat's socket (place.walls_socket, which the engine finds as /run/docker/plugins/cowserv-walls.sock in its view).

`python -m dashboard.seat_host.walls_server BASE` reads the seats under BASE (layout.seats_in) at start, on SIGHUP
and every 2 s; serves each seat present, drops each seat gone (its socket removed). Every call the engine asks
about is answered by walls.refusal() with the seat's rules; a request it cannot read is refused, never a crash.
The disk use of each seat (its data root and folder) is measured in the background and read from a cache, so one
seat's big folder never holds up another seat's answers.
"""

import json
import logging
import os
import signal
import socket
import socketserver
import stat
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from dashboard.seat_host import daemons, layout, walls

MODULE = "dashboard.seat_host.walls_server"
RESCAN = 2.0  # seconds between two readings of the seats
MEASURE_PAUSE = 3.0  # seconds between two rounds of disk measuring
MAX_REQUEST = 8 * 2**20  # an AuthZReq carries at most a 1 MB body, in base64
log = logging.getLogger("walls")


class WallsError(Exception):
    """The walls' server did not come up for every seat (its log says why)."""


def pidfile(base):
    return Path(base) / "walls.pid"


def logfile(base):
    return Path(base) / "walls.log"


def ensure_running(base, timeout=20.0):
    """Start the walls' server for BASE unless it runs, make it read the seats again, and return once every seat in
    seats_in(BASE) has its socket, listening."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    pid = daemons.spawn_module(MODULE, base, pidfile(base), logfile(base))
    if _catches_hangup(pid):  # one still starting reads the seats once it can; a SIGHUP before that would kill it
        daemons.nudge(pidfile(base), daemons.module_marker(MODULE, base))
    deadline = time.monotonic() + timeout
    while True:
        waiting = [name for name, state in layout.seats_in(base).items()
                   if not _listening(state.place(base).walls_socket)]
        if not waiting:
            return
        if daemons.exited(pid):  # (not pid_of: just spawned, it may not have exec'd python yet)
            raise WallsError(f"the walls' server stopped: {_tail(logfile(base))}")
        if time.monotonic() > deadline:
            raise WallsError(f"the walls' server has no socket for {', '.join(waiting)} after {timeout:.0f} s; "
                             f"see {logfile(base)}")
        time.sleep(0.05)


def stop(base):
    """Stop the walls' server for BASE (it removes its sockets as it goes)."""
    daemons.stop(pidfile(base), daemons.module_marker(MODULE, base))


def _catches_hangup(pid):
    """Whether the process has its SIGHUP handler in place (the SigCgt mask in /proc/PID/status)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGHUP - 1)))
    except (OSError, ValueError):
        pass
    return False


def _tail(path, size=2000):
    try:
        return Path(path).read_text(errors="replace")[-size:]
    except OSError:
        return f"(no log at {path})"


def _listening(path):
    """Whether a server listens on the unix socket `path` (a socket file left by a killed server does not)."""
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(path))
            return True
        except OSError:
            return False


# Disk use --------------------------------------------------------------------------------------------------------

def disk_use(paths):
    """Bytes on disk under `paths`, each file once (hard links counted once), never crossing into another
    filesystem (a running container's merged overlay, say) and never following a symlink."""
    seen, total = set(), 0
    for top in paths:
        try:
            device = os.lstat(top).st_dev
        except OSError:
            continue
        stack = [str(top)]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if info.st_dev != device or (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
                if stat.S_ISDIR(info.st_mode):
                    stack.append(entry.path)
    return total


# Serving ---------------------------------------------------------------------------------------------------------

class Seat:
    """One seat served: its place, its state (the disk budget) and its last measured disk use."""

    def __init__(self, base, state):
        self.state = state
        self.place = state.place(base)
        self.used = 0
        self.server = None
        self.socket_id = None  # (st_dev, st_ino) of the socket this process bound, to remove only its own

    def rules(self):
        return walls.Rules(files=self.place.files, used=self.used, budget=self.state.disk)

    def start(self):
        path = self.place.walls_socket
        place_run = self.place.run
        if not place_run.is_dir():  # a seat being closed: its folders go before its seat.json, never made again
            raise FileNotFoundError(f"{place_run} is gone")
        for folder in (path.parent.parent, path.parent):  # run/docker (the engine's exec root) and its plugins
            folder.mkdir(exist_ok=True)
            os.chown(folder, 0, 0)
            os.chmod(folder, 0o700)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.unlink(missing_ok=True)
        server = _Server(str(temporary), _Handler)
        server.seat = self
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)  # appears only once it listens
        info = os.lstat(path)
        self.server, self.socket_id = server, (info.st_dev, info.st_ino)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                         name=f"walls-{self.state.name}").start()
        log.info("serving %s on %s", self.state.name, path)

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        try:
            info = os.lstat(self.place.walls_socket)
            if (info.st_dev, info.st_ino) == self.socket_id:
                self.place.walls_socket.unlink()
        except OSError:
            pass
        log.info("dropped %s", self.state.name)

    def socket_lost(self):
        try:
            info = os.lstat(self.place.walls_socket)
        except OSError:
            return True
        return (info.st_dev, info.st_ino) != self.socket_id


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False


class _Handler(BaseHTTPRequestHandler):
    """The plugin protocol: Plugin.Activate, AuthZPlugin.AuthZReq, AuthZPlugin.AuthZRes (JSON in, JSON out)."""

    protocol_version = "HTTP/1.1"
    timeout = 600  # an idle kept-alive connection of the engine's ends after this

    def do_POST(self):
        try:
            answer = self._answer()
        except Exception as error:  # never a crash: whatever went wrong refuses the call
            log.exception("answering %s", self.path)
            self.close_connection = True  # the body may be unread: this connection cannot carry another request
            answer = {"Allow": False, "Msg": f"the walls could not check this request ({type(error).__name__})"}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.docker.plugins.v1.2+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if self.path == "/AuthZPlugin.AuthZRes":  # responses all pass: their bodies (any size) are read and dropped
            while length > 0:
                chunk = self.rfile.read(min(length, 2**16))
                if not chunk:
                    raise EOFError("the engine's request ended early")
                length -= len(chunk)
            return {"Allow": True}
        if length > MAX_REQUEST:
            self.close_connection = True
            return {"Allow": False, "Msg": "this request is too large to check, so it is refused on a seat"}
        body = self.rfile.read(length)
        if self.path == "/Plugin.Activate":
            return {"Implements": ["authz"]}
        if self.path != "/AuthZPlugin.AuthZReq":
            return {"Allow": False, "Msg": f"unknown plugin call {self.path[:60]}", "Err": "unknown plugin call"}
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        seat = self.server.seat
        why = walls.refusal(seat.rules(), request)
        if why is not None:
            call = request if isinstance(request, dict) else {}
            log.info("%s refused %.10s %.200s: %s", seat.state.name, call.get("RequestMethod"), call.get("RequestUri"),
                     why)
            return {"Allow": False, "Msg": why}
        return {"Allow": True}

    def log_message(self, format, *args):
        pass


class Walls:
    """Every seat served by this process, kept in step with the seats under `base`."""

    def __init__(self, base):
        self.base = Path(base)
        self.seats = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = False

    def sync(self):
        found = layout.seats_in(self.base)
        with self.lock:
            for name, seat in list(self.seats.items()):
                state = found.get(name)
                if state is None or state.place(self.base) != seat.place or seat.socket_lost():
                    del self.seats[name]
                    seat.stop()
                elif state != seat.state:
                    seat.state = state  # a new budget: the rules read it on the next call
            for name, state in found.items():
                if name not in self.seats:
                    seat = Seat(self.base, state)
                    try:
                        seat.start()
                    except OSError as error:
                        log.error("cannot serve %s: %s", name, error)
                        continue
                    self.seats[name] = seat

    def measure(self):
        """Measure each seat's disk use, one seat at a time, for as long as the process runs."""
        while not self.stopping:
            with self.lock:
                seats = list(self.seats.values())
            for seat in seats:
                seat.used = disk_use([seat.place.data, seat.place.files])
            time.sleep(MEASURE_PAUSE)

    def close(self):
        with self.lock:
            for seat in self.seats.values():
                seat.stop()
            self.seats.clear()


def main(argv):
    if len(argv) != 2:
        print(f"usage: python -m {MODULE} BASE", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    walls_ = Walls(argv[1])

    def wake(number, frame):
        walls_.wake.set()

    def finish(number, frame):
        walls_.stopping = True
        walls_.wake.set()

    signal.signal(signal.SIGHUP, wake)
    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    log.info("walls for %s (pid %d)", walls_.base, os.getpid())
    threading.Thread(target=walls_.measure, daemon=True, name="measure").start()
    while not walls_.stopping:
        try:
            walls_.sync()
        except Exception:
            log.exception("reading the seats")
        walls_.wake.wait(RESCAN)
        walls_.wake.clear()
    walls_.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
