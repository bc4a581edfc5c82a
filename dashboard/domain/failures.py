"""A limit on wrong guesses (seat links, join codes, the instructor token) per client address: failures only
count, so a class behind one address that opens its right links never meets it, while guessing becomes pointless.

Each address keeps the times of its last `limit` failures within `window` seconds; once it has `limit` of them,
every wrong try of that address is refused until the oldest leaves the window. A right one still passes: links,
codes and the token are unguessable, so it costs nothing, and one student behind the class's NAT sending junk
cannot lock the class out of its own links. At most `max_clients` addresses are tracked, the one failing longest ago forgotten first, so memory stays
bounded whatever a crowd of addresses sends.
"""

import math
import threading
import time
from collections import OrderedDict, deque


class TooManyFailures(Exception):
    """Too many wrong guesses from one address lately; `retry_after`: seconds until a wrong one is counted again."""

    def __init__(self, limit, window, retry_after):
        self.retry_after = retry_after
        super().__init__(f"Too many wrong links, join codes or tokens from this address ({limit} within "
                         f"{window / 60:g} minutes): a wrong one is refused; try again in {retry_after} s. A right "
                         "link, typed or scanned carefully, works even now.")


class FailureLimit:
    """At most `limit` failures per address within `window` seconds (see the module's docstring); thread-safe."""

    def __init__(self, limit, window, max_clients=10_000):
        if limit < 1 or window <= 0 or max_clients < 1:
            raise ValueError(f"a failure limit needs limit >= 1, window > 0 and max_clients >= 1, not "
                             f"{limit}, {window}, {max_clients}")
        self.limit, self.window, self.max_clients = limit, window, max_clients
        self._failures = OrderedDict()  # address -> deque of failure times (monotonic), the latest address last
        self._lock = threading.Lock()

    def attempt(self, address, ok, counts=True, now=None):
        """`ok` (whether the guess was right, worked out by the caller in constant time): a wrong one is
        TooManyFailures while the address has `limit` failures within the window, else recorded when it `counts`."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._failures.get(address)
            if times is not None:
                while times and times[0] <= now - self.window:
                    times.popleft()
                if len(times) >= self.limit and not ok:
                    raise TooManyFailures(self.limit, self.window, max(1, math.ceil(times[0] + self.window - now)))
            if not ok and counts:
                if times is None:
                    times = self._failures[address] = deque(maxlen=self.limit)
                times.append(now)
                self._failures.move_to_end(address)
                while len(self._failures) > self.max_clients:
                    self._failures.popitem(last=False)
            elif times is not None and not times:
                del self._failures[address]
        return ok
