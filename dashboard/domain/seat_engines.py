"""Each open seat's own Docker engine as the domain talks to it: an engine.Engine on the seat's socket, and one
container list of it (snapshot.ContainerSnapshot) that follows the seat engine's events, so a seat's checks, its
`docker ps` and the room's grid read each seat engine at most once per change or period, however many pages ask,
and the grid is nudged when what the student typed or pressed changed something."""

import threading

from .engine import Engine
from .snapshot import ContainerSnapshot


class SeatEngines:
    """The seats' engines and their lists, by seat name, made on first use from `socket_url(name)` (SeatHost's),
    and dropped (their event streams closed) when the seat closes. `on_change(seat)` is told when a seat engine's
    events say its containers changed."""

    def __init__(self, socket_url, timeout=60, read_timeout=3, max_age=5.0, min_interval=1.0,
                 on_change=lambda seat: None):
        self._socket_url = socket_url
        self._timeout, self._read_timeout = timeout, read_timeout
        self._max_age, self._min_interval = max_age, min_interval
        self._on_change = on_change
        self._lock = threading.Lock()
        self._kept = {}  # seat name -> (Engine, ContainerSnapshot)

    def _pair(self, seat):
        with self._lock:
            if seat not in self._kept:
                engine = Engine(self._timeout, self._read_timeout, endpoint=self._socket_url(seat), seat=seat)
                snapshot = ContainerSnapshot(engine, self._max_age, min_interval=self._min_interval,
                                             on_change=lambda _: self._on_change(seat))
                self._kept[seat] = (engine, snapshot)
            return self._kept[seat]

    def engine(self, seat):
        """The seat's own engine (a domain Engine on its socket)."""
        return self._pair(seat)[0]

    def snapshot(self, seat):
        """The seat engine's container list, shared by every reader."""
        return self._pair(seat)[1]

    def forget(self, seats=None):
        """Close the event streams of these seats' engines (every seat's with None): they are closing."""
        with self._lock:
            names = list(self._kept) if seats is None else [seat for seat in seats if seat in self._kept]
            dropped = [self._kept.pop(name) for name in names]
        for _, snapshot in dropped:
            snapshot.stop()
