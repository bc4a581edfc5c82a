"""A step's check: is its effect there? Asked from the server side through the engine, with the reason when not.

Checks are shared: the latest result of each is kept on a board that every page shows, so a read-only screen or a
presenter view sees what the instructor's page checked, and costs the engine nothing.
"""

import html
import json
import logging
import re
import threading
import time
from dataclasses import dataclass

import requests

from . import http_answers
from .errors import ContainerNotFound, ContainerNotRunning, EngineError, EngineUnavailable

log = logging.getLogger(__name__)

PASSED, FAILED, UNKNOWN, STARTING = "passed", "failed", "unknown", "starting"
# Checks that change nothing on the engine: only these are refreshed in the background (a page's poll, anyone's).
# An exec check starts a process in the container, so it runs only when the instructor presses its step or
# "Check again".
# `docker top` (processes) only reads; counter and spread are HTTP GETs.
READ_ONLY = {"image", "running", "answers", "printed", "gone", "volume", "volume_gone", "empty", "stopped",
             "processes", "counter", "spread"}


@dataclass(frozen=True)
class Result:
    state: str  # passed, failed, unknown, starting
    reason: str


def evaluate(engine, lesson, check, place, probe_host, containers=None):
    """The check's result now; `probe_host` is where published ports answer (127.0.0.1, or the engine's host; a
    seat's place says its own). `containers`: the containers as just listed (the engine's shared snapshot), else
    listed here. A seat's place looks at the seat's own engine (`engine`), the instructor's at the host's."""
    try:
        listed = [c for c in (engine.containers() if containers is None else containers) if of_lesson(c, lesson, place)]
        return _evaluate(engine, lesson, check, place, place.probe_host or probe_host, listed)
    except EngineUnavailable as error:
        return Result(UNKNOWN, f"Cannot check now: {error}")
    except ContainerNotFound:
        return Result(FAILED, f"There is no container {check.container} of this lesson.")
    except ContainerNotRunning as error:
        return Result(FAILED, str(error))
    except EngineError as error:
        return Result(FAILED, f"The engine refused: {error}")


def of_lesson(container, lesson, place):
    """Whether the check of `lesson` at `place` looks at the container: the lesson's on the instructor's engine; on a
    seat's own engine, the lesson's and every unlabelled one (the student's, typed as the lesson writes it)."""
    if container.seat != place.engine_seat:
        return False
    return container.lesson == lesson.id or (bool(place.seat) and not container.lesson)


def _evaluate(engine, lesson, check, place, probe_host, listed):
    if check.kind == "image":
        tag = place.image(check.tag)
        image = engine.image(tag)
        if image is None:
            return Result(FAILED, f"There is no image {tag} yet.")
        return Result(PASSED, f"The engine has {tag}: image {image.short_id}.")
    if check.kind == "gone":
        found = next((c for c in listed if c.name == check.container), None)
        return _gone(found, f"container {check.container}", "docker ps -a")
    if check.kind == "running" and check.containers:
        running = {c.name for c in listed if c.running}
        missing = [name for name in check.containers if name not in running]
        if missing:
            return Result(FAILED, f"Not running: {', '.join(missing)}.")
        return Result(PASSED, f"All of {', '.join(check.containers)} are running.")
    if check.kind == "running":
        running = [c for c in listed if c.running and (not check.container or c.name == check.container)]
        what = check.container or "of this lesson"
        if not running:
            return Result(FAILED, f"No container {what} is running.")
        # Not its status ("Up 5 seconds"): a reason that changes by itself would change the board every refresh.
        return Result(PASSED, f"Container {running[0].name} is running.")
    if check.kind == "stopped":
        return _stopped(next((c for c in listed if c.name == check.container), None), check.container)
    if check.kind == "processes":
        return _processes(engine.top(check.container, lesson.id, seat=place.seat), check)
    if check.kind == "counter":
        return _counter(check, probe_host, seat=place.seat is not None)
    if check.kind == "spread":
        return _spread(check, probe_host, seat=place.seat is not None)
    if check.kind == "printed":
        output = engine.logs(check.container, 200, lesson.id, seat=place.seat)
        if check.text in output:
            return Result(PASSED, f"Container {check.container} printed {check.text!r}.")
        return Result(FAILED, f"Container {check.container} has not printed {check.text!r}.")
    if check.kind == "volume":
        if engine.volume(check.name, lesson.id, seat=place.seat) is None:
            return Result(FAILED, f"There is no volume {check.name} of this lesson.")
        return Result(PASSED, f"The volume {check.name} is there.")
    if check.kind == "volume_gone":
        return _gone(engine.volume(check.name, lesson.id, seat=place.seat), f"volume {check.name}",
                     "docker volume ls")
    if check.kind == "empty":
        left = [c.name for c in listed]
        if left:
            return Result(FAILED, f"Still there: {', '.join(sorted(left))}.")
        return Result(PASSED, "No container of this lesson is left.")
    if check.kind == "exec":
        exit_code, output = engine.exec(check.container, check.command, lesson.id, check.env, seat=place.seat)
        # Starting: the output says so, and the check has not passed (a program that exits 0 while it starts, as
        # `supervisorctl status` does, too).
        if (check.starting and check.starting in output
                and (exit_code != 0 or (check.text and check.text not in output))):
            return Result(STARTING, f"`{' '.join(check.command)}` in {check.container}: still starting "
                                    f"({output.strip()[:120]}).")
        if exit_code != 0:
            return Result(FAILED, f"`{' '.join(check.command)}` in {check.container} exited {exit_code}: "
                                  f"{output.strip()[:200]}")
        if check.text and check.text not in output:
            return Result(FAILED, f"`{' '.join(check.command)}` in {check.container} did not print {check.text!r}.")
        return Result(PASSED, f"`{' '.join(check.command)}` in {check.container} exited 0"
                              + (f" and printed {check.text!r}." if check.text else "."))
    if check.kind == "answers":
        return _answers(listed, check, probe_host, _changed_file(lesson, check, place), seat=place.seat is not None)
    raise ValueError(f"unknown check {check.kind}")


def _gone(found, what, lister):
    """Passed when nothing was found: "what" (container NAME, volume NAME) is gone; else which command lists it."""
    if found is None:
        return Result(PASSED, f"There is no {what}: it is gone.")
    return Result(FAILED, f"The {what} is still there ({lister} lists it).")


STOPPED_STATES = {"exited", "created", "dead"}  # there, and not running nor about to run again (restarting)


def _stopped(found, name):
    """Passed when the container is there and has ended (or never started): with its exit code, as `docker ps -a`
    shows it, never its "5 seconds ago" (a reason that changes by itself would change the board every refresh)."""
    if found is None:
        return Result(FAILED, f"There is no container {name} of this lesson.")
    if found.state not in STOPPED_STATES:
        return Result(FAILED, f"Container {name} is {found.state or 'there'}, not stopped yet.")
    code = re.match(r"Exited \((-?\d+)\)", found.status)
    if code:
        return Result(PASSED, f"Container {name} has exited (code {code[1]}).")
    return Result(PASSED, f"Container {name} is {found.state}, not running.")


def _processes(top, check):
    """Passed when `docker top` of the container lists, for each name, a process whose command holds it."""
    titles, rows = top
    column = next((titles.index(title) for title in ("CMD", "COMMAND") if title in titles), len(titles) - 1)
    commands = [row[column] for row in rows if column < len(row)]
    found = [name for name in check.names if any(name in command for command in commands)]
    missing = [name for name in check.names if name not in found]
    if missing:
        runs = f"runs {_and(found)}, but" if found else "runs"
        return Result(FAILED, f"{check.container} {runs} no {_or(missing)} (`docker top {check.container}` lists "
                              f"{len(rows)} process{'es' if len(rows) != 1 else ''}).")
    return Result(PASSED, f"{check.container} runs {_and(found)}: {len(found)} program{'s' if len(found) != 1 else ''} "
                          "in one container.")


def _and(names, word="and"):
    """Names as a sentence lists them: "a, b and c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"


def _or(names):
    """Names as a sentence offers them: "a, b or c"."""
    return _and(names, "or")


ANSWER_SECONDS = 3  # a check's HTTP answer, its whole body read: the background lane every seat shares waits no more


def _get(url):
    """GET url, its answer bounded (http_answers: its first 64 KB, within ANSWER_SECONDS): (answer, None) or (None,
    why not, as a reason's end)."""
    try:
        return http_answers.ask("GET", url, ANSWER_SECONDS), None
    except http_answers.TooSlow:
        return None, f"does not finish its answer within {ANSWER_SECONDS} s"
    except requests.RequestException as error:
        return None, f"does not answer ({type(error).__name__})"


def _get_json(check, probe_host, seat):
    """GET the check's port and path: (where, the JSON field's value, None) or (where, None, why not)."""
    url = f"http://{probe_host}:{check.port}{check.path}"
    where = f"Your port {check.port} ({check.path})" if seat else url
    answer, why = _get(url)
    if answer is None:
        return where, None, f"{where} {why}."
    if answer.cut:
        return where, None, (f"{where} answers HTTP {answer.status} with more than {http_answers.SHOWN_LIMIT}, "
                             f"read no further: not the JSON holding {check.field!r}.")
    try:
        value = json.loads(answer.body)[check.field]
    except (ValueError, KeyError, TypeError, IndexError):
        return where, None, f"{where} answers HTTP {answer.status}, without JSON holding {check.field!r}."
    return where, value, None


def _counter(check, probe_host, seat=False):
    """Passed when the port and path answer JSON whose `field` is at least `at_least`."""
    where, value, why = _get_json(check, probe_host, seat)
    if why:
        return Result(FAILED, why)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Result(FAILED, f"{where} answers {check.field} {str(value)[:40]!r}, not a number.")
    if value < check.at_least:
        return Result(FAILED, f"The {check.field} is {value}: {check.at_least} or more is what this step makes.")
    return Result(PASSED, f"The {check.field} is {value}.")


def _spread(check, probe_host, seat=False):
    """Passed when up to 4 × count GETs of the port and path answer `count` different values of `field` (the
    replicas behind a proxy that spreads the requests)."""
    seen, why = [], None
    for _ in range(4 * check.count):
        where, value, why = _get_json(check, probe_host, seat)
        if why:
            break
        if str(value) not in seen:
            seen.append(str(value))
        if len(seen) >= check.count:
            return Result(PASSED, f"{len(seen)} different {check.field} answered: {', '.join(sorted(seen))}.")
    if why and not seen:
        return Result(FAILED, why)
    return Result(FAILED, f"Only {len(seen)} different {check.field} answered ({', '.join(sorted(seen)) or 'none'}), "
                          f"{check.count} needed." + (f" {why}" if why else ""))


@dataclass(frozen=True)
class ChangedFile:
    """The file an answers check's text comes from, as it is where the step runs, differing from the lesson's own."""

    folder: object  # the folder the step runs in: the lesson's in the workshop (or in a seat's)
    text: str | None  # as it is now; None when it is missing

    def served_in(self, page):
        """True when the page holds this file's text, as served or as a page quoting it (HTML-escaped)."""
        text = (self.text or "").strip()
        return bool(text) and (text in page or html.escape(text) in page)


def _changed_file(lesson, check, place):
    """The check's `file` as it is where the step runs, when it differs from the lesson's own; else None."""
    if not check.file:
        return None
    try:
        now = (place.folder / check.file).read_text(errors="replace")
    except OSError:
        return ChangedFile(place.folder, None)
    return None if now == (lesson.source / check.file).read_text(errors="replace") else ChangedFile(place.folder, now)


def _answers(listed, check, probe_host, changed=None, seat=False):
    """Whether a published port of the container (or of any running container of the lesson) answers with the
    text, asked over HTTP as a browser would. Where the text comes from a file that was changed (`changed`: an
    earlier class's edit, never overwritten), the file as it is now is what a build or a bind mount serves, and is
    accepted too; a failure then says the file differs and how to bring the lesson's own back. A `seat`'s reason
    names its port as the student knows it ("Your port 8000"), not its namespace's address."""
    candidates = [c for c in listed if c.running and c.ports and (not check.container or c.name == check.container)]
    if not candidates:
        what = f"Container {check.container} is" if check.container else "No container of this lesson is"
        return Result(FAILED, f"{what} not running with a published port." if check.container
                      else f"{what} running with a published port.")
    reasons = []
    for container in candidates:
        for host_port, _ in container.ports:
            address = f"http://{probe_host}:{host_port}/"
            url = f"Your port {host_port}" if seat else address
            answer, why = _get(address)
            if answer is None:
                reasons.append(f"{url} {why}.")
                continue
            page = answer.text
            if check.text in page:
                return Result(PASSED, f"{url} answers with {check.text!r}.")
            if changed is not None and changed.served_in(page):
                return Result(PASSED, f"{url} answers with {check.file} as it is in {changed.folder} now, "
                                      f"changed from the lesson's own ('Restore this lesson's files' brings back "
                                      f"{check.text!r}).")
            reasons.append(f"{url} answers, without {check.text!r}" +
                           (f" or {check.file} as it is in {changed.folder} now" if changed else "") +
                           (f" in its first {http_answers.SHOWN_LIMIT} (read no further)." if answer.cut else "."))
    shown = reasons[:3]
    if changed is not None:
        shown.append(f"{check.file} in {changed.folder} "
                     + ("is missing" if changed.text is None else "differs from the lesson's own")
                     + " (an earlier edit is kept): build again to serve it as it is, or press 'Restore this "
                       "lesson's files' and build again to serve the lesson's own.")
    return Result(FAILED, " ".join(shown))


@dataclass(frozen=True)
class Ran:
    """The latest time a step's button was pressed: the command, what the terminal would have printed, and whether
    it succeeded, for every page to show (a projector sees the output of the instructor's click)."""

    command: str
    output: str
    ok: bool
    container_id: str | None = None
    host_port: int | None = None  # a run publishing one port: the host port it used
    running: bool = False  # still running: `output` is what it printed so far (step_runs.Progress)
    stage: str | None = None  # where a running build is: its latest `#N …` (BuildKit) or `Step N/M : …` line


class Throttle:
    """At most `rate` calls a second, across every thread that waits on it: background checks share it."""

    def __init__(self, rate):
        self._lock = threading.Lock()
        self._gap = 1.0 / rate
        self._next = 0.0

    def wait(self):
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self._gap
        if at > now:
            time.sleep(at - now)


# Checks answered from the shared container list alone; the others ask the engine or a port (see Board.refresh).
FROM_THE_LIST = {"running", "gone", "empty", "stopped"}


def scope_of(lesson_id, seat=None):
    """The board's key for a lesson as the instructor does it, or as a seat does it (seats.py)."""
    return f"{lesson_id}@{seat}" if seat else lesson_id


class Board:
    """Every step's latest check result and latest run, by (scope, step id), shared by every viewer, with a
    version that changes with any of them; and the refresh of checks in the background, one refresh at a time,
    when what they look at may have changed. A scope is a lesson as the instructor does it, or as one seat does
    it (scope_of)."""

    def __init__(self, min_interval=1.0, checks_per_second=10, on_change=None):
        self._on_change = on_change or (lambda scope: None)  # told of every change: its scope, or None (all)
        self._lock = threading.Lock()
        self._results = {}
        self._asked = {}  # (scope, step id) -> when the result there was asked: an older answer never replaces it
        self._achieved = {}  # (scope, step id) -> the passing result since its latest run (progress.cell)
        self._ran = {}
        self._ran_at = {}  # (scope, step id) -> when it last ran
        self._version = 0
        self._versions = {}  # scope -> its own version: a page of one scope is not redrawn for another's change
        self._stamps = {}  # scope -> the stamp its checks were last refreshed for
        self._refreshed = {}  # scope -> when
        # One refresh at a time in each lane: the instructor's lessons, and the seats' (whose passes are long, at
        # 10 checks a second for a room), so a room never holds up the instructor's own checks.
        self._refreshing = {"instructor": threading.Lock(), "seats": threading.Lock()}
        self._min_interval = min_interval
        self.throttle = Throttle(checks_per_second)
        self.evaluations = 0  # checks evaluated, for the tests
        self.background_evaluations = 0  # of them, those the refresh asked the engine or a port (throttled)

    def _changed(self, scope=None):
        """Something changed: in `scope`, or (None) in every scope."""
        self._version += 1
        for key in ([scope] if scope is not None else list(self._versions)):
            self._versions[key] = self._version
        self._on_change(scope)

    def put(self, scope, step_id, result, asked_at=None):
        """Note a check's result, asked at `asked_at` (time.monotonic(); default now): an answer asked before the
        one already there (a background refresh that read the containers before a press) is dropped."""
        key, asked_at = (scope, step_id), time.monotonic() if asked_at is None else asked_at
        with self._lock:
            self.evaluations += 1
            if asked_at < self._asked.get(key, float("-inf")):
                return
            self._asked[key] = asked_at
            ran, before = self._ran.get(key), self._results.get(key)
            pressed = ran is not None and ran.ok and asked_at >= self._ran_at[key]
            typed = ran is None and before is not None and before.state == FAILED  # done in the terminal
            if result.state == PASSED and (pressed or typed) and key not in self._achieved:
                self._achieved[key] = result
                self._changed(scope)
            if self._results.get(key) != result:
                self._results[key] = result
                self._changed(scope)

    def ran(self, scope, step_id, ran):
        with self._lock:
            self._ran[(scope, step_id)] = ran
            self._ran_at[(scope, step_id)] = time.monotonic()
            self._achieved.pop((scope, step_id), None)
            self._changed(scope)

    def achieved(self, scope, step_id):
        """The step's check's first passing result since the step was last pressed (or, never pressed, after it
        failed: typed in the terminal), or None: a seat that did a step stays done when a later step undoes its
        effect (the lesson removes what it ran)."""
        return self._achieved.get((scope, step_id))

    def version_of(self, scope):
        """Changes when anything of `scope` changes (or everything, as a transcript cleared)."""
        return self._versions.setdefault(scope, self._version)

    def result(self, scope, step_id):
        return self._results.get((scope, step_id))

    def last_run(self, scope, step_id):
        return self._ran.get((scope, step_id))

    def forget_runs(self, scope=None):
        """Forget the steps' latest runs (of one scope, or all): the transcript was cleared."""
        with self._lock:
            self._ran = {key: ran for key, ran in self._ran.items() if scope not in (None, key[0])}
            self._ran_at = {key: at for key, at in self._ran_at.items() if key in self._ran}
            self._changed(scope)

    def forget_seat(self, seat):
        """Forget everything a seat did and every result of its checks, in every lesson: it was reset."""
        with self._lock:
            mine = f"@{seat}"
            for table in (self._ran, self._ran_at, self._results, self._achieved, self._asked):
                for key in [key for key in table if key[0].endswith(mine)]:
                    del table[key]
            self._stamps = {scope: stamp for scope, stamp in self._stamps.items() if not scope.endswith(mine)}
            self._changed()

    @property
    def version(self):
        return self._version

    def refresh_many(self, wanted, asked_at=None):
        """Re-evaluate the read-only checks (READ_ONLY) of each (scope, lesson, stamp, evaluate_one) in `wanted`
        whose `stamp` (what they look at: the scope's containers and the images' version, and the time in steps
        of a few seconds) differs from its last refresh's, at most every `min_interval` seconds a scope, in one
        thread, one refresh at a time however many viewers poll. A check beyond the shared list (FROM_THE_LIST)
        waits for the throttle: at most `checks_per_second` of them in all. `asked_at`: when the containers the
        checks read were listed (see put)."""
        now = time.monotonic()
        asked_at = now if asked_at is None else asked_at
        with self._lock:
            stale = [(scope, lesson, stamp, evaluate_one) for scope, lesson, stamp, evaluate_one in wanted
                     if self._stamps.get(scope) != stamp and now - self._refreshed.get(scope, 0) >= self._min_interval]
            lane = self._refreshing["seats" if any("@" in item[0] for item in stale) else "instructor"]
            if not stale or not lane.acquire(blocking=False):
                return False
            for scope, _, stamp, _ in stale:
                self._stamps[scope], self._refreshed[scope] = stamp, now

        def run():
            try:
                for scope, lesson, _, evaluate_one in stale:
                    self._refresh_scope(scope, lesson, evaluate_one, asked_at)
            finally:
                lane.release()

        threading.Thread(target=run, name="checks", daemon=True).start()
        return True

    def _refresh_scope(self, scope, lesson, evaluate_one, asked_at):
        try:
            for step in lesson.steps:
                if step.check is not None and step.check.kind in READ_ONLY:
                    if step.check.kind in FROM_THE_LIST:
                        self.put(scope, step.id, evaluate_one(step.check), asked_at)
                        continue
                    self.throttle.wait()
                    with self._lock:
                        self.background_evaluations += 1
                    # Noted as asked when the pass listed the containers it reads: a press's check since is newer.
                    self.put(scope, step.id, evaluate_one(step.check), asked_at)
        except Exception:  # a refresh that dies must not keep the others from running
            log.exception("checks refresh failed")
            with self._lock:
                self._stamps.pop(scope, None)
