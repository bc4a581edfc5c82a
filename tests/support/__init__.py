"""Helpers the tests share (fixtures live in conftest.py): htmx headers, CSRF tokens, the page's hooks, running by
the button, free ports, and waiting without racing.

The package's modules, by topic: engine (the real socket, an engine a test can stop, the product's labels), room
(a room of students and their seats), lessons (a lesson's containers), netns (a network namespace of a test's own).
"""

import random
import re
import signal
import socket
import subprocess
import time
from html.parser import HTMLParser

import requests

from dashboard.domain.ports import host_port_free

HTMX = {"HX-Request": "true"}


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
    return client.post("/signin", data={"token": token, "csrf_token": form_csrf(client.get("/signin").text)})


def csrf_of(page):
    """The CSRF token a page's hx-headers carry (what htmx sends as X-CSRF-Token)."""
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', page)
    assert found, page[:2000]
    return found[1]


def form_csrf(page):
    """The CSRF token a page's forms carry (the hidden csrf_token field)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:2000]
    return found[1]


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


def free_tcp_port(host="0.0.0.0", *also):
    """A port nothing listens on right now at `host` (every address by default), nor at the `also` addresses (the
    free_port fixture gives a test one)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
        try:
            for other in also:
                with socket.socket() as probe:
                    probe.bind((other, port))
        except OSError:
            continue
        return port
    raise AssertionError(f"no port free at {host} and {also}")


def free_ports(count):
    """`count` consecutive host ports nothing listens on, below the ephemeral range (so no client socket takes one)."""
    for _ in range(50):
        first = random.randrange(20000, 32000)
        if all(host_port_free(port) for port in range(first, first + count)):
            return list(range(first, first + count))
    raise RuntimeError(f"no {count} consecutive free ports")


def stop_process(process, timeout=15):
    """SIGTERM a server a test started, and SIGKILL it if it has not ended within `timeout` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


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


def image_in_use(app, named):
    """The image the app runs for `named` here: the stand-in its pages use (StandIns.current), or `named` itself."""
    stand_in = app.extensions["stand_ins"].current().get(named)
    return stand_in.used if stand_in else named
