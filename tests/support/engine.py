"""The engine as tests see it: the real socket, an engine a test can stop (EngineSwitch), the engine's race at its
worst (reaping), the labels the product puts on what it makes (taken from the product, never redefined), and the
tripwire that tests not marked `engine` run against."""

import asyncio
import contextlib
import os
import re
import socket
import threading

import docker

from dashboard.domain.labels import LESSON_LABEL  # noqa: F401  (the tests' one name for the label)

# The engine's socket as the run reaches it (scripts/test's second pass sets DOCKER_HOST to Engine 26's).
REAL_SOCKET = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")


@contextlib.contextmanager
def reaping(label, spare=()):
    """The engine's race at its worst, for as long as the block runs: every container carrying `label` (K=V) is
    force-removed the moment it ends (its `die` event), as a `--rm` run's container is, however soon that is after
    its start; containers named in `spare` are left."""
    client = docker.from_env()
    events = client.api.events(filters={"type": "container", "event": "die", "label": label}, decode=True)

    def reap():
        for event in events:
            if (event.get("Actor") or {}).get("Attributes", {}).get("name") not in spare:
                with contextlib.suppress(docker.errors.APIError):
                    client.api.remove_container(event["id"], force=True)

    reaper = threading.Thread(target=reap, name="reaper", daemon=True)
    reaper.start()
    try:
        yield
    finally:
        events.close()
        reaper.join(10)
        client.close()


REQUEST_LINE = re.compile(rb"(GET|HEAD|POST|PUT|DELETE) (\S+) HTTP/1\.[01]\r\n")


class EngineSwitch:
    """A unix-socket proxy in front of the engine that a test can stop and start, as an engine goes away and back.

    stop() removes the socket and cuts every connection open through it, the pooled and the streaming ones, so the
    dashboard's very next engine call fails whichever connection it would have used; start() listens again.
    `writes` lists the state-changing API calls ("POST /v1.41/containers/create") that went through, in order.
    """

    def __init__(self, listen_path, engine_path):
        self.listen_path, self.engine_path = str(listen_path), engine_path
        self.writes = []
        self._loop = asyncio.new_event_loop()
        self._server = None
        self._transports = set()
        self._piping = set()  # the connections' tasks, which stop() waits for
        threading.Thread(target=self._loop.run_forever, name="engine-switch", daemon=True).start()

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def start(self):
        self._run(self._listen())
        return self

    def stop(self):
        self._run(self._cut())

    def close(self):
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _listen(self):
        self._server = await asyncio.start_unix_server(self._connection, path=self.listen_path)

    async def _cut(self):
        if self._server is not None:
            self._server.close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.listen_path)
        for transport in list(self._transports):
            transport.abort()  # at once, without flushing: the other end sees the connection drop
        if self._piping:
            await asyncio.wait(self._piping, timeout=10)

    async def _connection(self, client_reader, client_writer):
        try:
            engine_reader, engine_writer = await asyncio.open_unix_connection(self.engine_path)
        except OSError:
            client_writer.transport.abort()
            return
        pair, task = {client_writer.transport, engine_writer.transport}, asyncio.current_task()
        self._transports |= pair
        self._piping.add(task)
        try:
            await asyncio.gather(_pipe(client_reader, engine_writer, self._note), _pipe(engine_reader, client_writer))
        finally:
            self._transports -= pair
            self._piping.discard(task)

    def _note(self, seen, data):
        """Note the request lines that start in `data` (`seen` is what came just before it on the connection)."""
        window = seen + data
        self.writes += [f"{line[1].decode()} {line[2].decode()}" for line in REQUEST_LINE.finditer(window)
                        if line.end() > len(seen) and line[1] not in (b"GET", b"HEAD")]
        return window[-512:]  # enough to see a request line split between two reads


async def _pipe(reader, writer, note=None):
    """Copy bytes one way until either side closes, then close the other; `note` sees what passes."""
    seen = b""
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            if note:
                seen = note(seen, data)
            writer.write(data)
            await writer.drain()
    writer.close()


class Tripwire:
    """A unix socket where no engine answers: each connection is counted and closed at once. Tests not marked
    `engine` run with DOCKER_HOST pointing here, so one that reaches for the engine (the SDK, the docker CLI, a
    server it starts) fails saying so, rather than passing by an engine that `-m "not engine"` runs lack."""

    def __init__(self, path):
        self.path, self.connections = str(path), 0
        self._listener = socket.socket(socket.AF_UNIX)
        self._listener.bind(self.path)
        self._listener.listen(64)
        threading.Thread(target=self._refuse, name="engine-tripwire", daemon=True).start()

    @property
    def docker_host(self):
        return f"unix://{self.path}"

    def _refuse(self):
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed
                return
            self.connections += 1
            connection.close()

    def close(self):
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
