"""Fixtures: the app and its client (as flaskr's), and what integration tests need from the real engine.

Integration tests talk to the engine that scripts/test (and so .ci/run) started; nothing here fakes it.
Whatever a test creates on the engine it records, and teardown force-removes it, pass or fail.
"""

import os
import uuid

import docker
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import free_tcp_port
from tests.support.engine import REAL_SOCKET, EngineSwitch, Tripwire
from dashboard import create_app
from dashboard.domain.snapshot import stop_watchers
from dashboard.web.security import CSRF_HEADER, grant_instructor


class InstructorClient(FlaskClient):
    """A test client signed in as the instructor (on this machine, over plain HTTP, as its requests come), sending its
    CSRF token as htmx does; instructor=False for a viewer.

    Tests of the sign-in itself (test_security.py) go through the real form instead.
    """

    def __init__(self, *args, instructor=True, **kwargs):
        super().__init__(*args, **kwargs)
        if instructor:
            with self.session_transaction() as session, self.application.test_request_context():
                self.environ_base[f"HTTP_{CSRF_HEADER.upper().replace('-', '_')}"] = grant_instructor(session)


@pytest.fixture(autouse=True, scope="session")
def instance_folder(tmp_path_factory):
    """Every app the tests make keeps its transcript and secrets in a folder of the run's own, not the checkout's,
    its workshop folder under /tmp (where the second engine's root sees it too), never the real ~/docker-workshop,
    and its seats' folder there too, never the host deployment's."""
    patch = pytest.MonkeyPatch()
    patch.setenv("DASHBOARD_INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
    patch.setenv("DASHBOARD_WORKSHOP_DIR", str(tmp_path_factory.mktemp("workshop")))
    patch.setenv("DASHBOARD_SEATS_DIR", str(tmp_path_factory.mktemp("seats")))  # never the host's seats
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def instructor_clients(monkeypatch):
    monkeypatch.setattr(Flask, "test_client_class", InstructorClient)


@pytest.fixture(autouse=True)
def paper_seats(request, monkeypatch):
    """Apps' seats have no engines of their own (tests/support/room.PaperSeats), but in the modules that test seat
    engines (REAL_SEATS = True), which open one room of them each."""
    if not getattr(request.module, "REAL_SEATS", False):
        import dashboard
        from tests.support.room import PaperSeats

        monkeypatch.setattr(dashboard, "open_seat_host", lambda settings: PaperSeats(settings["SEATS_DIR"]))


@pytest.fixture(autouse=True)
def no_open_event_streams():
    """Every app a test made stops following the engine's events when the test ends."""
    yield
    stop_watchers()


@pytest.fixture(autouse=True)
def images_lesson_is_current():
    """Every test starts on the default current lesson (the images lesson): a test that picks another one, and
    fails before it picks the images lesson back, does not move the tests after it."""
    yield
    for name in ("current-lesson", "room.json"):  # and no room of students left open for the next test
        path = os.path.join(os.environ["DASHBOARD_INSTANCE_PATH"], name)
        if os.path.exists(path):
            os.unlink(path)


@pytest.fixture
def app(tmp_path):
    # DASHBOARD_BASE_IMAGE from the environment (set by scripts/test where no registry answers) flows in here.
    return create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3")})


@pytest.fixture
def client(app):
    return app.test_client()


def pytest_report_header(config):
    """Which engine this run drives: scripts/test runs the suite once on each engine it tests."""
    try:
        version = docker.from_env().version()
    except docker.errors.DockerException as error:
        return f"docker engine: none answers ({error})"
    return (f"docker engine: {version['Version']} (API {version['ApiVersion']}) at "
            f"{os.environ.get('DOCKER_HOST', 'the default socket')}")


@pytest.fixture(scope="session")
def docker_client():
    """The real engine; a test run without one fails here, loudly, rather than skipping."""
    client = docker.from_env()
    client.ping()
    yield client
    client.close()


# A test that uses one of these fixtures (itself or through another) talks to the engine: it is marked `engine`
# without saying so. A test that reaches the engine otherwise (an app's page that lists containers, the docker CLI)
# says so with the marker; one that does not is run against a tripwire (below) and fails if it reaches for one.
ENGINE_FIXTURES = {"docker_client", "engine_switch", "live_server", "fresh_build_server"}


def pytest_collection_modifyitems(config, items):
    """Mark `engine` every test an engine fixture reaches. (`engine_specific` says what an engine test checks may
    differ from one engine to another: scripts/test runs those on each engine it tests, the others on the first.)"""
    for item in items:
        if ENGINE_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.engine)


@pytest.fixture(scope="session")
def tripwire(tmp_path_factory):
    wire = Tripwire(tmp_path_factory.mktemp("no-engine") / "docker.sock")
    yield wire
    wire.close()


@pytest.fixture(autouse=True)
def engine_only_where_marked(request, monkeypatch):
    """An `engine` test gets the engine under test; any other gets DOCKER_HOST pointing at a tripwire, and fails if
    it connected there: `pytest -m "not engine"` then runs with no engine at all, and the marker stays honest."""
    if request.node.get_closest_marker("engine"):
        request.getfixturevalue("engine_under_test")
        yield
        return
    wire = request.getfixturevalue("tripwire")
    monkeypatch.setenv("DOCKER_HOST", wire.docker_host)
    before = wire.connections
    yield
    if wire.connections != before:
        pytest.fail(f"this test reached for the Docker engine ({wire.connections - before} connection(s)) but is not "
                    "marked engine: mark it (pytest.mark.engine), or keep it off the engine", pytrace=False)


@pytest.fixture(scope="session")
def engine_under_test(docker_client):
    """With DASHBOARD_EXPECT_ENGINE set (.ci/run for the first pass, scripts/test for the second), the engine must
    be that version:
    a pass that reached another engine (a DOCKER_HOST path that resolves to the host's) is not trusted."""
    expected = os.environ.get("DASHBOARD_EXPECT_ENGINE")
    version = docker_client.version()["Version"]
    if expected and not version.startswith(expected):
        pytest.exit(f"this pass is for Docker Engine {expected}, but {os.environ.get('DOCKER_HOST', 'the default socket')}"
                    f" answers {version}", returncode=3)
    return version


@pytest.fixture(scope="session")
def cowserv_image(docker_client):
    """cowserv:latest, built once per session by the dashboard's own build path."""
    app = create_app({"TESTING": True})
    with app.app_context():
        from dashboard.web.extensions import get_builder, get_engine
        from dashboard.web.views import build_plan, current_lesson

        build = get_builder().start(get_engine(), build_plan(current_lesson()))
    for _ in build.follow():
        pass
    assert build.state == "succeeded", build.error
    return build.image_id


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


@pytest.fixture
def engine_switch(tmp_path, monkeypatch):
    """The engine behind a proxy the test can stop, which notes every state-changing call the app makes
    (tests/support/engine.py): DOCKER_HOST points at the proxy."""
    switch = EngineSwitch(tmp_path / "engine.sock", REAL_SOCKET).start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{switch.listen_path}")
    yield switch
    switch.close()


@pytest.fixture
def free_port():
    """A host port nothing listens on right now."""
    return free_tcp_port()


@pytest.fixture
def unique_name():
    return f"test-{uuid.uuid4().hex[:10]}"
