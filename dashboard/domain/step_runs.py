"""Steps whose press is long work (Compose building images): their output goes on the board as it comes, so every
page showing the step follows it, and the instructor's press runs in the background, one at a time.

A seat's press of such a step stays within its request (as a seat's build does); its page follows it the same way.
"""

import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from .checks import Ran
from .errors import EngineError, StepRunning, WorkshopUnwritable
from .jobs import LatestJob

log = logging.getLogger(__name__)

EVERY = 0.5  # seconds: the board (and so every page) is told of new output at most this often
# Where a build is: BuildKit's first line of each numbered vertex ("#5 [api 2/4] RUN …"), the classic builder's step.
BUILDKIT_VERTEX = re.compile(r"^#(\d+) \S")
CLASSIC_STEP = re.compile(r"^Step \d+/\d+ : ")
SHOWN_RUNNING = 64 * 1024  # characters of a running step's output every viewer is sent, every EVERY seconds: its last
KEPT = 256 * 1024  # characters of what a long step printed its final run keeps: its last


def cut_note(limit):
    """The line that starts an output whose start was cut, keeping its last `limit` characters."""
    return f"(the start is cut: only the last {limit // 1024} KB are shown)\n"


def last(text, limit=KEPT):
    """The end of `text`: at most its last `limit` characters, from a line's start, after a line saying the start was
    cut (cut_note) when it was."""
    if len(text) <= limit:
        return text
    end = text[-limit:]
    start = end.find("\n") + 1
    return cut_note(limit) + (end[start:] if 0 < start < len(end) else end)


class Progress:
    """A running step's output so far (its last SHOWN_RUNNING characters), put on the board (scope, step id) as a
    running Ran at once, then at most every `every` seconds while lines come; `close()` ends it before the step's
    last Ran goes on the board."""

    def __init__(self, board, scope, step_id, command, every=EVERY):
        self._board, self._key, self._command, self._every = board, (scope, step_id), command, every
        self._lock = threading.Lock()
        self._lines, self._size, self._cut = deque(), 0, False  # its last lines, their characters, whether cut
        self._vertices, self.stage = set(), None
        self._timer, self._closed, self._shown = None, False, 0.0
        with self._lock:
            self._show()

    def line(self, text):
        """Take one more line of output."""
        with self._lock:
            if self._closed:
                return
            self._lines.append(text)
            self._size += len(text) + 1
            while self._size > SHOWN_RUNNING and len(self._lines) > 1:
                self._size -= len(self._lines.popleft()) + 1
                self._cut = True
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
        """The output so far, as the board shows it: its last SHOWN_RUNNING characters."""
        with self._lock:
            return self._output()

    def close(self):
        """Show nothing more: the step's last Ran goes on the board next."""
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
        self._board.ran(*self._key, Ran(self._command, self._output(), False, running=True, stage=self.stage))

    def _output(self):
        return (cut_note(SHOWN_RUNNING) if self._cut else "") + "".join(line + "\n" for line in self._lines)


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
        """Changes when another run starts or this one ends: what a page showing it compares."""
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
