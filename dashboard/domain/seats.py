"""A room of students, each on a seat of their own: who holds which seat, and what a seat's steps touch.

A seat is named PREFIX + the first of its block of host ports (seat-8001 has 8001-8005, mapped to the lesson ports
its engine publishes). Its link carries a random token; opening it signs that browser in as the seat, and signs
out whichever browser held it before (the seat moved). A seat is a card's (its link printed on the sheet) or the
join code's (handed out to the next browser that presses Take a seat), never both. Each seat has a Docker engine of
its own (seat_host/): the lesson's commands run there verbatim, and the room's limits hold for the whole seat.

The room (seats, tokens, end time, limits, whether joining is open) is kept in a JSON file (mode 0600) in the
instance folder, so a restart keeps the class.
"""

import json
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from . import files
from .lesson_fields import MEMORY_SIZE, memory_bytes

MIN_MEMORY = 6 * 1024 * 1024  # the engine refuses less than 6 MB
STUDENT_NAME = 40  # characters of a name a student types
SEAT_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}")
CARD, JOIN = "card", "join"  # a seat's kind: opened by its printed card's link, or handed out by the join code


class RoomError(ValueError):
    """Limits the engine would refuse, no room open, or a seat that is not there; the message says why."""


class ClassStillOn(RoomError):
    """The room cannot be put away while its class is on."""


class SeatsUnavailable(RoomError):
    """This host cannot give seats engines of their own (the compose deployment, not root, …): nothing opened."""


class TooManySeats(RoomError):
    """More seats than this host holds (MAX_SEATS, and the seats' network's size)."""


class TooFewSeats(RoomError):
    """The seats planned are not as many as the room form asked for (cards and join seats)."""


class ThingsLeft(RoomError):
    """The room cannot be put away while what its seats made is still on the engine (unless closed anyway)."""


def things_left(room, reason):
    """The refusal to close an ended room whose seats' things could not be removed: whose, why, and what to do."""
    names = list(room.seats)
    whose = names[0] if len(names) == 1 else f"{names[0]} … {names[-1]} ({len(names)} seats)"
    return ThingsLeft(f"{whose}'s engines could not be stopped and removed now ({reason}). Closing the room would "
                      "leave them there. They are tried again every 30 s; then close the room. Or choose Close "
                      "anyway: opening the next room, or the dashboard's next start, removes every seat's "
                      "leftovers first.")


@dataclass(frozen=True)
class Limits:
    """What a whole seat may use, its containers together (its engine's cgroup): memory, CPUs and processes."""

    memory: str = "256m"
    cpus: float = 0.5
    pids: int = 100

    def __post_init__(self):
        if not MEMORY_SIZE.fullmatch(self.memory) or self.memory_bytes < MIN_MEMORY:
            raise RoomError(f"Memory {self.memory[:20]!r}: a number with k, m or g, at least 6m (as 256m).")
        if not 0.01 <= self.cpus <= 64:
            raise RoomError(f"CPUs {self.cpus:g}: from 0.01 to 64.")
        if not 10 <= self.pids <= 100_000:
            raise RoomError(f"Processes {self.pids}: from 10 to 100000.")

    @property
    def memory_bytes(self):
        return memory_bytes(self.memory)


@dataclass
class Seat:
    name: str
    port: int  # the first of its block of host ports (seat_host.layout.PORT_BLOCK)
    token: str  # in the seat's link; a revoked link gets a new one
    joined: bool = False  # taken (its card's link used, or handed out by the join code): not handed out again
    student: str = ""  # the name the student typed on their seat page
    kind: str = CARD  # CARD or JOIN: the sheet shows card seats only, the join code hands out join seats only
    sign_ins: int = 0  # how many browsers signed in with its link since it got it: the latest holds the seat
    new_link: bool = False  # given a new link by the instructor: a join seat then has a card on the sheet too

    @property
    def on_sheet(self):
        """Whether the printable sheet has a card for the seat: a card's, or a join seat given a new link (no
        other way reaches it then)."""
        return self.kind == CARD or self.new_link


@dataclass
class Room:
    seats: dict  # name -> Seat, in port order
    ends_at: float  # epoch seconds: the seats' containers are removed then
    limits: Limits
    join_code: str  # in the projected join link; closing and opening joining again makes a new one
    joining: bool = True
    hide_names: bool = True  # signed-out screens show seat names only, until the instructor shows names
    ended: bool = False
    cleared: bool = False  # what the seats made is removed (after the end; retried while the engine is away)
    id: str = field(default_factory=lambda: secrets.token_hex(8))  # this room's, not the next's of the same seats

    def seat(self, name):
        return self.seats.get(name)

    def expired(self, now=None):
        return not self.ended and (now or time.time()) >= self.ends_at

    @property
    def to_clear(self):
        """Past its end, and what the seats made not yet removed."""
        return (self.ended or self.expired()) and not self.cleared

    @property
    def over(self):
        """Ended, or past its end time (while the engine is away, its things are removed later): links are off."""
        return self.ended or self.expired()


@dataclass(frozen=True)
class Stint:
    """A seat as a press found it at its start: its room (Room.id) and its link (the token). The press acts only
    while both still hold (Roster.lost): never in the next room's seat of the same name, nor after New link."""

    room: str
    seat: str
    token: str


@dataclass
class Roster:
    """The room, kept in `path`; every change is written whole at once."""

    path: Path
    room: Room | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    version: int = 0  # changes with any change of the room, for the pages that show it

    def __post_init__(self):
        self.path = Path(self.path)
        self.room = self._load()

    def _load(self):
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise RoomError(f"{self.path} cannot be read ({error}): remove it to close the room.") from error
        try:
            seats = {name: Seat(**seat) for name, seat in data.pop("seats").items()}
            return Room(seats=seats, limits=Limits(**data.pop("limits")), **data)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise RoomError(f"{self.path} is not a room this dashboard wrote ({error}): remove it to close the "
                            "room.") from error

    def _save(self):
        self.version += 1
        if self.room is None:
            self.path.unlink(missing_ok=True)
            return
        data = asdict(self.room)
        files.replace(self.path, json.dumps(data, indent=1))

    def open(self, names_and_ports, minutes, limits, cards, join_seats=0, now=None):
        """A new room of these seats ((name, host port) each) ending `minutes` from now; each seat a new token;
        the first `cards` of them cards', the next `join_seats` the join code's; TooFewSeats unless that is all
        of them. The links of any room before stop working."""
        names_and_ports = list(names_and_ports)
        if cards < 0 or join_seats < 0 or len(names_and_ports) != cards + join_seats:
            raise TooFewSeats(f"The room asks for {cards} seats on cards and {join_seats} by the join code, but "
                              f"{len(names_and_ports)} seats were planned: nothing was opened; open it again.")
        with self.lock:
            seats = {name: Seat(name, port, secrets.token_urlsafe(18), kind=CARD if number < cards else JOIN)
                     for number, (name, port) in enumerate(names_and_ports)}
            self.room = Room(seats=seats, ends_at=(now or time.time()) + minutes * 60, limits=limits,
                             join_code=secrets.token_urlsafe(9))
            self._save()
            return self.room

    def close(self):
        """No room any more: every seat link stops working."""
        with self.lock:
            self.room = None
            self._save()

    def end(self):
        """The class ended (its time ran out, or the instructor ended it): links stop working at once, the grid
        stays to look at; `cleared` once what the seats made is removed."""
        with self.lock:
            if self.room is not None and not self.room.ended:
                self.room.ended, self.room.joining = True, False
                self._save()

    def cleared(self):
        with self.lock:
            if self.room is not None:
                self.room.cleared = True
                self._save()

    def require(self):
        if self.room is None:
            raise RoomError("No room is open: the instructor opens one on the room page (/room).")
        return self.room

    def require_seat(self, name):
        seat = self.require().seat(name)
        if seat is None:
            raise RoomError(f"There is no seat {name[:40]!r} in this room.")
        return seat

    def by_token(self, token):
        """The seat whose link carries `token`, while the room is open; None for any other text."""
        room = self.room
        if room is None or room.over or not token:
            return None
        for seat in room.seats.values():
            if secrets.compare_digest(seat.token.encode(), token.encode()):
                return seat
        return None

    def stint(self, seat):
        """The open room's `seat` as a press starting now finds it (see Stint)."""
        return Stint(self.require().id, seat.name, seat.token)

    def class_on(self, room_id):
        """Whether the room `room_id` is still the open one, and its class on."""
        room = self.room
        return room is not None and room.id == room_id and not room.over

    def lost(self, stint):
        """Why a press that began as `stint` may not act now (None while it may): the class ended, the next room
        opened, or the seat got a new link."""
        room = self.room
        if room is None or room.id != stint.room:
            return "The class ended and the next room opened" if room is not None else "The class ended"
        if room.over:
            return "The class ended"
        seat = room.seat(stint.seat)
        return None if seat is not None and seat.token == stint.token else "Your seat was given a new link"

    def code_matches(self, code, room=None):
        """Whether `code` is the open room's join code (however joining stands)."""
        room = room or self.room
        return (room is not None and not room.over
                and secrets.compare_digest(room.join_code.encode(), str(code).encode()))

    def joinable(self, code):
        """Whether `code` would give a seat now (joining open, the code current, a join seat free)."""
        room = self.room
        return (self.code_matches(code, room) and room.joining
                and any(seat.kind == JOIN and not seat.joined for seat in room.seats.values()))

    def join(self, code):
        """The next join seat nobody has taken, handed out once and held (as by hold); None when joining is
        closed, the code is old, or every join seat is taken. A card's seat is never handed out."""
        with self.lock:
            room = self.room
            if not self.code_matches(code, room) or not room.joining:
                return None
            seat = next((seat for seat in room.seats.values() if seat.kind == JOIN and not seat.joined), None)
            return self._hold(seat) if seat is not None else None

    def hold(self, name, token):
        """The seat is this sign-in's now (its link, `token`, opened): any browser that held it before is signed
        out, and the join code never hands it out. A copy of the seat, with the sign-in to hold it as; None when
        `token` is not the seat's link (any more: a New link since it was looked up)."""
        with self.lock:
            seat = self.by_token(token)
            return self._hold(seat) if seat is not None and seat.name == name else None

    def _hold(self, seat):
        seat.joined, seat.sign_ins = True, seat.sign_ins + 1
        self._save()
        return replace(seat)

    def set_joining(self, open_):
        """Open or close joining; opening makes a new join code, so a photo of the old QR code no longer works."""
        with self.lock:
            room = self.require()
            if open_ and not room.joining:
                room.join_code = secrets.token_urlsafe(9)
            room.joining = bool(open_) and not room.ended
            self._save()

    def revoke(self, name):
        """A new link for the seat: its old link and every browser signed in with it stop working at once."""
        with self.lock:
            seat = self.require_seat(name)
            # Still taken: its new card (on the sheet, a join seat's too) goes to the same student, never to the
            # join code's next browser.
            # No browser holds it now (a session is good for one token only): the new link opens it in one step.
            seat.token, seat.student, seat.sign_ins, seat.new_link = secrets.token_urlsafe(18), "", 0, True
            self._save()
            return seat

    def name_student(self, seat_name, text):
        with self.lock:
            seat = self.require_seat(seat_name)
            seat.student = text
            self._save()

    def set_hide_names(self, hide):
        with self.lock:
            self.require().hide_names = bool(hide)
            self._save()


def lesson_ports(lessons):
    """Every host port the lessons publish (their runs', and their compose.yaml's), lowest first: each seat's block
    of host ports maps to these on its engine."""
    return tuple(sorted({port for lesson in lessons for port in lesson.published_ports}))
