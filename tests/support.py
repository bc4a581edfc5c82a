"""Helpers the tests share (fixtures live in conftest.py): htmx headers, the page's hooks, running by the button."""

import subprocess
import time
from html.parser import HTMLParser

import requests

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
