"""The walls on a real seat engine: the walls' server as a detached process, and a throw-away dockerd (in network and
mount namespaces of its own, which show it the seat's folder where the seat sees it and the walls' socket in its
/run/docker/plugins) that refuses what a student must not do, with the walls' message, and runs the lessons'
commands. One dockerd for the module; everything it made is removed in teardown, pass or fail."""

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from dashboard.seat_host import daemons, layout, walls_server
from dashboard.seat_host.layout import FOLDER, WALLS_PLUGIN, SeatState, write_state
from tests.support import stop_process

IMAGE = os.environ.get("DASHBOARD_BASE_IMAGE", "cowserv-base:bookworm")
DENIED = f"authorization denied by plugin {WALLS_PLUGIN}: "


def seat_state(name, disk=20 * 2**30):
    return SeatState(name=name, index=7, first_port=8001, room="walls-test", ports=(), bind_host="127.0.0.1",
                     memory=512 * 2**20, cpus=1.0, pids=200, disk=disk)


class PluginConnection(http.client.HTTPConnection):
    """HTTP over the walls' unix socket, as the engine's plugin client talks to it."""

    def __init__(self, path):
        super().__init__("plugin", timeout=10)
        self.path = str(path)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def ask(path, call, body):
    connection = PluginConnection(path)
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        connection.request("POST", call, data, {"Content-Type": "application/vnd.docker.plugins.v1.2+json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def authz(method, uri, body=None):
    request = {"RequestMethod": method, "RequestUri": uri, "RequestHeaders": {"Content-Length": "0"}}
    if body is not None:
        data = json.dumps(body).encode()
        request["RequestBody"] = base64.b64encode(data).decode()
        request["RequestHeaders"] = {"Content-Type": "application/json", "Content-Length": str(len(data))}
    return request


def wait_for(check, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def base():
    folder = Path(tempfile.mkdtemp(prefix="cw-walls-", dir="/tmp"))  # short: unix socket paths stay under 108
    try:
        yield folder
    finally:
        walls_server.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_server_serves_each_seat_refuses_bad_input_and_drops_gone_seats(base):
    one, two = seat_state("walls-one"), seat_state("walls-two")
    for state in (one, two):
        write_state(state.place(base), state)
        state.place(base).run.mkdir()  # as SeatHost makes it before the walls' server serves the seat
    walls_server.ensure_running(base)
    sockets = [state.place(base).walls_socket for state in (one, two)]
    for path in sockets:
        assert ask(path, "/Plugin.Activate", b"") == (200, {"Implements": ["authz"]})
        assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    status, answer = ask(sockets[0], "/AuthZPlugin.AuthZReq",
                         authz("POST", "/v1.41/containers/create", {"Image": "x", "HostConfig": {"Privileged": 1}}))
    assert status == 200 and answer["Allow"] is False and answer["Msg"].startswith("--privileged is not allowed")
    assert ask(sockets[1], "/AuthZPlugin.AuthZReq", authz("GET", "/v1.41/containers/json"))[1] == {"Allow": True}
    assert ask(sockets[1], "/AuthZPlugin.AuthZRes", {"RequestUri": "/x"})[1] == {"Allow": True}
    big = {"RequestUri": "/v1.41/images/json", "ResponseBody": base64.b64encode(os.urandom(12 * 2**20)).decode()}
    assert ask(sockets[1], "/AuthZPlugin.AuthZRes", big)[1] == {"Allow": True}  # a big response is never refused
    for garbage in (b"{not json", b"[]", b'{"RequestMethod": ["POST"]}', b"\xff" * 100):
        status, answer = ask(sockets[0], "/AuthZPlugin.AuthZReq", garbage)
        assert status == 200 and answer["Allow"] is False and answer["Msg"]
    assert ask(sockets[0], "/Plugin.Activate", b"")[0] == 200  # still serving

    killed = daemons.pid_of(walls_server.pidfile(base))
    os.kill(killed, signal.SIGKILL)  # a killed server leaves its sockets; the next start serves them again
    wait_for(lambda: daemons.pid_of(walls_server.pidfile(base)) is None, "the killed server to be gone")
    assert sockets[0].exists()
    walls_server.ensure_running(base)
    assert daemons.pid_of(walls_server.pidfile(base)) not in (None, killed)
    assert ask(sockets[0], "/Plugin.Activate", b"")[0] == 200

    one.place(base).state.unlink()  # the seat is gone: its socket goes at the next reading (SIGHUP here)
    assert daemons.nudge(walls_server.pidfile(base), walls_server.MODULE)
    wait_for(lambda: not sockets[0].exists(), "the gone seat's socket to be removed")
    assert ask(sockets[1], "/Plugin.Activate", b"")[0] == 200
    pid = daemons.pid_of(walls_server.pidfile(base))
    walls_server.stop(base)
    assert not Path(f"/proc/{pid}").exists() or daemons.pid_of(walls_server.pidfile(base)) is None
    assert not sockets[1].exists()


def test_the_disk_budget_is_measured_and_read_again(base):
    state = seat_state("walls-disk", disk=2**30)
    place = state.place(base)
    write_state(place, state)
    place.run.mkdir()
    place.files.mkdir(parents=True)
    (place.files / "big").write_bytes(os.urandom(3 * 2**20))
    walls_server.ensure_running(base)
    create = authz("POST", "/v1.41/containers/create", {"Image": "x"})
    assert ask(place.walls_socket, "/AuthZPlugin.AuthZReq", create)[1] == {"Allow": True}
    write_state(place, seat_state("walls-disk", disk=2**20))  # a 1 MB budget: 3 MB is over it
    daemons.nudge(walls_server.pidfile(base), walls_server.MODULE)

    def refused():
        answer = ask(place.walls_socket, "/AuthZPlugin.AuthZReq", create)[1]
        return answer["Allow"] is False and answer["Msg"].startswith("your seat uses 3 of 1 MB: remove images")
    wait_for(refused, "the create to be refused over the budget")


# A real engine ---------------------------------------------------------------------------------------------------

class Engine:
    """A throw-away seat engine; `docker(...)` runs the docker CLI against it, as a student's shell would."""

    def __init__(self, base, place, netns):
        self.base, self.place, self.netns = base, place, netns
        self.cli = base / "cli"  # an empty docker CLI config: no context or credentials of this machine's
        self.cli.mkdir(exist_ok=True)
        self.process = None

    def docker(self, *args, input=None, timeout=120, program=("docker",)):
        env = {**os.environ, "DOCKER_HOST": self.place.socket_url, "DOCKER_CONFIG": str(self.cli),
               "DOCKER_BUILDKIT": "0"}
        return subprocess.run([*program, *args], input=input, capture_output=True, timeout=timeout, env=env)

    def typed(self, command, timeout=180):
        """`command` run by bash as the seat's shell would: in the engine's mount namespace, in the seat's folder."""
        return self.docker(*["nsenter", f"--mount=/proc/{self.process.pid}/ns/mnt", "bash", "-c",
                             f"cd {FOLDER} && {command}"], timeout=timeout, program=[])

    def start(self):
        place = self.place
        plugins = place.walls_socket.parent
        script = f"""set -e
mount -t tmpfs -o mode=0755 walls-test-home /home
mkdir -p {FOLDER}
mount --bind {place.files} {FOLDER}
mount --bind {plugins} /run/docker/plugins
exec nsenter --net={layout.Path('/var/run/netns') / self.netns} dockerd --data-root {place.data} \\
  --exec-root {place.run / 'docker'} --pidfile {place.pidfile} -H {place.socket_url} \\
  --authorization-plugin={layout.WALLS_PLUGIN} --bridge=none --iptables=false --ip-masq=false \\
  --storage-driver=overlay2
"""
        with open(self.base / "dockerd.log", "ab") as log:
            # unshare execs in place (no fork): the process is the engine, its mount namespace dies with it
            self.process = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while self.docker("version", timeout=10).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the seat engine did not start: "
                                     + (self.base / "dockerd.log").read_text()[-3000:])
            time.sleep(0.3)

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            listed = self.docker("ps", "-aq", timeout=30)
            ids = listed.stdout.decode().split()
            if ids:
                self.docker("rm", "-f", *ids, timeout=60)
            stop_process(self.process, timeout=40)
        for pid in _processes_under(self.base):  # a containerd or shim the engine left
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _processes_under(folder):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if str(folder).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _mounted_under(folder):
    return [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(folder))]


@pytest.fixture(scope="module")
def engine():
    folder = Path(tempfile.mkdtemp(prefix="cw-walls-", dir="/tmp"))
    tag = uuid.uuid4().hex[:8]
    state = seat_state(f"walls-{tag}")
    place = state.place(folder)
    netns = f"wallstest-{tag}"
    seat = Engine(folder, place, netns)
    try:
        (place.files / "site").mkdir(parents=True)
        (place.files / "site" / "index.html").write_text("hello from the seat\n")
        (place.files / "Dockerfile").write_text(f"FROM {IMAGE}\nLABEL lesson=images\n")
        write_state(place, state)
        place.run.mkdir(exist_ok=True)
        walls_server.ensure_running(folder)
        subprocess.run(["ip", "route", "replace", "unreachable", layout.UNREACHABLE], check=True)
        subprocess.run(["ip", "netns", "add", netns], check=True)
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        seat.start()
        saved = subprocess.Popen(["docker", "save", IMAGE], stdout=subprocess.PIPE)
        loaded = seat.docker("load", input=saved.stdout.read(), timeout=300)
        assert saved.wait() == 0 and loaded.returncode == 0, loaded.stderr
        yield seat
    finally:
        seat.stop()
        walls_server.stop(folder)
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        left = _mounted_under(folder)
        for mount in sorted(left, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        if not _mounted_under(folder):
            subprocess.run(["rm", "-rf", "--one-file-system", str(folder)], check=False)
        assert not left, f"the engine left mounts behind: {left}"


REFUSED = [
    (["run", "--rm", "--privileged", IMAGE, "true"], "--privileged is not allowed on a seat"),
    (["run", "--rm", "-v", "/etc:/x", IMAGE, "true"], "-v /etc:/x is not allowed on a seat"),
    (["run", "--rm", "-v", "/:/host", IMAGE, "true"], "-v /:/host is not allowed on a seat"),
    (["run", "--rm", "-v", "/var/run/docker.sock:/var/run/docker.sock", IMAGE, "true"], "the docker socket"),
    (["run", "--rm", "-v", f"{FOLDER}/escape:/x", IMAGE, "true"], f"-v {FOLDER}/escape:/x is not allowed on a seat"),
    (["run", "--rm", "--mount", "type=bind,source=/etc,target=/x", IMAGE, "true"], "--mount source=/etc is not"),
    (["run", "--rm", "--cap-add", "SYS_ADMIN", IMAGE, "true"], "--cap-add is not allowed on a seat"),
    (["run", "--rm", "--pid", "host", IMAGE, "true"], "--pid host is not allowed on a seat"),
    (["run", "--rm", "--network", "host", IMAGE, "true"], "--network host is not allowed on a seat"),
    (["run", "--rm", "--device", "/dev/kmsg", IMAGE, "true"], "--device is not allowed on a seat"),
    (["run", "--rm", "--security-opt", "seccomp=unconfined", IMAGE, "true"], "--security-opt seccomp=unconfined"),
    (["run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", IMAGE, "true"], "--sysctl is not allowed on a seat"),
    (["run", "--rm", "--runtime", "runsc", IMAGE, "true"], "--runtime runsc is not allowed on a seat"),
    (["run", "--rm", "--mount", "type=volume,source=etc2,target=/x,volume-opt=type=none,volume-opt=o=bind,"
      "volume-opt=device=/etc", IMAGE, "true"], "volume options (device, o, type)"),
    (["volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device=/etc", "etc"],
     "volume options (device, o, type) are not allowed on a seat"),
    (["plugin", "install", "--grant-all-permissions", "vieux/sshfs"], "docker plugin is not allowed on a seat"),
    (["build", "--network", "host", "-t", "walls-test-host", "CONTEXT"], "docker build --network host is not allowed"),
    (["import", "http://127.0.0.1:9/x.tar", "walls-test-import"], "docker import from a URL is not allowed"),
    (["network", "create", "-d", "macvlan", "walls-test-macvlan"], "--driver macvlan is not allowed on a seat"),
    (["swarm", "init"], "swarm mode is not available on a seat"),
]


@pytest.mark.parametrize("args, message", REFUSED, ids=[" ".join(args[:4]) for args, _ in REFUSED])
def test_the_seat_engine_refuses_with_the_walls_message(engine, args, message):
    escape = engine.place.files / "escape"
    if not escape.is_symlink():
        os.symlink("/", escape)  # a symlink inside the folder to the root: mounting it is refused too
    before = engine.docker("volume", "ls", "-q").stdout
    result = engine.docker(*[str(engine.place.files) if arg == "CONTEXT" else arg for arg in args])
    stderr = result.stderr.decode()
    assert result.returncode != 0 and DENIED in stderr and message in stderr, stderr
    assert engine.docker("volume", "ls", "-q").stdout == before  # nothing made
    assert engine.docker("ps", "-aq").stdout == b""


def test_the_lessons_commands_pass(engine):
    assert engine.docker("run", "--rm", IMAGE, "true").returncode == 0
    shown = engine.docker("run", "--rm", "-v", f"{FOLDER}/site:/site:ro", IMAGE, "cat", "/site/index.html")
    assert shown.returncode == 0 and shown.stdout == b"hello from the seat\n", shown.stderr
    link = engine.place.files / "current"
    if not link.is_symlink():
        os.symlink("site", link)  # a symlink inside the folder, to inside it
    shown = engine.docker("run", "--rm", "-v", f"{FOLDER}/current:/site", IMAGE, "cat", "/site/index.html")
    assert shown.returncode == 0 and shown.stdout == b"hello from the seat\n", shown.stderr
    built = engine.docker("build", "-t", "walls-test-cowserv", str(engine.place.files), timeout=300)  # the CLI's path
    assert built.returncode == 0, built.stderr
    assert engine.docker("volume", "create", "walls-test-data").returncode == 0
    assert engine.docker("volume", "rm", "walls-test-data").returncode == 0
    assert engine.docker("rmi", "walls-test-cowserv").returncode == 0


def test_everyday_commands_and_compose_pass_the_walls(engine):
    """The lessons' commands, typed in the seat's folder as its shell sees it (the engine's mount namespace, cwd the
    seat's folder), are none of them refused: the walls' log shows no refusal while they run."""
    lesson = engine.place.files / "compose-lesson"
    (lesson / "site").mkdir(parents=True, exist_ok=True)
    (lesson / "site" / "index.html").write_text("compose page\n")
    (lesson / "compose.yaml").write_text(
        f"services:\n  web:\n    image: {IMAGE}\n    command: python3 -m http.server 8000\n    working_dir: /site\n"
        "    ports: ['8000:8000']\n    volumes: ['./site:/site:ro', 'notes:/notes']\nvolumes:\n  notes: {}\n")
    log = walls_server.logfile(engine.base)
    before = log.read_text()
    typed = [
        f'docker run --rm -v "$(pwd)":/site {IMAGE} cat /site/site/index.html',
        f"docker run -d --name web -p 8000:8000 -v \"$(pwd)\"/site:/site -w /site {IMAGE} python3 -m http.server 8000",
        f"docker run --rm -v ./site:/site {IMAGE} ls /site",
        f"script -qec 'docker run --rm -it {IMAGE} sh -c \"test -t 0\"' /dev/null",
        "docker ps", "docker ps -a", "docker logs web",
        "docker exec web sh -c 'echo note > /tmp/note'", "docker exec web cat /tmp/note",
        "docker cp site/index.html web:/tmp/copied", "docker cp web:/tmp/copied - > /dev/null",
        "docker stop -t 1 web", "docker rm web",
        "docker volume create pgdata", "docker volume ls --filter name=pgdata",
        f"docker run --rm -v pgdata:/var/lib/data {IMAGE} true", "docker volume rm pgdata",
        f"docker tag {IMAGE} walls-test:tagged", "docker rmi walls-test:tagged",
        "cd compose-lesson && docker compose up -d", "cd compose-lesson && docker compose ps",
        "cd compose-lesson && docker compose logs", "cd compose-lesson && docker compose down -v",
        "docker container prune -f", "docker image prune -f", "docker network prune -f", "docker volume prune -f",
        "docker system df", "docker info", "docker version",
    ]
    for command in typed:
        result = engine.typed(command)
        assert result.returncode == 0, (command, result.stderr.decode()[-1500:])
    assert engine.typed(typed[0]).stdout == b"hello from the seat\n"
    refused = [line for line in log.read_text()[len(before):].splitlines() if " refused " in line]
    assert refused == []


def test_a_seat_being_closed_is_not_served_again_nor_its_folder_made_again(base):
    """SeatHost.close removes a seat's folders before its seat.json: the walls' server, reading the seats meanwhile,
    must not make them again to serve it (a bench's close_all of 3 seats left two seat folders behind)."""
    state = seat_state("walls-closing")
    place = state.place(base)
    write_state(place, state)
    place.run.mkdir()
    walls_server.ensure_running(base)
    shutil.rmtree(place.run)  # as close does, seat.json still there
    assert daemons.nudge(walls_server.pidfile(base), walls_server.MODULE)
    log = walls_server.logfile(base)
    wait_for(lambda: "cannot serve walls-closing" in log.read_text(), "the seat not served again")
    assert not place.run.exists()
