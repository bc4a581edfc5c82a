"""One list of the lesson's containers shared by every viewer, re-read from the engine only when it changed.

The engine's event stream marks the list changed when a lesson's container is created, started, stopped or
removed, by the dashboard or from the CLI, and tells the pages (the live stream) once the change's events pause;
a list older than `max_age` seconds is re-read too, so the status and age columns keep moving. However many pages
watch, the engine sees one list call per change or period, and while containers keep changing (a class of 300
starting) at most one per `min_interval`.
"""

import contextlib
import hashlib
import logging
import threading
import time
import weakref

from .errors import ContainerNotFound, EngineError

log = logging.getLogger(__name__)

QUIET = 0.1  # seconds without an event after which a change is told to the pages
CREATED_QUIET = 1.0  # after a create, as long for its start (`docker run`: create, network, start) before telling


class ContainerSnapshot:
    def __init__(self, engine, max_age, min_interval=0.0, on_change=None):
        self._engine = engine
        self._on_change = on_change or (lambda seat: None)  # told of each change the events show (a seat's: its name)
        self._max_age = max_age
        self._min_interval = min_interval
        self._lock = threading.Lock()
        self._containers = []
        self._version = None
        self._taken = 0.0
        self._stale = True  # re-read at the next view: the dashboard changed something itself
        self._changed = False  # re-read once min_interval has passed since the last read: the events said so
        self._watcher = None
        self._watch_lock = threading.Lock()
        self._stop = threading.Event()
        self._events = None  # the open event stream, closed by stop()
        self._images_version = 0
        self._stopping_lock = threading.Lock()
        self._stopping = set()  # full ids being stopped and removed right now
        self._tell_lock = threading.Lock()
        self._told_later = set()  # seats (None: the lesson) whose change is told once its events pause
        self._timer = None
        self._burst_began = self._due = None
        self._armed_for = 0.0
        self.reads = 0  # engine list calls made, for the tests and the benchmark

    def current(self):
        """(version, containers, ids being stopped): the version changes exactly when what the list shows changes."""
        return self._read()[:3]

    def listed(self):
        """(when the list was read from the engine (time.monotonic()), the containers): what a check judged from it
        knew of, so that an answer from an older list never replaces a newer one (checks.Board.put)."""
        _, containers, _, taken = self._read()
        return taken, containers

    def _read(self):
        self._watch()
        with self._lock:  # concurrent viewers wait for one engine call instead of making their own
            age = time.monotonic() - self._taken
            if self._stale or (self._changed and age >= self._min_interval) or age > self._max_age:
                self._stale = self._changed = False
                started = time.monotonic()
                try:
                    containers = self._engine.containers()
                except EngineError:
                    self._stale = True
                    raise
                self.reads += 1
                self._taken = started  # what it shows was there when the read began (see read_after)
                self._containers = containers
                self._version = hashlib.sha1(repr(containers).encode()).hexdigest()[:16]
            with self._stopping_lock:
                stopping = frozenset(self._stopping)
            version = self._version
            if stopping:
                version = hashlib.sha1(f"{version}{sorted(stopping)}".encode()).hexdigest()[:16]
            return version, self._containers, stopping, self._taken

    @contextlib.contextmanager
    def stopping_while(self, container_id):
        """Show a container as stopping on every page while the block runs (`docker stop` can take 10 s), and let
        one request at a time stop it: the engine can answer two concurrent removals of one container "removed"."""
        with self._stopping_lock:
            if container_id in self._stopping:
                raise ContainerNotFound(f"Container {container_id[:12]} is being stopped and removed by another "
                                        "request: for this one it is already gone.")
            self._stopping.add(container_id)
        try:
            yield
        finally:
            with self._stopping_lock:
                self._stopping.discard(container_id)
            self._stale = True

    def invalidate(self):
        """Mark the list stale: the next viewer re-reads it from the engine."""
        self._stale = True

    def read_after(self, moment, timeout=5.0):
        """(version, containers, stopping) as read from the engine after `moment` (time.monotonic()): a seat's press
        waits for the next shared read (at most one every `min_interval`, however many seats press) rather than
        making one of its own. After `timeout`, or while the engine does not answer, whatever it has."""
        deadline = time.monotonic() + timeout
        while True:
            if self._taken < moment:
                self._changed = True
            answer = self.current()
            if self._taken >= moment or time.monotonic() >= deadline:
                return answer
            time.sleep(0.1)

    @property
    def images_version(self):
        """Changes whenever the engine reports an image event (a build, a tag, a removal), from the CLI too."""
        self._watch()
        return self._images_version

    def _watch(self):
        """Follow the engine's events from a thread of its own, started once however many viewers ask at once."""
        with self._watch_lock:
            if self._stop.is_set() or (self._watcher is not None and self._watcher.is_alive()):
                return
            self._watcher = threading.Thread(target=self._follow_events, name="engine-events", daemon=True)
            self._watcher.start()
            _watching.add(self)

    def _follow_events(self):
        """Mark the list changed on every event of a lesson's container, and re-read it whenever the stream
        (re)opens or ends: whatever happened while it was closed, or before it first opened, was not seen."""
        while not self._stop.is_set():
            try:
                events = self._events = self._engine.events()
                if self._stop.is_set():  # stop() came while the stream opened, and may not have seen it
                    events.close()
                self._stale = True
                self._images_version += 1
                for event in events:
                    if event.kind == "image":
                        self._images_version += 1
                    elif event.of_lesson:
                        self._changed = True
                        self._tell(event.seat or None, event.action)
            except Exception as error:  # a stream cut mid-read has several faces; whatever it is, reconnect
                log.debug("engine events interrupted: %s", error)
            finally:
                self._events = None
            self._stale = True  # and once it ends: the engine may be gone, which the next viewer should see
            self._stop.wait(1)

    def _tell(self, seat, action=""):
        """Tell of a change once its burst of events pauses for QUIET seconds (CREATED_QUIET after a create, whose
        start usually follows: a `docker run`): one read then shows all of it. While events keep coming (a class of
        300 starting), told at most every `min_interval` (or CREATED_QUIET)."""
        now = time.monotonic()
        quiet = CREATED_QUIET if action == "create" else QUIET
        with self._tell_lock:
            self._told_later.add(seat)
            self._burst_began = self._burst_began or now
            self._due = min(now + quiet, self._burst_began + max(self._min_interval, CREATED_QUIET))
            if self._timer is None or self._due < self._armed_for:  # a start after its create: told sooner
                if self._timer is not None:
                    self._timer.cancel()
                self._arm(self._due - now)

    def _arm(self, seconds):
        self._armed_for = time.monotonic() + seconds
        self._timer = threading.Timer(max(0.0, seconds), self._tell_due)
        self._timer.daemon = True
        self._timer.start()

    def _tell_due(self):
        with self._tell_lock:
            if threading.current_thread() is not self._timer:  # re-armed sooner meanwhile: that timer tells
                return
            left = self._due - time.monotonic()
            if left > 0:
                self._arm(left)
                return
            seats, self._told_later = self._told_later, set()
            self._timer = self._burst_began = None
        self._stale = True  # the pages told next must see what the events said, however recent the last read
        for seat in seats:
            self._on_change(seat)

    @property
    def watching(self):
        """True while a thread follows the engine's events for this snapshot."""
        return self._watcher is not None and self._watcher.is_alive()

    @property
    def following(self):
        """True while the engine's event stream is open: from then on, every change reaches the versions."""
        return self._events is not None

    def stop(self):
        """Stop following the engine's events and close the stream: the app is going away."""
        self._stop.set()
        events = self._events
        if events is not None:
            events.close()
        if self._watcher is not None:
            self._watcher.join(timeout=5)


_watching = weakref.WeakSet()  # snapshots whose watcher was started in this process


def stop_watchers():
    """Stop every snapshot's watcher in this process: as a worker exits, and after each test."""
    for snapshot in list(_watching):
        snapshot.stop()
