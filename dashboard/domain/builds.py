"""Builds of a lesson's image, run in the background and kept so that any number of viewers can follow one."""

import logging
import re
import threading
import time
from dataclasses import dataclass, field

from .errors import BuildingAnother, EngineError
from .jobs import LatestJob

log = logging.getLogger(__name__)

STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
BUILT = re.compile(r"^Successfully built ([0-9a-f]+)$")
LAYER = re.compile(r"^ ---> ([0-9a-f]{12})$")  # the image a step ended with
TERMINAL_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # RUN steps' stderr comes wrapped in colour codes
USING_CACHE = "---> Using cache"


@dataclass(frozen=True)
class BuildPlan:
    """What to build and how the page shows it: the command beside the button and the line a replay script runs."""

    context: str
    tag: str
    build_args: dict
    command: str
    replay: str
    lesson: str  # whose build: its transcript entry goes in that lesson's
    labels: dict = field(default_factory=dict)  # labels the build gives its image (`--label K=V`)
    force_rm: bool = True  # the instructor's: a failed step's container removed; a seat's builds as typed


@dataclass
class LogLine:
    text: str
    step: int | None = None  # set on the "Step N/M : ..." lines
    kind: str = "output"  # output, step, cache, error


@dataclass
class Build:
    """One build: its log so far, its step counter and its outcome. Thread-safe; viewers wait on `changed`."""

    plan: BuildPlan
    number: int = 0  # the how-manieth build of this process: viewers compare it to know whether theirs is current
    lines: list[LogLine] = field(default_factory=list)
    step: int = 0
    total_steps: int = 0
    cached_steps: set[int] = field(default_factory=set)
    step_layers: dict[int, str] = field(default_factory=dict)  # step -> short id of the image it made
    state: str = "running"  # running, succeeded, failed
    image_id: str | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    @property
    def command(self):
        return self.plan.command

    @property
    def running(self):
        return self.state == "running"

    @property
    def version(self):
        return f"{self.number}-{self.state}"

    @property
    def failed_step(self):
        return self.step if self.state == "failed" and self.step else None

    @property
    def percent(self):
        if self.state == "succeeded":
            return 100
        return int(100 * (self.step - 1) / self.total_steps) if self.total_steps else 0

    @property
    def short_image_id(self):
        """The image id as `Successfully built …` prints it."""
        return self.image_id.removeprefix("sha256:")[:12] if self.image_id else None

    @property
    def cached_layers(self):
        """Short ids of the images whose steps came from the cache in this build."""
        return {self.step_layers[step] for step in self.cached_steps if step in self.step_layers}

    @property
    def seconds(self):
        return round((self.finished or time.time()) - self.started, 1)

    def record(self, chunk):
        """Take one decoded chunk of the engine's build stream."""
        with self.changed:
            if "stream" in chunk:
                for text in TERMINAL_COLOUR.sub("", chunk["stream"]).splitlines():
                    if text.strip():
                        self._add_line(text.rstrip())
            elif "errorDetail" in chunk or "error" in chunk:
                message = (chunk.get("errorDetail") or {}).get("message") or chunk.get("error")
                self._finish_failed(message)
            elif "aux" in chunk and "ID" in chunk["aux"]:
                self.image_id = chunk["aux"]["ID"]
            elif "status" in chunk:
                progress = " ".join(str(chunk[key]) for key in ("id", "status") if chunk.get(key))
                self._add_line(progress)
            self.changed.notify_all()

    def _add_line(self, text):
        step = STEP.match(text)
        if step:
            self.step, self.total_steps = int(step[1]), int(step[2])
            self.lines.append(LogLine(text, step=self.step, kind="step"))
        elif text.strip() == USING_CACHE:
            self.cached_steps.add(self.step)
            self.lines.append(LogLine(text, kind="cache"))
        else:
            layer = LAYER.match(text)
            if layer and self.step:
                self.step_layers[self.step] = layer[1]
            built = BUILT.match(text)
            if built and not self.image_id:
                self.image_id = built[1]
            self.lines.append(LogLine(text))

    def _finish_failed(self, message):
        self.lines.append(LogLine(message, kind="error"))
        self.error, self.state, self.finished = message, "failed", time.time()

    def finish(self, error=None):
        """Close the build: failed with `error`, or succeeded unless the stream already reported an error."""
        with self.changed:
            if error is not None:
                self._finish_failed(error)
            elif self.running:
                if self.image_id:
                    self.state, self.finished = "succeeded", time.time()
                else:
                    self._finish_failed("The engine ended the build without an image.")
            self.changed.notify_all()

    def follow(self, start=0, wait=15.0):
        """Yield (index, line) from `start` as they come, and None every `wait` seconds of quiet; end with the build."""
        index = start
        while True:
            with self.changed:
                if index >= len(self.lines) and self.running:
                    self.changed.wait(wait)
                new, running = self.lines[index:], self.running
            if not new and running:
                yield None
            for line in new:
                yield index, line
                index += 1
            if not running and index >= len(self.lines):
                return


class Builder(LatestJob):
    """Runs at most one build at a time: asking for a build while one runs joins the running one."""

    def start(self, engine, plan):
        """The running build when it is this plan's (a second press joins it), or a new one started in the
        background (when the engine answers); refused while another lesson's image builds."""
        with self.lock:
            if self.running and self.current.plan.tag == plan.tag:
                return self.current
            if self.running:
                raise BuildingAnother(f"The image {self.current.plan.tag} is building (lesson "
                                      f"{self.current.plan.lesson}): one build at a time, so wait until it ends.")
            engine.version()  # refuse now, with the engine's reason, rather than start a build that cannot run
            return self.launch(Build(plan=plan, number=self.next_number), lambda build: _follow_engine(build, engine))


def _follow_engine(build, engine):
    """Feed the engine's build stream into the build, and close it however the stream ends."""
    plan = build.plan
    try:
        for chunk in engine.build(plan.context, plan.tag, plan.build_args):
            build.record(chunk)
    except EngineError as error:
        build.finish(error=str(error))
    except Exception as error:  # a build left "running" would keep the button disabled for good
        log.exception("build thread failed")
        build.finish(error=f"The build stopped unexpectedly: {error}")
    else:
        build.finish()
