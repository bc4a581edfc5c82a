"""Where everything of one seat lives on the host, and what it is called: its folders, sockets, network namespace,
links, addresses, cgroup, user and host ports. One place, so every part (engines, network, walls, forwarder, sweep)
agrees on names, and a sweep finds what an earlier run left by these names alone."""

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

SEAT_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,40}")
SUBNET = ipaddress.ip_network("10.201.0.0/16")  # a /30 per seat; inside the test subnet kept unreachable below
UNREACHABLE = "10.200.0.0/13"  # a deleted namespace's address never routes out of the machine
NETNS_PREFIX = "cowserv-"
HOST_LINK, SEAT_LINK = "csh", "csn"  # veth names: csh<index> on the host, csn<index> in the seat's namespace
CGROUP_ROOT = "cowserv-seats"  # /sys/fs/cgroup/<controller>/cowserv-seats/<seat>
ENGINES_CGROUP = "engines"  # the seat engines' own dockerd and containerd: cowserv-seats/engines
CONTROLLERS = ("memory", "pids", "cpu")
FIRST_UID = 200_000  # the student's uid and gid on seat i: FIRST_UID + i
PORT_BLOCK = 5  # host ports per seat, mapped to the lesson ports its engine publishes
WALLS_PLUGIN = "cowserv-walls"  # dockerd --authorization-plugin; its socket in the seat's /run/docker/plugins
HOME = "/home/student"  # the student's home in the seat's view
FILES = "docker-workshop"  # the seat's folder's name, in the seat's dir on this host and in its student's home
FOLDER = HOME + "/" + FILES  # the seat's folder, as the shell and the seat's engine see it
MAX_SEATS = SUBNET.num_addresses // 4 - 1


@dataclass(frozen=True)
class SeatPlace:
    """One seat's names and paths: `base` is the seats' folder (DASHBOARD_SEATS_DIR), `index` the seat's number in
    its room (0 first), `first_port` the room's first host port."""

    base: Path
    name: str
    index: int
    first_port: int = 8001

    def __post_init__(self):
        if not SEAT_NAME.fullmatch(self.name):
            raise ValueError(f"seat name {self.name[:50]!r}: letters, digits, '_' and '-', at most 41")
        if not 0 <= self.index < MAX_SEATS:
            raise ValueError(f"seat index {self.index}: from 0 to {MAX_SEATS - 1}")
        object.__setattr__(self, "base", Path(self.base))

    # Folders (host paths)
    @property
    def dir(self):
        return self.base / self.name

    @property
    def files(self):
        """The seat's folder: a lesson's folder in it each; FOLDER in the seat's view."""
        return self.dir / FILES

    @property
    def data(self):
        """The engine's --data-root (/var/lib/docker in the seat's view)."""
        return self.dir / "data"

    @property
    def run(self):
        """Bound at the view's /run: the engine's socket, pid file, exec root and the walls' socket."""
        return self.dir / "run"

    @property
    def root(self):
        """The empty mount point the seat's view is built on, inside its private mount namespace only."""
        return self.dir / "root"

    @property
    def state(self):
        """seat.json: what the seat is (name, index, ports, limits, room), for the walls, the forwarder and sweeps."""
        return self.dir / "seat.json"

    @property
    def socket(self):
        return self.run / "docker.sock"

    @property
    def socket_url(self):
        return f"unix://{self.socket}"

    @property
    def pidfile(self):
        return self.run / "docker.pid"

    @property
    def walls_socket(self):
        return self.run / "docker" / "plugins" / f"{WALLS_PLUGIN}.sock"

    # Network
    @property
    def netns(self):
        return NETNS_PREFIX + self.name

    @property
    def netns_path(self):
        return Path("/var/run/netns") / self.netns

    @property
    def host_link(self):
        return f"{HOST_LINK}{self.index}"

    @property
    def seat_link(self):
        return f"{SEAT_LINK}{self.index}"

    @property
    def subnet(self):
        return ipaddress.ip_network(f"{SUBNET.network_address + 4 * self.index}/30")

    @property
    def host_address(self):
        return str(self.subnet.network_address + 1)

    @property
    def seat_address(self):
        """The seat engine's published ports answer here (from the host)."""
        return str(self.subnet.network_address + 2)

    # Limits and user
    @property
    def cgroup(self):
        """The seat's cgroup path under each controller (and the engine's --cgroup-parent, with a leading /)."""
        return f"{CGROUP_ROOT}/{self.name}"

    @property
    def uid(self):
        return FIRST_UID + self.index

    gid = uid

    def host_ports(self, lesson_ports):
        """(host port, seat port) for each lesson port, from the seat's block of PORT_BLOCK host ports."""
        lesson_ports = sorted(set(lesson_ports))[:PORT_BLOCK]
        first = self.first_port + self.index * PORT_BLOCK
        return [(first + number, port) for number, port in enumerate(lesson_ports)]


@dataclass(frozen=True)
class SeatState:
    """What a seat is, kept in its seat.json while it lives: read by the walls (its folder and disk budget), the
    forwarder (its ports), and a restart's sweep and re-attach (its room)."""

    name: str
    index: int
    first_port: int
    room: str  # the room's id: a seat of no open room is swept
    ports: tuple  # ((host port, seat port), ...)
    bind_host: str  # the address the forwarder listens on for the seat's host ports
    memory: int  # bytes, the whole seat (its containers and its shell together)
    cpus: float
    pids: int
    disk: int  # bytes: the seat's data root and folder together; over it, creates and builds are refused

    def place(self, base):
        return SeatPlace(base, self.name, self.index, self.first_port)


def write_state(place, state):
    """Write the seat's seat.json whole (mode 0600), replacing any before."""
    import json
    import os

    place.dir.mkdir(parents=True, exist_ok=True)
    temporary = place.state.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({**state.__dict__, "ports": [list(pair) for pair in state.ports]}, out)
    os.replace(temporary, place.state)


def read_state(seat_dir):
    """The SeatState in `seat_dir`/seat.json; None when it is missing or not one this dashboard wrote."""
    import json

    try:
        data = json.loads((Path(seat_dir) / "seat.json").read_text())
        data["ports"] = tuple((int(host), int(seat)) for host, seat in data["ports"])
        return SeatState(**data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def seats_in(base):
    """Every seat folder's state under `base` (those with a readable seat.json), by name."""
    base = Path(base)
    if not base.is_dir():
        return {}
    found = {}
    for entry in sorted(base.iterdir()):
        state = read_state(entry) if entry.is_dir() and SEAT_NAME.fullmatch(entry.name) else None
        if state is not None and state.name == entry.name:
            found[state.name] = state
    return found
