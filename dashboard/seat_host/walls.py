"""The walls: which Docker API calls a seat's engine refuses, and why, in words a student understands.

Pure rules: the authorization plugin (walls_server) passes every call the seat's engine receives (the AuthZReq:
RequestMethod, RequestUri, RequestHeaders, RequestBody in base64) to refusal(), with the seat's Rules. Reads pass;
writes pass only on the endpoints the docker CLI and `docker compose` use, with their bodies checked; the rest is
refused. The seat's mount namespace is the second wall: what slips past here still sees only the seat's view.

What Docker does that shapes these rules (Engine 20.10):
- Go decodes JSON keys case-insensitively (with Unicode folding: "ſ" is "s"), the last of duplicate keys wins, and
  the create call reads host settings both under "HostConfig" and at the top level; so every matching key is checked.
- The engine hands the plugin a body only when Content-Type is exactly application/json and the body is under 1 MB;
  a JSON call whose body the plugin did not see is refused, unless it said Content-Length: 0.
- Go's form parsing also takes parameters from an url-encoded or multipart body, which the plugin never sees; such
  bodies are refused. Blind spot (tried on 20.10): the plugin sees only the last of repeated headers, so a hand-made
  call with two Content-Type headers, a form first, passes build and import parameters unseen (a remote context,
  an import URL, --network host, BuildKit, --cgroup-parent). The seat's network and view contain the first three;
  --cgroup-parent needs the engine's view to show it only the seat's own cgroups.
"""

import base64
import binascii
import json
import os
import posixpath
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import parse_qs, unquote

from dashboard.seat_host import layout

MAX_LINKS = 40  # symlinks followed in one path, as the kernel's limit
MAX_PATH = 4096
SAFE_LOG_DRIVERS = {"json-file", "local", "none"}
SAFE_SECURITY_OPTS = {"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"}
VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
VERSION = re.compile(r"/v[0-9.]+(?=/)")
CLOSED = {  # first path segment: why the whole API area is closed on a seat
    "plugins": "docker plugin is not allowed on a seat: a plugin runs with the whole machine's privileges",
    "swarm": "swarm mode is not available on a seat",
    "services": "swarm services are not available on a seat",
    "nodes": "swarm nodes are not available on a seat",
    "secrets": "swarm secrets are not available on a seat",
    "configs": "swarm configs are not available on a seat",
    "tasks": "swarm tasks are not available on a seat",
    "session": "BuildKit is not available on a seat: build with the classic builder (DOCKER_BUILDKIT=0 docker build)",
    "grpc": "BuildKit is not available on a seat: build with the classic builder (DOCKER_BUILDKIT=0 docker build)",
}
BUILDKIT = CLOSED["session"]


class Refused(Exception):
    """A call the walls refuse; its message is shown to the student."""


@dataclass(frozen=True)
class Rules:
    """One seat's walls: its folder as the seat sees it (`folder`) and on the host (`files`), its disk use and
    budget in bytes (budget 0: none), and `resolve` (seat path -> None, or why it is outside the folder; by default
    a SeatView of folder and files)."""

    files: Path
    folder: str = layout.FOLDER
    used: int = 0
    budget: int = 0
    resolve: Optional[Callable] = None

    def outside(self, path):
        """None when the seat path `path` names something inside the seat's folder; otherwise why not."""
        check = self.resolve or SeatView(self.folder, self.files).outside
        return check(path)


def refusal(rules, request):
    """Why the seat's engine must refuse this API call (a sentence for the student), or None to let it through."""
    try:
        _check(rules, request)
    except Refused as refused:
        return str(refused)
    except Exception as error:  # anything unforeseen refuses: the walls fail closed
        return f"this request could not be checked, so it is refused ({type(error).__name__})"
    return None


# The request -----------------------------------------------------------------------------------------------------

class _Object:
    """A JSON object as Go's decoder sees it: field lookups fold case and see every duplicate; maps keep keys."""

    def __init__(self, pairs):
        self.pairs = pairs

    def get(self, name):
        """Every value under a key Go would decode into the field `name`."""
        folded = name.casefold()
        return [value for key, value in self.pairs if key.casefold() == folded]

    def keys(self):
        return [key for key, _ in self.pairs]


def _fields(obj, name):
    return obj.get(name) if isinstance(obj, _Object) else []


def _set(value):
    """Whether a JSON value turns a setting on (anything but null, false, 0, "", [] or {})."""
    if isinstance(value, _Object):
        return bool(value.pairs)
    return value not in (None, False, 0, "", [])


def _header(headers, name):
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if isinstance(key, str) and key.casefold() == name.casefold():
            return value if isinstance(value, str) else None
    return None


@dataclass
class _Call:
    method: str
    path: str  # without the version prefix, percent-decoded
    query: dict
    headers: dict
    body: Optional[bytes]  # None when the plugin was not given one

    def json(self):
        """The body decoded as Go would (None for an empty body); a body the plugin did not see is refused."""
        if self.body is None:
            if (_header(self.headers, "Content-Length") or "").strip() == "0":
                return None
            raise Refused("this request is too large to check (or not JSON), so it is refused on a seat")
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body.decode("utf-8"), object_pairs_hook=_Object)
        except (UnicodeDecodeError, ValueError):
            raise Refused("this request's body is not JSON as expected, so it is refused on a seat") from None

    def params(self, name):
        return self.query.get(name, [])


def _parse(request):
    if not isinstance(request, dict):
        raise Refused("malformed authorization request")
    method, uri = request.get("RequestMethod"), request.get("RequestUri")
    if not isinstance(method, str) or not isinstance(uri, str) or not uri.startswith("/") or len(uri) > 65536:
        raise Refused("malformed authorization request")
    raw_path, _, raw_query = uri.partition("?")
    path = unquote(raw_path, errors="strict")
    if "\0" in path or posixpath.normpath(path) != path.rstrip("/") and path != "/":
        raise Refused(f"the path {path[:100]!r} is not one the docker client sends, so it is refused on a seat")
    version = VERSION.match(path)
    if version:
        path = path[version.end():]
    query = parse_qs(raw_query, keep_blank_values=True, errors="strict")
    body = request.get("RequestBody")
    if body is not None:
        if not isinstance(body, str):
            raise Refused("malformed authorization request")
        try:
            body = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise Refused("malformed authorization request") from None
    headers = request.get("RequestHeaders") or {}
    return _Call(method.upper(), path, query, headers, body)


# The endpoints ---------------------------------------------------------------------------------------------------

NAME = r"[^/]+"


def _check(rules, request):
    call = _parse(request)
    segments = call.path.strip("/").split("/")
    if segments[0] in CLOSED:
        raise Refused(CLOSED[segments[0]])
    if call.method in ("GET", "HEAD"):
        return  # reads of the seat's own engine
    content_type = (_header(call.headers, "Content-Type") or "").split(";")[0].strip().casefold()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Refused("form bodies are not accepted on a seat (the docker client never sends them)")
    for method, pattern, check in WRITES:
        if method == call.method and re.fullmatch(pattern, call.path):
            if check is not None:
                check(rules, call)
            return
    raise Refused(f"{call.method} {call.path[:100]} is not allowed on a seat")


def _over_budget(rules):
    if rules.budget and rules.used > rules.budget:
        raise Refused(f"your seat uses {rules.used // 2**20} of {rules.budget // 2**20} MB: remove images or "
                      "containers (docker system prune)")


def _create(rules, call):
    body = call.json()
    _over_budget(rules)
    # The engine reads host settings from "HostConfig" and, for old clients, from the top level too.
    _host_config(rules, body)
    for inner in _fields(body, "HostConfig"):
        _host_config(rules, inner)
    for networking in _fields(body, "NetworkingConfig"):
        for endpoints in _fields(networking, "EndpointsConfig"):
            if isinstance(endpoints, _Object) and any(key.casefold() == "host" for key in endpoints.keys()):
                raise Refused(NETWORK_HOST)


def _start(rules, call):
    body = call.json()  # API 1.23 and older took a HostConfig here
    if _set(body):
        _host_config(rules, body)
    _over_budget(rules)


def _update(rules, call):
    body = call.json()
    for name, flag in (("CgroupParent", "--cgroup-parent"), ("Devices", "--device"),
                       ("DeviceCgroupRules", "--device-cgroup-rule"), ("DeviceRequests", "--gpus")):
        if any(_set(value) for value in _fields(body, name)):
            raise Refused(f"docker update {flag} is not allowed on a seat")


def _exec(rules, call):
    body = call.json()
    if any(_set(value) for value in _fields(body, "Privileged")):
        raise Refused("docker exec --privileged is not allowed on a seat: it would give the command the whole "
                      "machine, not just your seat")


def _json_body(rules, call):
    call.json()


def _budget_only(rules, call):
    _over_budget(rules)


def _commit(rules, call):
    call.json()
    _over_budget(rules)


def _images_create(rules, call):
    if any(source != "-" for source in call.params("fromSrc")):
        raise Refused("docker import from a URL is not allowed on a seat: download the file into your folder and "
                      "import it from there (docker import FILE)")
    _over_budget(rules)


def _build(rules, call):
    if any(call.params("remote")):
        raise Refused("building from a URL or a git repository is not allowed on a seat: put the files in your "
                      "folder and build that (docker build -t NAME .)")
    if any(mode.strip().casefold() == "host" for mode in call.params("networkmode")):
        raise Refused("docker build --network host is not allowed on a seat: builds use the default network")
    if any(version.strip() not in ("", "1") for version in call.params("version")):
        raise Refused(BUILDKIT)
    if any(call.params("session")) or any(call.params("outputs")):
        raise Refused(BUILDKIT)
    if any(call.params("securityopt")):
        raise Refused("docker build --security-opt is not allowed on a seat")
    if any(call.params("cgroupparent")):
        raise Refused("docker build --cgroup-parent is not allowed on a seat: it would escape your seat's "
                      "memory and process limits")
    _over_budget(rules)


def _volume_create(rules, call):
    body = call.json()
    _volume_driver(_fields(body, "Driver"), "docker volume create --driver")
    for options in _fields(body, "DriverOpts"):
        _volume_options(options)
    _over_budget(rules)


def _network_create(rules, call):
    body = call.json()
    for driver in _fields(body, "Driver"):
        if driver not in (None, "", "bridge"):
            raise Refused(f"docker network create --driver {str(driver)[:40]} is not allowed on a seat: only "
                          "bridge networks (the default) are")
    for ipam in _fields(body, "IPAM"):
        if any(driver not in (None, "", "default") for driver in _fields(ipam, "Driver")):
            raise Refused("docker network create --ipam-driver is not allowed on a seat")
    for name, flag in (("Ingress", "--ingress"), ("ConfigFrom", "--config-from"), ("ConfigOnly", "--config-only")):
        if any(_set(value) for value in _fields(body, name)):
            raise Refused(f"docker network create {flag} is not allowed on a seat")
    if any(scope not in (None, "", "local") for scope in _fields(body, "Scope")):
        raise Refused("docker network create --scope is not allowed on a seat")


def _network_connect(rules, call):
    if call.path.split("/")[2].casefold() == "host":
        raise Refused(NETWORK_HOST)
    call.json()


WRITES = [  # (method, path, check): the calls of the docker CLI and docker compose (Engine API v1.41)
    ("POST", r"/containers/create", _create),
    ("POST", rf"/containers/{NAME}/start", _start),
    ("POST", rf"/containers/{NAME}/(stop|restart|kill|rename|pause|unpause|attach|wait|resize)", None),
    ("POST", rf"/containers/{NAME}/update", _update),
    ("POST", rf"/containers/{NAME}/exec", _exec),
    ("POST", r"/containers/prune", None),
    ("PUT", rf"/containers/{NAME}/archive", None),  # docker cp into a container: a tar, unread here
    ("DELETE", rf"/containers/{NAME}", None),
    ("POST", rf"/exec/{NAME}/start", _json_body),
    ("POST", rf"/exec/{NAME}/resize", None),
    ("POST", r"/images/create", _images_create),  # docker pull; docker import (fromSrc=-)
    ("POST", r"/images/load", _budget_only),
    ("POST", r"/images/prune", None),
    ("POST", r"/images/.+/(tag|push)", None),
    ("DELETE", r"/images/.+", None),
    ("POST", r"/commit", _commit),
    ("POST", r"/build", _build),
    ("POST", r"/build/(prune|cancel)", None),
    ("POST", r"/volumes/create", _volume_create),
    ("POST", r"/volumes/prune", None),
    ("DELETE", rf"/volumes/{NAME}", None),
    ("POST", r"/networks/create", _network_create),
    ("POST", rf"/networks/{NAME}/(connect|disconnect)", _network_connect),
    ("POST", r"/networks/prune", None),
    ("DELETE", rf"/networks/{NAME}", None),
    ("POST", r"/auth", None),  # docker login (its body is never given to plugins)
]


# Host settings ---------------------------------------------------------------------------------------------------

# --network host is refused although "host" is the seat's own network namespace, not the machine's: the seat's
# engine, its containerd and their sockets live there (abstract unix sockets are per network namespace: the
# containerd-shim escape CVE-2020-15257 went that way), and a container there could listen in place of the seat's
# published ports. No lesson needs it; -p does what a student wants from it.
NETWORK_HOST = ("--network host is not allowed on a seat: the seat's network is where its engine itself runs; "
                "publish ports with -p instead")
NAMESPACES = (("PidMode", "--pid host", "a container keeps its processes to itself"),
              ("IpcMode", "--ipc host", "a container keeps its shared memory to itself"),
              ("UTSMode", "--uts host", "a container keeps its own host name"),
              ("UsernsMode", "--userns host", "containers keep the seat's user settings"),
              ("CgroupnsMode", "--cgroupns host", "a container keeps its own view of the limits"),
              ("NetworkMode", "--network host", None))
FORBIDDEN = (("Privileged", "--privileged", "it would give the container the whole machine, not just your seat"),
             ("Devices", "--device", "the machine's devices are not the seat's"),
             ("DeviceCgroupRules", "--device-cgroup-rule", "the machine's devices are not the seat's"),
             ("DeviceRequests", "--gpus", "the machine's devices are not the seat's"),
             ("CapAdd", "--cap-add", "containers keep Docker's default capabilities"),
             ("Capabilities", "--cap-add", "containers keep Docker's default capabilities"),
             ("Sysctls", "--sysctl", "kernel settings belong to the machine"),
             ("CgroupParent", "--cgroup-parent", "it would escape your seat's memory and process limits"),
             ("MaskedPaths", "unmasking /proc", "the machine's kernel files stay hidden"),
             ("ReadonlyPaths", "a writable /proc", "the machine's kernel settings stay read-only"))


def _host_config(rules, config):
    if config is None:
        return
    if not isinstance(config, _Object):
        raise Refused("this request's settings are not a JSON object, so it is refused on a seat")
    for name, flag, why in FORBIDDEN:
        values = _fields(config, name)
        if any(_set(value) or (name in ("MaskedPaths", "ReadonlyPaths", "Capabilities") and value is not None)
               for value in values):
            raise Refused(f"{flag} is not allowed on a seat: {why}")
    for name, flag, why in NAMESPACES:
        if any(isinstance(mode, str) and mode.strip().casefold() == "host" for mode in _fields(config, name)):
            raise Refused(NETWORK_HOST if why is None else f"{flag} is not allowed on a seat: {why}")
    for options in _fields(config, "SecurityOpt"):
        for option in options if isinstance(options, list) else [options]:
            if option is not None and str(option).strip() not in SAFE_SECURITY_OPTS:
                raise Refused(f"--security-opt {str(option)[:60]} is not allowed on a seat: containers keep "
                              "Docker's default protections")
    for runtime in _fields(config, "Runtime"):
        if runtime not in (None, "", "runc"):
            raise Refused(f"--runtime {str(runtime)[:40]} is not allowed on a seat: containers use runc, the default")
    for log in _fields(config, "LogConfig"):
        for driver in _fields(log, "Type"):
            if driver not in (None, "") and driver not in SAFE_LOG_DRIVERS:
                raise Refused(f"--log-driver {str(driver)[:40]} is not allowed on a seat: use json-file (the "
                              "default), local or none")
    _volume_driver(_fields(config, "VolumeDriver"), "--volume-driver")
    for adjust in _fields(config, "OomScoreAdj"):
        if isinstance(adjust, (int, float)) and adjust < 0:
            raise Refused("--oom-score-adj is not allowed on a seat below 0: the machine would kill others first")
    for binds in _fields(config, "Binds"):
        for bind in _list(binds):
            _bind(rules, bind)
    for mounts in _fields(config, "Mounts"):
        for mount in _list(mounts):
            _mount(rules, mount)


def _list(value):
    if value is None:
        return []
    if not isinstance(value, list):
        raise Refused("this request's mounts are not a list, so it is refused on a seat")
    return value


def _volume_driver(drivers, flag):
    for driver in drivers:
        if driver not in (None, "", "local"):
            raise Refused(f"{flag} {str(driver)[:40]} is not allowed on a seat: volumes use the local driver")


def _volume_options(options):
    if options is None:
        return
    if not isinstance(options, _Object):
        raise Refused("this request's volume options are not a JSON object, so it is refused on a seat")
    bad = sorted({key[:40] for key in options.keys() if key.casefold() != "size"})
    if bad:
        raise Refused(f"volume options ({', '.join(bad)}) are not allowed on a seat: a volume with options can "
                      "mount the machine's files; use a plain volume, or -v \"$(pwd)\":/PATH for your folder")


def _bind(rules, spec):
    """A HostConfig.Binds entry "SOURCE:TARGET[:OPTIONS]" (Docker's Linux parser splits on every colon)."""
    if not isinstance(spec, str):
        raise Refused("this request's volumes are not text, so it is refused on a seat")
    parts = spec.split(":")
    if len(parts) > 3:
        raise Refused(f"-v {spec[:100]} is not a volume the engine understands")
    if len(parts) == 1:
        return  # an anonymous volume
    source = parts[0]
    if len(parts) == 3 and {"shared", "rshared"} & set(parts[2].split(",")):
        raise Refused("shared mount propagation is not allowed on a seat")
    if source.startswith("/"):
        _source(rules, source, f"-v {spec[:100]}")
    elif not VOLUME_NAME.fullmatch(source):
        raise Refused(f"-v {spec[:100]} is not allowed on a seat: name a volume, or a folder inside "
                      f"{rules.folder} by its full path (-v \"$(pwd)\":/site)")


def _mount(rules, mount):
    """A HostConfig.Mounts entry (--mount type=...,source=...,target=...)."""
    if not isinstance(mount, _Object):
        raise Refused("this request's mounts are not JSON objects, so it is refused on a seat")
    kinds = _fields(mount, "Type")
    if not kinds or any(kind not in ("bind", "volume", "tmpfs") for kind in kinds):
        raise Refused("--mount type=bind, volume or tmpfs only, on a seat")
    if "bind" in kinds:
        sources = _fields(mount, "Source")
        if not sources:
            raise Refused("--mount type=bind needs a source inside your folder")
        for source in sources:
            if not isinstance(source, str) or not source.startswith("/"):
                raise Refused("--mount type=bind needs a source inside your folder, by its full path")
            _source(rules, source, f"--mount source={source[:100]}")
        for options in _fields(mount, "BindOptions"):
            if any(str(value).strip().casefold() in ("shared", "rshared")
                   for value in _fields(options, "Propagation")):
                raise Refused("shared mount propagation is not allowed on a seat")
    for options in _fields(mount, "VolumeOptions"):
        for driver in _fields(options, "DriverConfig"):
            _volume_driver(_fields(driver, "Name"), "--mount volume-driver=")
            for driver_options in _fields(driver, "Options"):
                _volume_options(driver_options)


def _source(rules, source, what):
    if "docker.sock" in source:
        raise Refused(f"{what} is not allowed on a seat: the docker socket stays with the engine")
    why = rules.outside(source)
    if why is not None:
        raise Refused(f"{what} is not allowed on a seat: {why}")


# The seat's folder, as the seat sees it --------------------------------------------------------------------------

@dataclass(frozen=True)
class SeatView:
    """Resolves a path as the seat's engine would, knowing only the seat's folder: `folder` in the seat's view is
    `files` on the host; symlinks inside it are followed as the seat sees them (absolute targets are seat paths)."""

    folder: str
    files: Path

    def outside(self, path):
        """None when `path` (a seat path) lands inside the folder, both as the kernel walks it and as Docker cleans
        it first; otherwise why not, for the student."""
        for candidate in (path, posixpath.normpath(path)):
            why = self._walk(candidate)
            if why is not None:
                return why
        return None

    def _inside(self, path):
        return path == self.folder or path.startswith(self.folder + "/")

    def _host(self, path):
        return Path(self.files, posixpath.relpath(path, self.folder))

    def _walk(self, path):
        outside = (f"only files inside {self.folder} (your ~/{posixpath.basename(self.folder)}) can be mounted, "
                   "for example -v \"$(pwd)\":/site")
        if not path.startswith("/") or len(path) > MAX_PATH:
            return outside
        todo = [part for part in path.split("/") if part not in ("", ".")]
        done, links, missing = [], 0, False
        while todo:
            part = todo.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            done.append(part)
            current = "/" + "/".join(done)
            if not self._inside(current):
                if not self.folder.startswith(current + "/"):
                    return outside  # only the folder's own parents are walked through outside it
                continue
            if missing:
                continue
            host = self._host(current)
            try:
                info = os.lstat(host)
            except (FileNotFoundError, NotADirectoryError):
                missing = True  # Docker would make it (a folder, inside)
                continue
            except OSError:
                return f"{current} could not be checked"
            if stat.S_ISLNK(info.st_mode):
                links += 1
                if links > MAX_LINKS:
                    return f"{path} has too many symbolic links"
                try:
                    target = os.readlink(host)
                except OSError:
                    return f"{current} could not be checked"
                done.pop()
                if target.startswith("/"):
                    done = []
                todo = [piece for piece in target.split("/") if piece not in ("", ".")] + todo
                if len(todo) > MAX_PATH:
                    return f"{path} is too deep"
        final = "/" + "/".join(done)
        if not self._inside(final):
            return outside
        if not missing:
            try:
                info = os.lstat(self._host(final))
            except OSError:
                return None
            if stat.S_ISSOCK(info.st_mode) or stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                return "sockets and devices cannot be mounted on a seat"
        return None
