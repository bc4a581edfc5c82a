"""Validation of what browsers send: every refusal is an InvalidInput with a message a person can act on."""

import re

from ..domain.lessons import IDENTIFIER
from .security import CSRF_FIELD

CONTAINER_ID = re.compile(r"[0-9a-f]{12,64}")


class InvalidInput(Exception):
    """Input the dashboard refuses; shown in the page with a 400."""


class NoSuchThing(Exception):
    """A well-formed name of something that is not there (a lesson, a step); shown with a 404."""


def only_fields(form, allowed):
    """Refuse fields the action does not know, so a typo never silently does something else."""
    unknown = sorted(set(form) - set(allowed) - {CSRF_FIELD})
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}.")


def whole_number(text, max_digits):
    """`text` as an int when it is 1 to `max_digits` ASCII digits, else None.

    str.isdigit() alone takes '²' and '١', which int() then refuses (or takes); the length bound keeps int() cheap.
    """
    if text and len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


def host_port(value):
    """A host port from a form field: a whole number from 1 to 65535."""
    text = (value or "").strip()
    if not text:
        raise InvalidInput("Give a host port, a number from 1 to 65535.")
    port = whole_number(text, 5)
    if port is None or not 1 <= port <= 65535:
        raise InvalidInput(f"The host port must be a number from 1 to 65535, not {text[:20]!r}.")
    return port


def container_id(value):
    """A container id as the engine prints it: 12 to 64 lowercase hex digits."""
    if not CONTAINER_ID.fullmatch(value or ""):
        raise InvalidInput("A container id is 12 to 64 hex digits, as `docker ps` shows it.")
    return value


def lesson_id(value):
    """A lesson's id as its lesson file writes it: lowercase letters, digits and '-'."""
    if not IDENTIFIER.fullmatch(value or ""):
        raise InvalidInput("A lesson id is 1 to 40 lowercase letters, digits and '-', as the lessons page links it.")
    return value


def step_id(value):
    """A step's id as its lesson file writes it: lowercase letters, digits and '-'."""
    if not IDENTIFIER.fullmatch(value or ""):
        raise InvalidInput("A step id is 1 to 40 lowercase letters, digits and '-'.")
    return value


def _number_of_seats(value, what, least, maximum):
    """A number of seats from a form field: a whole number from `least` to `maximum`, else a 400 naming `what`."""
    text = (value or "").strip()
    count = whole_number(text, 6)
    if count is None or not least <= count <= maximum:
        raise InvalidInput(f"The number of {what} must be a whole number from {least} to {maximum}, not "
                           f"{text[:20]!r}.")
    return count


def room_seats(cards, joins, maximum):
    """How many seats a room has on cards and by the join code: whole numbers from 0, at least one seat and at
    most `maximum` in all. A missing join count is 0 (every seat a card's)."""
    counts = (_number_of_seats(cards, "seats on cards", 0, maximum),
              _number_of_seats(joins or "0", "seats by the join code", 0, maximum))
    if not 1 <= sum(counts) <= maximum:
        raise InvalidInput(f"A room needs at least one seat, and at most {maximum}: the number of seats on cards "
                           f"and by the join code together is {sum(counts)}.")
    return counts


def last_event_id(value):
    """The index of the last build-log line a reconnecting viewer saw (its Last-Event-ID header), or None.

    A header is the client's to write: anything but a plain number means "from the start".
    """
    return whole_number(value, 9)


def first_seat_port(value, count, block=1):
    """The first seat's host port, low enough that `count` seats of `block` host ports each stay within 65535."""
    first = host_port(value)
    if first + count * block - 1 > 65535:
        each = f" ({block} host ports each)" if block > 1 else ""
        raise InvalidInput(f"{count} seats{each} from port {first} would go past port 65535: "
                           f"start at {65536 - count * block} or lower.")
    return first


def student_name(value, limit):
    """The name a student types for their seat: one line of printable text, up to `limit` characters."""
    text = " ".join((value or "").split())
    if len(text) > limit or not all(character.isprintable() for character in text):
        raise InvalidInput(f"A name is one line of up to {limit} characters.")
    return text


def minutes(value):
    """How long the class lasts: whole minutes from 1 to 24 hours."""
    text = (value or "").strip()
    number = whole_number(text, 5)
    if number is None or not 1 <= number <= 24 * 60:
        raise InvalidInput(f"The class lasts from 1 to 1440 minutes, not {text[:20]!r}.")
    return number


def limits(values, make):
    """A seat's limits from the room form (memory like 256m, CPUs like 0.5, processes like 100), made by `make`
    (seats.Limits), which says what is wrong with each."""
    memory = (values.get("memory") or "").strip().lower()
    cpus_text, pids_text = (values.get("cpus") or "").strip(), (values.get("pids") or "").strip()
    try:
        cpus = float(cpus_text) if re.fullmatch(r"[0-9]{1,2}(\.[0-9]{1,2})?", cpus_text) else None
    except ValueError:
        cpus = None
    if cpus is None:
        raise InvalidInput(f"CPUs is a number like 0.5 or 2, not {cpus_text[:20]!r}.")
    pids = whole_number(pids_text, 6)
    if pids is None:
        raise InvalidInput(f"Processes is a whole number like 100, not {pids_text[:20]!r}.")
    try:
        return make(memory=memory, cpus=cpus, pids=pids)
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def flag(value, name):
    """A yes/no form field: "1" or "0"."""
    if value not in ("0", "1"):
        raise InvalidInput(f"{name} is 1 or 0.")
    return value == "1"
