"""The room's life and the instructor's actions on every seat: opening a room (its seats planned on free ports),
ending it (its clock, one clearing at a time), closing it; running a step on every seat, and removing every seat's
things. A seat's press and the instructor's run on every seat go through one call, run_on_seat."""

import contextlib
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from . import actions, checks, commands, seats
from .checks import FAILED, STARTING, Ran, scope_of
from .errors import ClassOver, EngineError, EverySeatRunning, ImageNotFound, PortInUse, SeatBusy, WorkshopUnwritable
from .labels import SEAT_LABEL
from .ports import host_port_free

log = logging.getLogger(__name__)

# A container name's characters without `.`, so `--filter name=^PREFIX` (a regular expression) means "starts with".
SEAT_PREFIX = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
RETRY_SECONDS = 30  # an end the engine could not do (it was away) is tried again this much later
SETTLE_SECONDS = 5  # a check right after its step may find a server still starting: asked again for this long
SETTLING = {"answers", "printed", "exec"}


def plan_seats(prefix, first_port, count, names_taken, probe_ports=True):
    """(name, port) of the first `count` seats from first_port up whose name is unused and, with `probe_ports` (an
    engine on this machine), whose port is free here; a remote engine's ports are not this machine's."""
    planned = []
    for port in range(first_port, 65536):
        if len(planned) == count:
            break
        name = f"{prefix}{port}"
        if name not in names_taken and (not probe_ports or host_port_free(port)):
            planned.append((name, port))
    if len(planned) < count:
        raise PortInUse(f"Only {len(planned)} ports from {first_port} to 65535 are free: start lower, or with fewer "
                        "seats.")
    return planned


class RoomClock:
    """Ends the room at its end time, in the background: `on_end` removes what the seats made. One timer at a
    time; a new room's end replaces the old one's."""

    def __init__(self, on_end):
        self._on_end = on_end
        self._timer = None
        self._lock = threading.Lock()

    def schedule(self, ends_at):
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(max(0.0, ends_at - time.time()), self._fire)
            self._timer.daemon = True
            self._timer.start()

    def cancel(self):
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _fire(self):
        try:
            self._on_end()
        except Exception:  # the engine away at the end: the next request's check ends it (see RoomLife.end_if_due)
            log.exception("ending the room failed")


@dataclass
class SeatRun:
    """One seat's part in a run on every seat: running, done, failed (the engine's refusal, a step that failed),
    or skipped (the seat was busy with its student's own press, or the class ended before its turn)."""

    seat: str
    port: int
    state: str = "waiting"
    note: str = ""


@dataclass
class EverySeat:
    """A run of one step on every seat of the room, in the background: how each seat is doing."""

    step: object  # lessons.Step
    lesson: str
    command: str  # the loop that does the same from a shell
    number: int
    runs: dict  # seat name -> SeatRun, in port order
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def running(self):
        return self.finished is None

    def count(self, state):
        return sum(1 for run in self.runs.values() if run.state == state)

    @property
    def version(self):
        states = "".join(run.state[0] for run in self.runs.values())
        return f"{self.number}-{states}-{'running' if self.running else 'finished'}"


class RoomLife:
    """The room of `roster` from its opening to its clearing, on the app's `engine`: the clock that ends it, the
    one clearing at a time, and the instructor's runs on every seat (one at a time, `workers` seats at once). A
    seat's press runs here too (run_on_seat), so both keep to one press per seat (`presses`). `on_change()` is told
    when the room changes with no request behind it: its clock ended the class, a run on every seat moved on."""

    def __init__(self, engine, roster, board, snapshot, workshop, presses, prefix, workers, on_change=lambda: None):
        if not SEAT_PREFIX.fullmatch(prefix):
            raise ValueError(f"SEAT_PREFIX {prefix!r}: letters, digits, '_' and '-', starting with a letter or digit.")
        self.engine, self.roster, self.board, self.snapshot = engine, roster, board, snapshot
        self.workshop, self.presses, self.prefix, self.workers = workshop, presses, prefix, workers
        self.on_change = on_change
        self._clearing = threading.Lock()
        self._every_seat_lock = threading.Lock()
        self.every_seat = None  # the latest EverySeat
        self.retry_at = 0.0  # time.monotonic() before which a due end is not tried again (the engine was away)
        self.clock = RoomClock(self._end_when_due)
        room = roster.room
        if room is not None and not room.cleared:
            self.clock.schedule(room.ends_at)

    @property
    def version(self):
        """Changes with the room, and as a run on every seat moves on: the grid's part of what pages compare."""
        return f"{self.roster.version}-{self.every_seat.version if self.every_seat else 'none'}"

    def open(self, first_port, cards, join_seats, minutes, limits, names_taken, probe_ports, lessons):
        """Open a room of `cards` + `join_seats` seats from `first_port`: a room open before is ended first, and
        whatever any seat ever made is swept, so nothing of a previous class is left; each seat gets the files of
        `lessons`. The engine away: refused before anything changes."""
        with self._every_seat_lock:
            self._refuse_while_running()  # before anything changes: the class goes on as it was
            previous = self.roster.room
            self.end()
            self._sweep()
        for name in previous.seats if previous else ():
            self.board.forget_seat(name)  # the old room's grid, kept to look at until now
        planned = plan_seats(self.prefix, first_port, cards + join_seats, names_taken, probe_ports)
        room = self.roster.open(planned, minutes, limits, cards, join_seats)
        for seat in room.seats.values():
            self.workshop.provide_seat(seat.name, lessons, replace=True)  # not a previous class's edits
        self.clock.schedule(room.ends_at)
        return room

    def end(self):
        """End the open room now: its links stop at once (the grid keeps the seats' last progress to look at), then
        every seat's containers, volumes and images are removed; one clearing at a time, however many requests and
        timers ask. How many things were removed (0 when another is clearing)."""
        roster = self.roster
        if roster.room is None:
            return 0
        roster.end()
        if not self._clearing.acquire(blocking=False):
            return 0
        try:
            room = roster.room
            if room is None or room.cleared:
                return 0
            removed = seats.clear_seats(self.engine, list(room.seats), self.workers)
            roster.cleared()
        finally:
            self._clearing.release()
            self.snapshot.invalidate()
        return removed

    def sweep(self):
        """Remove everything any seat made, of this room or any earlier one (closed anyway, or a dashboard that
        stopped with its room open), as remove_every_seat_command shows; how many of each (containers, volumes,
        images). Refused while a run on every seat is under way."""
        with self._every_seat_lock:
            self._refuse_while_running()
            return self._sweep()

    def _sweep(self):
        room = self.roster.room
        try:  # the room's seats `workers` at a time (as `docker rm -f` removes its ids at once), then any others
            counts = [seats.clear_seats_counts(self.engine, list(room.seats) if room else [], self.workers),
                      self.engine.remove_seats()]
            return tuple(map(sum, zip(*counts)))
        finally:
            self.snapshot.invalidate()

    def close(self, anyway):
        """Put away a room whose class ended; what its seats made must be removed first (tried again now), unless
        `anyway` (the engine may be gone for good; the next room's opening removes it)."""
        room = self.roster.require()
        if not room.ended:
            raise seats.ClassStillOn("The class is still on: end it first (End the class now).")
        if not room.cleared and not anyway:
            try:
                self.end()
            except EngineError as error:
                raise seats.things_left(room, error) from error
            if not room.cleared:  # another request is removing them right now
                raise seats.things_left(room, "they are being removed right now")
        for name in room.seats:
            self.board.forget_seat(name)
        self.roster.close()
        self.clock.cancel()

    def reset_seat(self, seat, lessons):
        """Remove everything the seat made and bring back its lesson files, for a fresh start; how many things."""
        removed = seats.clear_seats(self.engine, [seat.name], 1)
        self.workshop.provide_seat(seat.name, lessons, replace=True)
        self.board.forget_seat(seat.name)
        self.snapshot.invalidate()
        return removed

    def end_if_due(self):
        """End the room when its time is up (a timer lost with a restart); the engine away, tried again after
        RETRY_SECONDS."""
        room = self.roster.room
        if room is None or not room.to_clear or time.monotonic() < self.retry_at:
            return
        try:
            self.end()
        except EngineError:  # the pages go on, and the end is tried again in a while
            self.retry_at = time.monotonic() + RETRY_SECONDS

    def _end_when_due(self):
        room = self.roster.room
        if room is None or not room.to_clear:
            return
        try:
            self.end()
        except EngineError:
            self.clock.schedule(time.time() + RETRY_SECONDS)
        finally:
            self.on_change()  # the seats' streams close, the grid says the class ended

    def _refuse_while_running(self):
        job = self.every_seat
        if job is not None and job.running:
            finished = len(job.runs) - job.count("waiting") - job.count("running")
            raise EverySeatRunning(f"{job.step.title!r} is running on every seat ({finished} of {len(job.runs)} done so "
                                "far): wait until it has finished.")

    def run_on_every_seat(self, lesson, step, places, host, command):
        """Run the step on every seat of the open room in the background, `workers` seats at a time, each through
        run_on_seat (`places`: each seat's actions.Place); a seat busy with its student's own press is skipped.
        Refused while another run on every seat, or a sweep, is under way."""
        room = self.roster.require()
        if room.over:
            raise ClassOver("The class is over: open a new room first.")
        seat_list = list(room.seats.values())
        if seat_list:
            require_built(self.engine, lesson, step, seat_list[0], places[seat_list[0].name])
        with self._every_seat_lock:
            self._refuse_while_running()
            number = self.every_seat.number + 1 if self.every_seat else 1
            job = self.every_seat = EverySeat(step, lesson.id, command, number,
                                              {seat.name: SeatRun(seat.name, seat.port) for seat in seat_list})

        def one(seat, checking):
            run = job.runs[seat.name]
            stint = places[seat.name].stint
            if not self.roster.class_on(stint.room if stint else room.id):  # ended, or the next room opened
                run.state, run.note = "skipped", "skipped: the class ended"
                self.on_change()
                return
            run.state = "running"
            self.on_change()
            try:
                own = seats.for_seat(lesson, seat)  # the lesson as this seat does it: its names, port, tags
                own_step = own.step(step.id)
                done = run_on_seat(self.engine, self, seat, own, own_step, places[seat.name], host, check=False,
                                   every_seat=True)
                run.state, run.note = ("done", "") if done.ok else ("failed", "It ran, and failed.")
            except SeatBusy as busy:
                run.state, run.note = "skipped", str(busy)
                return
            except Exception as error:  # the engine's refusal, a build turn not had, …: this seat's, not the others'
                run.state, run.note = "failed", str(error)
                return
            finally:
                self.on_change()
            if own_step.check is not None:  # waits for the shared list's next read: not in a slot of the engine's
                checking.submit(check_step, self.engine, self.board, self.snapshot, own, own_step, places[seat.name],
                                host).add_done_callback(lambda checked: _log_failed_check(checked, seat.name))

        def work():
            try:
                with ThreadPoolExecutor(max_workers=max(1, self.workers)) as checking, \
                        ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
                    list(pool.map(lambda seat: one(seat, checking), seat_list))
            finally:
                job.finished = time.monotonic()
                self.snapshot.invalidate()
                self.on_change()

        threading.Thread(target=work, daemon=True, name="every-seat").start()
        return job


def _log_failed_check(checked, seat):
    if checked.exception() is not None:
        log.error("the check after a run on every seat failed on %s", seat, exc_info=checked.exception())


def default_every_seat_step(lesson):
    """The step the every-seat picker offers first: the lesson's port run (a cow on every seat) where it runs an
    image the seats need not build themselves, else the lesson's first step."""
    port_run = lesson.port_run
    if port_run is not None and port_run.action.image not in lesson.builds:
        return port_run
    return lesson.steps[0]


def require_built(engine, lesson, step, seat, place):
    """Refuse a run of an image the seats build themselves (each its own tag, seats.for_seat) that `seat` (the
    first) has not built: the step would fail on every seat."""
    action = step.action
    image = action.definition.pulled_image(action)  # what a run runs
    if image is None or image not in lesson.builds:
        return
    tag = place.image(seats.for_seat(lesson, seat).step(step.id).action.image)
    try:
        engine.require_image(tag)
    except ImageNotFound:
        build = next(s for s in lesson.steps if s.action.definition.builds_image and s.action.tag == image)
        raise ImageNotFound(f"There is no image {tag} on {seat.name} yet: Build {build.title!r} on every seat "
                            "first (Run this step on every seat).") from None


def run_on_seat(engine, room, seat, lesson, step, place, host, check=True, every_seat=False):
    """Do the step on the seat's own things (`lesson` as the seat does it, seats.for_seat; `place` its
    actions.Place) as the command beside it does, put its run and check on the board: a seat's press and the
    instructor's run on every seat both come here. One press of a seat at a time (SeatBusy); it acts in the room
    it began in only (seats.Stint): a class that ended meanwhile has what the step made removed too. Without
    `check`, the caller asks the step's check (check_step) when it sees fit; `every_seat`: the instructor's run."""
    with room.presses.pressing(seat.name, step.title, every_seat):
        room.workshop.provide_seat(seat.name, [lesson])  # its files, should the folder have gone since the room opened
        done = press_step(engine, room.board, room.snapshot, lesson, step, place, host, check=check)
        if place.stint is not None and not room.roster.class_on(place.stint.room):
            seats.clear_seats(engine, [seat.name], 1)  # it ended (or the next room opened) as the step ran
    return done


def press_step(engine, board, snapshot, lesson, step, place, host, host_port=None, record=None, check=True):
    """Do the step's action as its command does, put its run and its settled check on the board (the lesson's, or
    the seat's for a seat's place). `record(command)`: a context manager around the action, given a dict to note
    what it did in (the instructor's transcript). A seat's `docker ps` reads the shared list as next read."""
    command = actions.command(lesson, step.action, place, host_port)
    scope = scope_of(lesson.id, place.seat)
    pressed = time.monotonic()
    listed = (lambda: snapshot.read_after(pressed)[1]) if place.seat else None  # one read a period for the room
    try:
        with (record or (lambda _: contextlib.nullcontext({})))(command) as noted:
            done = actions.perform(engine, lesson, step.action, place, host_port, listed)
            noted.update(output=done.output, container_id=done.container_id, ok=done.ok)
    except (EngineError, WorkshopUnwritable) as error:
        board.ran(scope, step.id, Ran(command, f"Error: {error}", False))
        raise
    ports = step.action.definition.published(step.action, host_port)
    board.ran(scope, step.id, Ran(command, done.output, done.ok, done.container_id,
                                  ports[0][0] if len(ports) == 1 else None))
    if not place.seat:
        snapshot.invalidate()  # the instructor's press: every page's list, and the check, read afresh
    if check and step.check is not None:
        check_step(engine, board, snapshot, lesson, step, place, host)
    return done


def check_step(engine, board, snapshot, lesson, step, place, host):
    """Put the step's settled check on the board (the seat's, for a seat's place), against the shared list as
    next read."""
    board.put(scope_of(lesson.id, place.seat), step.id, settled_check(
        lambda: checks.evaluate(engine, lesson, step.check, place, host, listed_now(snapshot)), step))


def listed_now(snapshot):
    """The shared container list as next read from the engine (None while it is away: the check says why)."""
    try:
        return snapshot.read_after(time.monotonic())[1]
    except EngineError:
        return None


def settled_check(evaluate, step, settle=True):
    """The step's check, `evaluate()` now; with `settle`, asked again for a few seconds while it fails, as a server
    just started may not answer yet."""
    deadline = time.monotonic() + (SETTLE_SECONDS if settle and step.check.kind in SETTLING else 0)
    while True:
        result = evaluate()
        if result.state not in (FAILED, STARTING) or time.monotonic() >= deadline:
            return result
        time.sleep(0.5)


def every_seat_command(lesson, step, room, prefix, place_of):
    """The bash loop that runs the step on every seat of the room, one at a time: each seat's own command (its name
    and port as ${seat} and ${port}), true when pasted here. `place_of(seat)`: the seat's actions.Place. Where the
    seats' commands differ in more than name and port, each seat's command, one a line."""
    seat_list = list(room.seats.values())
    shown = {}
    for seat in seat_list:
        own = seats.for_seat(lesson, seat)
        shown[seat.name] = actions.command(own, own.step(step.id).action, place_of(seat))
    body = _with_variables(shown[seat_list[0].name], seat_list[0])
    if body is not None and all(seat.name == f"{prefix}{seat.port}" and _expanded(body, seat) == shown[seat.name]
                                for seat in seat_list):
        return f"for port in {commands.port_words(seat.port for seat in seat_list)}; do\nseat={prefix}$port\n{body}\ndone"
    return "\n".join(shown[seat.name] for seat in seat_list)


def _with_variables(command, seat):
    """The command with the seat's name as ${seat} and its port as ${port}; None where one of them would not be
    expanded by bash (inside single quotes, or in a here-document's text)."""
    head, newline, text = command.partition("\n")
    if seat.name in text or str(seat.port) in text:
        return None
    marked = head.replace(seat.name, "\0s")
    marked = re.sub(rf"(?<![0-9]){seat.port}(?![0-9])", "\0p", marked)
    quote = None
    for char in marked:
        if quote is None and char in "'\"":
            quote = char
        elif char == quote:
            quote = None
        elif char == "\0" and quote == "'":
            return None
    return marked.replace("\0s", "${seat}").replace("\0p", "${port}") + newline + text


def _expanded(body, seat):
    return body.replace("${seat}", seat.name).replace("${port}", str(seat.port))


def remove_every_seat_command():
    """What sweep does, from a shell: every seat's containers, volumes and images (all carry the seat label)."""
    return commands.remove_labelled_command(SEAT_LABEL)
