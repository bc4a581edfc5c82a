"""What do seats with Docker engines of their own cost this host: how long a room takes to open, how much memory an
idle seat holds, how its first builds go in parallel, and how quickly its shell echoes a keystroke?

    DASHBOARD_BASE_IMAGE=cowserv-base:bookworm .venv/bin/python bench/seats.py --seats 30   # as root; about 10 minutes

Root only, on the host (as scripts/up serves seats). It drives dashboard/seat_host's SeatHost directly, with a
seats' folder of its own under /tmp, a room id and seat names of its own (bRUN-PORT) and seat indices no link on
the machine uses, the room form's default limits and the dashboard's CLASS_WORKERS:

1. open(): seconds until every seat's engine answers `docker -H unix://…/docker.sock version` (each seat's progress
   on stderr), until open() returns (python:3.12-slim loaded on every seat, the walls' server and the forwarder up),
   and how long close_all() takes at the end;
2. the memory an idle seat costs: PSS (/proc/PID/smaps_rollup: shared pages split among their users) of every
   process in the seat engine's cgroup (cowserv-seats/engines/NAME: unshare, docker-init, dockerd, containerd)
   and in the seat's own (its containers: none while idle), divided by the seats; the walls' server and the
   forwarder once, for all seats;
3. every seat's first `docker build -t cowserv .` of the images lesson at once, through its own socket, in its
   lesson folder (the lesson's files copied in as the room does), DOCKER_BUILDKIT=0: total, p50/p95, failures;
4. keystroke echo on the seat's confined shell (SeatHost.shell on a pty, as the terminal runs it), with a shell
   open on every seat: each types a key every 0.1 to 0.3 s, timed until its echo, once with the seats idle and once
   while the builds of 3 run (and how long each seat's CPU limit held its processes back meanwhile). This is the
   shell side the web terminal sits on, not the WebSocket: `--terminals` measures through a served dashboard's
   GET /seat/terminal.

It prints a Markdown table. Whatever it started goes on success, failure, Ctrl-C or `kill` (close_all, then a
check that no namespace, mount, cgroup, process or folder of its seats is left, which it prints).

    .venv/bin/python bench/seats.py --terminals --dashboard-url http://HOST:PORT --links links.txt

`--terminals` measures the same keystroke echo end to end through a dashboard that serves a room with seats of
their own: one student per seat link (a line of `--links` each, or the open room's sheet read with `--token`, the
instructor token), each signed in by its link and on GET /seat/terminal (binary frames both ways), all at once.
"""

import argparse
import html
import os
import random
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from run import ROOT, free_port_run, percentile, run_main, table_row

from dashboard.config import defaults  # noqa: E402  (run put the checkout on sys.path)
from dashboard.domain.lessons import load_catalog  # noqa: E402
from dashboard.domain.seats import Limits  # noqa: E402
from dashboard.seat_host import cgroups  # noqa: E402
from dashboard.seat_host.engines import SeatHost, engines_cgroup  # noqa: E402
from dashboard.seat_host.layout import CGROUP_ROOT, CONTROLLERS, PORT_BLOCK, SeatState  # noqa: E402
from tests.support.seat_shell import ShellOnPty  # noqa: E402  (the tests' pty driver of the same shell)

MB = 1024 * 1024
LESSON_PORTS = (8000, 8080, 8090)  # the ports the lessons publish: each seat's host port block maps them
IMAGES_LESSON = "cowserv"  # the images lesson (dashboard/lessons/03-images): its folder is built on every seat
OPEN_TARGET, SEAT_MEMORY_TARGET, ECHO_TARGET = 60, 128, 50  # seconds, MB a seat, ms


def say(started, what):
    print(f"[{time.monotonic() - started:7.1f} s] {what}", file=sys.stderr, flush=True)


def seconds(value):
    return f"{value:.1f} s"


class SeatsBench:
    """The seats this run opened, in a seats' folder of its own, so that `clean` can take all of it back."""

    def __init__(self, count, workers):
        self.run = uuid.uuid4().hex[:6]
        self.base = Path(tempfile.gettempdir()) / f"cowserv-seats-bench-{self.run}"  # made by open()
        self.host = SeatHost(self.base, os.environ.get("DOCKER_HOST"), os.environ.get("DASHBOARD_BASE_IMAGE"),
                             os.environ.get("DASHBOARD_POSTGRES_IMAGE"), workers=workers)
        self.room = f"bench-{self.run}"
        first_index = free_indices(count)
        first_port = free_port_run(count * PORT_BLOCK) - first_index * PORT_BLOCK  # seat i's block: + i * PORT_BLOCK
        limits, settings = Limits(), defaults()
        budget = settings.get("SEAT_DISK", "4g")  # the seats' disk budget setting (the room's default)
        disk = int(budget[:-1]) * 1024 ** " kmg".index(budget[-1])
        self.states = []
        for number in range(count):
            name = f"b{self.run}-{first_port + (first_index + number) * PORT_BLOCK}"
            state = SeatState(name=name, index=first_index + number, first_port=first_port, room=self.room,
                              ports=(), bind_host="127.0.0.1", memory=limits.memory_bytes, cpus=limits.cpus,
                              pids=limits.pids, disk=disk)
            place = state.place(self.base)
            self.states.append(SeatState(**{**state.__dict__, "ports": tuple(place.host_ports(LESSON_PORTS))}))
        self.names = [state.name for state in self.states]

    def place(self, name):
        return self.host.place(name)

    def clean(self):
        """close_all (timed), then what is left of the seats on the machine; the folder removed when nothing is."""
        started = time.monotonic()
        error = None
        try:
            self.host.close_all()
        except Exception as failure:  # told below with whatever it left
            error = failure
        took = time.monotonic() - started
        left = leftovers(self.base, self.names)
        if not left and not mounts_under(self.base):
            subprocess.run(["rm", "-rf", "--one-file-system", "--", str(self.base)], check=False)
        if error or left:
            print(f"close_all: {error or 'done'}; left on the machine: {'; '.join(left) or 'nothing'}",
                  file=sys.stderr)
        return took, error, left


def free_indices(count):
    """The first of `count` seat indices no link on the machine uses (csh<index>), above the tests' (1000 to 3900)
    and low enough that their host port blocks (first_port + index * PORT_BLOCK) fit below 32000."""
    for _ in range(200):
        first = random.randrange(3904, 4000)
        if not any(Path(f"/sys/class/net/csh{index}").exists() for index in range(first, first + count)):
            return first
    raise RuntimeError(f"no {count} free seat indices")


def mounts_under(folder):
    found = []
    for mounts in Path("/proc").glob("[0-9]*/mounts"):
        try:
            text = mounts.read_text()
        except OSError:
            continue
        found += [f"{line.split()[1]} (seen by process {mounts.parent.name})" for line in text.splitlines()
                  if line.split()[1].startswith(f"{folder}/")]
    return found


def leftovers(base, names):
    """What is left of these seats: network namespaces, mounts, cgroups, processes, folders."""
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    left = [f"netns cowserv-{name}" for name in names if f"cowserv-{name}" in namespaces]
    left += [f"mount {mount}" for mount in mounts_under(base)]
    left += [f"cgroup {controller}/{CGROUP_ROOT}/{where}" for controller in CONTROLLERS for name in names
             for where in (name, engines_cgroup(name)) if (cgroups.ROOT / controller / CGROUP_ROOT / where).exists()]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(base) in text or any(f"/{CGROUP_ROOT}/{name} " in text for name in names):
            left.append(f"process {cmdline.parent.name}: {text[:80]}")
    left += [f"folder {base / name}" for name in names if (base / name).exists()]
    return left


# 1. Open
def open_seats(bench, started):
    """(seconds until every engine answered `docker version`, {name: its seconds}, seconds until open() returned)."""
    answered, opened = {}, {}
    done = threading.Event()

    def progress(name, what):
        say(started, f"{name or 'host'}: {what}")

    def watch():
        while len(answered) < len(bench.states) and not done.wait(0.2):
            for state in bench.states:
                place = bench.place(state.name)
                if state.name not in answered and place.socket.exists() and docker(place, "version").returncode == 0:
                    answered[state.name] = time.monotonic() - started
                    say(started, f"{state.name}: its engine answers docker version ({len(answered)} of "
                                 f"{len(bench.states)})")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        bench.host.open(bench.states, progress)
        opened["all"] = time.monotonic() - started
    finally:
        done.set()
        watcher.join()
    for state in bench.states:  # an engine answering between two of the watcher's rounds: asked once more now
        if state.name not in answered and docker(bench.place(state.name), "version").returncode == 0:
            answered[state.name] = time.monotonic() - started
    return max(answered.values()), answered, opened["all"]


def docker(place, *args, cwd=None, timeout=60):
    return subprocess.run(["docker", "-H", place.socket_url, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env={**os.environ, "DOCKER_BUILDKIT": "0"})


# 2. Memory
def pss_and_rss(pid):
    """(PSS, RSS) in bytes of one process, from /proc/PID/smaps_rollup; (0, 0) when it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    value = {key: int(number) * 1024 for key, number in re.findall(r"^(Pss|Rss):\s+(\d+) kB", text, re.M)}
    return value.get("Pss", 0), value.get("Rss", 0)


def command_of(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def tree(pid):
    """The process and its descendants (by /proc/PID/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in children.read_text().split()]
            except OSError:
                pass
    return found


def seat_memory(bench):
    """{process name: (PSS, RSS) summed over every seat}, the memory cgroups' own count, and the seats' processes."""
    parts, charged, count = {}, [0, 0], 0
    for name in bench.names:
        for pid in cgroups.processes(engines_cgroup(name)) | cgroups.processes(name):
            pss, rss = pss_and_rss(pid)
            kind = command_of(pid)
            total = parts.get(kind, (0, 0))
            parts[kind] = (total[0] + pss, total[1] + rss)
            count += 1
        for where in (engines_cgroup(name), name):
            stat = cgroups.path("memory", where) / "memory.stat"
            try:
                fields = dict(line.split() for line in stat.read_text().splitlines())
                charged[0] += int(fields["total_rss"])
                charged[1] += int(fields["total_rss"]) + int(fields["total_cache"])
            except (OSError, KeyError, ValueError):
                pass
    return parts, charged, count


def helpers_memory(bench):
    """(PSS, RSS) of the walls' server and the forwarder (with any process of theirs), found by their pid files."""
    pss = rss = 0
    for pidfile in ("walls.pid", "forwarder.pid"):
        try:
            pid = int((bench.base / pidfile).read_text())
        except (OSError, ValueError):
            continue
        for each in tree(pid):
            one = pss_and_rss(each)
            pss, rss = pss + one[0], rss + one[1]
    return pss, rss


def memory_rows(bench, row, when, target=True):
    parts, charged, processes = seat_memory(bench)
    count = len(bench.names)
    pss = sum(value[0] for value in parts.values()) / count / MB
    rss = sum(value[1] for value in parts.values()) / count / MB
    biggest = sorted(parts.items(), key=lambda item: -item[1][0])
    shares = ", ".join(f"{kind} {value[0] / count / MB:.1f}" for kind, value in biggest)
    row(2, f"Memory a seat holds, {when} (PSS of its engine's {processes / count:.0f} processes, per seat)",
        f"{pss:.1f} MB", shares + " MB", f"RSS {rss:.1f} MB", f"≤ {SEAT_MEMORY_TARGET} MB" if target else "",
        pss <= SEAT_MEMORY_TARGET)
    row(2, f"… as the memory cgroups of the seat and its engine count it, {when}, per seat",
        f"{charged[0] / count / MB:.1f} MB rss", f"{charged[1] / count / MB:.1f} MB with page cache (reclaimable; "
        "the tmpfs of its view in it)", "", "", True)
    return pss, biggest


def in_use():
    """The machine's memory in use (MemTotal - MemAvailable), in bytes: every process's and the kernel's."""
    info = dict(re.findall(r"^(\w+):\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M))
    return (int(info["MemTotal"]) - int(info["MemAvailable"])) * 1024


# 3. Builds
def provide_lesson(bench, lesson):
    """The lesson's files in every seat's folder (its lesson folder), owned by the seat's student, as the room does."""
    for name in bench.names:
        place = bench.place(name)
        folder = place.files / lesson.folder
        folder.mkdir(parents=True, exist_ok=True)
        for file in lesson.files:
            (folder / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(lesson.source / file, folder / file)
        for path in [folder, *folder.rglob("*")]:
            os.lchown(path, place.uid, place.gid)


def build_all(bench, lesson, started):
    """{name: (seconds, error or "")} of every seat's first `docker build -t cowserv .`, all at once."""
    began = time.monotonic()

    def build(name):
        place = bench.place(name)
        start = time.monotonic()
        try:
            result = docker(place, "build", "-t", "cowserv", ".", cwd=place.files / lesson.folder, timeout=1800)
            error = "" if result.returncode == 0 else (result.stderr or result.stdout).strip().splitlines()[-1:]
        except subprocess.TimeoutExpired:
            error = ["did not finish in 30 minutes"]
        took = time.monotonic() - start
        say(started, f"{name}: build {'failed: ' + error[0] if error else 'done'} in {took:.1f} s")
        return took, error[0] if error else ""

    with ThreadPoolExecutor(max_workers=len(bench.names)) as pool:
        results = dict(zip(bench.names, pool.map(build, bench.names)))
    return time.monotonic() - began, results


def throttled(bench):
    """Seconds the seats' CPU quota held their processes back (cpu.stat throttled_time), summed over the seats."""
    total = 0
    for name in bench.names:
        try:
            text = (cgroups.path("cpu", name) / "cpu.stat").read_text()
            total += int(re.search(r"throttled_time (\d+)", text)[1])
        except (OSError, TypeError):
            pass
    return total / 1e9


# 4. Echo
def open_shells(bench, lesson):
    """Every seat's confined shell on a pty of its own, started in the lesson's folder, its prompt shown."""
    shells = []
    try:
        for name in bench.names:
            shells.append(ShellOnPty(*bench.host.shell(name, lesson.folder)))
        for shell in shells:
            status, _ = shell.run("true", timeout=60)
            assert status == 0, "a seat's shell did not run `true`"
    except BaseException:
        close_shells(shells)
        raise
    return shells


def close_shells(shells):
    for shell in shells:
        shell.close()


def type_on(shells, keystrokes):
    """Echo latencies (s) of `keystrokes` keys typed on every shell at once (one every 0.1 to 0.3 s each), and the
    keys never echoed."""
    samples, lost = [], []

    def typing(shell):
        for _ in range(keystrokes):
            time.sleep(random.uniform(0.1, 0.3))
            took = keystroke(shell.master, b"x")
            (samples if took is not None else lost).append(took)
        os.write(shell.master, b"\x15")  # the typed line cleared (Ctrl-U)

    with ThreadPoolExecutor(max_workers=len(shells)) as pool:
        list(pool.map(typing, shells))
    return samples, len(lost)


def keystroke(master, key, timeout=5.0):
    """Seconds from writing `key` to the pty until it comes back on it; None when it does not within `timeout`."""
    while select.select([master], [], [], 0)[0]:  # whatever the shell wrote before: not this key's echo
        os.read(master, 65536)
    start = time.perf_counter()
    os.write(master, key)
    seen = b""
    while time.perf_counter() - start < timeout:
        if select.select([master], [], [], 0.5)[0]:
            seen += os.read(master, 65536)
            if key in seen:
                return time.perf_counter() - start
    return None


def echo_rows(row, samples, lost, what):
    if not samples:
        row(4, f"Keystroke echo p95, {what}", "none echoed", f"{lost} lost", "", f"≤ {ECHO_TARGET} ms", False)
        return
    p95 = percentile(samples, 95) * 1000 if len(samples) > 1 else samples[0] * 1000
    row(4, f"Keystroke echo p95, {what}", f"{p95:.1f} ms",
        f"p50 {statistics.median(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms, "
        f"{len(samples)} keys, {lost} lost", "", f"≤ {ECHO_TARGET} ms", p95 <= ECHO_TARGET and not lost)


# --terminals: through a served dashboard's WebSocket
def terminal_links(args):
    """The seats' links: the lines of --links, or the open room's sheet read as the instructor (--token)."""
    import requests

    if args.links:
        return [line.strip() for line in Path(args.links).read_text().splitlines() if line.strip()]
    session = requests.Session()
    page = session.get(f"{args.dashboard_url}/signin", timeout=30)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    answer = session.post(f"{args.dashboard_url}/signin", data={"token": args.token, "csrf_token": csrf}, timeout=30)
    answer.raise_for_status()
    sheet = session.get(f"{args.dashboard_url}/room/sheet", timeout=30)
    sheet.raise_for_status()
    return [html.unescape(url) for url in re.findall(r'data-seat-url="([^"]+)"', sheet.text)]


def echo_on_terminals(args):
    """Echo latencies (s) of keys typed on every seat's web terminal at once (GET /seat/terminal), and keys lost."""
    import requests
    import websocket  # websocket-client

    url = args.dashboard_url.rstrip("/")
    sockets = []
    try:
        for link in terminal_links(args):
            session = requests.Session()
            session.get(re.sub(r"^https?://[^/]+", url, link), timeout=30).raise_for_status()
            cookie = "; ".join(f"{key}={value}" for key, value in session.cookies.items())
            connection = websocket.create_connection(re.sub(r"^http", "ws", url) + "/seat/terminal", timeout=30,
                                                     cookie=cookie, origin=url)
            connection.send('{"resize": [100, 30]}')
            sockets.append(connection)
        for connection in sockets:
            drain(connection, 2.0)
        samples, lost = [], []

        def typing(connection):
            for _ in range(args.keystrokes):
                time.sleep(random.uniform(0.1, 0.3))
                drain(connection, 0)
                start = time.perf_counter()
                connection.send_binary(b"x")
                (samples if until_echo(connection, b"x", start) else lost).append(time.perf_counter() - start)
            connection.send_binary(b"\x15")

        with ThreadPoolExecutor(max_workers=len(sockets)) as pool:
            list(pool.map(typing, sockets))
        return samples, len(lost), len(sockets)
    finally:
        for connection in sockets:
            connection.close()


def drain(connection, wait):
    """Read whatever the terminal sent within `wait` seconds (0: only what already came)."""
    connection.settimeout(max(wait, 0.01))
    try:
        while True:
            connection.recv()
    except Exception:  # websocket's timeout: nothing more
        pass


def until_echo(connection, key, start, timeout=5.0):
    while time.perf_counter() - start < timeout:
        connection.settimeout(max(0.01, timeout - (time.perf_counter() - start)))
        try:
            data = connection.recv()
        except Exception:
            return False
        if isinstance(data, bytes) and key in data:
            return True
    return False


# The run
def machine_line(load_before):
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1]) / 1024 / 1024
    version = subprocess.run(["dockerd", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{date.today()}, {os.cpu_count()} cores ({cpu[1] if cpu else '?'}), {memory:.0f} GiB, {version}; "
            f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after.")


def print_table(rows, load_before):
    print(machine_line(load_before) + "\n")
    print("| Measure | Seats | Detail | Reference | Target | Met |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(text for _, text in sorted(rows, key=lambda numbered: numbered[0])))


def measure(args):
    rows = []

    def row(number, what, ours, detail, reference, target="", met=True):
        rows.append((number, table_row(f"{number}. {what}", ours, detail, reference, target, met)))
        print(rows[-1][1], file=sys.stderr, flush=True)

    load_before, used_before = os.getloadavg()[0], in_use()
    lesson = load_catalog(ROOT / "dashboard" / "lessons").get(IMAGES_LESSON)
    bench = SeatsBench(args.seats, args.workers)
    reason = bench.host.unavailable()
    if reason:
        bench.clean()
        sys.exit(reason)
    started = time.monotonic()
    try:
        say(started, f"opening {args.seats} seats in {bench.base} (room {bench.room}, {args.workers} at a time)")
        answered_all, answered, opened = open_seats(bench, started)
        times = sorted(answered.values())
        row(1, f"Open {args.seats} seats: until every seat's engine answers `docker version`", seconds(answered_all),
            f"first {seconds(times[0])}, median {seconds(statistics.median(times))}", f"{args.workers} seats at a time",
            f"≤ {OPEN_TARGET} s", answered_all <= OPEN_TARGET)
        row(1, "… until open() returns (python:3.12-slim loaded on every seat, walls and forwarder up)",
            seconds(opened), "", "", "", True)
        time.sleep(args.settle)
        pss, biggest = memory_rows(bench, row, f"idle {args.settle:.0f} s after open")
        walls_pss, walls_rss = helpers_memory(bench)
        row(2, "The walls' server and the forwarder, once for every seat", f"{walls_pss / MB:.1f} MB",
            f"{walls_pss / MB / args.seats:.1f} MB a seat", f"RSS {walls_rss / MB:.1f} MB", "", True)
        total = pss + walls_pss / MB / args.seats
        row(2, "… the machine's memory in use (MemTotal − MemAvailable), grown since before open, per seat",
            f"{(in_use() - used_before) / args.seats / MB:.1f} MB", "the kernel's part too (namespaces, tmpfs, page "
            "tables); and whatever else ran on the machine meanwhile", "", "", True)
        row(2, "… a seat's memory with its share of them", f"{total:.1f} MB", f"the largest: {biggest[0][0]}", "",
            f"≤ {SEAT_MEMORY_TARGET} MB", total <= SEAT_MEMORY_TARGET)
        shells = open_shells(bench, lesson) if args.keystrokes else []
        try:
            on_pty = f"the confined shell on a pty (not the WebSocket), {args.seats} shells open and typing at once"
            if shells:
                echo_rows(row, *type_on(shells, args.keystrokes), f"{on_pty}, seats idle")
            if args.builds:
                provide_lesson(bench, lesson)
                held_before = throttled(bench)
                with ThreadPoolExecutor(max_workers=1) as pool:
                    building = pool.submit(build_all, bench, lesson, started)
                    if shells and not building.done():
                        time.sleep(min(args.settle, 10))  # into the builds' busiest part: apt-get on every seat
                        echo_rows(row, *type_on(shells, args.keystrokes), f"{on_pty}, while the builds run")
                    took, builds = building.result()
                held = (throttled(bench) - held_before) / args.seats
                good = [took_ for took_, error in builds.values() if not error]
                failed = [f"{name}: {error}" for name, (_, error) in builds.items() if error]
                row(3, f"{args.seats} first builds of cowserv at once (`docker build -t cowserv .`, classic builder)",
                    seconds(took), (f"per seat p50 {seconds(statistics.median(good))}, p95 "
                                    f"{seconds(percentile(good, 95) if len(good) > 1 else good[0])}") if good else "",
                    f"{len(failed)} failed" + (f" ({failed[0][:120]})" if failed else ""), "", not failed)
                row(3, "… each seat held back by its CPU limit meanwhile (its cgroup's cpu.stat throttled_time)",
                    seconds(held), f"of {seconds(took)}; its limit {Limits().cpus:g} CPU", "", "", True)
                memory_rows(bench, row, "after its build (the image and its build cache kept, no container; its shell open)", target=False)
        finally:
            close_shells(shells)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        say(started, "closing every seat")
        took, error, left = bench.clean()
        row(1, f"close_all() of the {args.seats} seats", seconds(took), "nothing left" if not (error or left) else
            f"left: {'; '.join(left)[:200]}", "", "nothing left", not (error or left))
        print_table(rows, load_before)  # what was measured, even when a part failed
    if error or left:
        sys.exit(1)


def measure_terminals(args):
    if not args.dashboard_url or not (args.links or args.token):
        sys.exit("--terminals needs --dashboard-url and --links FILE (one seat link a line) or --token TOKEN")
    rows = []
    load_before = os.getloadavg()[0]
    samples, lost, count = echo_on_terminals(args)

    def row(number, what, ours, detail, reference, target="", met=True):
        rows.append((number, table_row(f"{number}. {what}", ours, detail, reference, target, met)))

    echo_rows(row, samples, lost, f"through the web terminal (GET /seat/terminal), {count} terminals typing at once")
    print_table(rows, load_before)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seats", type=int, default=30)
    parser.add_argument("--workers", type=int, default=defaults()["CLASS_WORKERS"],
                        help="seats opened at a time (the dashboard's CLASS_WORKERS)")
    parser.add_argument("--settle", type=float, default=10, help="seconds the seats idle before their memory is read")
    parser.add_argument("--keystrokes", type=int, default=20, help="keys each shell types (0: no echo measure)")
    parser.add_argument("--no-builds", dest="builds", action="store_false")
    parser.add_argument("--terminals", action="store_true", help="echo through a served dashboard's terminals")
    parser.add_argument("--dashboard-url", help="--terminals: the dashboard serving the room (http://HOST:PORT)")
    parser.add_argument("--links", help="--terminals: a file of seat links, one a line")
    parser.add_argument("--token", help="--terminals: the instructor token, to read the open room's sheet")
    args = parser.parse_args()
    if args.terminals:
        measure_terminals(args)
        return
    if os.geteuid() != 0:
        sys.exit("bench/seats.py opens seats with engines of their own: run it as root on the host")
    measure(args)


if __name__ == "__main__":
    run_main(main)
