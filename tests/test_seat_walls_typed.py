"""The walls tried from a seat's terminal (`GET /seat/terminal`, the real confined shell on the seat's own engine):
each refusal typed as a student would type it, its message the one the student reads, nothing of the host read or
changed, and afterwards the seat and its neighbour still run containers.

Root only, real seat engines: ONE room of two seats for the module (served by gunicorn's gevent worker), with a
small disk budget (DASHBOARD_SEAT_DISK=600m) so that filling it is quick.
"""

import re
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from tests.support import free_tcp_port, wait_until
from tests.support.seat_server import served_room

REAL_SEATS = True  # conftest: this module's apps start real seat engines
pytestmark = pytest.mark.engine

DENIED = "authorization denied by plugin cowserv-walls: "
RUN = "docker run --rm"
IMAGE = "python:3.12-slim"


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    with served_room(tmp_path_factory.mktemp("walls"), count=2, SEAT_DISK="600m") as made:
        made.choose_lesson("running")
        yield made


@pytest.fixture(scope="module")
def typists(room):
    """A shell on each seat's terminal, for the module ({seat: Typist}); the first seat is the one that tries."""
    made = {seat: room.terminal(seat) for seat in room.names}
    yield made
    for typist in made.values():
        typist.close()


@pytest.fixture
def seat(room, typists):
    """The trying seat's shell; afterwards both seats still run a container, and the trying seat has none left."""
    mine = typists[room.names[0]]
    yield mine
    for name in room.names:
        status, output = typists[name].type(f"{RUN} {IMAGE} true && docker ps -aq | wc -l", timeout=120)
        assert status == 0 and output.strip().splitlines()[-1] == "0", (name, output)


def refused(typist, command, says):
    """Type `command`: it fails with the walls' message containing `says`; the output."""
    status, output = typist.type(command)
    assert status != 0, output
    assert DENIED in output and says in output, output
    return output


MARK = f"h7-wall-{uuid.uuid4().hex[:8]}"  # a file a missed wall would make on the host: it must never appear


@pytest.mark.parametrize("flags, says", [
    ("--privileged", "--privileged is not allowed on a seat"),
    ("--pid host", "--pid host is not allowed on a seat"),
    ("--ipc host", "--ipc host is not allowed on a seat"),
    ("--uts host", "--uts host is not allowed on a seat"),
    ("--userns host", "--userns host is not allowed on a seat"),
    ("--cgroupns host", "--cgroupns host is not allowed on a seat"),
    ("--device /dev/sda", "--device is not allowed on a seat"),
    ("--cap-add SYS_ADMIN", "--cap-add is not allowed on a seat"),
    ("--security-opt apparmor=unconfined", "--security-opt apparmor=unconfined is not allowed on a seat"),
    ("--sysctl net.ipv4.ip_forward=1", "--sysctl is not allowed on a seat"),
    ("--runtime foo", "--runtime foo is not allowed on a seat"),
    ("-v /:/host", "is not allowed on a seat"),
    ("-v /var/run/docker.sock:/s", "the docker socket stays with the engine"),
    ("-v /tmp:/host", "is not allowed on a seat"),
])
def test_a_container_flag_that_reaches_the_host_is_refused(seat, flags, says):
    """Each would touch a file on the host (through /host, or the host's /tmp): refused, no container, no file."""
    refused(seat, f"{RUN} {flags} {IMAGE} sh -c 'touch /host/tmp/{MARK} /tmp/{MARK}'", says)
    assert not Path("/tmp", MARK).exists()


def test_a_symlink_inside_the_folder_to_the_root_is_refused_when_bound(seat):
    seat.type("ln -sfn / rootlink")
    try:
        refused(seat, f"{RUN} -v \"$(pwd)/rootlink\":/host {IMAGE} touch /host/tmp/{MARK}", "is not allowed on a seat")
        refused(seat, f"{RUN} --mount type=bind,source=\"$(pwd)/rootlink/etc\",target=/x {IMAGE} cat /x/shadow",
                "only files inside /home/student/docker-workshop (your ~/docker-workshop) can be mounted")
    finally:
        seat.type("rm -f rootlink")
    assert not Path("/tmp", MARK).exists()


def test_a_volume_that_binds_a_host_path_is_refused_and_using_the_name_binds_nothing(seat):
    """(Named etcvol: a one-letter name, `-v x:/x`, reads as a Windows drive to the docker CLI.)"""
    refused(seat, "docker volume create --opt type=none --opt o=bind --opt device=/etc etcvol",
            "volume options (device, o, type) are not allowed on a seat")
    status, output = seat.type(f"{RUN} -v etcvol:/x {IMAGE} ls -A /x")  # a fresh, empty volume of the seat's
    assert status == 0 and output.strip() == "", output
    assert seat.type("docker volume rm etcvol")[0] == 0


def test_docker_plugin_install_is_refused(seat):
    refused(seat, "docker plugin install --grant-all-permissions vieux/sshfs", "docker plugin is not allowed on a seat")
    assert "vieux/sshfs" not in seat.type("docker plugin ls")[1]


def test_a_build_with_host_networking_is_refused(seat):
    seat.type(f"mkdir -p nethost && printf 'FROM {IMAGE}\\nRUN touch /tmp/{MARK}\\n' > nethost/Dockerfile")
    try:
        refused(seat, "docker build --network host nethost", "docker build --network host is not allowed on a seat")
    finally:
        seat.type("rm -rf nethost")


def test_a_fork_bomb_in_the_shell_stops_at_the_seats_processes_and_the_shell_goes_on(seat):
    """Forking past the room's 100 processes fails ("Cannot fork"/EAGAIN) in the shell itself; its children gone,
    the shell answers."""
    bomb = ("python3 -c 'import os,time\nkids=[]\ntry:\n  for i in range(300):\n    pid=os.fork()\n"
            "    if pid==0:\n      time.sleep(60); os._exit(0)\n    kids.append(pid)\nexcept OSError as e: "
            "print(\"stopped at\", len(kids), e)\nfor k in kids: os.kill(k, 9)\nfor k in kids: os.waitpid(k, 0)'")
    status, output = seat.type(bomb)
    found = re.search(r"stopped at (\d+) .*(Resource temporarily unavailable)", output)
    assert found and int(found[1]) < 100, output
    assert seat.type("echo still-$((20+22))")[1].strip() == "still-42"


def test_a_fork_bomb_in_a_container_stops_at_the_seats_processes(seat):
    script = "i=0; while [ $i -lt 150 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); done; echo started $i"
    _, output = seat.type(f"{RUN} {IMAGE} sh -c '{script}'", timeout=120)
    assert "started 150" not in output
    assert re.search(r"can't fork|cannot fork|resource temporarily unavailable", output, re.I), output


def test_a_memory_hog_is_killed_at_the_seats_memory(seat):
    status, output = seat.type(f"{RUN} {IMAGE} python3 -c 'b = bytearray(400 * 2**20); print(\"allocated\")'",
                               timeout=120)
    assert status == 137 and "allocated" not in output, (status, output)


def test_filling_the_disk_past_the_seats_budget_refuses_new_containers_with_the_reason(seat):
    try:
        assert seat.type("head -c 650M /dev/zero > filler")[0] == 0
        wait_until(lambda: "your seat uses" in seat.type(f"{RUN} {IMAGE} true")[1], "the budget's refusal",
                   timeout=60, every=2)
        refused(seat, f"{RUN} {IMAGE} true", "of 600 MB: remove images or containers")
    finally:
        seat.type("rm -f filler")
    wait_until(lambda: seat.type(f"{RUN} {IMAGE} true")[0] == 0, "the seat running containers again", timeout=60,
               every=2)


def test_another_seats_container_is_not_found_by_name_or_id(room, typists, seat):
    neighbour = typists[room.names[1]]
    status, output = neighbour.type(f"docker run -d --name neighbours {IMAGE} sleep 600")
    full_id = output.strip().splitlines()[-1]
    assert status == 0 and re.fullmatch(r"[0-9a-f]{64}", full_id), output
    try:
        for ref in ("neighbours", full_id, full_id[:12]):
            status, output = seat.type(f"docker stop {ref}")
            assert status != 0 and "No such container" in output, output
        assert neighbour.type("docker inspect -f '{{.State.Running}}' neighbours")[1].strip() == "true"
    finally:
        neighbour.type("docker rm -f neighbours")


@pytest.fixture
def host_listener():
    """A listener on every address of this host, on a free port: (port, connections it accepted)."""
    port = free_tcp_port()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen()
    accepted = []

    def serve():
        while True:
            try:
                connection, peer = server.accept()
            except OSError:
                return
            accepted.append(peer)
            connection.close()
    threading.Thread(target=serve, daemon=True).start()
    yield port, accepted
    server.close()


def test_the_hosts_listeners_are_not_reached_from_a_seat(room, seat, host_listener):
    """The dashboard's 127.0.0.1 is not the seat's; the host's end of the seat's link and the host engine's docker0
    (172.17.0.1) answer nothing, on a port the host listens on."""
    port, accepted = host_listener
    dashboard_port = int(room.url.rsplit(":", 1)[1])
    link = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    state = Path(room.base, room.names[0], "seat.json")
    assert state.exists()
    host_end = seat.type("ip -4 route show default")[1].split()[2]  # the seat's gateway: the host's end of its link
    assert host_end in link, (host_end, link)
    for address, target in (("127.0.0.1", dashboard_port), (host_end, dashboard_port), (host_end, port),
                            ("172.17.0.1", port)):
        status, output = seat.type(f"curl -sS -m 3 -o /dev/null http://{address}:{target}/healthz")
        assert status != 0, (address, target, output)
    assert accepted == []


def test_the_seats_engine_listens_on_no_tcp_port(room, seat):
    namespace = f"cowserv-{room.names[0]}"
    listening = subprocess.run(["ip", "netns", "exec", namespace, "ss", "-lntp"], capture_output=True, text=True)
    assert listening.returncode == 0, listening.stderr
    assert "dockerd" not in listening.stdout and "containerd" not in listening.stdout, listening.stdout
    status, typed = seat.type("ss -lnt")
    assert status == 0 and ":2375" not in typed and ":2376" not in typed, typed
