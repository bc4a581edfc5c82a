"""A seat's cgroups (cgroup v1): its limits on cowserv-seats/NAME (memory, pids, cpu), which its shell joins; its
engine's containers below, in cowserv-seats/NAME/containers (the engine's --cgroup-parent, made in every hierarchy,
the only cgroups its view lets it write: it can neither raise the seat's limits nor leave them); and
cowserv-seats/engines/NAME for the engine itself. Found again by name alone (a sweep after a restart), removed
deepest first, in every hierarchy, once no process is left in them."""

import os
import signal
import time
from pathlib import Path

from .layout import CGROUP_ROOT, CONTROLLERS, ENGINES_CGROUP

ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD = 100_000  # microseconds; cpu.cfs_quota_us = cpus * CPU_PERIOD


def available():
    """None when cgroup v1 with the controllers seats need is mounted here; else why not."""
    missing = [name for name in CONTROLLERS if not (ROOT / name / "cgroup.procs").is_file()]
    if missing:
        return ("this machine does not offer the cgroup v1 controllers seats are limited by "
                f"(missing: {', '.join(missing)})")
    return None


CONTAINERS = "containers"  # below the seat's limits: the engine's --cgroup-parent


def hierarchies():
    """Every cgroup v1 hierarchy mounted under /sys/fs/cgroup (cpu, memory, devices, name=systemd, ...): the engine
    makes each container's cgroup in every one."""
    found = []
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            _, point, kind = line.split()[:3]
            # cgroup2 too: on a hybrid host (/sys/fs/cgroup/unified, no controllers) runc puts each container's
            # processes, its `docker exec`s' included, in the unified hierarchy as well.
            if kind in ("cgroup", "cgroup2") and os.path.dirname(point) == str(ROOT):
                found.append(os.path.basename(point))
    return sorted(set(found))


def containers(name):
    """The seat's engine's --cgroup-parent (as the engine names it, under every hierarchy)."""
    return f"/{CGROUP_ROOT}/{name}/{CONTAINERS}"


def make_containers(name):
    """cowserv-seats/NAME/containers in every hierarchy, cpusets filled in from above (the engine cannot: its view
    shows it everything above as read-only)."""
    for hierarchy in hierarchies():
        folder = ROOT / hierarchy
        for part in (CGROUP_ROOT, name, CONTAINERS):
            parent, folder = folder, folder / part
            folder.mkdir(exist_ok=True)
            for setting in ("cpuset.cpus", "cpuset.mems"):
                if (folder / setting).exists() and not (folder / setting).read_text().strip():
                    _write(folder / setting, (parent / setting).read_text().strip())


def path(controller, name):
    """The seat's (or the engines') cgroup folder under one controller."""
    return ROOT / controller / CGROUP_ROOT / name


def make(name, memory=None, pids=None, cpus=None):
    """Create cowserv-seats/NAME under every controller with the limits given (None: no limit)."""
    for controller in CONTROLLERS:
        path(controller, name).mkdir(parents=True, exist_ok=True)
    if memory is not None:
        memory_dir = path("memory", name)
        _write(memory_dir / "memory.limit_in_bytes", memory)
        if (memory_dir / "memory.memsw.limit_in_bytes").exists():  # no swap past the limit either
            _write(memory_dir / "memory.memsw.limit_in_bytes", memory)
    if pids is not None:
        _write(path("pids", name) / "pids.max", pids)
    if cpus is not None:
        _write(path("cpu", name) / "cpu.cfs_period_us", CPU_PERIOD)
        _write(path("cpu", name) / "cpu.cfs_quota_us", max(1000, int(cpus * CPU_PERIOD)))


def make_engines():
    """cowserv-seats/engines: where the seat engines' dockerd and containerd run (no limit of a seat's)."""
    make(ENGINES_CGROUP)


def join(name, pid=None):
    """Move a process (default: this one) into the seat's cgroups under every controller."""
    for controller in CONTROLLERS:
        _write(path(controller, name) / "cgroup.procs", pid or os.getpid())


def processes(name):
    """Every pid in the seat's cgroups and their children (the engine's containers, the shell)."""
    found = set()
    for controller in hierarchies():
        top = path(controller, name)
        if not top.is_dir():
            continue
        for procs in top.rglob("cgroup.procs"):
            try:
                found.update(int(line) for line in procs.read_text().split())
            except (OSError, ValueError):
                pass
    return found


def kill_all(name, wait=10.0):
    """SIGKILL every process in the seat's cgroups until none is left (or `wait` seconds pass); True when empty."""
    deadline = time.monotonic() + wait
    while True:
        left = processes(name)
        if not left:
            return True
        if time.monotonic() > deadline:
            return False
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def remove(name):
    """Kill what runs in the seat's cgroups, then rmdir them deepest first (a container's cgroups below included)."""
    kill_all(name)
    for controller in hierarchies():
        top = path(controller, name)
        if not top.is_dir():
            continue
        for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            _rmdir(folder)
        _rmdir(top)


def names():
    """The cgroups under cowserv-seats (any controller): seats, and `engines`."""
    found = set()
    for controller in hierarchies():
        top = ROOT / controller / CGROUP_ROOT
        if top.is_dir():
            found.update(entry.name for entry in top.iterdir() if entry.is_dir())
    return found


def remove_root():
    """rmdir cowserv-seats/engines and cowserv-seats under every controller, each only when no cgroup is left
    below it (another folder's seats may still run); a cgroup with processes refuses rmdir, and is kept."""
    for controller in hierarchies():
        top = ROOT / controller / CGROUP_ROOT
        for folder in (top / ENGINES_CGROUP, top):
            try:
                if folder.is_dir() and not any(entry.is_dir() for entry in folder.iterdir()):
                    folder.rmdir()
            except OSError:
                pass


def _rmdir(folder):
    for _ in range(50):  # a killed process leaves its cgroup a moment after it is gone
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)
    folder.rmdir()


def _write(file, value):
    with open(file, "w") as out:
        out.write(f"{value}\n")
