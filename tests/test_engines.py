"""The engine the dashboard drives: named with its version on every page and in /healthz, a warning for one older
than the oldest tested, the builder difference a student meets from Docker Engine 23 on, and where published ports
answer when DOCKER_HOST is another machine.

The unit tests need no engine. The integration tests (marked `engine`) run on whichever engine the run drives
(20.10, then 26 in scripts/test's second pass) and assert what the page must say for that engine's version. No test
here sends anything to an address that is not loopback: a remote DOCKER_HOST is only parsed, never connected to
(its behaviour is tested with the SDK faked at its boundary, in test_engine_boundary.py).
"""

import hashlib
import json
import os
import socket
import threading

import pytest
from flask import render_template

from tests.support import HTMX, container_ids, get_cow, page_hooks, run_by_button
from dashboard import PACKAGE, create_app
from dashboard.domain import dockerfile
from dashboard.domain.engine import endpoint_from_environment
from dashboard.domain.engine_facts import Endpoint, EngineAbout, release_of
from dashboard.domain.commands import lesson_filter
from tests.support.lessons import DEFAULT_LESSON

# Both engine passes for the engine tests here (engine_specific): the engine's version, API and builder.
pytestmark = pytest.mark.engine_specific

LESSON_DOCKERFILE = PACKAGE / "lessons" / "03-images" / "Dockerfile"  # the build context's, as create_app sets it by default
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


def engine_endpoint():
    """The endpoint this run's engine is reached at, as the page must name it."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def engine_major(docker_client):
    return release_of(docker_client.version()["Version"])[0]


# --- which versions get the warning ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "release", "older"),
    [
        ("19.03.15", (19, 3), True),
        ("1.13.1", (1, 13), True),  # before Docker's year.month numbering
        ("18.09.9-ce", (18, 9), True),
        ("20.10.0", (20, 10), False),
        ("20.10.24+dfsg1", (20, 10), False),  # Debian bookworm's docker.io, the oldest the tests run on
        ("26.1.5", (26, 1), False),
        ("28.0.1", (28, 0), False),
        ("dev", None, False),  # a source build says nothing of its age: no warning
        ("", None, False),
    ],
)
def test_an_engine_is_older_than_tested_only_before_20_10(version, release, older):
    assert release_of(version) == release
    about = EngineAbout("Docker Engine", version, "1.41", "linux", "amd64", DEFAULT_SOCKET)
    assert about.older_than_tested is older


def test_another_engine_speaking_docker_s_api_is_not_judged_by_docker_s_versions():
    podman = EngineAbout("Podman Engine", "4.3.1", "1.41", "linux", "amd64", DEFAULT_SOCKET)
    assert not podman.older_than_tested
    assert not podman.cli_builds_with_buildkit


@pytest.mark.parametrize(("version", "buildkit"), [("20.10.24+dfsg1", False), ("22.06.0", False), ("23.0.0", True),
                                                   ("26.1.5", True), ("28.0.1", True), ("dev", False)])
def test_the_cli_builds_with_buildkit_from_docker_engine_23(version, buildkit):
    assert EngineAbout("Docker Engine", version, "1.45", "linux", "amd64", DEFAULT_SOCKET).cli_builds_with_buildkit \
        is buildkit


def test_the_warning_names_the_old_release_and_the_oldest_tested(app):
    old = EngineAbout("Docker Engine", "19.03.15", "1.40", "linux", "amd64", DEFAULT_SOCKET)
    with app.test_request_context():
        warning = render_template("engine_warning.html", about=old)
    assert "data-engine-warning" in warning
    assert ("Docker Engine 19.03 is older than the oldest engine this dashboard is tested on (20.10)."
            in " ".join(warning.split()))


# --- where published ports answer -----------------------------------------------------------------------------


@pytest.fixture
def docker_config(tmp_path, monkeypatch):
    """A docker CLI config folder of the test's own (no current context), as DOCKER_CONFIG."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    return folder


@pytest.mark.parametrize(
    ("docker_host", "remote"),
    [
        ("tcp://10.0.0.5:2375", "10.0.0.5"),
        ("tcp://192.168.1.20:2376", "192.168.1.20"),
        ("ssh://teacher@10.0.0.5", "10.0.0.5"),
        ("ssh://teacher@docker.school.example:2222", "docker.school.example"),
        ("tcp://[fd00::5]:2375", "[fd00::5]"),
        ("tcp://127.0.0.1:2375", None),
        ("tcp://127.0.0.2:2375", None),  # all of 127.0.0.0/8 is loopback
        ("tcp://localhost:2375", None),
        ("tcp://[::1]:2375", None),
        ("tcp://0.0.0.0:2375", None),
        ("ssh://teacher@localhost", None),
        ("unix:///var/run/docker.sock", None),
        ("unix:///tmp/engine26/run/docker.sock", None),
        ("npipe:////./pipe/docker_engine", None),
    ],
)
def test_published_ports_answer_on_a_remote_engine_s_address(docker_config, docker_host, remote):
    endpoint = endpoint_from_environment({"DOCKER_HOST": docker_host})
    assert endpoint.url == docker_host
    assert endpoint.remote_address == remote


def test_without_docker_host_or_a_context_the_engine_is_the_local_socket(docker_config):
    endpoint = endpoint_from_environment({})
    assert endpoint == Endpoint(DEFAULT_SOCKET)
    assert endpoint.remote_address is None


def test_the_current_docker_context_is_followed_as_the_cli_follows_it(docker_config, monkeypatch):
    # As `docker context create classroom --docker host=tcp://10.0.0.5:2375` writes it (connecting to nothing).
    meta = docker_config / "contexts" / "meta" / hashlib.sha256(b"classroom").hexdigest() / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"Name": "classroom", "Metadata": {},
                                "Endpoints": {"docker": {"Host": "tcp://10.0.0.5:2375", "SkipTLSVerify": False}}}))

    monkeypatch.delenv("DOCKER_HOST", raising=False)  # set in scripts/test's second pass; it would win
    monkeypatch.setenv("DOCKER_CONTEXT", "classroom")
    assert endpoint_from_environment().remote_address == "10.0.0.5"
    monkeypatch.delenv("DOCKER_CONTEXT")
    assert endpoint_from_environment().url == DEFAULT_SOCKET
    (docker_config / "config.json").write_text(json.dumps({"currentContext": "classroom"}))
    assert endpoint_from_environment().url == "tcp://10.0.0.5:2375"
    # DOCKER_HOST wins over any context, as for the CLI
    assert endpoint_from_environment({"DOCKER_HOST": "tcp://127.0.0.1:2375"}).remote_address is None


# --- the builder note's lines ---------------------------------------------------------------------------------


def lines_of(text):
    return dockerfile.builder_lines(dockerfile.instructions(text))


def test_the_lesson_s_dockerfile_as_each_builder_logs_it():
    lines = lines_of(LESSON_DOCKERFILE.read_text())

    # ARG, FROM, RUN, ENV, RUN, CMD, LABEL: the classic builder counts 7 steps; BuildKit FROM and the two RUNs.
    assert lines.classic_step == "Step 3/7 : RUN apt-get update …"
    assert lines.classic_cached == " ---> Using cache"
    assert lines.buildkit_step == "#5 [2/3] RUN apt-get update …"
    assert lines.buildkit_cached == "#5 CACHED"
    assert lines.terminal_step == " => [2/3] RUN apt-get update …"
    assert lines.terminal_cached == " => CACHED [2/3] RUN apt-get update …"
    assert lines.quiet_step == "Step 4/7 : ENV PATH=$PATH:/usr/games"
    assert lines.quiet_keywords == ("ARG", "ENV", "CMD", "LABEL")
    assert (lines.classic_total, lines.buildkit_total) == (7, 3)


def test_buildkit_counts_from_and_the_layer_steps_and_pads_the_index():
    text = "FROM debian:bookworm\nWORKDIR /app\nENV A=1\n" + "".join(f"RUN step{n}\n" for n in range(8)) + \
           "COPY . /app\nCMD run"
    lines = lines_of(text)
    assert lines.classic_step == "Step 2/13 : WORKDIR /app"
    assert lines.terminal_step == " => [ 2/11] WORKDIR /app"  # FROM, WORKDIR, 8 RUNs, COPY; two digits wide
    assert lines.buildkit_step is None  # a COPY adds BuildKit's build-context job: its number is not told
    assert lines.quiet_step == "Step 3/13 : ENV A=1"


def test_a_line_is_cut_before_what_buildkit_would_expand():
    lines = lines_of("FROM scratch\nRUN echo $HOME && true")
    assert lines.terminal_step == " => [1/1] RUN echo …"  # FROM scratch is no step of BuildKit's
    assert lines.classic_step == "Step 2/2 : RUN echo $HOME …"


def test_no_lines_are_told_for_several_stages_or_no_layer_step():
    assert lines_of("FROM debian AS build\nRUN make\nFROM debian\nCOPY --from=build /a /a") is None
    assert lines_of("FROM debian\nCMD bash") is None


# --- the real engine: the page names it, and says what it must for its version ---------------------------------


PAGES = ["/", "/present", "/room", "/signin", "/no-such-page"]


@pytest.mark.engine
@pytest.mark.parametrize("url", PAGES)
def test_every_page_names_the_engine_its_version_and_endpoint(client, docker_client, url):
    version = docker_client.version()
    page = client.get(url).text

    line = (f'<span data-engine-version>Docker Engine {version["Version"]} (API {version["ApiVersion"]})</span>'
            f' on {version["Os"]}/{version["Arch"]} at <code data-engine-endpoint>{engine_endpoint()}</code>')
    assert line in page
    assert "published ports answer on" not in page  # the engine is this machine


@pytest.mark.engine
def test_healthz_names_the_engine_and_the_endpoint_it_talks_to(client, docker_client):
    version = docker_client.version()
    assert client.get("/healthz").json == {
        "engine": "reachable", "name": "Docker Engine", "version": version["Version"],
        "api_version": version["ApiVersion"], "os": version["Os"], "arch": version["Arch"],
        "endpoint": engine_endpoint(),
    }


@pytest.mark.engine
def test_a_tested_engine_gets_no_warning(client, docker_client):
    version = docker_client.version()["Version"]
    assert not EngineAbout("Docker Engine", version, "", "", "", "").older_than_tested  # 20.10 and 26: both tested
    for url in ("/", "/room"):
        assert "data-engine-warning" not in client.get(url).text


@pytest.mark.engine
def test_the_builder_note_is_there_exactly_from_docker_engine_23(client, docker_client):
    buildkit = engine_major(docker_client) >= 23
    page, panel = client.get("/").text, client.get("/images/build", headers=HTMX).text

    for html in (page, panel):
        assert ("data-builder-note" in html) is buildkit
        if buildkit:
            assert "<code data-classic-line>Step 3/7 : RUN apt-get update …</code>" in html
            assert "<code data-buildkit-line>#5 [2/3] RUN apt-get update …</code>" in html
            assert "<code data-classic-line> ---&gt; Using cache</code>" in html
            assert "<code data-buildkit-line>#5 CACHED</code>" in html
            assert "<code data-classic-line>Step 4/7 : ENV PATH=$PATH:/usr/games</code>" in html
            assert "no line of its own: ARG, ENV, CMD and LABEL" in " ".join(html.split())
            assert "<code> =&gt; CACHED [2/3] RUN apt-get update …</code>" in html
    assert not [command for command in page_hooks(page)[0] if "Step" in command]  # no line passes for a command


@pytest.mark.engine
def test_the_note_s_classic_lines_are_what_this_log_prints(app, client, cowserv_image):
    client.post("/images/build", headers=HTMX)
    b"".join(client.get("/images/build/events").response)  # to the end of the (cached) build
    build = app.extensions["builder"].current
    assert build.state == "succeeded", build.error
    log = [line.text for line in build.lines]
    lines = lines_of(LESSON_DOCKERFILE.read_text())

    step = next(i for i, text in enumerate(log) if text.startswith(lines.classic_step.removesuffix(" …")))
    assert log[step] == ("Step 3/7 : RUN apt-get update && apt-get install -y cowsay fortune"
                         " && rm -rf /var/lib/apt/lists/*")
    assert log[step + 1] == lines.classic_cached  # cached: the session's build made it
    assert lines.quiet_step in log


@pytest.mark.engine
def test_the_page_names_the_endpoint_while_the_engine_does_not_answer(tmp_path, monkeypatch):
    dead = f"unix://{tmp_path / 'docker.sock'}"
    monkeypatch.setenv("DOCKER_HOST", dead)
    client = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")}).test_client()

    page = client.get("/")
    assert page.status_code == 200
    assert f"Docker engine at <code data-engine-endpoint>{dead}</code>: not answering" in page.text
    assert "The Docker engine is not reachable" in page.text
    assert "data-builder-note" not in page.text and "data-engine-warning" not in page.text
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json["endpoint"] == dead


# --- a loopback TCP DOCKER_HOST is this machine ----------------------------------------------------------------


class TcpToUnix:
    """A loopback TCP listener passing every connection on to the engine's unix socket, as `dockerd -H tcp://…`."""

    def __init__(self, socket_path):
        self.socket_path = socket_path
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._open = []
        threading.Thread(target=self._accept, name="tcp-to-unix", daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            engine = socket.socket(socket.AF_UNIX)
            engine.connect(self.socket_path)
            self._open += [client, engine]
            for source, sink in ((client, engine), (engine, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.listener.close()
        for end in self._open:
            end.close()


@pytest.fixture
def loopback_tcp_engine(monkeypatch):
    """DOCKER_HOST=tcp://127.0.0.1:PORT, reaching this run's engine through a loopback TCP listener."""
    proxy = TcpToUnix(engine_endpoint().removeprefix("unix://"))
    url = f"tcp://127.0.0.1:{proxy.port}"
    monkeypatch.setenv("DOCKER_HOST", url)
    yield url
    proxy.close()


@pytest.mark.engine
def test_a_loopback_tcp_docker_host_is_this_machine(loopback_tcp_engine, docker_client, cowserv_image, created,
                                                    free_port, tmp_path):
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    client, engine = app.test_client(), app.extensions["engine"]
    version = docker_client.version()

    assert engine.remote_address is None and engine.ports_are_local
    health = client.get("/healthz").json
    assert (health["endpoint"], health["version"]) == (loopback_tcp_engine, version["Version"])
    page = client.get("/").text
    assert f"at <code data-engine-endpoint>{loopback_tcp_engine}</code>" in page
    assert "published ports answer on" not in page

    # Published ports are this machine's: the link names the browser's host, the cow is asked on 127.0.0.1 ...
    container_id = run_by_button(client, free_port, created)
    assert f'href="http://localhost:{free_port}/"' in client.get("/containers", headers=HTMX).text
    get_cow(free_port)
    cow = client.get(f"/containers/{container_id}/cow", headers=HTMX).text
    assert f"Yes: port {free_port} answers with its cow." in cow

    # ... and a port taken here is refused before anything is created.
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        before = container_ids(docker_client, label=lesson_filter(DEFAULT_LESSON))
        refused = client.post("/containers", data={"host_port": str(taken)}, headers=HTMX)
        assert refused.status_code == 409
        assert f"Host port {taken} is already in use" in refused.text
        assert container_ids(docker_client, label=lesson_filter(DEFAULT_LESSON)) == before


# --- a TCP endpoint is the instructor's to see --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "tcp"),
    [
        ("tcp://10.0.0.5:2375", True),
        ("tcp://127.0.0.1:2375", True),  # loopback still names an open port of this machine
        ("https://10.0.0.5:2376", True),
        ("http://10.0.0.5:2375", True),
        ("ssh://teacher@10.0.0.5", True),
        ("unix:///var/run/docker.sock", False),
        ("npipe:////./pipe/docker_engine", False),
        ("docker context current", False),  # a context that could not be read: its name, no address
    ],
)
def test_an_endpoint_reached_over_tcp_is_told_apart_from_a_socket_of_this_machine(url, tcp):
    assert Endpoint(url).is_tcp is tcp


SIGNED_OUT_PAGES = ["/", "/present", "/room", "/room/join", "/signin"]


@pytest.mark.engine
def test_a_tcp_endpoint_is_shown_to_the_instructor_only(loopback_tcp_engine, docker_client, tmp_path):
    """Signed out (the projector, the room's screens), pages and /healthz name the engine, its version and OS, but
    not its TCP address; the instructor sees the address on every page and in /healthz."""
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    viewer, instructor = app.test_client(instructor=False), app.test_client()
    version = docker_client.version()
    about = (f'<span data-engine-version>Docker Engine {version["Version"]} (API {version["ApiVersion"]})</span>'
             f' on {version["Os"]}/{version["Arch"]}')
    port = loopback_tcp_engine.rsplit(":", 1)[1]
    for url in SIGNED_OUT_PAGES:
        page = viewer.get(url).text
        assert about in page and loopback_tcp_engine not in page and port not in page, url
        assert "data-engine-endpoint" not in page, url
    health = viewer.get("/healthz").json
    assert health["version"] == version["Version"] and health["os"] == version["Os"]
    assert "endpoint" not in health and port not in json.dumps(health)

    assert f"{about} at <code data-engine-endpoint>{loopback_tcp_engine}</code>" in instructor.get("/").text
    assert instructor.get("/healthz").json["endpoint"] == loopback_tcp_engine


@pytest.mark.engine
def test_a_tcp_endpoint_not_answering_is_not_named_to_the_signed_out_screen(tmp_path, monkeypatch):
    """The engine away at a TCP address: the signed-out page and /healthz say it does not answer, without the
    address (the SDK's own message names it); the instructor's say where."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens there once the socket closes
    dead = f"tcp://127.0.0.1:{port}"
    monkeypatch.setenv("DOCKER_HOST", dead)
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    viewer, instructor = app.test_client(instructor=False), app.test_client()
    page = viewer.get("/").text
    assert "The Docker engine is not reachable" in page and str(port) not in page
    health = viewer.get("/healthz")
    assert health.status_code == 503 and "endpoint" not in health.json and str(port) not in health.text
    assert f"<code data-engine-endpoint>{dead}</code>: not answering" in instructor.get("/").text
    assert instructor.get("/healthz").json["endpoint"] == dead
