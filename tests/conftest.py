"""Fixtures: the app and its client (as flaskr's), and what integration tests need from the real engine.

Integration tests talk to the engine that scripts/test (and so .ci/run) started; nothing here fakes it.
Whatever a test creates on the engine it records, and teardown force-removes it, pass or fail.
"""

import socket
import uuid
from html.parser import HTMLParser

import docker
import pytest
from flask import Flask
from flask.testing import FlaskClient

from dashboard import create_app
from dashboard.security import CSRF_HEADER, grant_instructor

HTMX = {"HX-Request": "true"}


class InstructorClient(FlaskClient):
    """A test client signed in as the instructor, sending its CSRF token as htmx does; instructor=False for a viewer.

    Tests of the sign-in itself (test_security.py) go through the real form instead.
    """

    def __init__(self, *args, instructor=True, **kwargs):
        super().__init__(*args, **kwargs)
        if instructor:
            with self.session_transaction() as session:
                self.environ_base[f"HTTP_{CSRF_HEADER.upper().replace('-', '_')}"] = grant_instructor(session)


@pytest.fixture(autouse=True)
def instructor_clients(monkeypatch):
    monkeypatch.setattr(Flask, "test_client_class", InstructorClient)


@pytest.fixture
def app(tmp_path):
    # DASHBOARD_BASE_IMAGE from the environment (set by scripts/test where no registry answers) flows in here.
    return create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3")})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def docker_client():
    """The real engine; a test run without one fails here, loudly, rather than skipping."""
    client = docker.from_env()
    client.ping()
    yield client
    client.close()


@pytest.fixture(scope="session")
def cowserv_image(docker_client):
    """cowserv:latest, built once per session by the dashboard's own build path."""
    app = create_app({"TESTING": True})
    with app.app_context():
        from dashboard.builds import get_builder
        from dashboard.engine import get_engine
        from dashboard.lesson import build_plan

        build = get_builder().start(get_engine(), build_plan())
    for _ in build.follow():
        pass
    assert build.state == "succeeded", build.error
    return build.image_id


def container_ids(docker_client, **filters):
    """Ids of the containers, running or not, matching the filters: one list call, no per-container inspect."""
    return {row["Id"] for row in docker_client.api.containers(all=True, filters=filters)}


@pytest.fixture
def created(docker_client):
    """Record a container id (or name) the test made; teardown force-removes every one recorded."""
    made = []
    yield made.append
    for ref in made:
        try:
            docker_client.api.remove_container(ref, force=True)
        except docker.errors.NotFound:
            pass


def run_by_button(client, port, created):
    """Press Run for a host port; returns the id the page shows, recorded for teardown."""
    response = client.post("/containers", data={"host_port": str(port)}, headers=HTMX)
    assert response.status_code == 200, response.text
    container_id = response.text.split("data-run-output>")[1].split("<")[0]
    created(container_id)
    return container_id


@pytest.fixture
def free_port():
    """A host port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return probe.getsockname()[1]


@pytest.fixture
def unique_name():
    return f"test-{uuid.uuid4().hex[:10]}"


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
