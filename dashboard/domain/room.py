"""The room's life and the instructor's actions on every seat: opening a room (each seat a Docker engine of its own,
on a block of free host ports), ending it (its clock, one clearing at a time), closing it; running a step on every
seat, and removing every seat's things. A seat's press and the instructor's run on every seat go through one call,
run_on_seat, on the seat's own engine, with the lesson as written."""

import contextlib
import logging
import os
import re
import shlex
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from ..seat_host import layout, shell
from . import actions, checks, seats, step_runs
from .checks import FAILED, STARTING, Ran, scope_of
from .errors import (ClassOver, EngineError, EngineUnavailable, EverySeatRunning, ImageNotFound, PortInUse, SeatBusy,
                     SeatFolderBlocked, WorkshopUnwritable)
from .labels import LESSON_LABEL
from .ports import host_port_free

log = logging.getLogger(__name__)

# A container name's characters without `.`, so `--filter name=^PREFIX` (a regular expression) means "starts with".
SEAT_PREFIX = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
RETRY_SECONDS = 30  # an end the engine could not do (it was away) is tried again this much later
SETTLE_SECONDS = 5  # a check right after its step may find a server still starting: asked again for this long
SETTLING = {"answers", "printed", "exec", "processes", "counter", "spread"}


IDLE_SEAT_MEMORY = 128 * 1024 * 1024  # what an idle seat's engine and its containerd cost (docs/benchmarks)
SEATS_PER_CORE = 15  # seats a core keeps up with while they build and type at once (docs/benchmarks)


def plan_seats(prefix, first_port, count, probe_ports=True, block=layout.PORT_BLOCK):
    """(name, first port) of `count` seats, each a block of `block` host ports from first_port up (seat i's from
    first_port + i*block), named PREFIX + its first port; with `probe_ports`, every port of each block must be free
    here. PortInUse names the port that is not."""
    last = first_port + count * block - 1
    if last > 65535:
        raise PortInUse(f"{count} seats need {count * block} host ports ({block} each) from {first_port}: past "
                        "65535. Start lower, or with fewer seats.")
    planned = []
    for number in range(count):
        port = first_port + number * block
        for taken in range(port, port + block):
            if probe_ports and not host_port_free(taken):
                raise PortInUse(f"Host port {taken} (of {prefix}{port}'s ports {port}-{port + block - 1}) is already "
                                "in use: start from another port. Nothing was opened.")
        planned.append((f"{prefix}{port}", port))
    return planned


def host_memory():
    """This machine's memory in bytes (MemTotal), or None where /proc/meminfo does not say."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def too_many_seats(count, max_seats, memory=None, cores=None):
    """Why this host cannot hold `count` seats (None when it can): more than MAX_SEATS (the setting), than the seats'
    network has addresses for, than its memory holds at IDLE_SEAT_MEMORY an idle seat, or than its cores keep up
    with at SEATS_PER_CORE (the benchmark's figures)."""
    memory = host_memory() if memory is None else memory
    cores = (os.cpu_count() or 1) if cores is None else cores
    if count > max_seats:
        return f"{count} seats: this dashboard holds at most {max_seats} (DASHBOARD_MAX_SEATS)."
    if count > layout.MAX_SEATS:
        return f"{count} seats: the seats' network has addresses for {layout.MAX_SEATS}."
    if memory and count * IDLE_SEAT_MEMORY > memory:
        return (f"{count} seats: each seat's engine costs about {IDLE_SEAT_MEMORY // 2**20} MB idle, and this host "
                f"has {memory // 2**20} MB, enough for {memory // IDLE_SEAT_MEMORY} seats.")
    if count > cores * SEATS_PER_CORE:
        return (f"{count} seats: a core keeps up with about {SEATS_PER_CORE} seats building and typing at once, and "
                f"this host has {cores}, enough for {cores * SEATS_PER_CORE} seats (docs/benchmarks.md).")
    return None


@dataclass(frozen=True)
class SeatSettings:
    """What every seat's engine is given besides the room form's limits: the address its host ports listen on (the
    room's: DASHBOARD_BIND's host), its disk budget (bytes), the ports the lessons publish (mapped to its host
    ports), the most seats this dashboard holds, and the folder the seats live in (DASHBOARD_SEATS_DIR)."""

    bind_host: str
    disk: int
    lesson_ports: tuple
    max_seats: int
    base: str


def seat_states(room, limits, settings):
    """Each seat of the room as its engine is opened (layout.SeatState), in port order."""
    first_port = min((seat.port for seat in room.seats.values()), default=0)
    states = []
    for index, seat in enumerate(room.seats.values()):
        place = layout.SeatPlace(settings.base, seat.name, index, first_port)
        states.append(layout.SeatState(
            name=seat.name, index=index, first_port=first_port, room=room.id,
            ports=tuple(place.host_ports(settings.lesson_ports)), bind_host=settings.bind_host,
            memory=limits.memory_bytes, cpus=limits.cpus, pids=limits.pids, disk=settings.disk))
    return states


@dataclass
class Opening:
    """The seats' engines starting, in the background after the room form: how many answer so far, or why the
    room could not open (then nothing of it is left)."""

    room: str
    of: int
    ready: set = field(default_factory=set)
    doing: str = ""  # the latest thing a seat did ("seat-8006: loading python:3.12-slim")
    error: str = ""
    finished: bool = False

    @property
    def version(self):
        return f"{self.room}-{len(self.ready)}-{self.finished}-{bool(self.error)}"


def _seat_host_failure(what, error):
    """A seat host's failure as the domain's: the engines could not be given (or taken back) now."""
    return EngineUnavailable(f"{what}: {error}")


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

    def __init__(self, engine, roster, board, snapshot, workshop, presses, prefix, workers, on_change=lambda: None,
                 seat_host=None, seat_engines=None, settings=None):
        if not SEAT_PREFIX.fullmatch(prefix):
            raise ValueError(f"SEAT_PREFIX {prefix!r}: letters, digits, '_' and '-', starting with a letter or digit.")
        self.engine, self.roster, self.board, self.snapshot = engine, roster, board, snapshot
        self.workshop, self.presses, self.prefix, self.workers = workshop, presses, prefix, workers
        self.on_change = on_change
        self.seat_host, self.seat_engines, self.settings = seat_host, seat_engines, settings
        self._clearing = threading.Lock()
        self._every_seat_lock = threading.Lock()
        self._engines_lock = threading.Lock()  # the seats' engines opening or closing: one at a time
        self.every_seat = None  # the latest EverySeat
        self.opening = None  # the latest Opening
        self.images = set()  # the stand-ins the open room's seat engines hold
        self.retry_at = 0.0  # time.monotonic() before which a due end is not tried again (the engine was away)
        self.clock = RoomClock(self._end_when_due)
        room = roster.room
        if room is not None and not room.cleared:
            self.clock.schedule(room.ends_at)

    def start(self):
        """At the dashboard's start (even after a kill -9): the open room's seats get their engines back, as they
        were (SeatHost.reattach), and every seat of no open room is swept away."""
        room = self.roster.room
        keep = room.id if room is not None and not room.over else None
        base = Path(self.settings.base)
        if not base.is_dir() or not any(layout.SEAT_NAME.fullmatch(entry.name) for entry in base.iterdir()):
            return  # no seat here: nothing to re-attach or sweep
        why = self.seat_host.unavailable()
        if why:
            log.warning("the seats' engines cannot be re-attached or swept here: %s", why)
            return
        try:
            self.seat_host.sweep(keep)
            if keep is not None:
                self.seat_host.reattach(seat_states(room, room.limits, self.settings))
                self.images = set(self.seat_host.images_for([]))  # at least the base stand-in, loaded at its open
                self.opening = Opening(room.id, len(room.seats), set(room.seats), finished=True)
        except Exception:  # the pages still come up; a seat whose engine is away answers 503 saying so
            log.exception("re-attaching the room's seats failed")

    def seat_engine(self, name):
        """The seat's own engine (engine.Engine on its socket)."""
        return self.seat_engines.engine(name)

    def seat_snapshot(self, name):
        """The seat engine's container list, shared by its pages, its checks and the grid."""
        return self.seat_engines.snapshot(name)

    @property
    def version(self):
        """Changes with the room, and as a run on every seat moves on: the grid's part of what pages compare."""
        return f"{self.roster.version}-{self.every_seat.version if self.every_seat else 'none'}"

    def unavailable(self):
        """Why seats cannot be given engines of their own here (None when they can): the room page says so."""
        return self.seat_host.unavailable()

    def open(self, first_port, cards, join_seats, minutes, limits, probe_ports, lessons, current=None, wait=False):
        """Open a room of `cards` + `join_seats` seats from `first_port`, each a Docker engine of its own started in
        the background (self.opening tells how far; `wait`: until they all answer): a room open before is ended
        first, and every seat of no room is swept; each seat's folder gets the files of `lessons`, its engine the
        images the `current` lessons need (all of `lessons` by default; see provide_images). Refused, before
        anything changes, where this host cannot give seats engines, or holds fewer seats."""
        count = cards + join_seats
        why = self.seat_host.unavailable()
        if why:
            raise seats.SeatsUnavailable(f"{why} Seats need the host deployment: nothing was opened.")
        too_many = too_many_seats(count, self.settings.max_seats)
        if too_many:
            raise seats.TooManySeats(f"{too_many} Nothing was opened.")
        planned = plan_seats(self.prefix, first_port, count, probe_ports)
        with self._every_seat_lock:
            self._refuse_while_running()  # before anything changes: the class goes on as it was
            previous = self.roster.room
            self.end()
            with self._engines_lock:
                try:
                    self.seat_host.sweep(None)  # any seat left by a room closed anyway, or an earlier run
                except Exception as error:
                    raise _seat_host_failure("The previous seats' engines could not be removed", error) from error
        for name in previous.seats if previous else ():
            self.board.forget_seat(name)  # the old room's grid, kept to look at until now
        room = self.roster.open(planned, minutes, limits, cards, join_seats)
        self.clock.schedule(room.ends_at)
        opening = self.opening = Opening(room.id, count)
        states = seat_states(room, limits, self.settings)
        images = self.seat_host.images_for(current or lessons)
        thread = threading.Thread(target=self._open_engines, args=(room, states, lessons, images, opening),
                                  daemon=True, name="seat-engines")
        thread.start()
        if wait:
            thread.join()
        return room

    def _open_engines(self, room, states, lessons, images, opening):
        """Each seat's folder and engine, in parallel; any failure closes them all and the room with them (no
        half-working seats), saying why on the room page."""
        def progress(name, what):
            opening.doing = f"{name}: {what}"
            if what == "ready":
                opening.ready.add(name)
            self.on_change()

        try:
            with self._engines_lock:
                for state in states:
                    self.provide_files(state, lessons, replace=True)  # not a previous class's edits
                self.seat_host.open(states, progress, images=images)
                self.images = set(images)
        except Exception as error:  # whatever failed, no seat is left half-working
            log.exception("opening the seats' engines failed")
            opening.error = (f"The seats' engines could not be started ({str(error)[:300]}): the room was closed, "
                             "and nothing of it is left. Open it again, or with fewer seats.")
            with contextlib.suppress(Exception):
                self.seat_host.close([state.name for state in states])
            if self.roster.room is not None and self.roster.room.id == room.id:
                self.roster.close()
                self.clock.cancel()
        finally:
            opening.finished = True
            self.on_change()

    def provide_images(self, lesson):
        """Load the stand-ins `lesson` needs (postgres:16 for the state lesson) into every seat engine of the open
        room that lacks them, in the background: the class moved on to it. The thread, or None."""
        room = self.roster.room
        opening = self.opening
        if room is None or room.over or opening is None or opening.room != room.id or not opening.finished:
            return None
        wanted = [image for image in self.seat_host.images_for([lesson]) if image not in self.images]
        if not wanted:
            return None

        def load():
            try:
                with self._engines_lock:
                    if self.roster.class_on(room.id):
                        self.seat_host.open(self.states(room), images=wanted)
                        self.images |= set(wanted)
            except Exception:
                log.exception("loading %s into the seats' engines failed", ", ".join(wanted))

        thread = threading.Thread(target=load, daemon=True, name="seat-images")
        thread.start()
        return thread

    def provide_files(self, state, lessons, replace=False):
        """Write the lessons' files into the seat's folder (its ~/docker-workshop), owned by the seat's user."""
        place = state.place(self.settings.base)
        place.files.mkdir(parents=True, exist_ok=True)
        for lesson in lessons:
            self.workshop.provide_into(place.files / lesson.folder, [lesson], replace=replace)
        for folder, dirs, names in os.walk(place.files):
            for name in [folder, *(os.path.join(folder, entry) for entry in dirs + names)]:
                with contextlib.suppress(OSError):
                    os.lchown(name, place.uid, place.gid)

    def provide_lesson(self, name, lesson):
        """The lesson's missing files into the seat's folder, written as the seat's student in its view (never as
        root through a link the student made there)."""
        files = {f"{lesson.folder}/{file}": (lesson.source / file).read_text() for file in lesson.files}
        try:
            self.seat_host.student_files(name).write(files)
        except Exception as error:
            raise SeatFolderBlocked(f"The lesson's files cannot be written into your folder ~/docker-workshop/"
                                     f"{lesson.folder} ({str(error)[:200]}): a symbolic link there is not followed; "
                                     "remove it, or ask the instructor to reset your seat.") from error

    def seat_place(self, name):
        """The seat's layout.SeatPlace (its folder, socket, address and ports), from its state in the open room."""
        room = self.roster.require()
        return self.state_of(room, name).place(self.settings.base)

    def states(self, room):
        """Each seat of `room` as its engine has it (layout.SeatState), in port order."""
        return seat_states(room, room.limits, self.settings)

    def state_of(self, room, name):
        states = {state.name: state for state in self.states(room)}
        if name not in states:
            raise seats.RoomError(f"There is no seat {name[:40]!r} in this room.")
        return states[name]

    def end(self):
        """End the open room now: its links stop at once (the grid keeps the seats' last progress to look at), then
        every seat's engine is stopped and removed with everything it made; one clearing at a time, however many
        requests and timers ask. How many seats' engines were removed (0 when another is clearing)."""
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
            names = list(room.seats)
            self.seat_engines.forget(names)
            with self._engines_lock:  # an opening under way finishes first
                try:
                    self.seat_host.close(names)
                except Exception as error:
                    raise _seat_host_failure("The seats' engines could not all be stopped and removed", error) \
                        from error
            roster.cleared()
        finally:
            self._clearing.release()
        return len(names)

    def sweep(self):
        """Remove everything every open seat made (its containers, volumes and the images it built; the stand-ins
        stay), as remove_every_seat_command shows, and every seat engine of no open room; how many of each
        (containers, volumes, images). Refused while a run on every seat is under way."""
        with self._every_seat_lock:
            self._refuse_while_running()
            return self._sweep()

    def _sweep(self):
        room = self.roster.room
        live = list(room.seats) if room is not None and not room.cleared else []
        with self._engines_lock:
            try:
                self.seat_host.sweep(room.id if live else None)
            except Exception as error:
                raise _seat_host_failure("The seats' engines could not be swept", error) from error
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            counts = list(pool.map(lambda name: self.seat_engine(name).remove_everything(), live))
        for name in live:
            self.seat_snapshot(name).invalidate()
        return tuple(map(sum, zip((0, 0, 0), *counts)))

    def close(self, anyway):
        """Put away a room whose class ended; its seats' engines must be removed first (tried again now), unless
        `anyway` (the next room's opening, or the dashboard's next start, removes them)."""
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
        """A fresh start for the seat: its engine removed with everything it made and started again, its lesson
        files as shipped; how many of its containers, volumes and images went."""
        room = self.roster.require()
        state = self.state_of(room, seat.name)
        try:
            removed = sum(self.seat_engine(seat.name).remove_everything())
        except EngineError:
            removed = 0  # its engine is away: starting it again below is the reset
        self.seat_engines.forget([seat.name])
        with self._engines_lock:
            try:
                self.seat_host.close([seat.name])
                self.provide_files(state, lessons, replace=True)
                self.seat_host.open([state], images=sorted(self.images))
            except Exception as error:
                raise _seat_host_failure(f"{seat.name}'s engine could not be started again", error) from error
        self.board.forget_seat(seat.name)
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
            require_built(self.seat_engine(seat_list[0].name), lesson, step, seat_list[0], places[seat_list[0].name])
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
                done = run_on_seat(self.seat_engine(seat.name), self, seat, lesson, step, places[seat.name], host,
                                   check=False, every_seat=True)
                run.state, run.note = ("done", "") if done.ok else ("failed", "It ran, and failed.")
            except SeatBusy as busy:
                run.state, run.note = "skipped", str(busy)
                return
            except Exception as error:  # the engine's refusal, a build turn not had, …: this seat's, not the others'
                run.state, run.note = "failed", str(error)
                return
            finally:
                self.on_change()
            if step.check is not None:  # waits for the seat list's next read: not in a slot of the engine's
                checking.submit(check_step, self.seat_engine(seat.name), self.board, self.seat_snapshot(seat.name),
                                lesson, step, places[seat.name], host).add_done_callback(
                    lambda checked: _log_failed_check(checked, seat.name))

        def work():
            try:
                with ThreadPoolExecutor(max_workers=max(1, self.workers)) as checking, \
                        ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
                    list(pool.map(lambda seat: one(seat, checking), seat_list))
            finally:
                job.finished = time.monotonic()
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
    """Refuse a run of an image the seats build themselves, each on its own engine, that `seat` (the first; `engine`
    its own) has not built: the step would fail on every seat."""
    action = step.action
    image = action.definition.pulled_image(action)  # what a run runs
    if image is None or image not in lesson.builds:
        return
    tag = place.image(image)
    try:
        engine.require_image(tag)
    except ImageNotFound:
        build = next(s for s in lesson.steps if s.action.definition.builds_image and s.action.tag == image)
        raise ImageNotFound(f"There is no image {tag} on {seat.name} yet: Build {build.title!r} on every seat "
                            "first (Run this step on every seat).") from None


def run_on_seat(engine, room, seat, lesson, step, place, host, check=True, every_seat=False):
    """Do the step, as the lesson writes it, on the seat's own engine (`engine`; `place` its actions.Place) as the
    command beside it does, and put its run and check on the board: a seat's press and the instructor's run on
    every seat both come here. One press of a seat at a time (SeatBusy); it begins in its room only (seats.Stint):
    a class that ended meanwhile removes the seat's engine with what the step made. Without `check`, the caller
    asks the step's check (check_step) when it sees fit; `every_seat`: the instructor's run."""
    with room.presses.pressing(seat.name, step.title, every_seat):
        if place.stint is not None and room.roster.lost(place.stint):
            raise ClassOver(f"{room.roster.lost(place.stint)}: nothing was done.")
        room.provide_lesson(seat.name, lesson)  # its files, should any have gone since the room opened
        return press_step(engine, room.board, room.seat_snapshot(seat.name), lesson, step, place, host, check=check)


def press_step(engine, board, snapshot, lesson, step, place, host, host_port=None, record=None, check=True,
               ended=lambda: None):
    """Do the step's action as its command does, put its run and its settled check on the board (the lesson's, or
    the seat's for a seat's place). `record(command)`: a context manager around the action, given a dict to note
    what it did in (the instructor's transcript); `ended()`: called as its run goes on the board, ended (before its
    check). A seat's `docker ps` reads the shared list as next read."""
    command = actions.command(lesson, step.action, place, host_port)
    scope = scope_of(lesson.id, place.seat)
    pressed = time.monotonic()
    listed = (lambda: snapshot.read_after(pressed)[1]) if place.seat else None  # the seat's list, read once after
    # A long step's output goes on the board as it comes (every page showing the step follows it).
    progress = step_runs.Progress(board, scope, step.id, command) if step.action.definition.streams(step.action) \
        else None

    def finish(ran):  # its run on the board, ended: `ended()` first, so a press that sees it ended starts it anew
        ended()
        board.ran(scope, step.id, ran)

    try:
        with (record or (lambda _: contextlib.nullcontext({})))(command) as noted:
            try:
                done = actions.perform(engine, lesson, step.action, place, host_port, listed,
                                       on_line=progress and progress.line)
            finally:
                if progress is not None:
                    progress.close()
            if progress is not None:  # what a long step printed: its last step_runs.KEPT characters
                done = replace(done, output=step_runs.last(done.output))
            noted.update(output=done.output, container_id=done.container_id, ok=done.ok)
    except (EngineError, WorkshopUnwritable) as error:
        finish(Ran(command, (progress.output if progress else "") + f"Error: {error}", False))
        raise
    except Exception as error:
        if progress is not None:  # never left "running" on the board for good
            finish(Ran(command, f"{progress.output}Error: it stopped unexpectedly: {error}", False))
        raise
    ports = step.action.definition.published(step.action, host_port)
    finish(Ran(command, done.output, done.ok, done.container_id, ports[0][0] if len(ports) == 1 else None))
    snapshot.invalidate()  # every page's list of this engine, and the check, read afresh
    if check and step.check is not None:
        check_step(engine, board, snapshot, lesson, step, place, host)
    return done


def press_in_background(runner, engine, board, snapshot, lesson, step, place, host, record=None):
    """The instructor's press of a long step (one whose output streams: Compose building): press_step in the
    background, one at a time (step_runs.StepRunner), its output on the board as it comes; a press of the same step
    while it runs joins it. (the run, whether it was joined); refused at once while the engine does not answer,
    or where the step's tool (Compose) is missing."""
    command, scope = actions.command(lesson, step.action, place), scope_of(lesson.id, place.seat)

    def begin():
        engine.version()  # refused now, with the engine's reason, rather than a run that cannot start
        step.action.definition.ready()
        board.ran(scope, step.id, Ran(command, "", False, running=True))  # every page shows it running at once

    def work(run):  # ended as its run goes on the board (press_step's error too): a press once the page shows it
        # ended starts it again
        press_step(engine, board, snapshot, lesson, step, place, host, record=record, ended=run.end)

    return runner.start(lesson, step, begin, work)


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


def every_seat_command(lesson, step, room, base, place_of):
    """The bash loop that runs the step on every seat of the room, one at a time, as each seat's student types it
    (`place_of(seat)`: the seat's actions.Place), true when pasted here, as root: a step that reads or writes the
    student's files (a build, Compose, an edit, a bind of the folder, `cat`) as the student in the seat's view, in
    its lesson's folder (so nothing of this host is read or written through what the student made there); a request
    in the seat's network namespace (its `localhost`); any other on the seat's own engine (DOCKER_HOST its socket
    under `base`, the seats' folder)."""
    seat_list = list(room.seats.values())
    place = place_of(seat_list[0])
    action = step.action
    typed = action.definition.typed(lesson, action, place)  # as the student types it in the lesson's folder
    if action.uses_folder:
        body = shell.as_student_in_bash('"$seat"', place.seen, typed)
    elif action.definition.in_seat_network:
        body = f'ip netns exec "{layout.NETNS_PREFIX}${{seat##*/}}" {typed}'
    else:
        body = typed
    seat_dirs = " ".join(shlex.quote(str(layout.SeatPlace(base, seat.name, 0).dir)) for seat in seat_list)
    return (f"for seat in {seat_dirs}; do (\n"
            f"export DOCKER_HOST=\"unix://$seat/run/docker.sock\"\n{body}\n)\ndone")


def remove_every_seat_command(base):
    """What sweep does to the open seats, from a shell: on every seat's engine under `base` (the seats' folder),
    every container and volume, and the images its lessons built (they carry the lesson's label)."""
    sockets = shlex.quote(str(base)) + "/*/run/docker.sock"
    docker = 'docker -H "unix://$socket"'
    return (f"for socket in {sockets}; do\n"
            f"{docker} ps -aq | xargs -r {docker} rm -f ; "
            f"{docker} volume ls -q | xargs -r {docker} volume rm -f ; "
            f"{docker} images -q --filter label={LESSON_LABEL} | sort -u | xargs -r {docker} rmi -f\ndone")
