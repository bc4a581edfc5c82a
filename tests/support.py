"""Helpers the tests share (fixtures live in conftest.py): htmx headers, the page's hooks, running by the button,
waiting without racing, and an engine a test can stop."""

import asyncio
import contextlib
import os
import random
import re
import socket
import subprocess
import threading
import time
from html.parser import HTMLParser

import docker
import requests

from dashboard.domain.ports import host_port_free

HTMX = {"HX-Request": "true"}
# The engine's socket as the run reaches it (scripts/test's second pass sets DOCKER_HOST to Engine 26's).
REAL_SOCKET = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")


def container_ids(docker_client, **filters):
    """Ids of the containers, running or not, matching the filters: one list call, no per-container inspect."""
    return {row["Id"] for row in docker_client.api.containers(all=True, filters=filters)}


def run_by_button(client, port, created):
    """Press Run for a host port; returns the id the page shows, recorded for teardown."""
    response = client.post("/containers", data={"host_port": str(port)}, headers=HTMX)
    assert response.status_code == 200, response.text
    container_id = response.text.split("data-run-output>")[1].split("<")[0]
    created(container_id)
    return container_id


def get_cow(port, timeout=20):
    """The cow page on a host port, waiting for python -m http.server to come up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(f"http://127.0.0.1:{port}/", timeout=2)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def sign_in_by_form(client, token):
    """Sign in through the real form, with the CSRF token the sign-in page carries; returns the form's answer."""
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signin").text)[1]
    return client.post("/signin", data={"token": token, "csrf_token": csrf})


def wait_until(check, what, timeout=30, every=0.1):
    """check()'s first truthy answer, asked every `every` seconds; fails saying `what` did not happen in `timeout`.

    The timeout only keeps a broken build from hanging: it is generous on purpose, and never the assertion.
    """
    deadline = time.monotonic() + timeout
    while not (answer := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(every)
    return answer


def free_tcp_port():
    """Another host port nothing listens on right now (the free_port fixture gives one a test)."""
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return probe.getsockname()[1]


def free_ports(count):
    """`count` consecutive host ports nothing listens on, below the ephemeral range (so no client socket takes one)."""
    for _ in range(50):
        first = random.randrange(20000, 32000)
        if all(host_port_free(port) for port in range(first, first + count)):
            return list(range(first, first + count))
    raise RuntimeError(f"no {count} consecutive free ports")


def shell(command, **kwargs):
    """Run a command exactly as pasted into bash."""
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300, **kwargs)


class _PageHooks(HTMLParser):
    """Collects the stable hooks of a page: the data-cli commands and the data-container-id rows."""

    def __init__(self):
        super().__init__()
        self.commands, self.container_ids, self._in_cli = [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-cli" in attrs:
            self._in_cli = True
            self.commands.append("")
        if "data-container-id" in attrs:
            self.container_ids.append(attrs["data-container-id"])

    def handle_endtag(self, tag):
        self._in_cli = False

    def handle_data(self, data):
        if self._in_cli:
            self.commands[-1] += data


def page_hooks(html):
    """(commands, container ids) of an HTML page or fragment."""
    parser = _PageHooks()
    parser.feed(html if isinstance(html, str) else html.decode())
    return parser.commands, parser.container_ids


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


def image_in_use(app, named):
    """The image the app runs for `named` here: the stand-in its pages use (StandIns.current), or `named` itself."""
    stand_in = app.extensions["stand_ins"].current().get(named)
    return stand_in.used if stand_in else named
