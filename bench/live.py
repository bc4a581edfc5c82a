"""Does a change reach every open page within 300 ms over the one live stream, for one engine list call?

    .venv/bin/python bench/live.py   # about 2 minutes; --streams, --rounds, --idle-seconds to vary it

Serves the dashboard as bench/room.py does (one gevent worker, DOCKER_HOST on a counting proxy, the stand-in
images), opens a room of one seat, and connects `--streams` plain EventSource clients to /live (threads reading the
stream, half as the instructor, half as signed-out screens). Then three Chromium pages time each change until it is
on their screen: the instructor's cowserv lesson page for a container started by the CLI (`docker run -d`), the
instructor's copy of the seat's page (/room/seats/NAME) for the seat's press (the step's new status swapped in), and
a signed-out presenter screen for the instructor's lesson pick (the page moves to the lesson). Per kind it prints
the p95 of the changes, the engine list calls per change (the snapshot's own counter), how many streams got each
change's nudge, and the worker's CPU and memory with the streams idle. Everything it started goes, as bench/run.py's.
"""

import argparse
import os
import threading
import time

import requests
from playwright.sync_api import sync_playwright

from room import Student, counters, open_room, run_bench
from run import Bench, percentile, run_main, shell, table_row

CHROMIUM = "/usr/bin/chromium"
TARGET_MS = 300
# The engine events (each one change of the list, one list call at most) behind each kind of change.
EVENTS = {"cli": "create and start: two events, told as one", "press": "the press's own run and check, then its events",
          "pick": "no engine event"}
LIMIT = {"cli": 1, "press": 3, "pick": 1}


class Streams:
    """`count` /live clients, each a thread reading its stream; `nudged(topic, since)` is how many saw `topic`."""

    def __init__(self, bench, count):
        self.bench, self.seen, self.lock, self.stop = bench, [], threading.Lock(), threading.Event()
        self.connected = threading.Semaphore(0)
        for number in range(count):
            headers = bench.instructor if number % 2 == 0 else {}
            threading.Thread(target=self._read, args=(number, headers), daemon=True).start()
        for _ in range(count):
            assert self.connected.acquire(timeout=60), "a stream did not connect"

    def _read(self, number, headers):
        response = requests.get(f"http://{self.bench.base}/live", headers={"Cookie": headers.get("Cookie", "")},
                                stream=True, timeout=(10, 60))
        assert response.status_code == 200, response.status_code
        self.connected.release()
        try:
            for line in response.iter_lines(decode_unicode=True):
                if self.stop.is_set():
                    break
                if line.startswith("data: "):
                    with self.lock:
                        self.seen.append((number, time.monotonic(), line[6:].split()))
        except requests.RequestException:  # the server went away as the run ended
            pass
        response.close()

    def nudged(self, topic, since):
        with self.lock:
            return len({number for number, when, topics in self.seen if when >= since and topic in topics})


def wait_on_screen(page, script, argument, done):
    """ms from `done` (time.monotonic(): the change made) until `script` is true in the page (0: it already was,
    the engine's first event of a `docker run` reaches the page while the command still runs)."""
    page.wait_for_function(script, arg=argument, timeout=10_000, polling="raf")
    return max(0.0, (time.monotonic() - done) * 1000)


def measure(bench, args):
    rows = []
    links = open_room(bench, argparse.Namespace(lesson=args.lesson, seats=1, first_port=None))
    student = Student(f"http://{bench.base}", links[0])
    streams = Streams(bench, args.streams)
    cpu, started = bench.worker_cpu_seconds(), time.monotonic()
    time.sleep(args.idle_seconds)
    idle_cpu = (bench.worker_cpu_seconds() - cpu) / (time.monotonic() - started) * 100
    rows.append(table_row(f"Worker CPU with {args.streams} idle streams", f"{idle_cpu:.1f} %", "", "", ""))
    rows.append(table_row(f"Worker resident memory with {args.streams} idle streams",
                          f"{bench.worker_rss_mb():.0f} MB", "", "", ""))

    cookie = dict(part.split("=", 1) for part in [bench.instructor["Cookie"]])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        instructor = browser.new_context(base_url=f"http://{bench.base}")
        instructor.add_cookies([{"name": name, "value": value, "url": f"http://{bench.base}"}
                                for name, value in cookie.items()])
        home, watch = instructor.new_page(), instructor.new_page()
        home.goto(f"/lessons/{args.other_lesson}")  # the CLI's cowserv containers are that lesson's
        watch.goto(f"/room/seats/{student.name}")
        screen = browser.new_context(base_url=f"http://{bench.base}").new_page()
        screen.goto("/present")

        timings = {"cli": [], "press": [], "pick": []}
        reads = {"cli": [], "press": [], "pick": []}
        shares = {"cli": [], "press": [], "pick": []}
        skipped = {"cli": 0, "press": 0, "pick": 0}

        def timed(kind, topic, action, page, script, argument):
            before, since = counters(bench)["reads"], time.monotonic()
            found = action()
            done = time.monotonic()  # the change is made: its command or request answered
            if found is False:  # a press the lesson refused (its container already gone): nothing to show
                skipped[kind] += 1
                return
            timings[kind].append(wait_on_screen(page, script, found if argument is None else argument, done))
            time.sleep(1.5)  # the change's other nudges, and the stragglers' GETs
            reads[kind].append(counters(bench)["reads"] - before)
            shares[kind].append(streams.nudged(topic, since))

        for round_ in range(args.rounds):
            name = f"bench-{bench.run_id}-live-{round_}"
            timed("cli", "containers", lambda: shell(f"docker run -d --name {name} cowserv:latest") and name, home,
                  "name => [...document.querySelectorAll('#containers .name')].some(e => e.textContent === name)",
                  None)
            shell(f"docker rm -f {name}")
            step = student.steps[round_ % len(student.steps)]
            step_id = step.rsplit("/", 1)[1]
            watch.evaluate("() => document.querySelectorAll('.step-status').forEach(e => e.dataset.old = '1')")

            def press(step=step):
                answer = student.http.post(f"http://{bench.base}{step}",
                                           headers={"HX-Request": "true", "X-CSRF-Token": student.csrf}, timeout=120)
                return answer.status_code == 200

            # On screen: the instructor's copy of the seat's page has swapped in the step's new status (its run).
            timed("press", "board", press, watch,
                  "step => { const e = document.getElementById(`${step}-status`); return e && !e.dataset.old; }",
                  step_id)
            for lesson in (args.other_lesson, args.lesson):  # the pick, and back to the room's lesson
                pick = lambda lesson=lesson: bench.send("POST", "/lessons/current", f"lesson={lesson}") and None  # noqa
                timed("pick", "lesson", pick,
                      screen, "lesson => document.querySelector(`[data-lesson=\"${lesson}\"]`) !== null", lesson)
            watch.goto(f"/room/seats/{student.name}")  # the pick reloaded it too
        browser.close()
    streams.stop.set()

    names = {"cli": "a container started by the CLI (`docker run -d`), on the instructor's list",
             "press": "a seat's press, on the instructor's copy of its page",
             "pick": "the instructor's lesson pick, on a signed-out presenter screen"}
    for kind, samples in timings.items():
        p95 = percentile(samples, 95) if len(samples) > 1 else samples[0]
        refused = f" ({skipped[kind]} refused presses left out)" if skipped[kind] else ""
        rows.append(table_row(f"Change to screen, p95 of {len(samples)}{refused}: {names[kind]}, "
                              f"{args.streams} streams open",
                              f"{p95:.0f} ms", f"median {sorted(samples)[len(samples) // 2]:.0f} ms", "",
                              f"≤ {TARGET_MS} ms", p95 <= TARGET_MS))
        rows.append(table_row(f"Engine list calls per change, {args.streams} streams: {kind} ({EVENTS[kind]})",
                              f"max {max(reads[kind])}", f"mean {sum(reads[kind]) / len(reads[kind]):.1f}", "",
                              f"≤ {LIMIT[kind]}", max(reads[kind]) <= LIMIT[kind]))
        rows.append(table_row(f"Streams nudged per change: {kind}", f"min {min(shares[kind])}", f"of {args.streams}",
                              "", "", True))
    return rows, []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200, help="EventSource clients connected meanwhile")
    parser.add_argument("--rounds", type=int, default=10, help="changes of each kind timed")
    parser.add_argument("--idle-seconds", type=int, default=20, help="how long CPU is measured with idle streams")
    parser.add_argument("--lesson", default="running", help="the lesson of the room, whose steps the seat presses")
    parser.add_argument("--other-lesson", default="cowserv", help="the lesson the pick moves to and back from")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    os.environ["DASHBOARD_SNAPSHOT_SECONDS"] = "3600"  # the list re-read for events only, not its age: countable
    bench = Bench()
    run_bench(bench, lambda: measure(bench, args), load_before)


if __name__ == "__main__":
    run_main(main)
