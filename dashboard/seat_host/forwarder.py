"""One detached process forwarding every seat's block of host ports to the ports its engine publishes in its network
namespace (`python -m dashboard.seat_host.forwarder BASE`). It reads the seats' seat.json at start, on SIGHUP and
every 2 s, listens on `state.bind_host`:host port for each of a seat's (host port, seat port), and relays each TCP
connection to the seat's address: asyncio, bounded buffers, no thread per connection. A seat that is gone has its
listeners closed and its connections dropped. What listens and what could not is written to BASE/forwarder.json,
which `ensure_running` reads."""

import asyncio
import contextlib
import errno
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import daemons, layout

MODULE = "dashboard.seat_host.forwarder"
RELOAD_EVERY = 2.0
CHUNK = 64 * 1024  # bytes read at a time; each side's buffers stay within a few of these
CONNECT_TIMEOUT = 5.0
LINGER = 30.0  # seconds a finished connection may take to send what is still queued to a peer
MAX_CONNECTIONS = 100  # per host port: more are closed at once, so one seat cannot hold the process's descriptors


class ForwarderError(Exception):
    """The forwarder could not start, or could not listen on some seat's host ports; the message says which, why."""


def pidfile(base):
    return Path(base) / "forwarder.pid"


def logfile(base):
    return Path(base) / "forwarder.log"


def statusfile(base):
    return Path(base) / "forwarder.json"


def _marker(base):
    return f"{MODULE} {Path(base)}"


def ensure_running(base, timeout=20.0):
    """Start the forwarder unless it runs, have it read the seats again, and return once every seat in BASE has its
    ports listening; raise ForwarderError naming each port that could not be bound, and why."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    asked = time.time()
    pid = _spawn(base)
    status = _status(base)
    if status and status.get("pid") == pid:  # it has read the seats once, so its SIGHUP handler is in place
        daemons.nudge(pidfile(base), _marker(base))
    wanted = {(state.bind_host, host): state.name for state in layout.seats_in(base).values()
              for host, _seat in state.ports}
    deadline = time.monotonic() + timeout
    started_again = False
    while True:
        status = _status(base)
        if status and status.get("pid") == pid and status.get("read_at", 0) >= asked:
            failed = {key: status["failed"][key] for key in map(_key, wanted) if key in status["failed"]}
            if failed:
                raise ForwarderError("; ".join(failed.values()))
            if all(_key(key) in status["listening"] for key in wanted):
                return pid
        if _gone(pid):
            if started_again:
                raise ForwarderError(f"the port forwarder stopped; see {logfile(base)}")
            pid, started_again = _spawn(base), True  # it was dying as we found it (killed a moment before)
        if time.monotonic() > deadline:
            raise ForwarderError(f"the port forwarder did not listen within {timeout:.0f} s; see {logfile(base)}")
        time.sleep(0.05)


def _spawn(base):
    root = str(Path(__file__).resolve().parents[2])  # the `dashboard` package this process runs, for the child too
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    return daemons.spawn([sys.executable, "-m", MODULE, str(base)], pidfile(base), logfile(base), env=env,
                         marker=_marker(base))


def stop(base):
    """Stop the forwarder (every seat's ports close) and remove its status file."""
    daemons.stop(pidfile(base), _marker(base))
    statusfile(base).unlink(missing_ok=True)


def _gone(pid):
    """Whether the process has exited (its command line is not checked: just spawned, it may not have exec'd yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _status(base):
    try:
        return json.loads(statusfile(base).read_text())
    except (OSError, ValueError):
        return None


def _key(pair):
    host, port = pair
    return f"{host}:{port}"


# The process

class Forwarder:
    """Every seat's listeners and connections, kept in step with the seats' seat.json files."""

    def __init__(self, base):
        self.base = Path(base)
        self.listeners = {}  # (bind host, host port) -> (target, server); target = (seat, seat address, seat port)
        self.connections = {}  # (bind host, host port) -> {transport, ...} of both sides of its connections
        self.failed = {}

    async def reload(self):
        """Listen for every seat's ports, stop listening for any gone or changed, and write the status file."""
        read_at = time.time()
        wanted, clashes = {}, {}
        for state in layout.seats_in(self.base).values():
            address = state.place(self.base).seat_address
            for host_port, seat_port in state.ports:
                key = (state.bind_host, host_port)
                if key in wanted:
                    clashes[key] = f"{_key(key)} is claimed by seats {wanted[key][0]} and {state.name}"
                wanted[key] = (state.name, address, seat_port)
        for key in list(self.listeners):
            if key not in wanted or wanted[key] != self.listeners[key][0] or key in clashes:
                await self._close(key)
        self.failed = dict(clashes)
        for key, target in wanted.items():
            if key not in self.listeners and key not in clashes:
                await self._listen(key, target)
        self._write_status(read_at)

    async def _listen(self, key, target):
        host, port = key
        try:
            server = await asyncio.start_server(lambda reader, writer: self._relay(key, target, reader, writer),
                                                host, port, limit=CHUNK, reuse_address=True, backlog=128)
        except OSError as error:
            self.failed[key] = _bind_failure(key, target, error)
            return
        self.listeners[key] = (target, server)
        print(f"listening on {_key(key)} for seat {target[0]} port {target[2]}", flush=True)

    async def _close(self, key):
        target, server = self.listeners.pop(key)
        server.close()
        for transport in self.connections.pop(key, set()):
            transport.abort()
        await server.wait_closed()
        print(f"closed {_key(key)} (seat {target[0]} port {target[2]})", flush=True)

    async def close_all(self):
        for key in list(self.listeners):
            await self._close(key)

    async def _relay(self, key, target, reader, writer):
        """Relay one client connection to the seat's port, both ways, until both sides are done or one fails."""
        live = self.connections.setdefault(key, set())
        if self.listeners.get(key, (None,))[0] != target or len(live) >= 2 * MAX_CONNECTIONS:  # two sides each
            writer.transport.abort()
            return
        live.add(writer.transport)
        seat_writer = None
        try:
            seat_reader, seat_writer = await asyncio.wait_for(
                asyncio.open_connection(target[1], target[2], limit=CHUNK), CONNECT_TIMEOUT)
            live.add(seat_writer.transport)
            await asyncio.gather(_pipe(reader, seat_writer), _pipe(seat_reader, writer))
        except (OSError, asyncio.TimeoutError):
            pass  # the seat does not answer on that port: the client sees its connection closed
        finally:
            sides = [side for side in (writer, seat_writer) if side is not None]
            for side in sides:
                side.close()  # what is still queued (at most a high-water mark) is sent first
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(side.wait_closed() for side in sides),
                                                      return_exceptions=True), LINGER)
            for side in sides:
                side.transport.abort()  # a peer that reads nothing more is not waited for any longer
                live.discard(side.transport)

    def _write_status(self, read_at):
        status = {"pid": os.getpid(), "read_at": read_at,
                  "listening": {_key(key): [target[0], target[2]] for key, (target, _server) in self.listeners.items()},
                  "failed": {_key(key): message for key, message in self.failed.items()}}
        temporary = statusfile(self.base).with_suffix(".tmp")
        temporary.write_text(json.dumps(status))
        os.replace(temporary, statusfile(self.base))


async def _pipe(reader, writer):
    """Copy until end of stream, then half-close the other side; on a failure abort the other side, which ends the
    copy the other way too."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()  # waits while the other side is slow: at most the transport's high-water mark queued
        if writer.can_write_eof() and not writer.transport.is_closing():
            writer.write_eof()
    except (OSError, RuntimeError):
        writer.transport.abort()


def _bind_failure(key, target, error):
    seat, _address, seat_port = target
    where = f"host port {key[1]} on {key[0]} (seat {seat}'s port {seat_port})"
    if error.errno == errno.EADDRINUSE:
        return f"{where} is in use by another program{_holder(key[1])}"
    return f"{where} could not be bound: {error.strerror or error}"


def _holder(port):
    """`: NAME (pid N)` for the program listening on the TCP port, when `ss` can tell."""
    try:
        out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    start = out.find('users:(("')
    if start < 0:
        return ""
    name, _, rest = out[start + 9:].partition('"')
    pid = rest.split("pid=", 1)[1].split(",", 1)[0] if "pid=" in rest else "?"
    return f": {name} (pid {pid})"


async def main(base):
    forwarder = Forwarder(base)
    loop = asyncio.get_running_loop()
    wake, stopping = asyncio.Event(), asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, wake.set)
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopping.set)
    print(f"forwarder {os.getpid()} for {base}", flush=True)
    while not stopping.is_set():
        if not Path(base).is_dir():
            print(f"{base} is gone; stopping", flush=True)
            break
        wake.clear()
        try:
            await forwarder.reload()
        except OSError as error:  # the status file could not be written; the next round tries again
            print(f"reload: {error}", flush=True)
        waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopping.wait())]
        await asyncio.wait(waits, timeout=RELOAD_EVERY, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()
    await forwarder.close_all()


def _more_descriptors():
    """Room for every seat's listeners and two descriptors a connection (the default soft limit is 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python -m {MODULE} BASE")
    _more_descriptors()
    asyncio.run(main(Path(sys.argv[1])))
