"""A step's check: is its effect there? Asked from the server side through the engine, with the reason when not.

Checks are shared: the latest result of each is kept on a board that every page shows, so a read-only screen or a
presenter view sees what the instructor's page checked, and costs the engine nothing.
"""

import logging
import threading
import time
from dataclasses import dataclass

import requests

from .errors import ContainerNotFound, ContainerNotRunning, EngineError, EngineUnavailable

log = logging.getLogger(__name__)

PASSED, FAILED, UNKNOWN, STARTING = "passed", "failed", "unknown", "starting"
# Checks that change nothing on the engine: only these are refreshed in the background (a page's poll, anyone's).
# An exec check starts a process in the container, so it runs only when the instructor presses its step or
# "Check again".
READ_ONLY = {"image", "running", "answers", "printed", "gone", "volume", "volume_gone", "empty"}


@dataclass(frozen=True)
class Result:
    state: str  # passed, failed, unknown, starting
    reason: str


def evaluate(engine, lesson, check, place, ports_host, containers=None):
    """The check's result now; `ports_host` is where published ports answer (127.0.0.1, or the engine's host).
    `containers`: the lessons' containers as just listed (the shared snapshot's), else listed here."""
    try:
        listed = [c for c in (engine.containers() if containers is None else containers) if c.lesson == lesson.id]
        return _evaluate(engine, lesson, check, place, ports_host, listed)
    except EngineUnavailable as error:
        return Result(UNKNOWN, f"Cannot check now: {error}")
    except ContainerNotFound:
        return Result(FAILED, f"There is no container {check.container} of this lesson.")
    except ContainerNotRunning as error:
        return Result(FAILED, str(error))
    except EngineError as error:
        return Result(FAILED, f"The engine refused: {error}")


def _evaluate(engine, lesson, check, place, ports_host, listed):
    if check.kind == "image":
        tag = place.image(check.tag)
        image = engine.image(tag)
        if image is None:
            return Result(FAILED, f"There is no image {tag} yet.")
        return Result(PASSED, f"The engine has {tag}: image {image.short_id}.")
    if check.kind == "gone":
        found = next((c for c in listed if c.name == check.container), None)
        return _gone(found, f"container {check.container}", "docker ps -a")
    if check.kind == "running":
        running = [c for c in listed if c.running and (not check.container or c.name == check.container)]
        what = check.container or "of this lesson"
        if not running:
            return Result(FAILED, f"No container {what} is running.")
        # Not its status ("Up 5 seconds"): a reason that changes by itself would change the board every refresh.
        return Result(PASSED, f"Container {running[0].name} is running.")
    if check.kind == "printed":
        output = engine.logs(check.container, 200, lesson.id)
        if check.text in output:
            return Result(PASSED, f"Container {check.container} printed {check.text!r}.")
        return Result(FAILED, f"Container {check.container} has not printed {check.text!r}.")
    if check.kind == "volume":
        if engine.volume(check.name, lesson.id) is None:
            return Result(FAILED, f"There is no volume {check.name} of this lesson.")
        return Result(PASSED, f"The volume {check.name} is there.")
    if check.kind == "volume_gone":
        return _gone(engine.volume(check.name, lesson.id), f"volume {check.name}", "docker volume ls")
    if check.kind == "empty":
        left = [c.name for c in listed]
        if left:
            return Result(FAILED, f"Still there: {', '.join(sorted(left))}.")
        return Result(PASSED, "No container of this lesson is left.")
    if check.kind == "exec":
        exit_code, output = engine.exec(check.container, check.command, lesson.id, check.env)
        if exit_code != 0 and check.starting and check.starting in output:
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
        return _answers(listed, check, ports_host)
    raise ValueError(f"unknown check {check.kind}")


def _gone(found, what, lister):
    """Passed when nothing was found: "what" (container NAME, volume NAME) is gone; else which command lists it."""
    if found is None:
        return Result(PASSED, f"There is no {what}: it is gone.")
    return Result(FAILED, f"The {what} is still there ({lister} lists it).")


def _answers(listed, check, ports_host):
    """Whether a published port of the container (or of any running container of the lesson) answers with the
    text, asked over HTTP as a browser would."""
    candidates = [c for c in listed if c.running and c.ports and (not check.container or c.name == check.container)]
    if not candidates:
        what = f"Container {check.container} is" if check.container else "No container of this lesson is"
        return Result(FAILED, f"{what} not running with a published port." if check.container
                      else f"{what} running with a published port.")
    reasons = []
    for container in candidates:
        for host_port, _ in container.ports:
            url = f"http://{ports_host}:{host_port}/"
            try:
                page = requests.get(url, timeout=3).text
            except requests.RequestException as error:
                reasons.append(f"{url} does not answer ({type(error).__name__}).")
                continue
            if check.text in page:
                return Result(PASSED, f"{url} answers with {check.text!r}.")
            reasons.append(f"{url} answers, without {check.text!r}.")
    return Result(FAILED, " ".join(reasons[:3]))


@dataclass(frozen=True)
class Ran:
    """The latest time a step's button was pressed: the command, what the terminal would have printed, and whether
    it succeeded, for every page to show (a projector sees the output of the instructor's click)."""

    command: str
    output: str
    ok: bool
    container_id: str | None = None
    host_port: int | None = None  # a run publishing one port: the host port it used


class Board:
    """Every step's latest check result and latest run, by (lesson id, step id), shared by every viewer, with a
    version that changes with any of them; and the refresh of a lesson's checks in the background, at most one
    at a time, when what they look at may have changed."""

    def __init__(self, min_interval=1.0):
        self._lock = threading.Lock()
        self._results = {}
        self._ran = {}
        self._version = 0
        self._stamps = {}  # lesson id -> the stamp its checks were last refreshed for
        self._refreshed = {}  # lesson id -> when
        self._refreshing = threading.Lock()
        self._min_interval = min_interval
        self.evaluations = 0  # checks evaluated, for the tests

    def _changed(self):
        self._version += 1

    def put(self, lesson_id, step_id, result):
        with self._lock:
            self.evaluations += 1
            if self._results.get((lesson_id, step_id)) != result:
                self._results[(lesson_id, step_id)] = result
                self._changed()

    def ran(self, lesson_id, step_id, ran):
        with self._lock:
            self._ran[(lesson_id, step_id)] = ran
            self._changed()

    def result(self, lesson_id, step_id):
        return self._results.get((lesson_id, step_id))

    def last_run(self, lesson_id, step_id):
        return self._ran.get((lesson_id, step_id))

    def forget_runs(self, lesson_id=None):
        """Forget the steps' latest runs (of one lesson, or all): the transcript was cleared."""
        with self._lock:
            self._ran = {key: ran for key, ran in self._ran.items() if lesson_id not in (None, key[0])}
            self._changed()

    @property
    def version(self):
        return self._version

    def refresh(self, lesson, stamp, evaluate_one):
        """Re-evaluate the lesson's read-only checks (READ_ONLY) in a thread of its own when `stamp` (what they look
        at: the containers' and images' versions, and the time in steps of a few seconds) differs from the last
        refresh's, at most every `min_interval` seconds and one refresh at a time, however many viewers poll."""
        now = time.monotonic()
        with self._lock:
            if self._stamps.get(lesson.id) == stamp or now - self._refreshed.get(lesson.id, 0) < self._min_interval:
                return False
            if not self._refreshing.acquire(blocking=False):
                return False
            self._stamps[lesson.id], self._refreshed[lesson.id] = stamp, now

        def run():
            try:
                for step in lesson.steps:
                    if step.check is not None and step.check.kind in READ_ONLY:
                        self.put(lesson.id, step.id, evaluate_one(step.check))
            except Exception:  # a refresh that dies must not keep the others from running
                log.exception("checks refresh failed")
                with self._lock:
                    self._stamps.pop(lesson.id, None)
            finally:
                self._refreshing.release()

        threading.Thread(target=run, name=f"checks-{lesson.id}", daemon=True).start()
        return True
