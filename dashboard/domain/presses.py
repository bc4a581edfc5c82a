"""One student cannot stall the class: a seat has one press running at a time, waits a bounded time for the seats'
build turn (and builds nothing once the class is over), and runs a check inside its containers now and then only.

So however many requests a seat fires at once, at most one of them waits (for the build turn), the others are
answered at once (beyond a few a second from one browser, before the app reads them: Allowance, web/shedding.py);
the instructor's presses and builds go through none of this.
"""

import threading
import time
from contextlib import contextmanager

from .errors import BuildQueueFull, ClassOver, SeatBusy


def _seconds_ago(since):
    return f"{max(0, round(time.monotonic() - since))} s ago"


class SeatPresses:
    """The press each seat has running: a second press from the same seat meanwhile is refused (SeatBusy)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = {}  # seat name -> (what it runs, time.monotonic() when it began, whether every seat's)

    @contextmanager
    def pressing(self, seat, what, every_seat=False):
        """Run the block as `seat`'s one press, `what` (the step's title) naming it to a second press; `every_seat`:
        the instructor's run on every seat, not the student's own press."""
        with self._lock:
            if seat in self._running:
                running, since, by_instructor = self._running[seat]
                whose = "the instructor's run on every seat, " if by_instructor else ""
                raise SeatBusy(f"Your seat is still running {running!r} ({whose}started {_seconds_ago(since)}): "
                               "wait for it to finish.")
            self._running[seat] = (what, time.monotonic(), every_seat)
        try:
            yield
        finally:
            with self._lock:
                del self._running[seat]


class BuildTurns:
    """Seats' builds, one at a time (two cores build a class's images in turn): a seat waits at most `wait`
    seconds for its turn (BuildQueueFull), and once it has it, builds only while its press's room is the
    `roster`'s, its class on and the seat's link unchanged (ClassOver): never in the next room's seat of that name."""

    def __init__(self, wait, roster):
        self.wait = wait
        self._roster = roster
        self._turn = threading.Lock()
        self._lock = threading.Lock()
        self.queued = []  # seats holding or waiting for the turn, in the order they came

    @contextmanager
    def turn(self, stint):
        """Run the block as the build turn of the press that began as `stint` (seats.Stint)."""
        seat = stint.seat
        with self._lock:
            self.queued.append(seat)
        try:
            if not self._turn.acquire(timeout=self.wait):
                with self._lock:  # someone held the turn all along: one build at least is ahead
                    ahead = max(1, self.queued.index(seat))
                raise BuildQueueFull(
                    f"{ahead} build{' is' if ahead == 1 else 's are'} ahead of yours (seats build one at a time, "
                    f"and yours waited {self.wait:g} s): try again in a moment.")
            try:
                why = self._roster.lost(stint)
                if why:
                    raise ClassOver(f"{why} while your build waited for its turn: nothing was built.")
                yield
            finally:
                self._turn.release()
        finally:
            with self._lock:
                self.queued.remove(seat)


class Cooldown:
    """At most one go per key every `seconds`: a seat's checks that start a process inside its container."""

    def __init__(self, seconds):
        self.seconds = seconds
        self._lock = threading.Lock()
        self._last = {}  # key -> time.monotonic() of its latest go

    def take(self, key):
        """0 when the go is the caller's (noted now), else the seconds until the next one."""
        now = time.monotonic()
        with self._lock:
            left = self._last.get(key, float("-inf")) + self.seconds - now
            if left > 0:
                return left
            self._last[key] = now
            return 0



class Allowance:
    """At most `burst` requests of one key (a browser's session cookie) at once, and `rate` a second after that (a token
    bucket): `take(key)` is 0 when one more may run, else the seconds until one may. `clock`: time.monotonic."""

    def __init__(self, rate, burst, clock=time.monotonic):
        self.rate, self.burst, self._clock = rate, burst, clock
        self._lock = threading.Lock()
        self._buckets = {}  # key -> (tokens left, when counted); keys full again are dropped

    def take(self, key):
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[key] = (tokens - 1, now)
            if len(self._buckets) > 10_000:  # a browser that stopped asking is full again: forgotten
                self._buckets = {k: (t, at) for k, (t, at) in self._buckets.items()
                                 if t + (now - at) * self.rate < self.burst}
            return 0
