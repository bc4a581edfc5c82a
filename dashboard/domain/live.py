"""What changed, for the pages' one live stream: a hub of numbered "changed" nudges that pages answer with their GET.

A nudge names a topic (the containers, a board, the room's grid, the transcript, the lesson pick, the build, the
join code) and, when it is one seat's, that seat; it never carries what changed, so what a page then shows is
exactly what its own GET returns. The hub keeps the latest `keep` nudges, so a stream that dropped resumes after
its last id, or, when that is gone (or from before a restart), is told that everything changed.
"""

import collections
import secrets
import threading
import time
from dataclasses import dataclass

EVERYTHING = "all"  # the nudge a stream gets when the ones it missed are no longer kept
WAKE = "session"  # wakes every stream to look at its viewer again (a sign-out), and says nothing to pages
TICK = "tick"  # the periodic nudge: ages, status columns and time-based checks move on without an event
# What a seat's stream carries besides its own seat's nudges: the room-wide ones its page follows.
SEAT_TOPICS = frozenset({"lesson", TICK, EVERYTHING})


@dataclass(frozen=True)
class Nudge:
    number: int
    topic: str
    seat: str | None = None  # the seat whose things changed; None: the lesson's or the room's


@dataclass(frozen=True)
class Viewer:
    """Who a stream is for: the instructor, one seat (its name), or a signed-out screen."""
    role: str  # "instructor", "seat", "screen"
    seat: str | None = None

    def sees(self, nudge):
        """Whether this viewer's pages show what `nudge` is about: a seat never hears of another seat's things."""
        if nudge.topic == WAKE:
            return False
        if self.role == "instructor":
            return True
        if self.role == "seat":
            return nudge.seat == self.seat or (nudge.seat is None and nudge.topic in SEAT_TOPICS)
        return nudge.seat is None


class Hub:
    """Numbered nudges, the latest `keep` of them kept; streams wait for the next ones. Thread- (and greenlet-)
    safe; a nudge older than `tick_seconds` since the last tick is published by whichever stream wakes first."""

    def __init__(self, keep=256, tick_seconds=10.0):  # 10 s: as often as a watched lesson's checks are refreshed
        self.epoch = secrets.token_hex(4)  # ids of another process (before a restart) are not ours
        self._kept = collections.deque(maxlen=keep)
        self._number = 0
        self._changed = threading.Condition()
        self._tick_seconds = tick_seconds
        self._ticked = time.monotonic()

    @property
    def last_id(self):
        return self.id_of(self._number)

    def id_of(self, number):
        return f"{self.epoch}-{number}"

    def publish(self, topic, seat=None):
        """Note that `topic` (of `seat`, or of everyone) changed, and wake every waiting stream."""
        with self._changed:
            self._number += 1
            self._kept.append(Nudge(self._number, topic, seat))
            self._changed.notify_all()

    def since(self, last_id):
        """The nudges after `last_id` (an id this hub gave); None when some of them are no longer kept, or the id
        is not ours (a restart, a stranger's): the stream then says everything changed."""
        epoch, _, number = (last_id or "").partition("-")
        if epoch != self.epoch or not number.isdigit() or int(number) > self._number:
            return None
        number = int(number)
        with self._changed:
            kept = list(self._kept)
        if number < self._number and (not kept or kept[0].number > number + 1):
            return None
        return [nudge for nudge in kept if nudge.number > number]

    def wait(self, after, timeout):
        """The nudges numbered after `after` (a number), waiting up to `timeout` seconds for one; [] when none came
        (time for a heartbeat). Publishes the periodic tick whenever it is due."""
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() - self._ticked >= self._tick_seconds:
                self._ticked = time.monotonic()
                self.publish(TICK)
            with self._changed:
                if self._number <= after:
                    left = min(deadline, self._ticked + self._tick_seconds) - time.monotonic()
                    if left > 0:
                        self._changed.wait(left)
                kept, number = list(self._kept), self._number
            if number > after or time.monotonic() >= deadline:
                break
        if kept and kept[0].number > after + 1:
            return [Nudge(number, EVERYTHING)]  # it fell behind by more than is kept
        return [nudge for nudge in kept if nudge.number > after]

    @property
    def number(self):
        return self._number


def seat_of(scope):
    """The seat of a board's scope ("lesson@seat", checks.scope_of), or None for the instructor's lesson."""
    return scope.partition("@")[2] or None if scope else None


def topics_for(viewer, nudges):
    """The topics of `nudges` that `viewer` sees, each once, in order."""
    return list(dict.fromkeys(nudge.topic for nudge in nudges if viewer.sees(nudge)))
