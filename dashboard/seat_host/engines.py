"""SeatHost: the one facade the domain calls for seats with Docker engines of their own. Opens seats in parallel
(folders, cgroups, network namespace, the view with its dockerd, the stand-in images), closes them leaving nothing
(processes, mounts, namespaces, cgroups, files), sweeps what an earlier run left, re-attaches after a restart, and
gives a terminal the confined shell's argv. Root only; it drives dockerd through the docker CLI (no SDK here)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import cgroups, daemons, forwarder, network, shell, view, walls_server
from .layout import ENGINES_CGROUP, SEAT_NAME, WALLS_PLUGIN, SeatPlace, read_state, seats_in, \
    write_state

PYTHON, POSTGRES = "python:3.12-slim", "postgres:16"  # the images the lessons name, as a seat's engine holds them
DOCKERD = "/usr/sbin/dockerd"
ENGINE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
START_SECONDS = 60  # how long a seat's engine may take to answer
START_ATTEMPTS = 2
IMAGES = ".images"  # under the seats' folder: the stand-ins saved once per open, loaded into every seat


class SeatHostError(Exception):
    """A seat's engine could not be given (or taken back): the message says which seat and why."""


def engines_cgroup(name):
    """The cgroup (under every controller) a seat's dockerd and containerd run in: not the seat's own limit."""
    return f"{ENGINES_CGROUP}/{name}"


class SeatHost:
    """The seats' engines on this host, in the folder `base` (DASHBOARD_SEATS_DIR)."""

    def __init__(self, base, host_engine=None, base_image=None, postgres_image=None, workers=6, dockerd=DOCKERD,
                 walls=True):
        """`host_engine`: the host engine's address (a DOCKER_HOST url; None: the default) the stand-ins come from;
        `base_image`, `postgres_image`: the local images standing in for python:3.12-slim and postgres:16 (None:
        those very images, when the host engine has them); `walls=False` only for tests of the second wall."""
        self.base = Path(base)
        self.host_engine = host_engine
        self.stand_ins = {PYTHON: base_image or PYTHON, POSTGRES: postgres_image or POSTGRES}
        self.workers = max(1, workers)
        self.dockerd = dockerd
        self.walls = walls
        self._lock = threading.Lock()

    # What the domain asks
    def unavailable(self):
        """Why this host cannot give seats Docker engines of their own, in words a teacher understands; None: it can."""
        if os.geteuid() != 0:
            return ("Seats with a Docker engine of their own need the dashboard started as root on the host "
                    "(scripts/up); this one runs as an ordinary user.")
        if not Path(self.dockerd).is_file() or shutil.which("nsenter") is None or shutil.which("ip") is None:
            return ("Seats with a Docker engine of their own need Docker's engine (dockerd), nsenter and ip "
                    "installed on this host; one of them is missing.")
        if not Path("/proc/self/ns/net").exists() or not _can_make_netns_dir():
            return "Seats with a Docker engine of their own need network namespaces, which this host does not offer."
        in_container = Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()
        if in_container and not (_has_sys_admin() and _cgroups_writable()):
            return ("The dashboard runs inside a container (the compose deployment), which cannot start Docker "
                    "engines for seats: start it on the host with scripts/up to give each seat an engine.")
        missing = cgroups.available()
        if missing:
            return f"Seats with a Docker engine of their own cannot be limited here: {missing}."
        return None

    def place(self, name):
        """The seat's SeatPlace, from its seat.json (index 0 when it has none: enough to find and remove it)."""
        state = read_state(self.base / name)
        return state.place(self.base) if state is not None else SeatPlace(self.base, name, 0)

    def socket_url(self, name):
        return self.place(name).socket_url

    def shell(self, name, cwd):
        """(argv, env, preexec_fn) of the seat's confined shell for a terminal's pty (see shell.py)."""
        place = self.place(name)
        pid = self.engine_pid(name)
        if pid is None:
            raise SeatHostError(f"{name}: its Docker engine is not running")
        return shell.command(place, pid, cwd)

    def student_files(self, name):
        """The seat's folder as the dashboard writes and reads it once the seat's engine runs: as its student, in
        its view (shell.StudentFiles)."""
        place = self.place(name)

        def argv_of(argv):
            pid = self.engine_pid(name)
            if pid is None:  # an OSError, as StudentFiles' callers expect of a folder they cannot reach
                raise FileNotFoundError(f"{name}: its Docker engine is not running, so its folder cannot be reached")
            return shell.as_student(place, pid, argv)

        return shell.StudentFiles(argv_of)

    @staticmethod
    def images_for(lessons):
        """The images the seats' engines hold for these lessons: python:3.12-slim always, postgres:16 when a lesson
        names it (in its steps or its files)."""
        wanted = [PYTHON]
        if any(_names_postgres(lesson) for lesson in lessons):
            wanted.append(POSTGRES)
        return wanted

    def engine_pid(self, name):
        """The seat engine's pid 1 (docker-init, in the seat's view, as the host numbers it), or None."""
        return _view_pid(self.place(name))

    # Life
    def open(self, states, progress=lambda name, what: None, images=(PYTHON,)):
        """Every seat of `states` up, in parallel: folders, cgroups, network, its engine in its view answering, the
        `images` (names the lessons use; see images_for) it lacks; on seats already open, loads what they lack.
        Raises SeatHostError naming the seats that failed (those that came up stay up: close them)."""
        states = list(states)
        with self._lock:
            self.base.mkdir(parents=True, exist_ok=True)
            os.chmod(self.base, 0o711)
            cgroups.make(ENGINES_CGROUP)
            for state in states:
                self._prepare(state, progress)
            self._helpers_before()
            saved = _Saved(self, progress)
            try:
                # Every engine is started before any waits or loads: an engine takes seconds to answer, and the
                # image loads (the heavy part) then overlap with the others' starts (bench/seats.py: open time).
                self._each(states, lambda state: self._spawn_if_dead(state, progress))
                self._each(states, lambda state: self._start(state, images, saved, progress))
            finally:
                saved.remove()
            self._helpers_after()

    def reattach(self, states):
        """After a restart (even a kill -9 of the dashboard): the helpers up again, each seat's engine kept with its
        containers if it runs, started again on its kept data if it does not, python:3.12-slim loaded if missing."""
        self.open(states)

    def close(self, names):
        """Remove these seats entirely: their processes, mounts, folders, network namespace, cgroups, state last.
        Idempotent; raises SeatHostError when something could not be removed (and says what)."""
        with self._lock:
            self._each(list(names), self._close_one)
            self._helpers_after_close()

    def close_all(self):
        """Close every seat under the folder (and whatever of them an earlier run left), stop the helpers."""
        self.close(self._seat_dirs())
        with self._lock:
            self._stop_helpers()
            cgroups.remove_root()

    def sweep(self, keep_room):
        """Remove every seat whose room is not `keep_room` (None: every seat), and leftovers without a state."""
        keep = {name for name, state in seats_in(self.base).items() if keep_room is not None
                and state.room == keep_room}
        gone = [name for name in self._seat_dirs() if name not in keep]
        if gone:
            self.close(gone)
        if not keep:
            self.close_all()

    # One seat
    def _prepare(self, state, progress):
        place = state.place(self.base)
        progress(state.name, "preparing")
        place.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(place.dir, 0o711)
        for folder, mode in ((place.data, 0o710), (place.run, 0o755), (place.root, 0o755)):
            folder.mkdir(exist_ok=True)
            os.chmod(folder, mode)
        place.files.mkdir(exist_ok=True)
        os.chown(place.files, place.uid, place.gid)
        write_state(place, state)
        cgroups.make(state.name, memory=state.memory, pids=state.pids, cpus=state.cpus)
        cgroups.make_containers(state.name)
        cgroups.make(engines_cgroup(state.name))

    def _spawn_if_dead(self, state, progress):
        """The seat's network, and its engine started unless it runs (without waiting for it to answer)."""
        place = state.place(self.base)
        network.up(place)
        if daemons.pid_of(_engine_pidfile(place), _marker(place)) is None:
            progress(state.name, "starting its engine")
            self._spawn_engine(place)

    def _start(self, state, images, saved, progress):
        place = state.place(self.base)
        for attempt in range(START_ATTEMPTS):
            if attempt:
                self._spawn_if_dead(state, progress)
            try:
                self._wait(place)
                break
            except SeatHostError:
                if attempt == START_ATTEMPTS - 1:
                    raise
                self._stop_engine(place)  # e.g. its containerd timed out on a busy host: once more, from scratch
        for image in images:
            self._load(place, image, saved, progress)
        progress(state.name, "ready")

    def _spawn_engine(self, place):
        self._kill_engine(place)  # whatever a dead engine left (containerd, shims), through the engine's cgroup
        # and its pid files: the new view's pid namespace numbers anew, and a stale containerd.pid naming a live
        # process there makes dockerd wait on a containerd that is not there ("timeout waiting for containerd").
        for stale in (place.pidfile, place.socket, place.run / "docker" / "containerd" / "containerd.pid"):
            stale.unlink(missing_ok=True)
        view.write_etc(place)
        argv = view.start_argv(place, place.netns_path, engines_cgroup(place.name), self._dockerd_argv(place))
        daemons.spawn(argv, _engine_pidfile(place), place.dir / "dockerd.log", env=dict(ENGINE_ENV),
                      marker=_marker(place))

    def _dockerd_argv(self, place):
        argv = [self.dockerd, "--data-root", "/var/lib/docker", "--exec-root", "/run/docker",
                "-H", "unix:///run/docker.sock", "-G", "student", "--pidfile", "/run/docker.pid",
                f"--cgroup-parent={cgroups.containers(place.name)}", "--userland-proxy=false",
                "--storage-driver=overlay2"]
        if self.walls:
            argv.append(f"--authorization-plugin={WALLS_PLUGIN}")
        return argv

    def _wait(self, place):
        deadline = time.monotonic() + START_SECONDS
        gone = 0  # checks in a row that found no engine (one alone may fall in an exec, when its cmdline is empty)
        while time.monotonic() < deadline and gone < 5:
            if _ping(place.socket):
                return
            gone = gone + 1 if daemons.pid_of(_engine_pidfile(place), _marker(place)) is None else 0
            time.sleep(0.1)
        running = "still starting" if daemons.pid_of(_engine_pidfile(place), _marker(place)) else "it stopped"
        raise SeatHostError(f"{place.name}: its Docker engine did not answer ({running}): "
                            f"{_tail(place.dir / 'dockerd.log')}")

    def _close_one(self, name):
        if not SEAT_NAME.fullmatch(name):
            raise SeatHostError(f"{name[:50]!r} is not a seat's name")
        place = self.place(name)
        self._stop_engine(place)
        cgroups.kill_all(name)
        _remove_all_but(place.dir, keep=place.state)
        network.down(place)
        cgroups.remove(name)
        cgroups.remove(engines_cgroup(name))
        place.state.unlink(missing_ok=True)
        for _ in range(10):  # the walls' server may make the seat's socket folder again until it sees seat.json gone
            _remove_all_but(place.dir)
            try:
                place.dir.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.5)
        raise SeatHostError(f"{name}: {place.dir} could not be removed")

    def _stop_engine(self, place):
        """The seat's containers killed (through its cgroup, at once), then its dockerd stopped, then whatever of
        its engine is left (containerd, shims) killed through the engine's cgroup."""
        cgroups.kill_all(place.name)
        init = _view_pid(place)
        if init is not None:  # the namespace's pid 1: its death kills every process in the namespace at once
            _kill(init)
        daemons.stop(_engine_pidfile(place), _marker(place))
        self._kill_engine(place)

    @staticmethod
    def _kill_engine(place):
        if not cgroups.kill_all(engines_cgroup(place.name)):
            raise SeatHostError(f"{place.name}: its engine's processes would not stop")

    # Images
    def _load(self, place, name, saved, progress=lambda name, what: None):
        """Load the stand-in for `name` into the seat's engine under that name (and no other), unless it has it."""
        engine = place.socket_url
        if _docker(engine, "image", "inspect", name, check=False).returncode == 0:
            return
        progress(place.name, f"loading {name}")
        stand_in = self.stand_ins.get(name, name)
        _docker(engine, "load", "-q", "-i", str(saved.tar(name)))
        if stand_in != name:
            _docker(engine, "tag", stand_in, name)
            _docker(engine, "rmi", stand_in)

    # The helpers: the walls' server (before any engine asks it), the port forwarder (once the engines answer)
    def _helpers_before(self):
        if self.walls:
            _helper("the walls' server", walls_server.ensure_running, self.base)

    def _helpers_after(self):
        _helper("the port forwarder", forwarder.ensure_running, self.base)

    def _helpers_after_close(self):
        if seats_in(self.base):
            _helper("the walls' server", walls_server.ensure_running, self.base)
            _helper("the port forwarder", forwarder.ensure_running, self.base)
        else:
            self._stop_helpers()

    def _stop_helpers(self):
        forwarder.stop(self.base)
        walls_server.stop(self.base)
        network.firewall_down()  # kept while another folder's seats still have links

    # Many seats
    def _each(self, items, work):
        errors = []
        with ThreadPoolExecutor(max_workers=min(self.workers, max(1, len(items)))) as pool:
            futures = [(item, pool.submit(work, item)) for item in items]
        for item, future in futures:
            try:
                future.result()
            except Exception as error:  # every seat is tried; the failures are told together
                name = getattr(item, "name", item)
                errors.append(str(error) if str(error).startswith(str(name)) else f"{name}: {error}")
        if errors:
            raise SeatHostError("; ".join(errors))

    def _seat_dirs(self):
        if not self.base.is_dir():
            return []
        return sorted(entry.name for entry in self.base.iterdir()
                      if entry.is_dir() and not entry.is_symlink() and SEAT_NAME.fullmatch(entry.name))


class _Saved:
    """The stand-ins saved from the host engine, each once, when a first seat needs it (loaded into every seat from
    the file, in parallel: quicker than a `docker save` for each), removed after."""

    def __init__(self, host, progress):
        self.host, self.progress = host, progress
        self.folder = host.base / IMAGES
        self.files, self.lock = {}, threading.Lock()

    def tar(self, name):
        with self.lock:
            if name not in self.files:
                stand_in = self.host.stand_ins.get(name, name)
                if _docker(self.host.host_engine, "image", "inspect", stand_in, check=False).returncode != 0:
                    raise SeatHostError(f"the host engine has no {stand_in} to stand in for {name}")
                self.folder.mkdir(mode=0o700, exist_ok=True)
                tar = self.folder / (name.replace("/", "_").replace(":", "_") + ".tar")
                self.progress(None, f"saving {stand_in}")
                _docker(self.host.host_engine, "save", "-o", str(tar), stand_in)
                self.files[name] = tar
            return self.files[name]

    def remove(self):
        shutil.rmtree(self.folder, ignore_errors=True)


def _engine_pidfile(place):
    return place.dir / "engine.pid"


def _marker(place):
    """What the seat's engine's command line holds (before and after it became dockerd)."""
    return f"--cgroup-parent={cgroups.containers(place.name)}"


def _view_pid(place):
    """The host pid of the seat engine's pid 1 (the child of the `unshare` the seat's pid file names), or None."""
    starter = daemons.pid_of(_engine_pidfile(place), _marker(place))
    if starter is None:
        return None
    try:
        children = Path(f"/proc/{starter}/task/{starter}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _helper(what, ensure_running, base):
    try:
        ensure_running(base)
    except Exception as error:  # WallsError, ForwarderError, NetworkError: told as the seats' error
        raise SeatHostError(f"{what}: {error}") from error


def _docker(engine, *args, check=True):
    argv = ["docker", *(["-H", engine] if engine else []), *args]
    result = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    if check and result.returncode != 0:
        raise SeatHostError(f"docker {' '.join(args[:2])}: {(result.stderr or result.stdout).strip()[-300:]}")
    return result


def _ping(path):
    """True when a Docker engine answers GET /_ping on the unix socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(2)
            client.connect(str(path))
            client.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return client.recv(64).split(b" ")[1:2] == [b"200"]
    except OSError:
        return False


def _remove_all_but(folder, keep=None):
    """rm -rf --one-file-system everything in `folder` but `keep`, once nothing is mounted under it (the view's
    mounts live in the engine's namespace and go with it; one here is unmounted first, deepest first)."""
    for point in _mounts_under(folder):
        subprocess.run(["umount", point], check=False, capture_output=True)
    if _mounts_under(folder):
        raise SeatHostError(f"still mounted under {folder}: {', '.join(_mounts_under(folder))}")
    if Path(folder).is_dir():
        for entry in Path(folder).iterdir():
            if entry != keep:
                subprocess.run(["rm", "-rf", "--one-file-system", "--", str(entry)], check=True)


def _mounts_under(folder):
    """Mount points at or below `folder` in this mount namespace, deepest first."""
    folder = os.path.realpath(folder)
    points = []
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            point = line.split()[1].encode().decode("unicode_escape")
            if point == folder or point.startswith(folder + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def _tail(log, lines=5):
    try:
        return " | ".join(Path(log).read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _names_postgres(lesson):
    if POSTGRES in json.dumps([repr(step) for step in getattr(lesson, "steps", ())]):
        return True
    source = getattr(lesson, "source", None)
    if source is None or not Path(source).is_dir():
        return False
    for path in Path(source).rglob("*"):
        try:
            if path.is_file() and path.stat().st_size < 1_000_000 and POSTGRES in path.read_text(errors="ignore"):
                return True
        except OSError:
            pass
    return False


def _has_sys_admin():
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) & (1 << 21))
    except (OSError, ValueError):
        pass
    return False


def _cgroups_writable():
    return all(os.access(cgroups.ROOT / controller, os.W_OK) for controller in ("memory", "pids", "cpu"))


def _can_make_netns_dir():
    return Path("/var/run/netns").is_dir() or os.access("/var/run", os.W_OK)
