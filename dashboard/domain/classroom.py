"""Classroom mode: a tutorial container per student, named after its seat, started together in the background.

A seat is named PREFIX + its host port (seat-8001 serves http://HOST:8001/), so a student finds theirs by the
port in their URL, a second start for latecomers never reuses a name, and the CLI loop names seats as it goes.
"""

import logging
import re
import time
from dataclasses import dataclass, field

from .errors import ClassStarting, PortInUse
from .jobs import LatestJob
from .ports import host_port_free

log = logging.getLogger(__name__)

# A container name's characters without `.`, so `--filter name=^PREFIX` (a regular expression) means "starts with".
SEAT_PREFIX = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")


@dataclass
class Seat:
    name: str
    port: int
    container_id: str | None = None
    error: str | None = None  # the engine's refusal, when this seat did not start


@dataclass
class ClassStart:
    """One start of a class: which seats are up, which failed, how long it took. Written by its thread only."""

    seats: list[Seat]
    command: str
    number: int  # the how-manieth start of this process: viewers compare versions to know theirs is current
    lesson: str = "cowserv"  # whose containers the seats are
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def running(self):
        return self.finished is None

    @property
    def done(self):
        return sum(1 for seat in self.seats if seat.container_id or seat.error)

    @property
    def failed(self):
        return [seat for seat in self.seats if seat.error]

    @property
    def seconds(self):
        return round((self.finished or time.monotonic()) - self.started, 1)

    @property
    def version(self):
        return f"{self.number}-{self.done}-{'running' if self.running else 'finished'}"


class Classroom(LatestJob):
    """Runs at most one class start at a time, and keeps it so that every open page can follow its progress."""

    def __init__(self, prefix, on_finish):
        if not SEAT_PREFIX.fullmatch(prefix):
            raise ValueError(f"SEAT_PREFIX {prefix!r}: letters, digits, '_' and '-', starting with a letter or digit.")
        super().__init__(on_finish)
        self.prefix = prefix

    def plan(self, first_port, count, names_taken, probe_ports=True):
        """The first `count` seats from first_port up whose name is unused and, with `probe_ports` (an engine on this
        machine), whose port is free here; a remote engine's ports are not this machine's, and it refuses a taken
        one itself (the seat is then listed as failed)."""
        seats = []
        for port in range(first_port, 65536):
            if len(seats) == count:
                break
            name = f"{self.prefix}{port}"
            if name not in names_taken and (not probe_ports or host_port_free(port)):
                seats.append(Seat(name, port))
        if len(seats) < count:
            raise PortInUse(f"Only {len(seats)} ports from {first_port} to 65535 are free: "
                            "start lower, or with fewer seats.")
        return seats

    def _refuse_while_starting(self):
        if self.running:
            raise ClassStarting(f"A class is starting ({self.current.done} of {len(self.current.seats)} seats so far): "
                                "wait until it has finished.")

    def start(self, engine, seat_run, seats, command, workers):
        """Start the seats in the background, `workers` engine calls at a time; refused while a start runs."""
        with self.lock:
            self._refuse_while_starting()
            job = ClassStart(seats=seats, command=command, number=self.next_number, lesson=seat_run.lesson)
            return self.launch(job, lambda job: _start_seats(job, engine, seat_run, workers))

    def remove_all(self, engine, workers, lesson):
        """Force-remove every seat: the lesson's containers named with the prefix. Refused while a start runs."""
        with self.lock:
            self._refuse_while_starting()
            return engine.remove_named(self.prefix, workers, lesson)


@dataclass(frozen=True)
class SeatRun:
    """What each seat runs: the lesson's port-publishing run, on the seat's host port."""

    lesson: str
    image: str
    container_port: int
    labels: tuple = ()  # --label classroom.lesson=ID, for an image that does not carry it


def _start_seats(job, engine, seat_run, workers):
    """Start the job's seats, `workers` at a time, noting each one's id or the engine's refusal."""
    by_name = {seat.name: seat for seat in job.seats}
    wanted = [(seat.name, seat.port) for seat in job.seats]
    try:
        for (name, _), container_id, error in engine.run_many(seat_run.image, wanted, workers,
                                                               seat_run.container_port, seat_run.labels):
            by_name[name].container_id, by_name[name].error = container_id, error
    except Exception as error:  # a start left running would refuse every later one
        log.exception("class start failed")
        for seat in job.seats:
            if not (seat.container_id or seat.error):
                seat.error = f"The start stopped unexpectedly: {error}"
    finally:
        job.finished = time.monotonic()
