"""Seats with Docker engines of their own (dashboard/seat_host): real dockerds in their own network and mount
namespaces, under the seat's cgroups, opened and closed by SeatHost. Root only; the engine pass's first run.

One seat engine for the module (startup costs seconds), in a seats' folder under /tmp of the module's own with
seat names of its own; every test that opens more closes them in its finally, and the module's teardown closes all."""

import os
import random
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from dashboard.seat_host import cgroups
from dashboard.seat_host.engines import POSTGRES, SeatHost
from dashboard.seat_host.layout import CGROUP_ROOT, SeatState, read_state
from tests.support import free_ports
from tests.support.seat_shell import ShellOnPty

pytestmark = pytest.mark.engine

MB = 1024 * 1024


# Seats' indices (their links csh<index>, uids, addresses) are the machine's: a range of this module's own
FIRST_INDEX = random.randrange(1000, 3900, 4)


def seat_state(name, number, room="room-a", memory=256 * MB, pids=100):
    """The seat's state: the module's `number`-th seat index, its port 8000 on a free host port of loopback."""
    return SeatState(name=name, index=FIRST_INDEX + number, first_port=8001, room=room,
                     ports=((free_ports(1)[0], 8000),), bind_host="127.0.0.1", memory=memory, cpus=0.5, pids=pids,
                     disk=4 * 1024 * MB)


def new_host(base, walls=True):
    return SeatHost(base, base_image=os.environ.get("DASHBOARD_BASE_IMAGE"),
                    postgres_image=os.environ.get("DASHBOARD_POSTGRES_IMAGE"), workers=3, walls=walls)


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
        for name in names:
            if f"{base / name}/" in text:
                left.append(f"a mount under {base / name} seen by process {mounts.parent.name}")
    left += [f"cgroup {controller}/{CGROUP_ROOT}/{name}" for controller in cgroups.hierarchies() for name in names
             if (cgroups.ROOT / controller / CGROUP_ROOT / name).exists()
             or (cgroups.ROOT / controller / CGROUP_ROOT / "engines" / name).exists()]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        try:
            groups = (cmdline.parent / "cgroup").read_text()
        except OSError:
            continue
        if any(f"/{CGROUP_ROOT}/{name} " in text or f"{base / name}/" in text
               or re.search(rf":/{CGROUP_ROOT}/(engines/)?{re.escape(name)}(/|$)", groups, re.MULTILINE)
               for name in names):
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
def bare_host(base):
    """The seats' host with its first wall (the authorization plugin) off: what the second wall (the view) alone
    lets through is what a missed case of the first could reach."""
    return new_host(base, walls=False)


@pytest.fixture(scope="module")
def seat(bare_host, prefix):
    """One seat's engine for the module (its name), limited to 256 MB and 100 processes, without the first wall."""
    name = prefix + "8001"
    try:
        bare_host.open([seat_state(name, 0)])
        lesson = bare_host.place(name).files / "03-images"
        lesson.mkdir()
        (lesson / "Dockerfile").write_text("FROM python:3.12-slim\n")
        os.chown(lesson, bare_host.place(name).uid, bare_host.place(name).gid)
        yield name
    finally:
        bare_host.close([name])


@pytest.fixture
def terminal(bare_host, seat):
    """The seat's confined shell on a pty, started in the lesson's folder."""
    shell = ShellOnPty(*bare_host.shell(seat, "03-images"))
    try:
        yield shell
    finally:
        shell.close()


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
        refused = docker(host, names[0], "run", "--rm", "-v", "/etc:/x", "python:3.12-slim", "true")
        assert refused.returncode != 0 and "authorization denied by plugin cowserv-walls" in refused.stderr, \
            refused.stderr
        started = docker(host, names[1], "run", "-d", "python:3.12-slim", "sleep", "600")
        assert started.returncode == 0, started.stderr
        assert leftovers(base, names) != []
    finally:
        host.close(names)
    assert leftovers(base, names) == []


def test_a_seat_engine_sees_only_its_view_of_the_machine(bare_host, seat):
    """`-v /:/host` (refused by the first wall) shows a container only the seat's view: no host /tmp, no checkout,
    no /root, no /etc/shadow, no host process, a read-only /usr, sysfs and kernel settings, and of the cgroups only
    the seat's containers' writable (not the seat's limits)."""
    cgroup = f"/host/sys/fs/cgroup/pids/{CGROUP_ROOT}"
    ran = docker(bare_host, seat, "run", "--rm", "-v", "/:/host", "python:3.12-slim", "sh", "-c",
                 "ls /host; echo ---; ls -A /host/tmp; echo ---; ls /host/home/student/docker-workshop; echo ---;"
                 " cat /host/proc/1/cmdline | tr '\\0' ' '; echo; echo ---; ls /host/etc; echo ---;"
                 " touch /host/usr/x /host/sys/x /host/sys/fs/cgroup/x 2>&1;"
                 " test -w /host/proc/sys/kernel/core_pattern || echo core_pattern: Read-only file system;"
                 f" test -w {cgroup}/{seat}/pids.max || echo limit: Read-only file system;"
                 f" test -w {cgroup}/pids.max || echo limit: Read-only file system;"
                 f" test -w {cgroup}/{seat}/containers/cgroup.procs && echo writable;"
                 " true")
    assert ran.returncode == 0, ran.stderr
    root, tmp, folder, init, etc, writes = ran.stdout.split("---\n")
    assert set(root.split()) <= {"bin", "dev", "etc", "home", "lib", "lib64", "opt", "proc", "run", "sbin", "sys",
                                 "tmp", "usr", "var"}
    assert tmp.split() == []
    assert folder.split() == ["03-images"]
    assert init.startswith("/usr/bin/docker-init -- /usr/sbin/dockerd")
    assert "passwd" in etc.split() and "shadow" not in etc.split() and "docker" in etc.split()
    assert writes.count("Read-only file system") == 6 and writes.endswith("writable\n"), writes


def test_a_seat_engine_runs_builds_on_the_classic_builder(bare_host, seat):
    shell = ShellOnPty(*bare_host.shell(seat, "03-images"))
    try:
        status, output = shell.run("docker build -t hello-build . && docker run --rm hello-build echo built")
        assert status == 0 and "built" in output, output
    finally:
        shell.close()
        docker(bare_host, seat, "rmi", "hello-build")  # the seat's images are the stand-ins again for the tests after


def test_a_seat_engine_makes_networks_and_publishes_ports(bare_host, seat):
    """Its networks' bridges and rules are its network namespace's, which its view leaves writable."""
    made = docker(bare_host, seat, "network", "create", "lesson-net")
    try:
        assert made.returncode == 0, made.stderr
        ran = docker(bare_host, seat, "run", "--rm", "--network", "lesson-net", "-p", "8000:8000",
                     "python:3.12-slim", "python3", "-c", "print('on its network')")
        assert (ran.returncode, ran.stdout) == (0, "on its network\n"), ran.stderr
    finally:
        docker(bare_host, seat, "network", "rm", "lesson-net")


def test_a_lesson_needing_postgres_gets_it_on_an_open_seat(bare_host, seat):
    """Opening an open seat again with postgres:16 asked for loads it there (the stand-in under the lesson's name)."""
    bare_host.open([read_state(bare_host.place(seat).dir)], images=[POSTGRES])
    images = docker(bare_host, seat, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert sorted(images) == ["postgres:16", "python:3.12-slim"]


def test_the_seats_memory_limit_kills_a_hog(bare_host, seat):
    ran = docker(bare_host, seat, "run", "--rm", "python:3.12-slim", "python3", "-c",
                 "b = bytearray(400 * 1024 * 1024); print('survived')")
    assert ran.returncode == 137 and "survived" not in ran.stdout, (ran.returncode, ran.stdout, ran.stderr)


def test_the_seats_process_limit_stops_a_fork_loop(bare_host, seat):
    ran = docker(bare_host, seat, "run", "--rm", "python:3.12-slim", "sh", "-c",
                 "for i in $(seq 200); do sleep 3 & done; wait")
    assert "Cannot fork" in ran.stderr, (ran.returncode, ran.stderr[-500:])
    again = docker(bare_host, seat, "run", "--rm", "python:3.12-slim", "true")  # and the seat works on
    assert again.returncode == 0, again.stderr


def test_the_shell_is_the_students_in_the_seats_view(bare_host, seat, terminal):
    place = bare_host.place(seat)
    assert terminal.run("docker ps -a --format '{{.Names}}' | wc -l")[1].split()[-1] == "0"
    status, output = terminal.run("pwd; id -u; id -g; ls ~/docker-workshop")
    assert output.split() == ["/home/student/docker-workshop/03-images", str(place.uid), str(place.gid),
                              "03-images"], output
    assert terminal.run("cat /etc/shadow")[0] != 0
    assert terminal.run("ls -A /tmp | wc -l")[1].split()[-1] == "0"
    assert terminal.run("test -e /root || test -e " + str(place.base))[0] != 0
    assert terminal.run("grep -c . /proc/self/cgroup >/dev/null; grep -q ':pids:/cowserv-seats/" + seat
                        + "$' /proc/self/cgroup")[0] == 0
    assert terminal.run("ps -e --no-headers | wc -l")[1].split()[-1] in {"2", "3"}  # bash, ps (and wc)
    assert terminal.run("grep ^CapEff /proc/self/status")[1].split()[-1] == "0000000000000000"


def test_the_shell_has_the_workshops_tools_and_the_seats_limits(terminal):
    assert terminal.run("docker compose version && type nano")[0] == 0
    status, output = terminal.run("docker run -it --rm python:3.12-slim python3 -c 'import os; print(os.isatty(0))'")
    assert (status, output.split()[-1:]) == (0, ["True"]), output  # the lessons' -it step has its terminal
    completion = terminal.run("complete -p docker 2>/dev/null || (_completion_loader docker; complete -p docker)")
    assert "_docker" in completion[1], completion
    status, output = terminal.run("python3 -c 'b = bytearray(400 * 1024 * 1024); print(\"survived\")'")
    assert status == 137 and "survived" not in output, output  # the seat's 256 MB hold for its shell too


def test_the_shell_and_the_engine_see_the_same_folder(terminal):
    assert terminal.run("docker run --rm python:3.12-slim true")[0] == 0
    status, output = terminal.run('docker run -v "$(pwd)":/site --rm python:3.12-slim ls /site')
    assert (status, output.split()) == (0, ["Dockerfile"]), output


def test_a_device_node_or_setuid_file_a_container_makes_in_the_folder_stays_inert(terminal):
    made = terminal.run('docker run -v "$(pwd)":/w --rm python:3.12-slim sh -c '
                        '"mknod /w/disk b 7 0 && chmod 666 /w/disk && cp /bin/sh /w/rootsh && chmod 4755 /w/rootsh"')
    assert made[0] == 0, made
    try:
        assert terminal.run("head -c1 disk >/dev/null")[0] != 0  # nodev: the node opens nothing
        assert terminal.run("./rootsh -c 'id -u'")[1].split()[-1] != "0"  # nosuid: the file runs as the student
        options = terminal.run("grep ' /home/student/docker-workshop ' /proc/self/mountinfo")[1]
        assert "nosuid" in options and "nodev" in options, options
    finally:
        terminal.run('docker run -v "$(pwd)":/w --rm python:3.12-slim rm -f /w/disk /w/rootsh')


def test_a_seat_whose_dockerd_alone_was_killed_starts_again_on_its_data(bare_host, seat):
    """kill -9 of the seat's dockerd alone: a reattach stops whatever the dead engine left (processes in its
    cgroup, its pid files) and starts it again; the seat answers and keeps its containers and volumes."""
    made = docker(bare_host, seat, "run", "--name", "kept", "-v", "kept-data:/data", "python:3.12-slim", "sh", "-c",
                  "echo still here >/data/note")
    assert made.returncode == 0, made.stderr
    try:
        init = bare_host.engine_pid(seat)
        dockerd = int(Path(f"/proc/{init}/task/{init}/children").read_text().split()[0])
        assert Path(f"/proc/{dockerd}/cmdline").read_bytes().startswith(b"/usr/sbin/dockerd\0")
        os.kill(dockerd, signal.SIGKILL)
        # The dead engine's containerd.pid is left behind; the new engine's pid namespace numbers its processes
        # anew, so that number may well be alive there (a thread of the new dockerd): make it sure, pid 1.
        (bare_host.place(seat).run / "docker" / "containerd" / "containerd.pid").write_text("1")

        bare_host.reattach([read_state(bare_host.place(seat).dir)])

        assert docker(bare_host, seat, "ps", "-a", "--format", "{{.Names}}").stdout.split() == ["kept"]
        read = docker(bare_host, seat, "run", "--rm", "-v", "kept-data:/data", "python:3.12-slim", "cat", "/data/note")
        assert (read.returncode, read.stdout) == (0, "still here\n"), read.stderr
    finally:
        docker(bare_host, seat, "rm", "-f", "kept")
        docker(bare_host, seat, "volume", "rm", "kept-data")


def test_a_bind_source_swapped_for_a_link_after_create_is_not_followed_at_start(terminal):
    """The walls check a bind source at create; a student who then swaps it for a symbolic link to the engine's
    own sockets (containerd's: a way past the walls) gets a container that does not start: the folder follows no
    link, for the engine as for the shell."""
    made = terminal.run("mkdir -p swap && docker create --name swapped -v \"$(pwd)\"/swap:/x python:3.12-slim "
                        "ls /x")
    assert made[0] == 0, made
    try:
        assert terminal.run("rmdir swap && ln -s /run/docker swap")[0] == 0
        status, output = terminal.run("docker start -a swapped")
        assert status != 0 and "containerd" not in output, output
        assert terminal.run("cat swap/containerd/containerd.toml")[0] != 0  # the shell follows no link there either
    finally:
        terminal.run("docker rm -f swapped; rm -f swap")


def test_a_restart_reattaches_to_its_rooms_seats_and_sweeps_the_others(base, host, prefix):
    """After a kill -9 of the dashboard (its SeatHost gone, its helpers killed), a new one keeps the open room's
    seats with their containers, starts a dead engine again on its data, and removes the seats of any other room."""
    kept, dead, other = seat_state(prefix + "8016", 3, room="room-b"), seat_state(prefix + "8021", 4, room="room-b"), \
        seat_state(prefix + "8026", 5, room="room-old")
    names = [kept.name, dead.name, other.name]
    try:
        host.open([kept, dead, other])
        for state in (kept, dead):
            ran = docker(host, state.name, "run", "-d", "--name", "hello", "python:3.12-slim", "sleep", "600")
            assert ran.returncode == 0, ran.stderr
        for helper in ("walls.pid", "forwarder.pid"):
            os.kill(int((base / helper).read_text()), signal.SIGKILL)
        os.kill(int((base / dead.name / "engine.pid").read_text()), signal.SIGKILL)  # its namespace dies with it

        restarted = new_host(base)
        restarted.sweep("room-b")
        restarted.reattach([kept, dead])

        assert leftovers(base, [other.name]) == []
        assert docker(restarted, kept.name, "ps", "--format", "{{.Names}} {{.Status}}").stdout.startswith("hello Up")
        assert docker(restarted, dead.name, "ps", "-a", "--format", "{{.Names}}").stdout.split() == ["hello"]
        refused = docker(restarted, dead.name, "run", "--rm", "-v", "/etc:/x", "python:3.12-slim", "true")
        assert "authorization denied by plugin cowserv-walls" in refused.stderr, refused.stderr  # walls back
    finally:
        new_host(base).close(names)
    assert leftovers(base, names) == []


def test_a_sweep_with_no_room_open_removes_every_seat(base, prefix):
    """A start with no room in session sweeps everything an earlier run left, even with no seat.json."""
    first = new_host(base)
    state = seat_state(prefix + "8031", 6, room="room-c")
    try:
        first.open([state])
        assert docker(first, state.name, "run", "-d", "python:3.12-slim", "sleep", "600").returncode == 0
        (base / state.name / "seat.json").unlink()  # as if killed between its folder and its state
    finally:
        new_host(base).sweep(None)
    assert leftovers(base, [state.name]) == []
    assert not (base / ".images").exists()


def test_a_host_that_cannot_give_seats_engines_says_why(base):
    assert "dockerd" in SeatHost(base, dockerd="/nonexistent/dockerd").unavailable()
    as_nobody = subprocess.run(
        ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", sys.executable, "-c",
         f"from dashboard.seat_host.engines import SeatHost; print(SeatHost({str(base)!r}).unavailable())"],
        capture_output=True, text=True, cwd=Path(__file__).parents[1], timeout=60)
    assert "started as root" in as_nobody.stdout, as_nobody.stderr
