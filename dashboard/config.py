"""The dashboard's settings: their defaults, and DASHBOARD_* environment variables parsed by type.

Strings stay strings (Flask's `from_prefixed_env` would read `null` as None and `2024` as a number); numbers are
checked at start, and a bad one stops it with a message naming the variable. The app and gunicorn (gunicorn_conf.py)
read this one table through `from_environment`, so both agree on what is set.
"""

import re
from dataclasses import dataclass

PREFIX = "DASHBOARD_"
MIN_SECRET_LENGTH = 16  # an instructor token or secret key shorter than this is refused
NUMBER = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")


class ConfigError(Exception):
    """A setting the dashboard cannot start with; the message names the variable and says what it takes."""


@dataclass(frozen=True)
class Setting:
    default: object
    kind: type = str  # str, int or float
    minimum: float = 0
    maximum: float = 10**9


SETTINGS = {
    "IMAGE": Setting(None),  # the tag the default lesson builds and runs, for the one its file names
    "WORKSHOP_DIR": Setting("~/docker-workshop"),  # the files a person builds from or edits; ~ is the dashboard user's
    "LESSONS_DIR": Setting(None),  # default: the lessons shipped in the package (dashboard/lessons)
    "BUILD_CONTEXT": Setting(None),  # the default lesson's build folder; default: its folder in WORKSHOP_DIR
    "BASE_IMAGE": Setting(None),  # a local image standing in for python:3.12-slim where no registry answers
    "POSTGRES_IMAGE": Setting(None),  # a local image standing in for postgres:16 where no registry answers
    "REFRESH_SECONDS": Setting(1, float, 0.1, 60),
    "SNAPSHOT_SECONDS": Setting(5, float, 0.1, 3600),
    "ENGINE_TIMEOUT": Setting(60, float, 1, 3600),  # an action's engine call (create, start, stop, build)
    "ENGINE_READ_TIMEOUT": Setting(3, float, 0.1, 600),  # a page's engine call (list, inspect, version)
    "TRANSCRIPT_PATH": Setting(None),  # default: transcript.sqlite3 in the instance folder
    "COW_HOST": Setting(None),  # default: the engine's address when DOCKER_HOST is another machine, else 127.0.0.1
    "LOG_LINES": Setting(200, int, 1, 100_000),
    "DEFAULT_SEATS": Setting(30, int, 1, 10_000),  # the room form's seats on cards, its limit, its first port
    "MAX_SEATS": Setting(300, int, 1, 10_000),
    "FIRST_SEAT_PORT": Setting(8001, int, 1, 65535),
    "SEAT_PREFIX": Setting("seat-"),  # seats are named PREFIX + port
    "CLASS_WORKERS": Setting(6, int, 1, 64),  # seats at once when the instructor runs a step on every seat, or clears them
    # A room of students on seats of their own (domain/seats.py): how long a class lasts, each seat's limits (the
    # room form's defaults), where students reach the dashboard (default: the address the instructor's page used).
    "CLASS_MINUTES": Setting(180, int, 1, 24 * 60),
    "SEAT_MEMORY": Setting("256m"),
    "SEAT_CPUS": Setting(0.5, float, 0.01, 64),
    "SEAT_PIDS": Setting(100, int, 10, 100_000),
    "SEATS_DIR": Setting("/var/lib/cowserv-seats"),  # each seat's engine, folder and state (dashboard/seat_host)
    "SEAT_DISK": Setting("4g"),  # each seat's disk budget, its engine's data and its folder together (4g, 512m)
    "ROOM_URL": Setting(None),
    # One student cannot stall the class (domain/presses.py): how long a seat's build waits for the seats' build
    # turn before it is refused (503), how often a seat may run a check inside its container, and how many
    # requests a second one browser may send to its seat's routes (web/shedding.py).
    "BUILD_WAIT_SECONDS": Setting(60, float, 0, 3600),
    "EXEC_CHECK_SECONDS": Setting(5, float, 0, 3600),
    "SEAT_REQUESTS_PER_SECOND": Setting(10, float, 0.001, 10_000),  # one browser's to its seat's routes (twice at once)
    "TERMINAL_SHELLS": Setting(2, int, 1, 16),  # shells a seat may have at once in its terminal (?shell=1..N)
    # gunicorn's (gunicorn_conf.py): its plain-HTTP address (the room's), the instructor's HTTPS listener (scripts/up
    # sets it when serving a room), its worker count (exactly 1: check_workers), request timeout and access log.
    "BIND": Setting("127.0.0.1:5000"),
    "HTTPS_BIND": Setting(None),
    "WORKERS": Setting(1, int, 1, 1000),
    "WORKER_TIMEOUT": Setting(120, int, 1, 24 * 3600),
    "ACCESS_LOG": Setting("-"),  # a file, or - for standard output
    "INSTANCE_PATH": Setting(None),  # secrets, the room and the transcript; default: Flask's instance folder
    "INSTRUCTOR_FROM": Setting(None),  # addresses counted as this machine's for the instructor (compose: gateway)
    "INSTRUCTOR_TOKEN": Setting(None),  # default: generated on first start, kept in the instance folder, printed
    "SECRET_KEY": Setting(None),  # default: generated on first start, kept in the instance folder
    "SESSION_MINUTES": Setting(480, float, 0.01, 60 * 24 * 31),
    "MAX_CONTENT_LENGTH": Setting(16 * 1024, int, 1024, 10**8),  # forms are a few fields; larger is refused (413)
    # Wrong seat links, join codes and instructor tokens per client address (web/guesses.py): past the limit within
    # the window, wrong ones 429. PROXIES: how many reverse proxies of ours, the last on this machine, add
    # X-Forwarded-For (read on connections from this machine only; 0: the connection's address).
    "GUESS_LIMIT": Setting(10, int, 1, 100_000),
    "GUESS_WINDOW": Setting(300, float, 1, 24 * 3600),
    "PROXIES": Setting(0, int, 0, 10),
}


def defaults():
    """Every setting at its default."""
    return {name: setting.default for name, setting in SETTINGS.items()}


def from_environment(environ):
    """The settings given as DASHBOARD_* variables in `environ`, parsed and checked; others are left out."""
    values = {}
    for name, setting in SETTINGS.items():
        text = environ.get(PREFIX + name)
        if text is not None:
            values[name] = _parse(PREFIX + name, text, setting)
    check_secret("DASHBOARD_INSTRUCTOR_TOKEN", values.get("INSTRUCTOR_TOKEN"))
    check_secret("DASHBOARD_SECRET_KEY", values.get("SECRET_KEY"))
    return values


def _parse(variable, text, setting):
    if setting.kind is str:
        return text
    shown = text[:30]
    if not NUMBER.fullmatch(text.strip()) or (setting.kind is int and "." in text):
        kind = "a whole number" if setting.kind is int else "a number"
        raise ConfigError(f"{variable} must be {kind} from {setting.minimum:g} to {setting.maximum:g}, "
                          f"written in digits, not {shown!r}.")
    value = setting.kind(text.strip())
    if not setting.minimum <= value <= setting.maximum:
        raise ConfigError(f"{variable} must be from {setting.minimum:g} to {setting.maximum:g}, not {shown}.")
    return value


def check_secret(where, value):
    """Refuse a secret that is set but empty or short: it would be guessed, and an empty one matches nothing typed."""
    if value is not None and len(value.strip()) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{where} is {len(value.strip())} characters long: use at least {MIN_SECRET_LENGTH} "
                          "random characters (for example: openssl rand -hex 16).")


def check_workers(text):
    """Refuse a gunicorn worker count (DASHBOARD_WORKERS, or -w) other than 1: the running build, the runs on
    every seat and the rows being stopped live in the one process's memory, and a second worker would silently keep its own."""
    text = text.strip()
    if text != "1":
        raise ConfigError(
            f"{text[:30]} gunicorn workers asked for (DASHBOARD_WORKERS, or gunicorn's -w): the dashboard runs "
            "in exactly 1 worker process. The running build, "
            "the runs on every seat and the containers being stopped live in that process's memory, so a second "
            "worker would silently split them (a build one page cannot see, a step run twice on a seat). One gevent worker "
            "serves hundreds of open pages."
        )
