"""Does a room of students on seats of their own cost the engine what one page does?

    .venv/bin/python bench/room.py   # about 75 s; --seconds, --seats, --pressing to vary it

Serves the dashboard with gunicorn as bench/run.py does (one gevent worker, DOCKER_HOST on a counting proxy that
keeps every engine request, a temporary instance and workshop folder, the stand-in images cowserv-base and
cowserv-postgres unless DASHBOARD_BASE_IMAGE / DASHBOARD_POSTGRES_IMAGE say others), signs in as the instructor,
makes the `running` lesson current and opens a room of 60 seats. 60 student sessions sign in with their seats' links
and poll their boards as their pages do, 2 instructor sessions poll the progress grid as theirs does, and 20 of the
seats press the lesson's steps one after the other, spread over the run. Then it prints a Markdown table: the
engine's list calls per refresh period, the background checks per second, and the polls' latency against the
engine's own list call's, timed on its socket meanwhile. It ends the room (DELETE /room) and checks that no seat
is left; whatever it started goes, on success, failure, Ctrl-C or `kill`.

Seats have engines of their own now (root only; in the run's own seats' folder): their boards read their own
engines, which the counting proxy does not see; its counts are the instructor's engine's.

The checks per second come from the app's own counter (checks.Board.background_evaluations), read through one
URL the benchmark adds in front of the app (`/_bench/counters`, see counted_app): the app is otherwise the one
scripts/up serves.
"""

import argparse
import html
import json
import os
import random
import re
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote

import requests

from countproxy import CONTAINER_LIST, KEEP, REQUEST_LINE, CountingProxy
from run import (ENGINE_SOCKET, HTMX, REFRESH_SECONDS, ROOT, Bench, UnixHTTPConnection, free_port_run, get,
                 percentile, report, run_main, table_row)

from dashboard.domain.labels import LESSON_LABEL  # noqa: E402  (run put the checkout on sys.path)
from dashboard.seat_host.layout import seats_in  # noqa: E402

COUNTERS = "/_bench/counters"
CELL = r'<td data-seat="([^"]+)" data-step="([^"]+)" data-check="([a-z-]+)"'  # a progress grid's cell
STAND_INS = {"DASHBOARD_BASE_IMAGE": "cowserv-base:bookworm", "DASHBOARD_POSTGRES_IMAGE": "cowserv-postgres:bookworm"}


def counted_app():
    """The dashboard as scripts/up serves it, and one read-only URL in front of it (COUNTERS) with the counters
    the tests read in-process: the board's checks evaluated, those the background refresh asked the engine for,
    and the snapshot's list calls. gunicorn loads it from bench/ (PYTHONPATH) as `room:counted_app()`."""
    from dashboard import create_app

    app = create_app()
    inner = app.wsgi_app

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") != COUNTERS:
            return inner(environ, start_response)
        board, snapshot = app.extensions["board"], app.extensions["snapshot"]
        body = json.dumps({"evaluations": board.evaluations, "background": board.background_evaluations,
                           "reads": snapshot.reads}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    app.wsgi_app = wsgi
    return app


class _Tap:
    """A stream reader that notes each request line passing through: (when, method, path)."""

    def __init__(self, reader, noted):
        self._reader, self._noted, self._seen = reader, noted, b""

    async def read(self, size):
        data = await self._reader.read(size)
        window = self._seen + data
        for line in REQUEST_LINE.finditer(window):
            if line.end() > len(self._seen):
                self._noted.append((time.monotonic(), line[0].split(b" ", 1)[0].decode(), line[1].decode()))
        self._seen = window[-KEEP:]
        return data


class TallyingProxy(CountingProxy):
    """The counting proxy, keeping every request it passes on too, to count the engine's calls by endpoint."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests = []  # (time.monotonic(), method, path)

    async def _pipe(self, reader, writer, count=False):
        await super()._pipe(_Tap(reader, self.requests) if count else reader, writer, count)


def endpoint(method, path):
    """The engine endpoint of a request, names and ids as {id}: `GET /containers/{id}/logs`."""
    path = re.sub(r"^/v[0-9.]+", "", path.split("?", 1)[0])
    parts = path.strip("/").split("/")
    if parts[0] in ("containers", "exec", "volumes", "networks") and len(parts) > 1 \
            and parts[1] not in ("json", "create", "prune"):
        parts[1] = "{id}"
    elif parts[0] == "images" and len(parts) > 2:
        parts = ["images", "{name}", parts[-1]]
    return f"{method} /{'/'.join(parts)}"


def is_list(path):
    return CONTAINER_LIST.match(path.encode()) is not None


def spans_union(spans):
    """The seconds covered by any of the (start, end) spans."""
    covered, end = 0.0, None
    for start, stop in sorted(spans):
        if end is None or start > end:
            covered, end = covered + stop - start, stop
        elif stop > end:
            covered, end = covered + stop - end, stop
    return covered


def inside(when, spans):
    return any(start <= when <= stop for start, stop in spans)


def period_of(page, element_id):
    """(hx-get URL, period in seconds) of the element with this id: pages follow the live stream now, so these
    pollers ask as live.js's fallback does without EventSource, every REFRESH_SECONDS (the worst case)."""
    tag = re.search(rf'<div id="{element_id}"[^>]*>', page)[0]
    url = html.unescape(re.search(r'hx-get="([^"]+)"', tag)[1])
    return url, float(REFRESH_SECONDS)


@dataclass
class Poller:
    """An open page's poll: the URL it shows (with the version it shows), the new one from each 200."""

    name: str
    base: str
    http: requests.Session
    page: str  # the page's own URL, loaded again when an answer says HX-Refresh
    element_id: str  # the polling element's id in the page and in each 200
    url: str = ""
    period: float = 0.0
    timings: list = field(default_factory=list)  # (seconds, status)
    retried: int = 0  # polls sent again on a new connection: the server closed the kept-alive one meanwhile
    wake: threading.Event = field(default_factory=threading.Event)  # board-changed: poll now, as htmx does
    on_page: object = None  # called with each 200's body and when it came

    def __post_init__(self):
        if not self.url:
            self.load(self.http.get(self.base + self.page, timeout=60).text)

    def load(self, page):
        """Take the poll's URL and period from the page (or a 200's fragment), as htmx does."""
        self.url, self.period = period_of(page, self.element_id)

    def poll_once(self):
        started = time.perf_counter()
        try:
            answer = self.http.get(self.base + self.url, headers=HTMX, timeout=60)
        except requests.ConnectionError:  # gunicorn closes a connection idle for its keepalive (2 s) as the
            self.retried += 1            # poll reuses it; a browser sends the GET again at once, and so do we
            answer = self.http.get(self.base + self.url, headers=HTMX, timeout=60)
        self.timings.append((time.perf_counter() - started, answer.status_code))
        if answer.status_code == 200 and answer.headers.get("HX-Refresh") == "true":
            self.load(self.http.get(self.base + self.page, timeout=60).text)
        elif answer.status_code == 200:
            self.load(answer.text)
            if self.on_page is not None:
                self.on_page(answer.text, time.monotonic())
        elif answer.status_code != 204:
            raise RuntimeError(f"{self.name}: {self.url} answered {answer.status_code}: {answer.text[:300]}")

    def run(self, stop, until):
        """Poll every `period` (the first at a random point of it, as pages opened at different times) until
        `until` (time.monotonic()), and at once when woken."""
        next_at = time.monotonic() + random.uniform(0, self.period)
        while not stop.is_set():
            woken = self.wake.wait(max(0.0, min(next_at, until) - time.monotonic()))
            if stop.is_set() or time.monotonic() >= until:
                return
            self.wake.clear()
            self.poll_once()
            if not woken:
                next_at = max(next_at + self.period, time.monotonic())


@dataclass(frozen=True)
class Press:
    seat: str
    step: str
    began: float  # time.monotonic()
    ended: float
    status: int
    failure: str | None  # the message the page shows, when the step failed


class Student:
    """A browser signed in as a seat with its link: its session, CSRF header, board poll and step buttons."""

    def __init__(self, base, link):
        self.base, self.http = base, requests.Session()
        page = self.http.get(link, timeout=60)  # /s/TOKEN, then the redirect to /seat
        assert page.status_code == 200 and page.url.endswith("/seat"), (page.status_code, page.url)
        self.name = re.search(r'data-seat="([^"]+)"', page.text)[1]
        self.csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)[1]
        self.steps = list(dict.fromkeys(re.findall(r'hx-post="(/seat/lessons/[^"/]+/steps/[^"/]+)"', page.text)))
        self.poller = Poller(self.name, base, self.http, "/seat", "board")
        self.poller.load(page.text)

    def press_steps(self, stop, start_at, until, think, presses):
        """Press the lesson's steps one after the other from `start_at`, `think` seconds apart, as a student
        reading each step does; no press is begun after `until`."""
        http = requests.Session()  # a second connection of the same browser: the poll goes on meanwhile
        http.cookies.update(self.http.cookies)
        if stop.wait(max(0.0, start_at - time.monotonic())):
            return
        for path in self.steps:
            if stop.is_set() or time.monotonic() >= until:
                return
            began = time.monotonic()
            answer = http.post(self.base + path, headers={**HTMX, "X-CSRF-Token": self.csrf}, timeout=120)
            message = re.sub(r"<[^>]+>|\s+", " ", answer.text.split("</div>", 1)[0]).strip()
            presses.append(Press(self.name, path.rsplit("/", 1)[1], began, time.monotonic(), answer.status_code,
                                 None if 'class="message ok' in answer.text else message[:200]))
            self.poller.wake.set()  # the answer's HX-Trigger: board-changed, and the page polls its board at once
            stop.wait(think)


class GridWatch:
    """What the instructors' grids showed: when each (seat, step) cell was first seen passed, and the states each
    cell went through."""

    def __init__(self):
        self.first_passed, self.states = {}, {}
        self.silent = 0  # grids that showed a check as "Cannot check now": the engine held for silent
        self._lock = threading.Lock()

    def saw(self, page, when):
        with self._lock:
            self.silent += "Cannot check now" in page
            for seat, step, state in re.findall(CELL, page):
                if state == "passed":
                    self.first_passed.setdefault((seat, step), when)
                states = self.states.setdefault((seat, step), [])
                if not states or states[-1] != state:
                    states.append(state)

    def flickers(self):
        """Per step, the cells shown passed, then not, then passed again: a result that went back and forth."""
        return Counter(step for (_, step), states in self.states.items()
                       if any(a == c == "passed" != b for a, b, c in zip(states, states[1:], states[2:])))


def run_threads(targets):
    threads = [threading.Thread(target=target, args=args, daemon=True) for target, *args in targets]
    for thread in threads:
        thread.start()
    return threads


def guarded(function, errors):
    """`function`, with what it raises kept for the main thread (which stops the run) instead of lost."""
    def call(*args):
        try:
            function(*args)
        except Exception as error:  # noqa: BLE001  (any failure ends the run, with its message)
            errors.append(f"{function.__qualname__}: {type(error).__name__}: {error}")
    return call


def engine_list_timer(stop, timings, every=0.5):
    """The engine's own `GET /containers/json`, with the filter the dashboard's list uses, on its socket (not
    through the proxy, so it is not counted), every `every` seconds while the room polls."""
    engine = UnixHTTPConnection(ENGINE_SOCKET)
    api = json.loads(get(engine, "/version")[2])["ApiVersion"]
    path = f"/v{api}/containers/json?all=1&filters={quote(json.dumps({'label': [LESSON_LABEL]}))}"
    for _ in range(5):  # warm up the connection
        get(engine, path)
    while not stop.wait(every):
        seconds, status, _ = get(engine, path)
        assert status == 200, status
        timings.append(seconds)


def counters(bench):
    return json.loads(get(bench.dashboard(), COUNTERS)[2])


def open_room(bench, args):
    """The current lesson, a room of `args.seats` seats and the seats' links, as the instructor's pages do it."""
    status, body = bench.send("POST", "/lessons/current", f"lesson={args.lesson}")
    assert status == 200, body
    first_port = args.first_port or free_port_run(args.seats)
    form = f"count={args.seats}&first_port={first_port}&minutes=60&memory=256m&cpus=0.5&pids=100"
    status, body = bench.send("POST", "/room", form)
    assert status == 303, f"opening the room answered {status}: {body[:500]}"
    sheet = get(bench.dashboard(), "/room/sheet", bench.instructor)[2]
    links = [html.unescape(link) for link in re.findall(r'data-seat-url="([^"]+)"', sheet)]
    assert len(links) == args.seats, f"the sheet has {len(links)} links"
    return links


def end_room(bench):
    """DELETE /room as the instructor's End button; then how many of this run's seats are left (in its folder)."""
    status, body = bench.send("DELETE", "/room")
    assert status == 200, body
    return len(seats_in(bench.seats))


def run_bench(bench, measure, load_before, first=None):
    """A benchmark's run around `measure()` (its table rows and its failed presses): `first()` if given, then serve
    counted_app() and measure; end the room whatever happened (a row: the seats left), print gunicorn's
    log tail if the run failed, remove everything it started; then the report and the failed presses."""
    rows, failed = [], []
    try:
        if first is not None:
            first()
        serve_counted(bench)
        try:
            rows, failed = measure()
        finally:
            left = end_room(bench) if bench.gunicorn is not None and bench.gunicorn.poll() is None else None
        rows.append(table_row("Seats left after ending the room (DELETE /room)", str(left), "", "", "0",
                              left == 0))
    except BaseException:
        print_log_tail(bench)
        raise
    finally:
        bench.clean()
    report(rows, load_before)
    if failed:
        print(f"\n{len(failed)} presses failed:\n")
        for press in failed[:10]:
            print(f"- {press.seat} {press.step} ({press.status}): {press.failure}")


def measure(bench, args):
    links = open_room(bench, args)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        students = list(pool.map(lambda link: Student(f"http://{bench.base}", link), links))
    print(f"room of {len(students)} open and signed in in {time.monotonic() - started:.1f} s", file=sys.stderr)
    watch = GridWatch()
    grids = []
    for number in range(args.grids):  # each its own instructor session, as two instructors' browsers
        bench.sign_in()
        http = requests.Session()
        http.headers["Cookie"] = bench.instructor["Cookie"]
        grids.append(Poller(f"grid {number + 1}", f"http://{bench.base}", http, "/room", "room-grid",
                            on_page=watch.saw))

    stop, errors, presses, list_timings = threading.Event(), [], [], []
    pressing = random.Random(0).sample(students, min(args.pressing, len(students)))
    per_seat = len(students[0].steps) * (args.think + 1)  # seconds a student takes for the lesson, about
    before = counters(bench)
    requests_before = len(bench.proxy.requests)
    begin = time.monotonic()
    until = begin + args.seconds
    starts = [begin + k * max(0.0, args.seconds - per_seat) / max(1, len(pressing) - 1) for k in range(len(pressing))]
    threads = run_threads(
        [(guarded(Poller.run, errors), poller, stop, until) for poller in [s.poller for s in students] + grids]
        + [(guarded(Student.press_steps, errors), student, stop, start_at, until, args.think, presses)
           for student, start_at in zip(pressing, starts)]
        + [(guarded(engine_list_timer, errors), stop, list_timings)])
    try:
        while time.monotonic() < until and not errors:
            time.sleep(0.2)
        if errors:
            stop.set()
        for thread in threads[:-1]:  # the last polls and presses finish (a press begun before `until`)
            thread.join(max(0.0, until + 120 - time.monotonic()))
    finally:
        stop.set()
    end = time.monotonic()
    if errors:
        raise RuntimeError("the run failed: " + "; ".join(errors[:5]))
    after = counters(bench)
    seconds = until - begin  # the window every poll ran in; the counters take the last presses' tail too
    window = [(when, method, path) for when, method, path in bench.proxy.requests[requests_before:]
              if when <= end]
    seen = [press for press in presses  # those done a grid poll or two before the grids stopped
            if press.failure is None and press.ended <= until - 2 * grids[0].period]
    lags = [watch.first_passed[(p.seat, p.step)] - p.ended for p in seen if (p.seat, p.step) in watch.first_passed]
    unseen = len(seen) - len(lags)
    time.sleep(2 * grids[0].period)  # the whole grid once more, after the background checks caught up
    end_state = grids[0].http.get(f"http://{bench.base}/room/grid", headers=HTMX, timeout=60).text
    return summarize(students, pressing, grids, presses, list_timings, window, before, after, begin, end,
                     seconds, lags, unseen, watch, end_state)


def summarize(students, pressing, grids, presses, list_timings, window, before, after, begin, end, seconds, lags,
              unseen, watch, end_state):
    """The result table's rows, the engine's calls by endpoint, and the presses that failed."""
    rows, ms = [], "{:.1f} ms".format
    elapsed = end - begin  # the polling window, and the tail of a press still answering at its end
    periods = elapsed / REFRESH_SECONDS
    lists = sum(1 for _, method, path in window if method == "GET" and is_list(path))
    reads = after["reads"] - before["reads"]
    rows.append(table_row(
        f"Engine list calls, {len(students)} seat pages and {len(grids)} grids polling for {seconds:.0f} s while "
        f"{len(pressing)} seats press {len(presses)} steps", str(lists),
        f"{periods:.0f} refresh periods of {REFRESH_SECONDS:g} s", f"{lists / periods:.2f} per period", "≤ 1",
        lists <= periods))
    rows.append(table_row("… of them, the shared snapshot's re-reads (the rest: the presses' own checks and "
                          "`docker ps`)", str(reads), f"{periods:.0f} refresh periods", f"{reads / periods:.2f} per "
                          "period", "≤ 1", reads <= periods))

    background = after["background"] - before["background"]
    rows.append(table_row("Background checks beyond the list (the board's counter)", f"{background / elapsed:.1f}/s",
                          f"{background} in {elapsed:.0f} s", "", "≤ 10/s", background / elapsed <= 10))
    press_spans = [(press.began, press.ended) for press in presses]
    beyond = [when for when, method, path in window
              if not (method == "GET" and is_list(path)) and endpoint(method, path) != "GET /events"]
    quiet = elapsed - spans_union([(max(began, begin), min(ended, end)) for began, ended in press_spans])
    outside = [when for when in beyond if not inside(when, press_spans)]
    rows.append(table_row("… engine calls beyond the list while no press was in flight (the proxy's)",
                          f"{len(outside) / quiet:.1f}/s", f"{len(outside)} in the {quiet:.0f} s without a press",
                          "", ""))

    def polls(pollers):
        timings = [timing for poller in pollers for timing in poller.timings]
        return [seconds for seconds, _ in timings], sum(1 for _, status in timings if status == 200)

    for what, pollers in (("Seat board poll", [s.poller for s in students]), ("Progress grid poll", grids)):
        timings, changed = polls(pollers)
        retried = sum(poller.retried for poller in pollers)
        retried = f", {retried} sent again on a new connection" if retried else ""
        for share in (50, 95):
            ours, engine = percentile(timings, share), percentile(list_timings, share)
            rows.append(table_row(f"{what} p{share} ({len(timings)} polls, {changed} answered 200{retried})",
                                  ms(ours * 1000), f"engine list call p{share} {ms(engine * 1000)}",
                                  f"{ours / engine:.2f}"))  # compared, with no target: see the README
    board = [timing for s in students for timing in s.poller.timings]
    by_status = {status: [seconds for seconds, answered in board if answered == status] for status in (200, 204)}
    if all(by_status.values()):
        p95 = {status: ms(percentile(timings, 95) * 1000) for status, timings in by_status.items()}
        rows.append(table_row("… seat board polls p95: answered 204 (unchanged) / 200 (the board drawn again)",
                              f"{p95[204]} / {p95[200]}",
                              f"{len(by_status[204])} / {len(by_status[200])} polls", "", ""))
    idle = [s.poller for s in students if s not in pressing]
    if idle:
        timings, changed = polls(idle)
        rows.append(table_row(f"… polls of the {len(idle)} seats that pressed nothing answered 200 (a whole board)",
                              f"{changed} of {len(timings)}", "", f"{changed / len(timings):.2f}", ""))

    took = [press.ended - press.began for press in presses]
    failed = [press for press in presses if press.failure is not None]
    rows.append(table_row(f"Step presses by {len(pressing)} seats, p50 / p95",
                          f"{ms(percentile(took, 50) * 1000)} / {ms(percentile(took, 95) * 1000)}",
                          f"{len(presses)} presses, {len(failed)} failed", "", ""))
    if lags:
        rows.append(table_row("A press answered → a grid shows its cell passed, p50 / max",
                              f"{statistics.median(lags):.1f} s / {max(lags):.1f} s",
                              f"the grid polls every {grids[0].period:g} s; {unseen} never shown passed", "", ""))
    flickers = watch.flickers()
    rows.append(table_row("… cells shown passed, then not, then passed again",
                          str(sum(flickers.values())),
                          ", ".join(f"{step} ×{count}" for step, count in sorted(flickers.items())), "", ""))
    if watch.silent:
        rows.append(table_row("… grids that said a check \"Cannot check now\" (the engine held for silent)",
                              str(watch.silent), f"of {sum(1 for g in grids for _, st in g.timings if st == 200)}",
                              "", ""))
    names = {s.name for s in pressing}
    cells = [(step, state) for seat, step, state in re.findall(CELL, end_state) if seat in names]
    states = Counter(state for _, state in cells)
    not_passed = Counter(f"{step} {state}" for step, state in cells if state != "passed")
    rows.append(table_row(f"The grid after the run: the {len(pressing)} pressing seats' cells",
                          ", ".join(f"{count} {state}" for state, count in sorted(states.items())),
                          ", ".join(f"{what} ×{count}" for what, count in sorted(not_passed.items())) or "all passed",
                          "", ""))
    calls = Counter(endpoint(method, path) for _, method, path in window)
    return rows, calls, failed


def serve_counted(bench, **settings):
    """Serve counted_app() with gunicorn as scripts/up would, on the stand-in images unless the environment names
    others, a workshop folder of the run's own and no access log; `settings`: more DASHBOARD_* variables."""
    env = {name: os.environ.get(name, image) for name, image in STAND_INS.items()}
    env.update(DASHBOARD_WORKSHOP_DIR=str(bench.workdir / "workshop"), DASHBOARD_ACCESS_LOG="/dev/null",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "bench"), os.environ.get("PYTHONPATH")])),
               **settings)
    bench.serve(app="room:counted_app()", env=env)


def print_log_tail(bench):
    """The end of gunicorn's log, on stderr: what a failed run's server said."""
    log = bench.workdir / "gunicorn.log"
    if log.exists():
        print("gunicorn's log ends:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:]),
              file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="how long the pages poll")
    parser.add_argument("--seats", type=int, default=60, help="seats in the room, each a polling student page")
    parser.add_argument("--grids", type=int, default=2, help="instructor sessions polling the progress grid")
    parser.add_argument("--pressing", type=int, default=20, help="seats that press the lesson's steps meanwhile")
    parser.add_argument("--think", type=float, default=1.0, help="seconds a student waits between two presses")
    parser.add_argument("--lesson", default="running", help="the lesson made current, whose steps are pressed")
    parser.add_argument("--first-port", type=int, help="the first seat's port (default: a free run of ports)")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    bench = Bench(proxy_class=TallyingProxy)
    calls = Counter()

    def measured():
        idle_rss = bench.worker_rss_mb()
        rows, called, failed = measure(bench, args)
        calls.update(called)
        rss = bench.worker_rss_mb()
        rows.append(table_row("Worker resident memory after the run", f"{rss:.0f} MB", f"{idle_rss:.0f} MB idle",
                              f"{rss / idle_rss:.2f}"))
        return rows, failed

    run_bench(bench, measured, load_before)
    print("\nEngine calls through the proxy while the room polled, by endpoint:\n")
    print("| Endpoint | Calls |\n| --- | --- |")
    for name, count in calls.most_common():
        print(f"| `{name}` | {count} |")


if __name__ == "__main__":
    run_main(main)
