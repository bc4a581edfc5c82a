"""Seats with Docker engines of their own (dashboard/seat_host): real dockerds in their own network and mount
namespaces, under the seat's cgroups, opened and closed by SeatHost. Root only; the engine pass's first run.

One seat engine for the module (startup costs seconds), in a seats' folder under /tmp of the module's own with
seat names of its own; every test that opens more closes them in its finally, and the module's teardown closes all."""

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from dashboard.seat_host import cgroups
from dashboard.seat_host.engines import SeatHost
from dashboard.seat_host.layout import CGROUP_ROOT, CONTROLLERS, SeatState

pytestmark = pytest.mark.engine

MB = 1024 * 1024


def seat_state(name, index, room="room-a", memory=256 * MB, pids=100):
    return SeatState(name=name, index=index, first_port=8001, room=room, ports=((8001 + index * 5, 8000),),
                     bind_host="127.0.0.1", memory=memory, cpus=0.5, pids=pids, disk=4 * 1024 * MB)


def new_host(base):
    return SeatHost(base, base_image=os.environ.get("DASHBOARD_BASE_IMAGE"),
                    postgres_image=os.environ.get("DASHBOARD_POSTGRES_IMAGE"), workers=3)


def docker(host, name, *args, timeout=120):
    return subprocess.run(["docker", "-H", host.socket_url(name), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "DOCKER_BUILDKIT": "0"})


def leftovers(base, names):
    """What is left on the machine of these seats: namespaces, mounts, cgroups, processes, folders."""
    left = []
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    left += [f"netns of {name}" for name in names if f"cowserv-{name}" in namespaces.split()]
    for mounts in Path("/proc").glob("[0-9]*/mounts"):
        try:
            text = mounts.read_text()
        except OSError:
            continue
        if str(base) in text:
            left.append(f"a mount under {base} seen by process {mounts.parent.name}")
            break
    left += [f"cgroup {controller}/{CGROUP_ROOT}/{name}" for controller in CONTROLLERS for name in names
             if (cgroups.ROOT / controller / CGROUP_ROOT / name).exists()
             or (cgroups.ROOT / controller / CGROUP_ROOT / "engines" / name).exists()]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(f"/{CGROUP_ROOT}/{name}" in text for name in names) or str(base) in text:
            left.append(f"process {cmdline.parent.name}: {text[:80]}")
    left += [f"folder {base / name}" for name in names if (base / name).exists()]
    return left


@pytest.fixture(scope="module")
def base():
    folder = Path("/tmp") / f"cowserv-seats-test-{uuid.uuid4().hex[:8]}"
    yield folder
    try:
        new_host(folder).close_all()
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(folder)], check=False)


@pytest.fixture(scope="module")
def prefix():
    return f"t{uuid.uuid4().hex[:6]}-"


@pytest.fixture(scope="module")
def host(base):
    host = new_host(base)
    reason = host.unavailable()
    assert reason is None, reason
    return host


@pytest.fixture(scope="module")
def seat(host, prefix):
    """One seat's engine for the module: its name."""
    name = prefix + "8001"
    try:
        host.open([seat_state(name, 0)])
        yield name
    finally:
        host.close([name])


def test_a_seat_engine_runs_the_lessons_image_under_its_name(host, seat):
    ran = docker(host, seat, "run", "--rm", "python:3.12-slim", "python3", "-c", "print(1)")
    assert (ran.returncode, ran.stdout) == (0, "1\n"), ran.stderr
    images = docker(host, seat, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert images == ["python:3.12-slim"]


def test_opening_and_closing_seats_leaves_nothing(base, host, prefix):
    names = [prefix + "8006", prefix + "8011"]
    try:
        host.open([seat_state(names[0], 1), seat_state(names[1], 2)])
        assert docker(host, names[0], "ps", "-aq").stdout == ""
        started = docker(host, names[1], "run", "-d", "python:3.12-slim", "sleep", "600")
        assert started.returncode == 0, started.stderr
        assert leftovers(base, names) != []
    finally:
        host.close(names)
    assert leftovers(base, names) == []
