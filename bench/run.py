"""Is the dashboard cheap to watch?

    DASHBOARD_BASE_IMAGE=cowserv-base:bookworm .venv/bin/python bench/run.py

Needs a Docker engine on /var/run/docker.sock (or DOCKER_HOST's unix socket) and wrk (installed from Debian when missing); builds cowserv when
the engine does not have it. Starts gunicorn, as scripts/up does, on a free loopback port with DOCKER_HOST on a
counting proxy, measures on this machine in one run, each against its reference, and prints a Markdown table.
Whatever it starts (containers, gunicorn, the proxy's socket) it removes again, on success, failure or Ctrl-C.
Its containers are named bench-RUN-…; the rooms the benchmarks open (bench/room.py and those built on it) have
their seats named bench-RUN-seat-PORT, with engines of their own in a seats' folder of the run's own. What seats
with engines of their own cost (a room's opening, its idle memory, its builds, its terminals) is bench/seats.py's.
"""

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from urllib.parse import quote

import docker

from countproxy import CountingProxy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dashboard.domain.commands import lesson_filter  # noqa: E402  (the checkout's dashboard, installed or not)
from dashboard.domain.lessons import load_catalog  # noqa: E402
from dashboard.domain.ports import host_port_free  # noqa: E402
from dashboard.seat_host.engines import SeatHost  # noqa: E402

ENGINE_SOCKET = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
IMAGE = "cowserv:latest"
REFRESH_SECONDS = 1  # the period of every open page's poll, given to the dashboard under test
HTMX = {"HX-Request": "true"}
LESSON = load_catalog(ROOT / "dashboard" / "lessons").default.id  # the lesson the class starts on: its containers


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over the engine's unix socket, kept alive between requests as the docker SDK keeps it."""

    def __init__(self, path):
        super().__init__("localhost")
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.socket_path)


def get(connection, path, headers=None):
    """(seconds, status, body) of one GET on a kept-alive connection."""
    started = time.perf_counter()
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    body = response.read().decode()
    return time.perf_counter() - started, response.status, body


def percentile(samples, share):
    return statistics.quantiles(samples, n=100, method="inclusive")[share - 1]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_port_run(count):
    """The first of `count` consecutive host ports nothing listens on, below the ephemeral range."""
    for _ in range(100):
        first = random.randrange(20000, 32000)
        if all(host_port_free(port) for port in range(first, first + count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


class Bench:
    """What the benchmark started, so that `clean` can remove all of it."""

    def __init__(self, proxy_class=CountingProxy):
        self.run_id = uuid.uuid4().hex[:8]
        self.prefix = f"bench-{self.run_id}-seat-"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"bench-{self.run_id}-"))
        self.seats = self.workdir / "seats"  # the seats' folder of the rooms it opens (their engines, their files)
        self.docker = docker.DockerClient(base_url=f"unix://{ENGINE_SOCKET}", timeout=120)
        self.proxy = proxy_class(self.workdir / "engine.sock", ENGINE_SOCKET).start()  # the engine measured
        self.port = free_port()
        self.base = f"127.0.0.1:{self.port}"
        self.gunicorn = None
        self.filler = []  # ids of the containers made to fill the list
        self.token = uuid.uuid4().hex
        self.instructor = {}  # the signed-in session's cookie and CSRF header, for the requests that change things

    def serve(self, app="dashboard:create_app()", env=None):
        """Start gunicorn on `app` (with `env` beside the benchmark's settings), and sign in as the instructor."""
        env = {**os.environ, "DOCKER_HOST": f"unix://{self.proxy.listen_path}", "DASHBOARD_BIND": self.base,
               "DASHBOARD_SEAT_PREFIX": self.prefix, "DASHBOARD_REFRESH_SECONDS": str(REFRESH_SECONDS),
               "DASHBOARD_INSTANCE_PATH": str(self.workdir / "instance"), "DASHBOARD_INSTRUCTOR_TOKEN": self.token,
               "DASHBOARD_SEATS_DIR": str(self.seats),  # its own: a start sweeps seats of no open room in it
               **(env or {})}
        log = open(self.workdir / "gunicorn.log", "wb")
        self.gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:dashboard.gunicorn_conf", app],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                if get(self.dashboard(), "/healthz")[1] == 200:
                    return self.sign_in()
            if time.monotonic() > deadline or self.gunicorn.poll() is not None:
                raise RuntimeError(f"gunicorn did not come up: see {self.workdir / 'gunicorn.log'}")
            time.sleep(0.2)

    def sign_in(self):
        """Sign in as the instructor through the real form, and keep the session's cookie and CSRF token."""
        connection = self.dashboard()
        connection.request("GET", "/signin")
        response = connection.getresponse()
        cookie = response.getheader("Set-Cookie").split(";")[0]
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', response.read().decode())[1]
        connection.request("POST", "/signin", body=f"token={self.token}&csrf_token={csrf}",
                           headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        assert response.status == 302, f"sign-in answered {response.status}"
        cookie = response.getheader("Set-Cookie").split(";")[0]
        page = get(connection, "/", {"Cookie": cookie})[2]
        csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page)[1]
        self.instructor = {"Cookie": cookie, "X-CSRF-Token": csrf}

    def send(self, method, path, body=None):
        """An instructor's htmx request: (status, body)."""
        connection = self.dashboard()
        headers = {**HTMX, **self.instructor, "Content-Type": "application/x-www-form-urlencoded"}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()

    def dashboard(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def worker_pid(self):
        """gunicorn's (one) worker process."""
        [worker] = [pid for pid in os.listdir("/proc") if pid.isdigit() and _parent(pid) == self.gunicorn.pid]
        return worker

    def worker_rss_mb(self):
        """Resident memory of gunicorn's worker, from /proc."""
        status = Path(f"/proc/{self.worker_pid()}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) / 1024

    def worker_cpu_seconds(self):
        """CPU time gunicorn's worker has used so far (user and system), from /proc."""
        fields = Path(f"/proc/{self.worker_pid()}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def lesson_container_count(self):
        return len(self.docker.api.containers(all=True, filters={"label": lesson_filter(LESSON)}))

    def fill(self, total):
        """Create (not start) lesson containers until the engine lists `total`; they inherit the label."""
        missing = total - self.lesson_container_count()
        names = [f"bench-{self.run_id}-{len(self.filler) + k}" for k in range(max(0, missing))]
        with ThreadPoolExecutor(max_workers=8) as pool:
            self.filler += pool.map(lambda name: self.docker.api.create_container(IMAGE, name=name)["Id"], names)

    def unfill(self):
        """Remove the containers `fill` made."""
        self.remove(self.filler)
        self.filler = []

    def remove(self, container_ids):
        """Force-remove containers, 8 at a time; one already gone (removed by someone else) is fine."""
        def remove_one(container_id):
            with contextlib.suppress(docker.errors.NotFound):
                self.docker.api.remove_container(container_id, force=True)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(remove_one, container_ids))

    def clean(self):
        if self.gunicorn is not None and self.gunicorn.poll() is None:
            os.killpg(self.gunicorn.pid, signal.SIGTERM)
            try:
                self.gunicorn.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.gunicorn.pid, signal.SIGKILL)
        self.remove([c["Id"] for c in self.docker.api.containers(all=True, filters={"name": f"^bench-{self.run_id}-"})])
        self.proxy.stop()
        if self.seats.exists():  # a room the dashboard did not end: its seats' engines, namespaces and cgroups
            SeatHost(self.seats).close_all()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.docker.close()


def _parent(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def list_latency(bench, total, samples):
    """p50/p95 of the list fragment and of the engine's own `GET /containers/json`, asked in turn."""
    bench.fill(total)
    api = json.loads(get(UnixHTTPConnection(ENGINE_SOCKET), "/version")[2])["ApiVersion"]
    raw_path = f"/v{api}/containers/json?all=1&filters={quote(json.dumps({'label': [lesson_filter(LESSON)]}))}"
    dashboard, engine = bench.dashboard(), UnixHTTPConnection(ENGINE_SOCKET)
    listed = 0
    deadline = time.monotonic() + 30
    while listed < total:  # the engine's events reach the dashboard's snapshot within a refresh period
        assert time.monotonic() < deadline, f"the dashboard lists {listed} of {total} containers"
        listed = get(dashboard, "/containers", HTMX)[2].count("data-container-id=")
        time.sleep(0.1)
    ours, theirs = [], []
    for sample in range(samples + 20):  # the first 20 of each warm up
        seconds, status, _ = get(dashboard, "/containers", HTMX)
        assert status == 200
        if sample >= 20:
            ours.append(seconds)
        seconds, status, _ = get(engine, raw_path)
        assert status == 200
        if sample >= 20:
            theirs.append(seconds)
    return listed, {share: (percentile(ours, share), percentile(theirs, share)) for share in (50, 95)}


def load(bench, how, seconds, viewers):
    """wrk with `viewers` connections for `seconds`: (requests/s, answers slower than 2 s, engine list calls)."""
    calls = bench.proxy.list_calls
    result = subprocess.run(
        ["wrk", "-t1", f"-c{viewers}", f"-d{seconds}s", *how, f"http://{bench.base}/containers"],
        capture_output=True, text=True, check=True,
    )
    calls = bench.proxy.list_calls - calls
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", result.stdout)
    if "Non-2xx" in result.stdout or (errors and any(int(count) for count in errors.groups()[:3])):
        raise RuntimeError(f"wrk saw failures:\n{result.stdout}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)[1])
    return rps, int(errors[4]) if errors else 0, calls


def shell(command):
    started = time.perf_counter()
    subprocess.run(["bash", "-c", command], check=True, capture_output=True)
    return time.perf_counter() - started


def ensure_image(client):
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        base = os.environ.get("DASHBOARD_BASE_IMAGE")
        print(f"building {IMAGE} first", file=sys.stderr)
        client.images.build(path=str(ROOT / "dashboard" / "lessons" / "03-images"), tag=IMAGE, rm=True,
                            buildargs={"BASE_IMAGE": base} if base else {})


def ensure_wrk():
    if shutil.which("wrk") is None:
        print("installing wrk (Debian)", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def table_row(what, ours, reference, ratio, target="", met=True):
    """A row of the result table; `met` is shown only for a row with a target."""
    verdict = ("yes" if met else "**no**") if target else ""
    return f"| {what} | {ours} | {reference} | {ratio} | {target} | {verdict} |"


def report(rows, load_before):
    """The machine, the engine and the load, then the result table, on stdout."""
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    print(f"{date.today()}, {os.cpu_count()} cores ({cpu[1] if cpu else platform.machine()}), "
          f"Docker {docker.from_env().version()['Version']}, Python {platform.python_version()}, one gevent worker; "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after.\n")
    print("| Measure | Dashboard | Reference | Ratio | Target | Met |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


def measure(bench, args):
    rows = []

    def row(number, what, ours, reference, ratio, target="", met=True):
        rows.append((number, table_row(f"{number}. {what}", ours, reference, ratio, target, met)))
        print(rows[-1][1], file=sys.stderr, flush=True)

    ms = "{:.1f} ms".format
    idle_rss = bench.worker_rss_mb()
    for total in (10, 100, 300):
        listed, shares = list_latency(bench, total, args.samples)
        for share, (ours, theirs) in shares.items():
            target = "≤ 1 at 100" if total == 100 else ""
            row(1, f"List fragment p{share}, {listed} containers", ms(ours * 1000), f"API {ms(theirs * 1000)}",
                f"{ours / theirs:.2f}", target, total != 100 or ours <= theirs)

    for label, how in (("as pages poll (`?since=`: 204 while unchanged)", ["-s", str(ROOT / "bench" / "poll.lua")]),
                       ("the full fragment every time", ["-H", "HX-Request: true"])):
        rps, slow, calls = load(bench, how, args.seconds, args.viewers)
        slow = f" ({slow} answers took over 2 s)" if slow else ""
        row(2, f"List, {args.viewers} viewers for {args.seconds} s, {listed} containers, {label}",
            f"{rps:.0f} req/s{slow}", "target 500 req/s", f"{rps / 500:.2f}", "≥ 1", rps >= 500)
        periods = args.seconds // REFRESH_SECONDS
        row(2, "… engine list calls meanwhile", str(calls), f"{periods} refresh periods", f"{calls / periods:.2f}",
            "≤ 1", calls <= periods)
    rss = bench.worker_rss_mb()
    row(3, f"Worker resident memory, {listed} containers listed", f"{rss:.0f} MB", f"{idle_rss:.0f} MB idle",
        f"{rss / idle_rss:.2f}")

    return [text for _, text in sorted(rows, key=lambda numbered: numbered[0])]  # in the order


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="list requests timed at each size")
    parser.add_argument("--seconds", type=int, default=10, help="how long the viewers load the list")
    parser.add_argument("--viewers", type=int, default=50, help="concurrent viewers (wrk connections)")
    args = parser.parse_args()

    ensure_wrk()
    load_before = os.getloadavg()[0]
    bench = Bench()
    try:
        ensure_image(bench.docker)
        bench.serve()
        rows = measure(bench, args)
    finally:
        bench.clean()
    report(rows, load_before)


def run_main(main):
    """Run a benchmark's `main`, cleaning up on `kill` and Ctrl-C too (even where a shell ignored it)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; everything the benchmark started is removed")


if __name__ == "__main__":
    run_main(main)
