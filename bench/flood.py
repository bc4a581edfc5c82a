"""Can one student stall the class? One seat presses Build 300 times at once, again and again, while others press.

    .venv/bin/python bench/flood.py   # about 2 minutes; --seats, --flood, --seconds to vary it

Serves the dashboard as bench/room.py does (gunicorn, one gevent worker, the counting proxy, the stand-in images),
signs in as the instructor, makes the images lesson current and opens a room of 2×--seats + 1 seats, every seat's
page but the flooder's polling its board. Then the same run twice, --seconds each: --seats seats (other ones each
time) press the lesson's steps (Build, then Run) one after the other, starting a few seconds apart, while the
instructor's pages (the lesson page and the room page) are loaded in turn every half second; the first time alone,
the second while the last seat presses Build --flood times at once, as a script would, from a process of its own,
and again every --every seconds once all are answered (--every 0: as soon as they are). It prints the others'
press times in each run and their ratio (target: at most 2), the instructor's pages p95 in each (target: under
100 ms), what the flooding seat's presses were answered, the worker's CPU time and its resident memory before,
between and after (bounded). It ends the room and removes whatever it started, as room.py does.
"""

import argparse
import multiprocessing
import os
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from room import Student, guarded, open_room, run_bench, run_threads
from run import HTMX, Bench, ensure_image, percentile, run_main, table_row

PAGES = ("/", "/room")  # the instructor's lesson page and room page, loaded whole


def flood(student, stop, count, every, answers, lock):
    """Until `stop`: `count` presses of the seat's first step (Build) at once, again once all are answered and
    `every` seconds have passed since the last wave began (a script's Promise.all in a loop). Answers counted by
    status."""
    path = student.base + student.steps[0]
    headers = {**HTMX, "X-CSRF-Token": student.csrf}
    began = [time.monotonic()]

    def next_wave():
        stop.wait(max(0.0, began[0] + every - time.monotonic()))
        began[0] = time.monotonic()

    wave = threading.Barrier(count, action=next_wave)

    def pressing():
        http = requests.Session()
        http.cookies.update(student.http.cookies)
        while not stop.is_set():
            try:
                status = http.post(path, headers=headers, timeout=300).status_code
            except requests.RequestException as error:
                status = type(error).__name__
            with lock:
                answers[status] += 1
            try:
                wave.wait()
            except threading.BrokenBarrierError:
                return

    threads = run_threads([(pressing,) for _ in range(count)])
    threading.Thread(target=lambda: (stop.wait(), wave.abort()), daemon=True).start()
    return threads


def flood_process(student, count, every):
    """The flood in a process of its own, so that its threads do not hold up this one's (the timed requests) on
    the interpreter lock: (the process, the Event that stops it, the Queue its answers' Counter comes on)."""
    context = multiprocessing.get_context("fork")
    stop, results = context.Event(), context.Queue()

    def run():
        answers = Counter()
        for thread in flood(student, stop, count, every, answers, threading.Lock()):
            thread.join()
        results.put(answers)

    process = context.Process(target=run, daemon=True)
    process.start()
    return process, stop, results


def instructor_pages(bench, stop, timings, every=0.5):
    """Load the instructor's pages in turn every `every` seconds until `stop`: (seconds, status) each."""
    http = requests.Session()
    http.headers["Cookie"] = bench.instructor["Cookie"]
    for number in range(10**9):
        if stop.wait(every):
            return
        started = time.perf_counter()
        answer = http.get(f"http://{bench.base}{PAGES[number % len(PAGES)]}", timeout=60)
        timings.append((time.perf_counter() - started, answer.status_code))


def one_run(bench, pressing, polling, args, flooder=None):
    """`pressing` seats press the lesson's steps, `spacing` seconds apart, while every seat's page polls and the
    instructor's pages load (and `flooder` floods): (presses, the instructor's page timings, the flood's answers)."""
    stop, errors, presses, pages, answers = threading.Event(), [], [], [], Counter()
    cpu, begin = bench.worker_cpu_seconds(), time.monotonic()
    until = begin + args.seconds
    spacing = max(0.0, (args.seconds - 20) / max(1, len(pressing) - 1))  # the last seat's lesson ends in time
    flooding = flood_process(flooder, args.flood, args.every) if flooder else None
    threads = run_threads(
        [(guarded(student.poller.run, errors), stop, until) for student in polling]
        + [(guarded(Student.press_steps, errors), student, stop, begin + k * spacing, until, args.think, presses)
           for k, student in enumerate(pressing)]
        + [(guarded(instructor_pages, errors), bench, stop, pages)])
    try:
        while time.monotonic() < until and not errors:
            time.sleep(0.2)
        for thread in threads[len(polling):-1]:  # the presses: one begun before `until` ends
            thread.join(max(0.0, until + 120 - time.monotonic()))
    finally:
        stop.set()
        if flooding:
            flooding[1].set()
    seconds, cpu = time.monotonic() - begin, bench.worker_cpu_seconds() - cpu
    for thread in threads:
        thread.join(310)
    if flooding:
        answers = flooding[2].get(timeout=330)
        flooding[0].join(10)
    if errors:
        raise RuntimeError("the run failed: " + "; ".join(errors[:5]))
    return presses, pages, answers, seconds, cpu


def measure(bench, args):
    links = open_room(bench, args)
    with ThreadPoolExecutor(max_workers=8) as pool:
        students = list(pool.map(lambda link: Student(f"http://{bench.base}", link), links))
    alone, flooded, flooder = students[:args.pressing], students[args.pressing:2 * args.pressing], students[-1]
    rows, ms, rss = [], "{:.0f} ms".format, [bench.worker_rss_mb()]
    runs = {}
    for name, pressing, by in (("alone", alone, None), ("flooded", flooded, flooder)):
        runs[name] = one_run(bench, pressing, students[:-1], args, by)  # the flooder's own page is its to flood
        rss.append(bench.worker_rss_mb())
        print(f"{name}: {len(runs[name][0])} presses", file=sys.stderr)

    def took(presses, step=None):
        return [press.ended - press.began for press in presses if step in (None, press.step)]

    alone_presses, alone_pages, _, alone_for, alone_cpu = runs["alone"]
    flood_presses, flood_pages, answers, flooded_for, flood_cpu = runs["flooded"]
    how = f"every {args.every:g} s" if args.every else "nonstop"
    failed = [press for press in alone_presses + flood_presses if press.failure is not None]
    for step in (None, "build", "run"):
        for share in (50, 95):
            ours, reference = percentile(took(flood_presses, step), share), percentile(took(alone_presses, step), share)
            rows.append(table_row(
                f"The other {args.pressing} seats' presses{f' of {step}' if step else ''}, p{share}, while one seat "
                f"presses Build {args.flood} times at once, {how}", ms(ours * 1000),
                f"without the flood {ms(reference * 1000)}", f"{ours / reference:.2f}", "≤ 2" if step is None else "",
                ours <= 2 * reference))
    rows.append(table_row("… their presses that failed, without / with the flood",
                          f"{sum(p in failed for p in alone_presses)} / {sum(p in failed for p in flood_presses)}",
                          f"of {len(alone_presses)} / {len(flood_presses)}", "", "0", not failed))
    for name, pages in (("without", alone_pages), ("with", flood_pages)):
        seconds = [took for took, status in pages]
        p95 = percentile(seconds, 95)
        rows.append(table_row(f"The instructor's pages ({' and '.join(PAGES)}) p95, {name} the flood",
                              ms(p95 * 1000), f"{len(pages)} loads, p50 {ms(percentile(seconds, 50) * 1000)}", "",
                              "< 100 ms", p95 < 0.1 and all(status == 200 for _, status in pages)))
    rows.append(table_row("The flooding seat's presses, answered by status",
                          ", ".join(f"{count} × {status}" for status, count in answers.most_common()),
                          f"{sum(answers.values()) / flooded_for:.0f} a second", "", ""))
    rows.append(table_row("The worker's CPU time a second of the run (of its one core), without / with the flood",
                          f"{alone_cpu / alone_for:.2f} / {flood_cpu / flooded_for:.2f}",
                          f"{alone_cpu:.1f} s in {alone_for:.0f} s / {flood_cpu:.1f} s in {flooded_for:.0f} s", "", ""))
    rows.append(table_row("Worker resident memory: idle / after the run alone / after the flooded run",
                          " / ".join(f"{mb:.0f} MB" for mb in rss), "", f"{rss[-1] / rss[0]:.2f}", ""))
    return rows, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", dest="pressing", type=int, default=5, help="seats pressing normally in each run")
    parser.add_argument("--flood", type=int, default=300, help="Build presses the flooding seat sends at once")
    parser.add_argument("--seconds", type=int, default=45, help="how long each of the two runs lasts")
    parser.add_argument("--every", type=float, default=1.0,
                        help="seconds from one wave of --flood presses to the next (0: each wave once the last ends)")
    parser.add_argument("--think", type=float, default=1.0, help="seconds a student waits between two presses")
    parser.add_argument("--first-port", type=int, help="the first seat's port (default: a free run of ports)")
    args = parser.parse_args()
    args.seats, args.lesson = 2 * args.pressing + 1, "cowserv"  # as open_room takes them

    random.seed(0)  # the pages' first polls (room.Poller) fall at the same points each time the bench runs
    load_before = os.getloadavg()[0]
    bench = Bench()
    # The instructor's cowserv first: the seats' builds take its layers from the cache.
    run_bench(bench, lambda: measure(bench, args), load_before, first=lambda: ensure_image(bench.docker))


if __name__ == "__main__":
    run_main(main)
