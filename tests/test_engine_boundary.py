"""dashboard/domain/engine.py with the Docker SDK faked at its boundary: the engine's client is a fake whose `.api`
answers as docker.APIClient would (each call is checked against the real method's signature), so these
tests need no Docker engine."""

import inspect
import json
import socket
from datetime import datetime, timezone

import docker
import pytest
import requests
import urllib3

from tests.support import HTMX
from dashboard import create_app
from dashboard.domain import cowcheck, room
from dashboard.domain import engine as engine_module
from dashboard.domain.engine import Container, Engine, Image, RunSpec
from dashboard.domain.engine_facts import Endpoint, EngineAbout
from dashboard.domain.errors import ContainerNotFound, EngineError, EngineUnavailable, ImageNotFound, PortInUse
from dashboard.web.errors import status_of

FULL_ID = "4f1c2b3a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8"
OTHER_ID = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
LESSON_LABELS = {"classroom.lesson": "cowserv"}


class FakeAPI:
    """Stands in for docker.APIClient: records every call, answers from `answers`.

    An answer is a value to return, an exception to raise, or a callable taking the call's arguments.
    Calls are bound against the real APIClient method, so a call the real SDK would refuse fails here too.
    """

    METHODS = {
        "containers", "inspect_container", "stop", "remove_container", "create_container",
        "create_host_config", "start", "inspect_image", "version", "events", "history", "wait", "logs",
        "attach", "post", "volumes", "remove_volume", "images", "remove_image",
    }

    def __init__(self):
        self.calls = []
        self.answers = {}
        self.base_url, self.api_version = "http+docker://localhost", "1.45"

    def __getattr__(self, name):
        if name not in FakeAPI.METHODS:
            raise AttributeError(f"the fake SDK does not expect a call to {name}")
        signature = inspect.signature(getattr(docker.APIClient, name))

        def method(*args, **kwargs):
            signature.bind(self, *args, **kwargs)  # TypeError when the real SDK would not take these arguments
            self.calls.append((name, args, kwargs))
            answer = self.answers.get(name)
            if isinstance(answer, BaseException):
                raise answer
            if callable(answer):
                return answer(*args, **kwargs)
            return answer

        return method

    def names(self):
        return [name for name, _, _ in self.calls]

    def calls_to(self, name):
        return [(args, kwargs) for called, args, kwargs in self.calls if called == name]


class FakeClient:
    """Stands in for docker.DockerClient: the engine uses its `.api` and its `version()`."""

    def __init__(self, api):
        self.api = api

    def version(self, *args, **kwargs):
        return self.api.version(*args, **kwargs)


def sdk_error(status, message):
    """The exception the SDK raises for an engine answer `status` {"message": message}, made by the SDK itself."""
    response = requests.Response()
    response.status_code = status
    response.reason = {404: "Not Found", 409: "Conflict", 500: "Internal Server Error"}[status]
    response.url = "http+docker://localhost/v1.45/containers/x"
    response.encoding = "utf-8"
    response._content = json.dumps({"message": message}).encode()
    try:
        docker.errors.create_api_error_from_http_exception(requests.exceptions.HTTPError(response=response))
    except docker.errors.APIError as error:
        return error
    raise AssertionError("the SDK did not raise")


@pytest.fixture
def api():
    return FakeAPI()


LOCAL = Endpoint("unix:///var/run/docker.sock")
REMOTE = Endpoint("tcp://10.0.0.5:2375")  # never connected to: the fake answers in its place


def faked(engine, api, endpoint=LOCAL):
    """The engine with the fake SDK client in place of the one it would make for `endpoint`."""
    engine._endpoint = endpoint
    engine._clients = (FakeClient(api), FakeClient(api))  # (reader, actor)
    return engine


@pytest.fixture
def engine(api):
    return faked(Engine(), api)


@pytest.fixture
def port_free(monkeypatch):
    """Engine.run's pre-check answers "free" without touching the host's ports."""
    checked = []

    def host_port_free(port):
        checked.append(port)
        return True

    monkeypatch.setattr(engine_module, "host_port_free", host_port_free)
    return checked


def lesson_container(container_id=FULL_ID, labels=LESSON_LABELS):
    return {"Id": container_id, "Name": "/eager_wu", "Config": {"Image": "cowserv:latest", "Labels": labels}}


# --- containers() --------------------------------------------------------------------------------------


def run_cow(engine, host_port):
    """The lesson's cow started detached on host_port, as `docker run -d -p HOST_PORT:8000 cowserv:latest`."""
    return engine.start(RunSpec("cowserv:latest", None, ports=((host_port, 8000),))).container_id


def test_containers_is_one_filtered_call_for_all_states(engine, api):
    api.answers["containers"] = []

    assert engine.containers() == []
    # Every lesson's containers: the filter is on the label's key, as `docker ps -a --filter label=classroom.lesson`.
    assert api.calls == [("containers", (), {"all": True, "filters": {"label": "classroom.lesson"}})]


def test_containers_maps_rows_to_containers(engine, api):
    api.answers["containers"] = [
        {
            "Id": FULL_ID,
            "Names": ["/eager_wu"],
            "Image": "cowserv:latest",
            "ImageID": "sha256:" + "e" * 64,
            "Command": "/bin/sh -c 'python3 -m http.server 8000'",
            "Created": 1_700_000_000,
            "Ports": [
                {"IP": "0.0.0.0", "PrivatePort": 8000, "PublicPort": 8001, "Type": "tcp"},
                {"IP": "::", "PrivatePort": 8000, "PublicPort": 8001, "Type": "tcp"},
                {"IP": "0.0.0.0", "PrivatePort": 8000, "PublicPort": 8000, "Type": "tcp"},
                {"IP": "::", "PrivatePort": 8000, "PublicPort": 8000, "Type": "tcp"},
            ],
            "Labels": dict(LESSON_LABELS),
            "State": "running",
            "Status": "Up 5 minutes",
        },
        {
            "Id": OTHER_ID,
            "Names": ["/quirky_cow"],
            "Image": "cowserv:latest",
            "Created": 1_700_000_100,
            "Ports": [{"PrivatePort": 8000, "Type": "tcp"}],  # exposed, not published
            "Labels": dict(LESSON_LABELS),
            "State": "exited",
            "Status": "Exited (0) 2 minutes ago",
        },
        {
            "Id": SEAT_ID,
            "Names": ["/web"],
            "Image": "nginx:alpine",
            "Command": "/docker-entrypoint.sh nginx -g 'daemon off;'",
            "Created": 1_700_000_200,
            "Labels": {"classroom.lesson": "running"},  # another lesson's, given with --label
            "State": "running",
            "Status": "Up 1 second",
        },
    ]

    running, exited, other_lesson = engine.containers()

    assert running == Container(
        id=FULL_ID,
        name="eager_wu",
        image="cowserv:latest",
        state="running",
        status="Up 5 minutes",
        created=datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc),
        ports=((8000, 8000), (8001, 8000)),
        lesson="cowserv",
        command="/bin/sh -c 'python3 -m http.server 8000'",
    )
    assert running.short_id == FULL_ID[:12]
    assert running.running and not exited.running
    assert exited.name == "quirky_cow"
    assert exited.ports == ()
    assert exited.state == "exited"
    assert exited.created == datetime.fromtimestamp(1_700_000_100, tz=timezone.utc)
    assert (exited.lesson, exited.command) == ("cowserv", "")
    assert (other_lesson.lesson, other_lesson.name, other_lesson.image) == ("running", "web", "nginx:alpine")


def test_containers_connection_error_is_engine_unavailable(engine, api):
    api.answers["containers"] = requests.exceptions.ConnectionError(
        "('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))"
    )

    with pytest.raises(EngineUnavailable) as raised:
        engine.containers()

    assert status_of(raised.value) == 503
    assert "does not answer" in str(raised.value)


def test_a_docker_exception_that_is_not_an_api_error_is_engine_unavailable(engine, api):
    api.answers["containers"] = docker.errors.DockerException("Error while fetching server API version")

    with pytest.raises(EngineUnavailable):
        engine.containers()


def test_containers_read_timeout_is_engine_unavailable(engine, api):
    api.answers["containers"] = requests.exceptions.ReadTimeout(
        "UnixHTTPConnectionPool(host='localhost', port=None): Read timed out. (read timeout=60)"
    )

    with pytest.raises(EngineUnavailable):
        engine.containers()


def test_containers_api_error_is_engine_error_502(engine, api):
    api.answers["containers"] = sdk_error(500, "invalid filter 'label'")

    with pytest.raises(EngineError) as raised:
        engine.containers()

    assert type(raised.value) is EngineError
    assert status_of(raised.value) == 502
    assert str(raised.value) == "invalid filter 'label'"
    assert isinstance(raised.value.__cause__, docker.errors.APIError)


# --- version() and image() ------------------------------------------------------------------------------


VERSION_26 = {
    "Platform": {"Name": ""}, "Version": "26.1.5+dfsg1", "ApiVersion": "1.45", "MinAPIVersion": "1.24",
    "Os": "linux", "Arch": "amd64",
    "Components": [{"Name": "Engine", "Version": "26.1.5+dfsg1", "Details": {"ApiVersion": "1.45"}},
                   {"Name": "containerd", "Version": "1.7.24~ds1"}],
}


def test_version_reports_the_engine_its_version_and_endpoint(engine, api):
    api.answers["version"] = VERSION_26

    assert engine.version() == EngineAbout(name="Docker Engine", version="26.1.5+dfsg1", api_version="1.45",
                                           os="linux", arch="amd64", endpoint="unix:///var/run/docker.sock")


def test_an_engine_that_names_itself_otherwise_is_named_so(engine, api):
    api.answers["version"] = {"Version": "4.3.1", "ApiVersion": "1.41", "Os": "linux", "Arch": "amd64",
                              "Components": [{"Name": "Podman Engine", "Version": "4.3.1"}]}

    about = engine.version()
    assert about.name == "Podman Engine"
    assert not about.older_than_tested  # 4.3 is Podman's numbering, not an old Docker


def test_about_asks_the_engine_once_per_period_and_forgets_it_when_the_engine_goes(engine, api):
    api.answers["version"] = VERSION_26

    assert engine.about() == engine.about() == engine.version()
    assert api.names() == ["version", "version"]  # the first about(), then version() itself; the second about: none

    api.answers["containers"] = requests.exceptions.ConnectionError("Connection refused")
    with pytest.raises(EngineUnavailable):
        engine.containers()
    api.answers["version"] = dict(VERSION_26, Version="27.3.1")  # another engine answers there now
    assert engine.about().version == "27.3.1"
    assert api.names().count("version") == 3


def test_about_is_asked_again_after_its_period(api):
    engine = faked(Engine(about_seconds=0), api)
    api.answers["version"] = VERSION_26

    engine.about()
    engine.about()
    assert api.names() == ["version", "version"]


def test_about_is_none_while_the_engine_does_not_answer(engine, api):
    api.answers["version"] = requests.exceptions.ConnectionError("Connection refused")

    assert engine.about() is None


def test_image_maps_the_inspected_image(engine, api):
    api.answers["inspect_image"] = {
        "Id": "sha256:" + "c0ffee" * 10 + "abcd", "Created": "2024-05-01T10:00:00Z", "Size": 158_000_000,
    }

    image = engine.image("cowserv:latest")

    assert image == Image(id="sha256:" + "c0ffee" * 10 + "abcd", tag="cowserv:latest", size=158_000_000)
    assert image.short_id == "c0ffeec0ffee"
    assert api.calls_to("inspect_image") == [(("cowserv:latest",), {})]


def test_image_not_built_is_none(engine, api):
    api.answers["inspect_image"] = sdk_error(404, "No such image: cowserv:latest")

    assert engine.image("cowserv:latest") is None


# --- stop_and_remove() ----------------------------------------------------------------------------------


def test_stop_and_remove_stops_then_removes_the_full_id(engine, api):
    api.answers["inspect_container"] = lesson_container()

    assert engine.stop_and_remove(FULL_ID[:12]) == FULL_ID
    assert api.calls == [
        ("inspect_container", (FULL_ID[:12],), {}),
        ("stop", (FULL_ID,), {}),
        ("remove_container", (FULL_ID,), {"force": False}),
    ]


@pytest.mark.parametrize(
    "labels, lesson",
    [({}, None), ({}, "cowserv"), ({"classroom.lesson": "other-lesson"}, "cowserv"),
     ({"com.example.app": "database"}, None), ({"com.example.app": "database"}, "cowserv")],
)
def test_stop_and_remove_refuses_a_container_that_is_not_the_lessons(engine, api, labels, lesson):
    """Without a lesson: any container without the lesson label; with one: any container not of that lesson."""
    api.answers["inspect_container"] = lesson_container(OTHER_ID, labels)

    with pytest.raises(ContainerNotFound) as raised:
        engine.stop_and_remove(OTHER_ID[:12], lesson)

    assert status_of(raised.value) == 404
    assert OTHER_ID[:12] in str(raised.value)
    assert "stop" not in api.names()
    assert "remove_container" not in api.names()


def test_stop_and_remove_of_a_missing_container_is_not_found(engine, api):
    api.answers["inspect_container"] = sdk_error(404, f"No such container: {FULL_ID[:12]}")

    with pytest.raises(ContainerNotFound) as raised:
        engine.stop_and_remove(FULL_ID[:12])

    assert "already gone" in str(raised.value)
    assert api.names() == ["inspect_container"]


@pytest.mark.parametrize("call, error", [
    ("stop", sdk_error(404, f"No such container: {FULL_ID}")),
    ("stop", sdk_error(409, f"removal of container {FULL_ID} is already in progress")),
    ("remove_container", sdk_error(404, f"No such container: {FULL_ID}")),
    ("remove_container", sdk_error(409, f"removal of container {FULL_ID} is already in progress")),
])
def test_a_container_gone_or_going_by_its_removal_is_removed(engine, api, call, error):
    """Found, then gone (its own --rm, another removal) before the engine's stop or remove: the removal is done."""
    api.answers["inspect_container"] = lesson_container()
    api.answers[call], api.answers["wait"] = error, {"StatusCode": 0}

    assert engine.stop_and_remove(FULL_ID) == FULL_ID


def test_other_api_error_during_stop_is_engine_error_502(engine, api):
    api.answers["inspect_container"] = lesson_container()
    api.answers["stop"] = sdk_error(500, "cannot stop container: permission denied")

    with pytest.raises(EngineError) as raised:
        engine.stop_and_remove(FULL_ID)

    assert type(raised.value) is EngineError
    assert status_of(raised.value) == 502
    assert str(raised.value) == "cannot stop container: permission denied"
    assert "remove_container" not in api.names()


def test_stop_and_remove_when_the_engine_is_down_is_engine_unavailable(engine, api):
    api.answers["inspect_container"] = requests.exceptions.ConnectionError("Connection refused")

    with pytest.raises(EngineUnavailable):
        engine.stop_and_remove(FULL_ID)


# --- remove_everything(): a seat's own engine ------------------------------------------------------------------


def test_everything_on_a_seats_engine_goes_but_its_stand_ins(engine, api):
    """Every container and volume of the engine (a seat's own: all of them are the student's), and the images its
    lessons built (they carry the lesson's label); the stand-ins, unlabelled, stay. No volume is looked for by
    its name."""
    api.answers.update({"containers": [{"Id": FULL_ID}], "volumes": {"Volumes": [{"Name": "pgdata"}]},
                        "images": [{"Id": "sha256:" + "b" * 64}]})

    assert engine.remove_everything() == (1, 1, 1)
    filters = [kwargs.get("filters") for name, _, kwargs in api.calls if name in ("containers", "volumes", "images")]
    assert filters == [None, None, {"label": "classroom.lesson"}]


def test_a_seats_container_already_being_removed_is_waited_for_before_its_volumes(engine, api):
    api.answers.update({"containers": [{"Id": FULL_ID}], "volumes": {"Volumes": [{"Name": "pgdata"}]},
                        "images": [], "wait": {"StatusCode": 0},
                        "remove_container": sdk_error(409, f"removal of container {FULL_ID} is already in progress")})

    assert engine.remove_everything() == (1, 1, 0)
    assert api.names() == ["containers", "remove_container", "wait", "volumes", "remove_volume", "images"]
    assert api.calls_to("wait") == [((FULL_ID,), {"timeout": 60, "condition": "removed"})]


IN_PROGRESS = sdk_error(409, f"removal of container {FULL_ID} is already in progress")


def remove_one(engine, api):
    """A lesson's `docker rm -f NAME`, as a step presses it."""
    api.answers["inspect_container"] = lesson_container()
    return engine.remove("eager_wu", "cowserv", force=True)


def remove_a_seat(engine, api):
    api.answers.update({"containers": [{"Id": FULL_ID}], "volumes": {"Volumes": []}, "images": []})
    return engine.remove_everything()


@pytest.mark.parametrize("remove", [remove_one, remove_a_seat])
def test_a_container_already_being_removed_is_waited_for_until_it_is_gone(engine, api, remove):
    """Its own --rm (or another removal) has it in hand: the removal returns once it is gone, as after a removal of
    its own, so the next `docker run --name` of the same name finds the name free; the wait is bounded."""
    api.answers.update({"remove_container": IN_PROGRESS, "wait": {"StatusCode": 0}})

    remove(engine, api)
    assert api.calls_to("wait") == [((FULL_ID,), {"timeout": 60, "condition": "removed"})]


def read_timeout(*args, **kwargs):
    """What requests raises when the engine's answer does not come within the request's timeout."""
    try:
        raise urllib3.exceptions.ReadTimeoutError(None, "/containers/x/wait", "Read timed out. (read timeout=60)")
    except urllib3.exceptions.ReadTimeoutError as error:
        raise requests.exceptions.ConnectionError(error)


@pytest.mark.parametrize("remove", [remove_one, remove_a_seat])
def test_a_removal_still_in_progress_after_the_wait_is_refused_clearly(engine, api, remove):
    api.answers.update({"remove_container": IN_PROGRESS, "wait": read_timeout, "version": VERSION_26})

    with pytest.raises(EngineError) as raised:
        remove(engine, api)

    assert type(raised.value) is EngineError and status_of(raised.value) == 502
    assert str(raised.value) == f"Container {FULL_ID[:12]} is still being removed after 60 s: try again in a moment."
    assert engine.version().version == "26.1.5+dfsg1"  # the engine answers: not taken for a silent one


def test_a_removal_the_engine_had_in_hand_and_failed_is_its_refusal(engine, api):
    api.answers.update({"remove_container": IN_PROGRESS,
                        "wait": {"StatusCode": 0, "Error": {"Message": "unable to remove filesystem: busy"}}})

    with pytest.raises(EngineError) as raised:
        remove_one(engine, api)

    assert type(raised.value) is EngineError and str(raised.value) == "unable to remove filesystem: busy"


# --- run() ----------------------------------------------------------------------------------------------


def test_run_creates_publishes_and_starts(engine, api, port_free):
    api.answers["create_host_config"] = lambda **kwargs: docker.types.HostConfig(version="1.45", **kwargs)
    api.answers["create_container"] = {"Id": FULL_ID, "Warnings": []}

    assert run_cow(engine, 8001) == FULL_ID

    assert port_free == [8001]
    assert api.names() == ["create_host_config", "create_container", "start"]
    # As `docker run -d -p 8001:8000`: no bind mount, and not removed when it ends (that is --rm).
    assert api.calls_to("create_host_config") == [
        ((), {"port_bindings": {8000: 8001}, "binds": None, "auto_remove": False})]
    (args, kwargs), = api.calls_to("create_container")
    assert args == ("cowserv:latest",)
    assert kwargs["ports"] == [8000]
    # Nothing `docker run -d -p` does not say: the image's own command, no name, environment or extra label.
    assert (kwargs["command"], kwargs["name"], kwargs["environment"], kwargs["labels"]) == (None, None, None, None)
    # As `docker run -p 8001:8000`: on all interfaces (an empty HostIp).
    assert kwargs["host_config"]["PortBindings"] == {"8000/tcp": [{"HostIp": "", "HostPort": "8001"}]}
    assert api.calls_to("start") == [((FULL_ID,), {})]


def test_start_gives_the_engine_every_option_of_the_spec(engine, api, port_free):
    api.answers["create_host_config"] = lambda **kwargs: docker.types.HostConfig(version="1.45", **kwargs)
    api.answers["create_container"] = {"Id": FULL_ID, "Warnings": []}
    spec = RunSpec("nginx:alpine", name="web", ports=((8080, 80),), env=(("GREETING", "moo"),),
                   volumes=(("/srv/site", "/usr/share/nginx/html"),), command=("nginx", "-g", "daemon off;"),
                   labels=(("classroom.lesson", "running"),))

    assert engine.start(spec).container_id == FULL_ID

    assert port_free == [8080]
    assert api.calls_to("create_host_config") == [((), {
        "port_bindings": {80: 8080}, "binds": {"/srv/site": {"bind": "/usr/share/nginx/html", "mode": "rw"}},
        "auto_remove": False})]
    (args, kwargs), = api.calls_to("create_container")
    assert args == ("nginx:alpine",)
    assert kwargs["command"] == ["nginx", "-g", "daemon off;"] and kwargs["name"] == "web"
    assert kwargs["environment"] == {"GREETING": "moo"} and kwargs["labels"] == {"classroom.lesson": "running"}
    assert kwargs["ports"] == [80]
    assert api.names() == ["create_host_config", "create_container", "start"]  # detached: not waited for


class Streamed:
    """What requests and the SDK give for a streamed answer: the wait's (its JSON) or an attach's (its chunks)."""

    def __init__(self, answer=None, chunks=()):
        self.answer, self.chunks, self.closed = answer, list(chunks), False

    def raise_for_status(self):
        pass

    def json(self):
        return self.answer

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        self.closed = True


@pytest.mark.parametrize("remove, condition", [(True, "removed"), (False, "next-exit")])
def test_a_one_shot_run_is_waited_on_and_attached_to_before_it_starts(engine, api, port_free, remove, condition):
    """As `docker run` without -d: the wait (on the removal, with --rm, which the engine does) and the attach are
    in place before the start, so however soon the container ends and goes, its output and exit code are read."""
    api.answers["create_host_config"] = lambda **kwargs: docker.types.HostConfig(version="1.45", **kwargs)
    api.answers["create_container"] = {"Id": FULL_ID, "Warnings": []}
    waited, printed = Streamed({"StatusCode": 3}), Streamed(chunks=[b"Hello from ", b"Docker!\n"])
    api.answers["post"], api.answers["attach"] = waited, printed

    result = engine.start(RunSpec("hello-world", detach=False, remove=remove))

    assert (result.container_id, result.output, result.exit_code) == (FULL_ID, "Hello from Docker!\n", 3)
    assert api.names() == ["create_host_config", "create_container", "post", "attach", "start"]
    assert api.calls_to("create_host_config")[0][1]["auto_remove"] is remove
    assert api.calls_to("post") == [((f"http+docker://localhost/v1.45/containers/{FULL_ID}/wait",),
                                     {"params": {"condition": condition}, "stream": True, "timeout": None})]
    assert api.calls_to("attach") == [((FULL_ID,), {"stream": True, "logs": True})]
    assert waited.closed and printed.closed
    assert port_free == []


def one_shot(api, waited=None, printed=None):
    """A one-shot run's answers: created as FULL_ID, its wait and its attach answered by `waited` and `printed`."""
    api.answers["create_host_config"] = lambda **kwargs: docker.types.HostConfig(version="1.45", **kwargs)
    api.answers["create_container"] = {"Id": FULL_ID, "Warnings": []}
    api.answers["post"] = Streamed({"StatusCode": 0}) if waited is None else waited
    api.answers["attach"] = Streamed(chunks=[b"moo\n"]) if printed is None else printed
    return RunSpec("cowserv:latest", detach=False, remove=True)


@pytest.mark.parametrize("call", ["post", "attach"])
@pytest.mark.parametrize("error, refusal", [
    (requests.exceptions.ConnectionError("Connection aborted."), EngineUnavailable),
    (sdk_error(500, "configured logging driver does not support reading"), EngineError),
])
def test_a_one_shot_run_not_waited_on_or_attached_to_is_removed_again(engine, api, port_free, call, error, refusal):
    """The wait or the attach refused (or the engine gone) before the start: the created container is removed, not
    left created; the wait already held is let go."""
    waited = Streamed({"StatusCode": 0})
    spec = one_shot(api, waited=waited)
    api.answers[call] = error

    with pytest.raises(refusal):
        engine.start(spec)

    assert "start" not in api.names()
    assert api.calls_to("remove_container") == [((FULL_ID,), {"force": True})]
    assert waited.closed or call == "post"


class Cut(Streamed):
    """A stream the engine cuts while it is read (the engine restarting): its chunks, then `error`."""

    def __init__(self, error, answer=None, chunks=()):
        super().__init__(answer, chunks)
        self.error = error

    def __iter__(self):
        yield from self.chunks
        raise self.error

    def json(self):
        raise self.error


@pytest.mark.parametrize("error", [
    ConnectionResetError(104, "Connection reset by peer"), BrokenPipeError(32, "Broken pipe"),
    requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(0 bytes read)"),
    urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
])
@pytest.mark.parametrize("cut", ["attach", "post"])
def test_a_one_shot_run_whose_engine_goes_mid_run_is_engine_unavailable(engine, api, port_free, error, cut):
    """The output or the wait cut while it is read (a socket error, however the SDK's layers name it): the engine
    is away, a 503 with the banner, never a 500."""
    streams = {"attach": Cut(error, chunks=[b"moo\n"]), "post": Cut(error)}
    spec = one_shot(api, **{"attach": {"printed": streams["attach"]}, "post": {"waited": streams["post"]}}[cut])

    with pytest.raises(EngineUnavailable) as raised:
        engine.start(spec)

    assert status_of(raised.value) == 503
    assert "does not answer" in str(raised.value)
    assert streams[cut].closed


def test_this_machine_s_own_file_errors_are_not_taken_for_the_engine_s(engine, api):
    """A build context the SDK cannot read is this machine's: it is not told as the engine gone."""
    api.answers["history"] = PermissionError(13, "Permission denied", "/srv/workshop/Dockerfile")

    with pytest.raises(PermissionError):
        engine.history("cowserv:latest")


def test_run_with_a_real_free_port_passes_the_pre_check(engine, api, free_port):
    api.answers["create_container"] = {"Id": FULL_ID, "Warnings": []}

    assert run_cow(engine, free_port) == FULL_ID
    assert api.names() == ["create_host_config", "create_container", "start"]


def test_a_remote_engine_s_ports_are_not_probed_on_this_machine(api, port_free):
    engine = faked(Engine(), api, REMOTE)
    api.answers["create_host_config"] = lambda **kwargs: docker.types.HostConfig(version="1.45", **kwargs)
    api.answers["create_container"] = {"Id": FULL_ID, "Warnings": []}

    assert engine.remote_address == "10.0.0.5" and not engine.ports_are_local
    assert engine.endpoint.published_host("localhost") == "10.0.0.5"
    assert run_cow(engine, 8001) == FULL_ID
    assert port_free == []  # this machine's port 8001 says nothing of 10.0.0.5's
    assert api.names() == ["create_host_config", "create_container", "start"]


def test_run_refuses_a_port_taken_on_this_host_before_creating_anything(engine, api):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(PortInUse) as raised:
            run_cow(engine, port)

    assert status_of(raised.value) == 409
    assert str(port) in str(raised.value)
    assert api.calls == []


def test_run_removes_the_container_when_start_finds_the_port_allocated(engine, api, port_free):
    api.answers["create_container"] = {"Id": FULL_ID, "Warnings": []}
    api.answers["start"] = sdk_error(
        500,
        "driver failed programming external connectivity on endpoint eager_wu (0123abcd): "
        "Bind for 0.0.0.0:8001 failed: port is already allocated",
    )

    with pytest.raises(PortInUse) as raised:
        run_cow(engine, 8001)

    assert "8001" in str(raised.value)
    assert api.names() == ["create_host_config", "create_container", "start", "remove_container"]
    assert api.calls_to("remove_container") == [((FULL_ID,), {"force": True})]


def test_run_removes_the_container_when_start_fails_otherwise(engine, api, port_free):
    api.answers["create_container"] = {"Id": FULL_ID, "Warnings": []}
    api.answers["start"] = sdk_error(500, "failed to create task for container: OCI runtime create failed")

    with pytest.raises(EngineError) as raised:
        run_cow(engine, 8001)

    assert type(raised.value) is EngineError
    assert status_of(raised.value) == 502
    assert "OCI runtime create failed" in str(raised.value)
    assert api.calls_to("remove_container") == [((FULL_ID,), {"force": True})]


def test_run_without_the_image_is_image_not_found(engine, api, port_free):
    api.answers["create_container"] = sdk_error(404, "No such image: cowserv:latest")

    with pytest.raises(ImageNotFound) as raised:
        run_cow(engine, 8001)

    assert status_of(raised.value) == 409
    assert "build it first" in str(raised.value)
    assert "start" not in api.names()


def test_run_when_the_engine_is_down_is_engine_unavailable(engine, api, port_free):
    api.answers["create_container"] = requests.exceptions.ConnectionError("Connection refused")

    with pytest.raises(EngineUnavailable):
        run_cow(engine, 8001)


# --- a build's own step containers ------------------------------------------------------------------------

BUILD_STEP_COMMAND = "/bin/sh -c #(nop)  LABEL classroom.lesson=cowserv"  # as the engine lists the classic builder's


def test_containers_leaves_out_a_builds_step_containers(engine, api):
    api.answers["containers"] = [
        {"Id": FULL_ID, "Names": ["/eager_wu"], "Command": "/bin/sh -c 'python3 -m http.server 8000'",
         "Labels": dict(LESSON_LABELS), "State": "running"},
        {"Id": OTHER_ID, "Names": ["/busy_builder"], "Command": BUILD_STEP_COMMAND,
         "Labels": dict(LESSON_LABELS), "State": "created"},
    ]

    assert [container.id for container in engine.containers()] == [FULL_ID]


def test_a_builds_step_container_is_out_of_every_actions_reach(engine, api):
    step = lesson_container(OTHER_ID)
    step["Config"]["Cmd"] = ["/bin/sh", "-c", "#(nop) ", "LABEL classroom.lesson=cowserv"]
    api.answers["inspect_container"] = step

    with pytest.raises(ContainerNotFound):
        engine.stop_and_remove(OTHER_ID[:12])
    assert api.names() == ["inspect_container"]


# --- a remote engine, through the whole app (the fake answers for 10.0.0.5, which is never connected to) ----------

SEAT_ID = "5eed" * 16


def lesson_row(container_id, name, host_port):
    return {"Id": container_id, "Names": [f"/{name}"], "Image": "cowserv:latest", "Created": 1_700_000_000,
            "Command": "/bin/sh -c 'python3 -m http.server 8000'", "Labels": dict(LESSON_LABELS),
            "Ports": [{"IP": "0.0.0.0", "PrivatePort": 8000, "PublicPort": host_port, "Type": "tcp"}],
            "State": "running", "Status": "Up 2 minutes"}


@pytest.fixture
def remote_app(api, monkeypatch, tmp_path):
    """The dashboard with DOCKER_HOST=tcp://10.0.0.5:2375 as its engine, answered by the fake SDK client, and no
    probing of this machine's ports nor any cow asked for over the network (each is recorded instead)."""
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    faked(app.extensions["engine"], api, REMOTE)
    api.answers.update({
        "version": VERSION_26,
        "containers": [lesson_row(FULL_ID, "eager_wu", 8123), lesson_row(SEAT_ID, "seat-8124", 8124)],
        "events": [],
        "inspect_image": docker.errors.ImageNotFound("No such image: cowserv:latest"),
        "history": docker.errors.ImageNotFound("No such image: cowserv:latest"),
        "create_host_config": lambda **kwargs: docker.types.HostConfig(version="1.45", **kwargs),
        "create_container": {"Id": OTHER_ID, "Warnings": []},
        "inspect_container": dict(lesson_container(), Id=FULL_ID,
                                  NetworkSettings={"Ports": {"8000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8123"}]}}),
    })

    def probed(port):
        raise AssertionError(f"port {port} of this machine probed for a remote engine")

    monkeypatch.setattr(engine_module, "host_port_free", probed)
    monkeypatch.setattr(room, "host_port_free", probed)
    app.asked_cows = []
    monkeypatch.setattr(cowcheck, "ask", lambda host, port: app.asked_cows.append((host, port))
                        or cowcheck.CowAnswer(port, "moo"))
    return app


def test_a_remote_engine_s_ports_are_linked_and_asked_on_its_address(remote_app):
    client = remote_app.test_client()  # its requests come to "localhost", which is not where the ports are

    page = client.get("/").text
    assert ('at <code data-engine-endpoint>tcp://10.0.0.5:2375</code>; its published ports answer on '
            '<code>10.0.0.5</code>') in page
    assert 'href="http://10.0.0.5:8123/"' in client.get("/containers", headers=HTMX).text
    ran = client.post("/containers", data={"host_port": "8125"}, headers=HTMX)
    assert ran.status_code == 200 and 'href="http://10.0.0.5:8125/"' in ran.text

    assert "Yes: port 8123 answers with its cow." in client.get(f"/containers/{FULL_ID}/cow", headers=HTMX).text
    assert remote_app.asked_cows == [("10.0.0.5", 8123)]


def test_an_explicit_cow_host_is_asked_even_for_a_remote_engine(remote_app):
    remote_app.config["COW_HOST"] = "cows.classroom.test"

    remote_app.test_client().get(f"/containers/{FULL_ID}/cow", headers=HTMX)
    assert remote_app.asked_cows == [("cows.classroom.test", 8123)]


def test_a_port_a_remote_engine_refuses_is_the_same_409(remote_app, api):
    api.answers["start"] = sdk_error(
        500, "driver failed programming external connectivity on endpoint x (0123abcd): "
             "Bind for 0.0.0.0:8125 failed: port is already allocated")

    refused = remote_app.test_client().post("/containers", data={"host_port": "8125"}, headers=HTMX)
    assert refused.status_code == 409
    assert "Host port 8125 is already in use" in refused.text
    assert api.calls_to("remove_container") == [((OTHER_ID,), {"force": True})]


@pytest.mark.parametrize(("version", "note", "warning"),
                         [("26.1.5", True, False), ("20.10.24+dfsg1", False, False), ("19.03.15", False, True)])
def test_the_page_says_what_it_must_for_the_engine_s_version(remote_app, api, version, note, warning):
    api.answers["version"] = dict(VERSION_26, Version=version)

    page = remote_app.test_client().get("/").text
    assert f"<span data-engine-version>Docker Engine {version} (API 1.45)</span>" in page
    assert ("data-builder-note" in page) is note
    assert ("data-engine-warning" in page) is warning
    if note:
        assert "<code data-buildkit-line>#5 [2/3] RUN apt-get update …</code>" in page
    if warning:
        assert "Docker Engine 19.03 is older than the oldest engine this dashboard is tested on (20.10)." in page
