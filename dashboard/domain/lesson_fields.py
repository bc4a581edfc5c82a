"""What a lesson file's fields may hold: each parser takes the TOML value and gives it back checked (or converted),
or raises ValueError with a message for the lesson's author. The action kinds (action_kinds.py) and the checks
(lessons.CHECKS) name their fields' parsers from here."""

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")  # lesson and step ids: URL- and label-safe
CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}")  # as the engine takes `--name`
VOLUME_NAME = CONTAINER_NAME  # the engine takes the same characters for a named volume
IMAGE_REF = re.compile(r"[a-z0-9][a-z0-9._/-]{0,127}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
JSON_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")  # a field of a JSON answer a check reads
URL_PATH = re.compile(r"/[A-Za-z0-9_.~/%=&?-]{0,200}")  # typed unquoted-safe in a curl command (quoted anyway)
MEMORY_SIZE = re.compile(r"[1-9][0-9]{0,5}[kmg]")  # as docker's --memory and the room form take it: 256m, 1g
HEREDOC_END = "EOF"  # an edit's shell command is `cat > FILE <<'EOF'`: the content may not hold that line


@dataclass(frozen=True)
class Port:
    host: int
    container: int


@dataclass(frozen=True)
class Mount:
    source: str  # "." is the lesson's workshop folder (a bind mount, written "$(pwd)"); else a named volume
    target: str

    @property
    def binds_folder(self):
        return self.source == "."


def text(value):
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value


def line(value):
    value = text(value).strip()
    if not value or "\n" in value:
        raise ValueError("must be one non-empty line")
    return value


def matching(pattern, what):
    def parse(value):
        value = text(value)
        if not pattern.fullmatch(value):
            raise ValueError(f"{value[:60]!r} is not {what}")
        return value
    return parse


def boolean(value):
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def words(value):
    if not isinstance(value, list) or not value or not all(isinstance(word, str) and word for word in value):
        raise ValueError('must be a list of non-empty strings, as in ["echo", "hello"]')
    if any("\x00" in word or "\n" in word for word in value):
        raise ValueError("words may not hold a newline or a NUL")
    return tuple(value)


def _port_number(text):
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and 1 <= int(text) <= 65535):
        raise ValueError(f"{text[:20]!r} is not a port from 1 to 65535")
    return int(text)


def ports(value):
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError('must be a list like ["8000:8000"] (host port:container port)')
    ports = []
    for item in value:
        host, colon, container = item.partition(":")
        if not colon:
            raise ValueError(f"{item[:20]!r} is not HOST:CONTAINER, as in \"8000:8000\"")
        ports.append(Port(_port_number(host), _port_number(container)))
    return tuple(ports)


def env(value):
    if not isinstance(value, dict):
        raise ValueError('must be a table, as in { POSTGRES_DB = "lesson" }')
    pairs = []
    for name, text in value.items():
        if not ENV_NAME.fullmatch(name):
            raise ValueError(f"{name[:40]!r} is not a variable name")
        if not isinstance(text, str) or "\n" in text or "\x00" in text:
            raise ValueError(f"{name}'s value must be one line of text")
        pairs.append((name, text))
    return tuple(pairs)


def volumes(value):
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError('must be a list like [".:/site"] or ["data:/var/lib/data"]')
    mounts = []
    for item in value:
        source, colon, target = item.partition(":")
        if not colon or not target.startswith("/") or ":" in target or not _safe_in_container(target):
            raise ValueError(f"{item[:60]!r} is not SOURCE:/absolute/path")
        if source != "." and not VOLUME_NAME.fullmatch(source):
            raise ValueError(f"{source[:40]!r}: a source is \".\" (the lesson's folder) or a volume's name")
        mounts.append(Mount(source, target))
    return tuple(mounts)


def _safe_in_container(path):
    return re.fullmatch(r"/[A-Za-z0-9_./-]*", path) is not None and ".." not in path.split("/")


def relative(value):
    """A path inside the lesson's folder: relative, no `..`, simple characters (it is typed in shell commands)."""
    value = text(value)
    path = PurePosixPath(value)
    if (not value or path.is_absolute() or ".." in path.parts
            or not re.fullmatch(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*", value)):
        raise ValueError(f"{value[:60]!r} is outside the lesson's folder: give a path inside it, as in \"index.html\"")
    return value


def tail(value):
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10_000:
        raise ValueError("must be a whole number from 1 to 10000")
    return value


def content(value):
    value = text(value)
    if HEREDOC_END in value.splitlines():
        raise ValueError(f"may not hold a line that is exactly {HEREDOC_END} (it ends the shell command's heredoc)")
    if "\x00" in value:
        raise ValueError("may not hold a NUL")
    return value if value.endswith("\n") else value + "\n"


def method(value):
    """An HTTP method a request step sends: GET or POST."""
    if value not in ("GET", "POST"):
        raise ValueError(f"{str(value)[:20]!r} is not GET or POST")
    return value


def whole(low, high):
    """A whole number from `low` to `high`."""
    def parse(value):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return value
    return parse


def listed(parse, example):
    """A non-empty list whose every item `parse` takes, as a tuple."""
    def parse_list(value):
        if not isinstance(value, list) or not value:
            raise ValueError(f"must be a non-empty list, as in {example}")
        items = tuple(parse(item) for item in value)
        if len(set(items)) != len(items):
            raise ValueError("names one thing twice")
        return items
    return parse_list


port = whole(1, 65535)  # a host port, as a whole number (8100)
NAME = matching(CONTAINER_NAME, "a container name (letters, digits, _ . -)")
VOLUME = matching(VOLUME_NAME, "a volume name (letters, digits, _ . -)")
IMAGE = matching(IMAGE_REF, "an image reference such as python:3.12-slim")
TAG = matching(IDENTIFIER, "a tag (lowercase letters, digits, -)")
PATH = matching(URL_PATH, "an absolute path on the server, as in \"/api/balance\"")
KEY = matching(JSON_KEY, "a field of a JSON answer, as in \"balance\"")
NAMES = listed(NAME, '["microservices-api-1", "microservices-api-2"]')
PROGRAMS = listed(matching(re.compile(r"[A-Za-z0-9_.-]{1,40}"), "a program's name, as in \"gunicorn\""),
                  '["supervisord", "gunicorn"]')


@dataclass(frozen=True)
class SeatNeeds:
    """What one seat's engine needs, its containers together, to do a lesson: the room's limits (seats.Limits) at
    least these, or the lesson's last steps fail for want of memory or processes."""

    memory: str  # as the room form takes it: 512m
    pids: int

    def met_by(self, limits):
        """Whether a room's seats.Limits are enough."""
        return limits.memory_bytes >= memory_bytes(self.memory) and limits.pids >= self.pids


def memory_bytes(size):
    """A MEMORY_SIZE (256m) in bytes."""
    return int(size[:-1]) * 1024 ** " kmg".index(size[-1])


def seat_needs(value):
    """`{ memory = "512m", pids = 300 }`: a SeatNeeds."""
    if not isinstance(value, dict) or set(value) != {"memory", "pids"}:
        raise ValueError('must be a table of memory and pids, as in { memory = "512m", pids = 300 }')
    if not isinstance(value["memory"], str) or not MEMORY_SIZE.fullmatch(value["memory"]):
        raise ValueError(f"memory {str(value['memory'])[:20]!r}: a number with k, m or g, as 512m")
    return SeatNeeds(value["memory"], whole(10, 100_000)(value["pids"]))
