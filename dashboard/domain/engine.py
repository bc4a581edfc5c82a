"""The one module that talks to Docker: SDK calls go in, plain data and the domain's own errors (errors.py) come out."""

import contextlib
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import docker
import requests
import urllib3
from docker import errors as docker_errors
from docker.constants import DEFAULT_UNIX_SOCKET
from docker.context import ContextAPI

from .breaker import Breaker
from .engine_facts import Endpoint, EngineAbout, is_build_step
from .errors import (
    ContainerNotFound,
    ContainerNotRunning,
    EngineError,
    EngineUnavailable,
    ImageNotFound,
    NameInUse,
    PortInUse,
    VolumeInUse,
)
from .labels import LESSON_LABEL
from .ports import host_port_free


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    image: str
    state: str
    status: str
    created: datetime
    ports: tuple[tuple[int, int], ...]  # (host port, container port), as `docker ps` shows them
    lesson: str = ""  # the value of its classroom.lesson label
    command: str = ""  # as `docker ps` shows it
    seat: str = ""  # the seat whose own engine it is on ("" on the instructor's engine; see seats.py)

    @property
    def short_id(self):
        return self.id[:12]

    @property
    def running(self):
        return self.state == "running"


@dataclass(frozen=True)
class RunSpec:
    """A container to create and start, as `docker run` options say it (see commands.run_words)."""

    image: str
    name: str | None = None
    detach: bool = True
    remove: bool = False  # --rm: removed once its command ends
    ports: tuple[tuple[int, int], ...] = ()  # (host port, container port)
    env: tuple[tuple[str, str], ...] = ()
    volumes: tuple[tuple[str, str], ...] = ()  # (absolute host folder or volume name, path in the container)
    command: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RunResult:
    container_id: str
    output: str = ""  # a one-shot run's output, stdout and stderr together
    exit_code: int | None = None  # a one-shot run's


@dataclass(frozen=True)
class Image:
    id: str
    tag: str
    size: int

    @property
    def short_id(self):
        return self.id.removeprefix("sha256:")[:12]


@dataclass(frozen=True)
class Layer:
    id: str | None  # None for layers that came with the base image ("<missing>" in `docker history`)
    created_by: str
    size: int


@dataclass(frozen=True)
class EngineEvent:
    kind: str  # "container" or "image"
    action: str  # create, start, die, destroy, tag, untag, delete, …
    of_lesson: bool  # a container event of a lesson's container, any lesson (image events: False)
    seat: str = ""  # the seat whose own engine it is on ("" on the instructor's engine)


def _about_from(info, endpoint):
    """An EngineAbout from the engine's `GET /version` answer."""
    components = [c.get("Name", "") for c in info.get("Components") or [] if c.get("Name")]
    product = components[0] if components else "Engine"
    return EngineAbout(
        name="Docker Engine" if product == "Engine" else product,
        version=info.get("Version") or "",
        api_version=info.get("ApiVersion") or "",
        os=info.get("Os") or "",
        arch=info.get("Arch") or "",
        endpoint=endpoint,
    )


def endpoint_from_environment(environ=None):
    """The endpoint the SDK client is made from, chosen as the docker CLI chooses it: DOCKER_HOST (with
    DOCKER_TLS_VERIFY and DOCKER_CERT_PATH), else the current docker context (DOCKER_CONTEXT, else the CLI
    config's currentContext), else the local socket."""
    environ = os.environ if environ is None else environ
    if environ.get("DOCKER_HOST"):
        try:
            params = docker.utils.kwargs_from_env(environment=environ)
        except docker_errors.DockerException as error:  # DOCKER_TLS_VERIFY=1 without the certificates, say
            return Endpoint(environ["DOCKER_HOST"], error=f"DOCKER_HOST cannot be used as it is: {error}")
        return Endpoint(params["base_url"], params.get("tls"))
    name = environ.get("DOCKER_CONTEXT")
    try:
        context = ContextAPI.get_context(name)
    except Exception as error:  # the SDK raises a bare Exception for a corrupted context file
        return Endpoint(f"docker context {name or 'current'}", error=f"The docker context cannot be read: {error}")
    if context is not None and context.name != "default" and context.Host:
        return Endpoint(context.Host, context.TLSConfig)
    return Endpoint(DEFAULT_UNIX_SOCKET.removeprefix("http+"))


def _instruction_of(created_by):
    """The Dockerfile instruction behind a history row: `/bin/sh -c #(nop)  CMD …` is CMD, other shells RUN."""
    text = " ".join(created_by.split())
    if text.startswith("/bin/sh -c #(nop) "):
        return text.removeprefix("/bin/sh -c #(nop) ")
    if text.startswith("/bin/sh -c "):
        return "RUN " + text.removeprefix("/bin/sh -c ")
    return text


# What the SDK's calls raise when the engine refuses or goes (a socket cut mid-stream is a plain OSError).
_ENGINE_ERRORS = (docker_errors.DockerException, requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
                  OSError)
_FILE_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def _is_port_conflict(error):
    text = str(error).lower()
    return "port is already allocated" in text or "address already in use" in text


class Engine:
    """Docker clients made on first use and kept, so the dashboard recovers when the engine comes back.

    Two clients: pages read through one with a short timeout (`read_timeout`), actions (create, start, stop, build)
    through one with a long one; reads stop for `hold` seconds once the engine is found silent (breaker.py).
    """

    def __init__(self, timeout=60, read_timeout=3, hold=10, about_seconds=30, endpoint=None, seat=""):
        self._timeout, self._read_timeout = timeout, read_timeout
        self._about_seconds = about_seconds
        self._breaker = Breaker(hold)
        # A seat's own engine (`endpoint` its socket, `seat` its name): everything on it is the seat's, labelled or
        # not, as the student typed it; its published ports answer in the seat's network namespace, not here.
        self._endpoint = Endpoint(endpoint) if endpoint else None
        self.seat = seat
        self._clients = None  # (reader, actor)
        self._lock = threading.Lock()
        self._about = None  # (when asked, EngineAbout), for pages

    @property
    def endpoint(self):
        """Where the engine is reached, read from the environment on first use, as the clients are made from it."""
        if self._endpoint is None:
            self._endpoint = endpoint_from_environment()
        return self._endpoint

    @property
    def remote_address(self):
        """The engine's machine when it is another one (DOCKER_HOST tcp:// or ssh:// to a non-loopback address),
        where its published ports answer; None when the engine runs here."""
        return self.endpoint.remote_address

    @property
    def ports_are_local(self):
        """True when the engine publishes its ports on this machine, so binding a port here says whether a
        container can publish it; for a remote engine (or a seat's, in its own namespace) only the engine can say."""
        return not self.seat and self.endpoint.ports_are_local

    def _connected(self):
        """(reader, actor), made outside any lock: a silent engine must not make every caller queue behind one."""
        clients = self._clients
        if clients is None:
            endpoint = self.endpoint
            if endpoint.error:
                raise docker_errors.DockerException(endpoint.error)
            reader = _client(endpoint, self._read_timeout)
            actor = _client(endpoint, self._timeout, version=reader.api.api_version)
            with self._lock:
                if self._clients is None:
                    self._clients = (reader, actor)
                clients = self._clients
        return clients

    @contextlib.contextmanager
    def _api(self, acting=False):
        """The SDK's low-level client for a read (or an action), and the one place that turns its exceptions into
        the dashboard's. Reads are refused at once while the engine is known silent; an action, which may take
        long on a busy engine (a class of 300 starting), waits its own timeout."""
        if not acting:
            self._breaker.check()
        try:
            reader, actor = self._connected()
            yield actor.api if acting else reader.api
        except docker_errors.NotFound as error:
            raise ContainerNotFound(error.explanation or str(error)) from error
        except _ENGINE_ERRORS as error:  # urllib3's and OSError: a stream (a build's, a run's output) cut mid-read
            if isinstance(error, docker_errors.APIError):
                raise EngineError(error.explanation or str(error)) from error
            if isinstance(error, _FILE_ERRORS):
                raise  # this machine's files (a build's context), not the engine
            self._about = None  # gone: whatever answers next may be another engine
            if _timed_out(error):
                raise self._breaker.open(error) from error
            raise EngineUnavailable(f"The Docker engine does not answer: {error}") from error

    def version(self):
        """The engine's name, version and API version, and where it is reached, asked now (`GET /version`, the
        cheapest proof that it answers); kept for `about`."""
        with self._api() as api:
            info = api.version()
        about = _about_from(info, self.endpoint.url)
        self._about = (time.monotonic(), about)
        return about

    def about(self):
        """The engine's version for a page, kept `about_seconds` and forgotten once a call finds the engine gone;
        None while the engine does not answer."""
        kept = self._about
        if kept is not None and time.monotonic() - kept[0] < self._about_seconds:
            return kept[1]
        try:
            return self.version()
        except EngineError:
            return None

    def containers(self):
        """Every lesson's containers, running or not, in one engine call (`docker ps -a --filter label=…`), less a
        build's own step containers (they carry the label while they exist)."""
        with self._api() as api:
            rows = api.containers(all=True, filters={} if self.seat else {"label": LESSON_LABEL})
        return [_container_from_row(row, self.seat) for row in rows if not is_build_step(row.get("Command"))]

    def events(self):
        """Open the engine's stream of container and image events (as `docker events`), to follow from a thread."""
        with self._api() as api:
            raw = api.events(decode=True, filters={"type": ["container", "image"]})
        return EventStream(raw, self._api, self.seat)

    def image(self, tag):
        """The image with this tag, or None when it has not been built."""
        with self._api() as api:
            try:
                attrs = api.inspect_image(tag)
            except docker_errors.ImageNotFound:
                return None
        return Image(id=attrs["Id"], tag=tag, size=attrs["Size"])

    def require_image(self, tag):
        """Refuse, as a run would, when the image has not been built: checked once before a run on every seat."""
        if self.image(tag) is None:
            raise _no_image(tag)

    def start(self, spec):
        """Create and start a container as `docker run` does with the spec's options; a one-shot run is attached to
        and waited for from before its start, so its output and exit code are read however soon it ends.

        A published port taken on this machine is refused before anything is created; a start that fails all the
        same removes the created container again, so a failed run leaves nothing behind.
        """
        for host_port, _ in spec.ports:
            if self.ports_are_local and not host_port_free(host_port):
                raise PortInUse(_port_in_use(host_port))
        with self._api(acting=True) as api:
            container_id = self._create(api, spec)
            if spec.detach:
                _start(api, container_id, spec)
                return RunResult(container_id)
            # `docker run` waits on the next exit (on the removal, with --rm) and attaches before it starts.
            with contextlib.ExitStack() as held:
                try:
                    waiting = held.enter_context(contextlib.closing(
                        _wait_from_now(api, container_id, "removed" if spec.remove else "next-exit")))
                    printed = held.enter_context(contextlib.closing(api.attach(container_id, stream=True, logs=True)))
                except Exception:
                    _remove_quietly(api, container_id)  # never started: a failed run leaves nothing behind
                    raise
                _start(api, container_id, spec)
                output = b"".join(printed).decode(errors="replace")
                exit_code = waiting.json().get("StatusCode")
        return RunResult(container_id, output, exit_code)

    @staticmethod
    def _create(api, spec):
        binds = {source: {"bind": target, "mode": "rw"} for source, target in spec.volumes}
        try:
            created = api.create_container(
                spec.image,
                command=list(spec.command) or None,
                name=spec.name,
                environment=dict(spec.env) or None,
                labels=dict(spec.labels) or None,
                ports=sorted({port for _, port in spec.ports}) or None,
                host_config=api.create_host_config(
                    port_bindings={port: host for host, port in spec.ports} or None,
                    binds=binds or None,
                    auto_remove=spec.remove,
                ),
            )
        except docker_errors.ImageNotFound as error:
            raise _no_image(spec.image) from error
        except docker_errors.APIError as error:
            if error.status_code == 409 and spec.name:
                raise NameInUse(f"A container named {spec.name} already exists: remove it first, as the lesson's "
                                f"next steps do (`docker rm -f {spec.name}`).") from error
            raise
        return created["Id"]

    def create_volume(self, name, lesson, labels=()):
        """Create a named volume carrying the lesson's label (and `labels`), as `docker volume create --label …`. As
        the CLI, a volume of that name already there is left as it is and the call succeeds (without the label, it
        is still not the lesson's: the step's check says so)."""
        with self._api(acting=True) as api:
            api.create_volume(name, labels={LESSON_LABEL: lesson, **dict(labels)})
        return name

    def volumes(self, lesson, labels=()):
        """The names of the lesson's volumes (with `labels` too: a seat's), as `docker volume ls --filter label=…`
        lists them."""
        with self._api() as api:
            answer = api.volumes(filters=None if self.seat else {"label": [
                f"{LESSON_LABEL}={lesson}", *(f"{key}={value}" for key, value in labels)]})
        return sorted(volume["Name"] for volume in answer.get("Volumes") or [])

    def volume(self, name, lesson, any_lesson=False, seat=None):
        """The lesson's volume of this name (its inspection), or None: none, or not the lesson's (or, with `seat`,
        not that seat's; with `any_lesson`, any volume of that name)."""
        with self._api() as api:
            try:
                attrs = api.inspect_volume(name)
            except docker_errors.NotFound:
                return None
        labels = attrs.get("Labels") or {}
        if any_lesson or self.seat or labels.get(LESSON_LABEL) == lesson:  # a seat's engine: every volume is its
            return attrs
        return None

    def remove_volume(self, name, lesson, seat=None):
        """Remove the lesson's volume, as `docker volume rm`; a volume a container still uses is refused."""
        if self.volume(name, lesson, seat=seat) is None:
            raise ContainerNotFound(f"No volume {name} of this lesson: it is already gone, or it is not the "
                                    "lesson's.")
        try:
            with self._api(acting=True) as api:
                api.remove_volume(name)
        except EngineError as error:
            if isinstance(error.__cause__, docker_errors.APIError) and error.__cause__.status_code == 409:
                raise VolumeInUse(f"Volume {name} is in use by a container: remove the container first.") from error
            raise
        return name

    def exec(self, container, command, lesson, env=(), seat=None):
        """Run `command` in the lesson's running container (the seat's, with `seat`), as `docker exec` (`-e` for
        each of `env`): (exit code, output)."""
        full_id = self._lesson_attrs(container, lesson, seat)["Id"]
        try:
            with self._api(acting=True) as api:
                made = api.exec_create(full_id, list(command), environment=dict(env) or None)
                output = api.exec_start(made["Id"]).decode(errors="replace")
                exit_code = api.exec_inspect(made["Id"]).get("ExitCode")
        except EngineError as error:
            if "is not running" in str(error) or "is paused" in str(error):
                raise ContainerNotRunning(f"Container {container} is not running: `docker exec` needs a running "
                                          "container.") from error
            raise
        return exit_code, output

    def top(self, container, lesson, seat=None):
        """The processes of the lesson's running container (the seat's, with `seat`), as `docker top`:
        (titles, rows), each row a list of cells."""
        full_id = self._lesson_attrs(container, lesson, seat)["Id"]
        try:
            with self._api() as api:
                answer = api.top(full_id)
        except EngineError as error:
            if "is not running" in str(error) or "is paused" in str(error):
                raise ContainerNotRunning(f"Container {container} is not running: `docker top` lists the processes "
                                          "of a running container.") from error
            raise
        return list(answer.get("Titles") or []), [list(row) for row in answer.get("Processes") or []]

    def remove(self, container, lesson, force=False, stop_first=False, seat=None):
        """Remove the lesson's container (the seat's, with `seat`), as `docker rm` (`-f` with force; `docker stop`
        first with stop_first). One found here and gone (or going) by the time the engine removes it is removed:
        its own end did it (`--rm`), or another removal did."""
        full_id = self._lesson_attrs(container, lesson, seat)["Id"]
        try:
            with self._api(acting=True) as api:
                self._remove_container(api, full_id, force=force, stop_first=stop_first)
        except ContainerNotFound:
            pass
        except EngineError as error:
            if isinstance(error.__cause__, docker_errors.APIError) and error.__cause__.status_code == 409:
                if "running" in str(error).lower():
                    raise ContainerNotRunning(f"Container {container} is running: stop it first, or remove it "
                                              "with `docker rm -f`.") from error
                raise ContainerNotFound(_gone(container)) from error
            raise
        return full_id

    def _remove_container(self, api, container_id, force=False, stop_first=False):
        """`docker rm` (`-f` with force, `docker stop` first with stop_first), done once the container is gone: a
        container another removal already has in hand (its own --rm, a `docker rm` elsewhere) is waited for, at most
        the actions' timeout, so its name is free for the next `docker run --name`, as after a removal of one's own."""
        try:
            if stop_first:
                api.stop(container_id)
            api.remove_container(container_id, force=force)
        except docker_errors.APIError as error:
            if error.status_code != 409 or "in progress" not in str(error.explanation or error).lower():
                raise
            try:  # "removal of container … is already in progress"
                answer = api.wait(container_id, timeout=self._timeout, condition="removed")
            except docker_errors.NotFound:
                return  # gone before the wait began
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as failure:
                if not _timed_out(failure):
                    raise
                raise EngineError(f"Container {container_id[:12]} is still being removed after {self._timeout:g} s: "
                                  "try again in a moment.") from failure
            failed = answer.get("Error") or {}
            if failed.get("Message"):  # the removal the engine had in hand failed (API 1.34 on says why)
                raise EngineError(failed["Message"])

    def _lesson_attrs(self, container, lesson=None, seat=None):
        """The engine's inspection of a lesson's container (of `lesson`, and of `seat`, when given), by id or name;
        any other container (a build's step too, another seat's) is "not found"."""
        try:
            with self._api() as api:
                attrs = api.inspect_container(container)
        except ContainerNotFound:
            attrs = {}
        config = attrs.get("Config") or {}
        label = (config.get("Labels") or {}).get(LESSON_LABEL)
        if self.seat and attrs:  # a seat's own engine: any of its containers is the seat's, labelled or not
            label = label or lesson or ""
        if label is None or (lesson is not None and label != lesson) \
                or is_build_step(" ".join(config.get("Cmd") or [])):
            raise ContainerNotFound(_gone(container))
        return attrs

    def owner(self, container):
        """(full id, lesson) of a lesson's container; ContainerNotFound for any other."""
        attrs = self._lesson_attrs(container)
        return attrs["Id"], (attrs["Config"].get("Labels") or {}).get(LESSON_LABEL, "")

    def state(self, container, lesson, seat=None):
        """(running, published host ports) of the lesson's container with this name or id; ContainerNotFound."""
        attrs = self._lesson_attrs(container, lesson, seat)
        bindings = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
        ports = sorted({int(b["HostPort"]) for rows in bindings.values() for b in rows or [] if b.get("HostPort")})
        return bool((attrs.get("State") or {}).get("Running")), ports

    def published_ports(self, container_id, lesson=None, seat=None):
        """The host ports a lesson's container publishes, lowest first."""
        return self.state(container_id, lesson, seat)[1]

    def logs(self, container_id, tail, lesson=None, seat=None):
        """The last `tail` lines a lesson's container printed, stdout and stderr together, as `docker logs`."""
        full_id = self._lesson_attrs(container_id, lesson, seat)["Id"]
        with self._api() as api:
            return api.logs(full_id, stdout=True, stderr=True, tail=tail).decode(errors="replace")

    def history(self, tag):
        """The image's layers, newest first, as `docker history`; empty when the image is not built."""
        with self._api() as api:
            try:
                rows = api.history(tag)
            except docker_errors.ImageNotFound:
                return []
        return [
            Layer(
                id=row["Id"].removeprefix("sha256:")[:12] if row["Id"] != "<missing>" else None,
                created_by=_instruction_of(row.get("CreatedBy", "")),
                size=row.get("Size", 0),
            )
            for row in rows
        ]

    def stop_and_remove(self, container_id, lesson=None):
        """Stop then remove a lesson's container, as `docker stop ID && docker rm ID`."""
        return self.remove(container_id, lesson, stop_first=True)

    def build(self, context, tag, build_args, labels=None, force_rm=True, context_file=None):
        """Yield the engine's build output, chunk by chunk, while it builds (the classic builder's stream); the
        context is the folder `context`, or the tar in `context_file` when given (a seat's, read as its student)."""
        where = ({"fileobj": context_file, "custom_context": True} if context_file is not None
                 else {"path": str(context)})
        with self._api(acting=True) as api:
            yield from api.build(
                **where, tag=tag, buildargs=build_args, rm=True, forcerm=force_rm, decode=True,
                labels=labels or None,
            )

    def cpus(self):
        """How many CPUs the engine has (`docker info`'s CPUs): a container may not be given more."""
        with self._api() as api:
            return api.info().get("NCPU") or 1

    def remove_everything(self):
        """Force-remove every container and volume on this engine, and every image a lesson built (they carry the
        lesson's label; the stand-ins, under the lessons' names, stay): a seat's own engine, as the room's "remove
        every seat's things" and its command do. Returns how many of each."""
        with self._api(acting=True) as api:
            containers = [row["Id"] for row in api.containers(all=True)]
            for container_id in containers:
                with contextlib.suppress(docker_errors.NotFound):
                    self._remove_container(api, container_id, force=True)  # gone before its volumes are removed
            volumes = [volume["Name"] for volume in api.volumes().get("Volumes") or []]
            for name in volumes:
                with contextlib.suppress(docker_errors.NotFound):
                    api.remove_volume(name, force=True)
            images = {row["Id"] for row in api.images(filters={"label": LESSON_LABEL})}
            for image_id in images:
                with contextlib.suppress(docker_errors.NotFound, docker_errors.APIError):
                    api.remove_image(image_id, force=True)
        return len(containers), len(volumes), len(images)


def _start(api, container_id, spec):
    """Start the created container; when the engine refuses, remove it again (where the engine still answers)."""
    try:
        api.start(container_id)
    except _ENGINE_ERRORS as error:
        _remove_quietly(api, container_id)
        if isinstance(error, docker_errors.APIError) and _is_port_conflict(error):
            raise PortInUse(_port_in_use(spec.ports[0][0])) from error
        raise


def _remove_quietly(api, container_id):
    """Force-remove a container a failed run created, where the engine still answers (gone, it says nothing)."""
    with contextlib.suppress(*_ENGINE_ERRORS):
        api.remove_container(container_id, force=True)


def _wait_from_now(api, container_id, condition):
    """`POST /containers/ID/wait?condition=…`, answered once the engine holds the wait (API 1.30 on sends the
    header at once, the exit code when the condition is met): set before the start, it cannot miss the end.
    The SDK's own wait returns only at the end, so the request is made here; read its `.json()`, then close."""
    url = f"{api.base_url}/v{api.api_version}/containers/{container_id}/wait"
    response = api.post(url, params={"condition": condition}, stream=True, timeout=None)
    try:
        response.raise_for_status()
    except requests.exceptions.HTTPError as error:
        response.close()
        raise docker_errors.create_api_error_from_http_exception(error) from error
    return response


def _port_in_use(host_port):
    return f"Host port {host_port} is already in use: choose another one."


def _no_image(image):
    return ImageNotFound(f"There is no image {image} here yet: build it first (or pull it, where a registry "
                         "answers).")


def _gone(container):
    """Not found: a hex id shortened as `docker ps` shows it, a name whole."""
    shown = container[:12] if re.fullmatch(r"[0-9a-f]{13,64}", container) else container[:64]
    return f"No lesson container {shown}: it is already gone, or it is not one of the lesson's."


def _client(endpoint, timeout, version=None):
    """A Docker SDK client for the endpoint; without `version` it asks the engine which API version to speak."""
    return docker.DockerClient(base_url=endpoint.url, tls=endpoint.tls or False, timeout=timeout, version=version)


def _timed_out(error):
    """True when the engine took the connection but did not answer in time, however the SDK wrapped the timeout."""
    while error is not None:
        if isinstance(error, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)):
            return True
        error = error.__cause__ or error.__context__
    return False


class EventStream:
    """The engine's open event stream: iterate it for EngineEvents; close() ends it from another thread."""

    def __init__(self, raw, api, seat=""):
        self._raw, self._api, self._seat = raw, api, seat

    def __iter__(self):
        with self._api():
            for event in self._raw:
                attributes = (event.get("Actor") or {}).get("Attributes") or {}
                kind = event.get("Type", "")
                yield EngineEvent(kind, event.get("Action", ""),
                                  of_lesson=kind == "container" and (bool(self._seat) or LESSON_LABEL in attributes),
                                  seat=self._seat if kind == "container" else "")

    def close(self):
        with contextlib.suppress(Exception):  # already closed, or cut by the engine: closed either way
            self._raw.close()


def _container_from_row(row, seat=""):
    ports = {(p["PublicPort"], p["PrivatePort"]) for p in row.get("Ports", []) if p.get("PublicPort")}
    return Container(
        id=row["Id"],
        name=(row.get("Names") or ["/"])[0].lstrip("/"),
        image=row.get("Image", ""),
        state=row.get("State", ""),
        status=row.get("Status", ""),
        created=datetime.fromtimestamp(row.get("Created", 0), tz=timezone.utc),
        ports=tuple(sorted(ports)),
        lesson=(row.get("Labels") or {}).get(LESSON_LABEL, ""),
        command=row.get("Command", ""),
        seat=seat,
    )

