"""Steps whose press is long work (Compose building images): their output goes on the board as it comes, so every
page showing the step follows it, and the instructor's press runs in the background, one at a time.

A seat's press of such a step stays within its request (as a seat's build does); its page follows it the same way.
"""

import logging
import re
import threading
import time
from dataclasses import dataclass, field

from .checks import Ran
from .errors import EngineError, StepRunning, WorkshopUnwritable
from .jobs import LatestJob

log = logging.getLogger(__name__)

EVERY = 0.5  # seconds: the board (and so every page) is told of new output at most this often
# Where a build is: BuildKit's first line of each numbered vertex ("#5 [api 2/4] RUN …"), the classic builder's step.
BUILDKIT_VERTEX = re.compile(r"^#(\d+) \S")
CLASSIC_STEP = re.compile(r"^Step \d+/\d+ : ")


class Progress:
    """A running step's output so far, put on the board (scope, step id) as a running Ran at once, then at most
    every `every` seconds while lines come; `close()` ends it before the step's last Ran goes on the board."""

    def __init__(self, board, scope, step_id, command, every=EVERY):
        self._board, self._key, self._command, self._every = board, (scope, step_id), command, every
        self._lock = threading.Lock()
        self._lines, self._vertices, self.stage = [], set(), None
        self._timer, self._closed, self._shown = None, False, 0.0
        with self._lock:
            self._show()

    def line(self, text):
        """Take one more line of output."""
        with self._lock:
            if self._closed:
                return
            self._lines.append(text)
            vertex = BUILDKIT_VERTEX.match(text)
            if (vertex and vertex[1] not in self._vertices) or CLASSIC_STEP.match(text):
                self.stage = text
                if vertex:
                    self._vertices.add(vertex[1])
            wait = self._shown + self._every - time.monotonic()
            if wait <= 0:
                self._show()
            elif self._timer is None:  # shown when the wait is over, even if no line follows meanwhile
                self._timer = threading.Timer(wait, self._flush)
                self._timer.daemon = True
                self._timer.start()

    @property
    def output(self):
        with self._lock:
            return "".join(line + "\n" for line in self._lines)

    def close(self):
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()

    def _flush(self):
        with self._lock:
            self._timer = None
            if not self._closed:
                self._show()

    def _show(self):
        self._shown = time.monotonic()
        output = "".join(line + "\n" for line in self._lines)
        self._board.ran(*self._key, Ran(self._command, output, False, running=True, stage=self.stage))


@dataclass
class StepRun:
    """The instructor's press of a long step, run in the background: which step, and whether it still runs."""

    lesson: str
    step: str
    title: str
    number: int = 0
    state: str = "running"  # running, done (its run and check are on the board), failed (it could not run)
    started: float = field(default_factory=time.time)

    @property
    def running(self):
        return self.state == "running"

    def end(self):
        """Its run is on the board, ended (its check may still be asked): a press from now on starts it again."""
        if self.running:
            self.state = "done"

    @property
    def version(self):
        return f"{self.number}-{self.state}"


class StepRunner(LatestJob):
    """At most one long step of the instructor's at a time: pressing it again while it runs joins it."""

    def start(self, lesson, step, begin, work):
        """(the run, whether it was joined): the running one when it is this step's; else, once `begin()` raised
        no refusal (the engine answers), a new one doing `work(run)` in the background. Refused while another runs."""
        with self.lock:
            if self.running and (self.current.lesson, self.current.step) == (lesson.id, step.id):
                return self.current, True
            if self.running:
                raise StepRunning(f"{self.current.title!r} (lesson {self.current.lesson}) is still running: one "
                                  "long step at a time, so wait until it ends.")
            begin()
            return self.launch(StepRun(lesson.id, step.id, step.title, self.next_number),
                               lambda run: _finish(run, work)), False


def _finish(run, work):
    """Do the run's work, and note how it ended; a run left "running" would join every later press for good."""
    try:
        work(run)
        run.end()
    except (EngineError, WorkshopUnwritable):  # on the board already, and in the transcript
        run.state = "failed"
    except Exception:
        log.exception("a step run in the background failed")
        run.state = "failed"
