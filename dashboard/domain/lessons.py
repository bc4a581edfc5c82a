"""Lessons as data: each lesson is a folder holding `lesson.toml` and the files its steps use.

A lesson has an id (the value of its `classroom.lesson` label), a title, an introduction and ordered steps; a step
has one action of a kind from a fixed vocabulary (action_kinds.KINDS) and an optional check (CHECKS). Loading
validates everything a step will need before anyone presses a button, and names the file, the step and the field of
each mistake; a broken lesson is left out with its message, and never takes the others down.
"""

import contextlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import lesson_fields as parse
from .action_kinds import COMPOSE_VARIABLES, KINDS
from .lesson_fields import IDENTIFIER, Mount, Port

LESSON_FILE = "lesson.toml"
BASE_IMAGE = "python:3.12-slim"  # what lessons name for a plain Python; DASHBOARD_BASE_IMAGE stands in for it
POSTGRES_IMAGE = "postgres:16"  # what the state lesson names; DASHBOARD_POSTGRES_IMAGE stands in for it
# The image each stand-in variable a compose.yaml may name (${BASE_IMAGE:-…}, ${POSTGRES_IMAGE:-…}) stands for.
COMPOSE_IMAGES = dict(zip(COMPOSE_VARIABLES, (BASE_IMAGE, POSTGRES_IMAGE), strict=True))
# A published port in a compose.yaml's `ports:` list: `- "8200:80"` or `- "127.0.0.1:8200:80"` (its host port).
COMPOSE_PORT = re.compile(r"""^\s*-\s*["']?(?:[0-9.]+:)?([0-9]{1,5}):[0-9]{1,5}""", re.M)


class LessonError(Exception):
    """A mistake in a lesson file: the message names the file, the step and the field."""

    def __init__(self, path, message, step=None, field_name=None):
        where = str(path)
        if step is not None:
            where += f", step {step!r}"
        if field_name is not None:
            where += f", field {field_name!r}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Action:
    """One action of the vocabulary and its arguments, as the lesson file gives them (see action_kinds.KINDS)."""

    kind: str
    image: str = ""  # run
    tag: str = ""  # build
    context: str = "."  # build: a folder inside the lesson's folder
    name: str = ""  # run: --name; exec, logs, stop_and_remove, force_remove: the container
    detach: bool = False
    remove: bool = False  # --rm
    interactive: bool = False  # -it: shown for a terminal, run without one
    ports: tuple[Port, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    volumes: tuple[Mount, ...] = ()
    command: tuple[str, ...] = ()
    tail: int = 20  # logs
    all: bool = False  # list: -a
    file: str = ""  # edit, show: a file inside the lesson's folder
    content: str = ""  # edit
    method: str = "GET"  # request
    port: int = 0  # request: the lesson's host port
    path: str = ""  # request: the absolute path asked, as in "/api/buy"

    @property
    def definition(self):
        """Its kind (action_kinds.KINDS): its command, its effect, its button."""
        return KINDS[self.kind]

    @property
    def button(self):
        return self.definition.button(self)

    @property
    def uses_folder(self):
        """True when its command reads or writes the lesson's folder: it needs it, or writes a file there (on a
        seat, such a command is the student's own to run: see room.every_seat_command)."""
        return self.needs_folder or self.definition.writes_folder

    @property
    def needs_folder(self):
        """True when the command runs in the lesson's folder: a build, Compose (its compose.yaml is there), or a
        run bind-mounting `$(pwd)`."""
        return self.definition.needs_folder or any(mount.binds_folder for mount in self.volumes)


@dataclass(frozen=True)
class Check:
    """Whether a step's effect is there, asked from the server side (see CHECKS)."""

    kind: str
    container: str = ""
    text: str = ""
    tag: str = ""
    command: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    starting: str = ""
    name: str = ""  # volume
    file: str = ""  # answers: the lesson's file the text comes from (see checks._answers)
    containers: tuple[str, ...] = ()  # running: every one of them
    names: tuple[str, ...] = ()  # processes: the programs the container runs
    port: int = 0  # counter, spread: the lesson's host port asked
    path: str = ""  # counter, spread: the path asked, answering JSON
    field: str = ""  # counter, spread: the JSON answer's field read
    at_least: int = 0  # counter: the smallest value that passes
    count: int = 0  # spread: how many different values must answer
    # Any check: what it looks at is there already when an earlier step of the lesson is done (part 8's `restart`
    # asks the page `up` made answer): passing counts for its step only once the step before it is done.
    after_previous: bool = False

    @property
    def absence(self):
        """True for a check that passes when something is not there (gone, empty, volume_gone): it passes before
        the thing was ever made, too."""
        return self.kind in ABSENCE

    @property
    def waits_its_turn(self):
        """True when its passing counts for its step only in the lesson's order (once the step before it is done,
        or it was seen failing, or pressed): an absence, or `after_previous`."""
        return self.absence or self.after_previous


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    text: str
    action: Action
    check: Check | None = None
    hint: str = ""
    warning: str = ""  # shown before the step's button, as a warning (what pressing it destroys)


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    intro: str
    source: Path  # the shipped folder, inside the package
    folder: str  # its folder in the workshop ("" when it has no files)
    files: tuple[str, ...]
    steps: tuple[Step, ...]
    order: str = ""  # the shipped folder's name: lessons are listed in its order ("02-running" before "03-images")
    default: bool = False  # the class starts on it (`default = true` in its file; see Catalog.default)
    seat_needs: parse.SeatNeeds | None = None  # what a seat's limits must allow for it (the room page says so)

    def step(self, step_id):
        return next((step for step in self.steps if step.id == step_id), None)

    @property
    def builds(self):
        """The tags this lesson's steps build: their images carry the lesson's label from their Dockerfile."""
        return {step.action.tag for step in self.steps if step.action.definition.builds_image}

    @property
    def published_ports(self):
        """Every host port the lesson publishes: its runs' and its compose.yaml's (each seat maps these)."""
        ports = {port.host for step in self.steps for port in step.action.ports}
        if "compose.yaml" in self.files:
            with contextlib.suppress(OSError):
                ports |= {int(port) for port in COMPOSE_PORT.findall((self.source / "compose.yaml").read_text())}
        return ports

    @property
    def port_run(self):
        """The first detached run publishing a port: the lesson page's port run (its host port can be changed); None
        without one."""
        return next((step for step in self.steps
                     if step.action.definition.detached(step.action) and step.action.ports), None)


# What each check takes: field -> (parser, required), as an action kind's `fields`. Anything else is refused.
ABSENCE = {"gone", "empty", "volume_gone"}  # checks that something is not there
CHECKS = {
    "image": {"tag": (parse.matching(IDENTIFIER, "a tag the lesson builds"), True)},
    # without a container: any of the lesson's containers; with `containers`: every one of them
    "running": {"container": (parse.NAME, False), "containers": (parse.NAMES, False)},
    "stopped": {"container": (parse.NAME, True)},  # the container is there, and not running
    # `docker top` of the container lists a process whose command holds each of the names
    "processes": {"container": (parse.NAME, True), "names": (parse.PROGRAMS, True)},
    # GET of the lesson's port and path answers JSON whose `field` is at least `at_least`
    "counter": {"port": (parse.port, True), "path": (parse.PATH, True), "field": (parse.KEY, True),
                "at_least": (parse.whole(-1_000_000, 1_000_000), True)},
    # GETs of the port and path (up to 4 × count) answer JSON with `count` different values of `field`
    "spread": {"port": (parse.port, True), "path": (parse.PATH, True), "field": (parse.KEY, True),
               "count": (parse.whole(2, 20), True)},
    # A published port answers with the text; `file`: the lesson's file the text is in (the page a container
    # serves), so that the file as it is in the workshop folder now, when it was changed, is accepted too.
    "answers": {"container": (parse.NAME, False), "text": (parse.line, True), "file": (parse.relative, False)},
    # An exec check's `starting`: a text its output holds while the program is still starting (pg_isready's
    # "no response"): the check then says "starting", not "failed".
    "exec": {"container": (parse.NAME, True), "command": (parse.words, True), "text": (parse.line, False),
             "env": (parse.env, False), "starting": (parse.line, False)},
    "volume": {"name": (parse.VOLUME, True)},  # the lesson's volume exists
    "volume_gone": {"name": (parse.VOLUME, True)},  # no volume of that name is the lesson's
    "empty": {},  # no container of the lesson is left
    # the container's output holds the text
    "printed": {"container": (parse.NAME, True), "text": (parse.line, True)},
    "gone": {"container": (parse.NAME, True)},
}


def _fields(table, vocabulary, path, step, where):
    """The validated arguments of an action or check table (`kind` plus its fields)."""
    if not isinstance(table, dict):
        raise LessonError(path, "must be a table with a kind", step, where)
    kind = table.get("kind")
    if kind not in vocabulary:
        known = ", ".join(sorted(vocabulary))
        raise LessonError(path, f"unknown {where} {str(kind)[:40]!r}: one of {known}", step, f"{where}.kind")
    allowed = vocabulary[kind]
    for name in table:
        if name != "kind" and name not in allowed:
            raise LessonError(path, f"{kind} takes {', '.join(allowed) or 'no fields'}", step, f"{where}.{name}")
    values = {"kind": kind}
    for name, (parse, required) in allowed.items():
        if name not in table:
            if required:
                raise LessonError(path, f"missing: a {kind} needs it", step, f"{where}.{name}")
            continue
        try:
            values[name] = parse(table[name])
        except ValueError as error:
            raise LessonError(path, str(error), step, f"{where}.{name}") from None
    return values


def _check(table, path, step_id):
    """The step's Check: its kind's fields, and `after_previous`, which any kind takes."""
    if isinstance(table, dict) and "after_previous" in table:
        table = dict(table)
        try:
            after_previous = parse.boolean(table.pop("after_previous"))
        except ValueError as error:
            raise LessonError(path, str(error), step_id, "check.after_previous") from None
        return Check(**_fields(table, CHECKS, path, step_id, "check"), after_previous=after_previous)
    return Check(**_fields(table, CHECKS, path, step_id, "check"))


def _required_text(data, name, path, step=None):
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise LessonError(path, "missing: give it as text", step, name)
    return value.strip()


def _step(data, path, index):
    if not isinstance(data, dict):
        raise LessonError(path, "each [[steps]] entry must be a table", f"#{index}")
    step_id = data.get("id")
    if not isinstance(step_id, str) or not IDENTIFIER.fullmatch(step_id):
        raise LessonError(path, "lowercase letters, digits and '-', 1 to 40", f"#{index}", "id")
    unknown = set(data) - {"id", "title", "text", "hint", "warning", "action", "check"}
    if unknown:
        raise LessonError(path, "a step takes id, title, text, hint, warning, action, check", step_id,
                          sorted(unknown)[0])
    if "action" not in data:
        raise LessonError(path, "missing: every step has one action", step_id, "action")
    action = Action(**_fields(data["action"], {name: kind.fields for name, kind in KINDS.items()}, path, step_id,
                              "action"))
    check = _check(data["check"], path, step_id) if "check" in data else None
    hint, warning = data.get("hint", ""), data.get("warning", "")
    for name, value in (("hint", hint), ("warning", warning)):
        if not isinstance(value, str):
            raise LessonError(path, "must be text", step_id, name)
    return Step(step_id, _required_text(data, "title", path, step_id), _required_text(data, "text", path, step_id),
                action, check, hint.strip(), warning.strip())


def load_lesson(source):
    """The lesson in the folder `source`, validated; LessonError names the first mistake."""
    source = Path(source)
    path = source / LESSON_FILE
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise LessonError(path, f"cannot be read ({error.strerror or error})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise LessonError(path, f"is not valid TOML: {error}") from None
    unknown = set(data) - {"id", "title", "intro", "folder", "files", "steps", "default", "seat_needs"}
    if unknown:
        raise LessonError(path, "a lesson takes id, title, intro, folder, files, steps, default, seat_needs",
                          field_name=sorted(unknown)[0])
    lesson_id = data.get("id")
    if not isinstance(lesson_id, str) or not IDENTIFIER.fullmatch(lesson_id):
        raise LessonError(path, "lowercase letters, digits and '-', 1 to 40 (it is the label's value)", field_name="id")
    folder = data.get("folder", "")
    if folder != "" and not (isinstance(folder, str) and IDENTIFIER.fullmatch(folder)):
        raise LessonError(path, "a folder name: lowercase letters, digits and '-'", field_name="folder")
    files = data.get("files", [])
    if not isinstance(files, list):
        raise LessonError(path, 'must be a list of file names, as in ["Dockerfile"]', field_name="files")
    for name in files:
        try:
            parse.relative(name)
        except ValueError as error:
            raise LessonError(path, str(error), field_name="files") from None
        if not (source / name).is_file():
            raise LessonError(path, f"{name!r} is not in {source}", field_name="files")
        if not (source / name).resolve().is_relative_to(source.resolve()):
            raise LessonError(path, f"{name!r} leads outside the lesson's folder (a link)", field_name="files")
    if files and not folder:
        raise LessonError(path, "a lesson with files names the workshop folder they go to", field_name="folder")
    steps_data = data.get("steps")
    if not isinstance(steps_data, list) or not steps_data:
        raise LessonError(path, "missing: a lesson has at least one [[steps]]", field_name="steps")
    steps = tuple(_step(step, path, index) for index, step in enumerate(steps_data, start=1))
    try:
        default = parse.boolean(data.get("default", False))
    except ValueError as error:
        raise LessonError(path, str(error), field_name="default") from None
    try:
        needs = parse.seat_needs(data["seat_needs"]) if "seat_needs" in data else None
    except ValueError as error:
        raise LessonError(path, str(error), field_name="seat_needs") from None
    lesson = Lesson(lesson_id, _required_text(data, "title", path), _required_text(data, "intro", path),
                    source, folder, tuple(files), steps, order=source.name, default=default, seat_needs=needs)
    _check_lesson(lesson, path)
    return lesson


def _check_lesson(lesson, path):
    """What no single field says: unique step ids, folders where a step needs one, what each kind asks of its
    lesson (its `problem`: a build's Dockerfile, an edit's file), a check's file."""
    seen = set()
    for step in lesson.steps:
        if step.id in seen:
            raise LessonError(path, "two steps have this id", step.id, "id")
        seen.add(step.id)
        action = step.action
        if action.needs_folder and not lesson.folder:
            raise LessonError(path, "this action runs in the lesson's workshop folder: give the lesson a folder",
                              step.id, "action")
        problem = action.definition.problem(lesson, action)
        if problem is not None:
            raise LessonError(path, problem[1], step.id, problem[0])
        if action.port and action.port not in lesson.published_ports:
            raise LessonError(path, _unpublished(action.port, lesson), step.id, "action.port")
        check = step.check
        if check is not None and check.port and check.port not in lesson.published_ports:
            raise LessonError(path, _unpublished(check.port, lesson), step.id, "check.port")
        if check is not None and check.container and check.containers:
            raise LessonError(path, "a running check names one container or a list of them, not both", step.id,
                              "check.containers")
        if check is not None and check.file:
            if check.file not in lesson.files:
                raise LessonError(path, f"{check.file!r} is not one of the lesson's files", step.id, "check.file")
            if check.text not in (lesson.source / check.file).read_text(errors="replace"):
                raise LessonError(path, f"{check.file} does not hold the check's text {check.text!r}", step.id,
                                  "check.file")


def _unpublished(port, lesson):
    """Why a request or a check may not ask `port`: only the lesson's published ports answer (a seat maps those)."""
    published = ", ".join(map(str, sorted(lesson.published_ports))) or "none"
    return (f"port {port} is not one the lesson publishes (its runs' ports and its compose.yaml's: {published}); "
            "a seat maps only those")


@dataclass
class Catalog:
    """Every lesson that loaded, in workshop order, and the message of every one that did not."""

    lessons: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def get(self, lesson_id):
        return next((lesson for lesson in self.lessons if lesson.id == lesson_id), None)

    @property
    def ids(self):
        return [lesson.id for lesson in self.lessons]

    @property
    def default(self):
        """The lesson the class starts on: the one whose file says `default = true`, else the first."""
        return next((lesson for lesson in self.lessons if lesson.default), self.lessons[0] if self.lessons else None)


def load_catalog(root):
    """The lessons of every folder in `root` that holds a lesson file, in the folders' order (02-… before 03-…).

    A lesson with a mistake is left out and its message kept, as is a second lesson with an id or a folder already
    taken, or a second `default = true`.
    """
    catalog = Catalog()
    for source in sorted(Path(root).iterdir()):
        if not (source / LESSON_FILE).is_file():
            continue
        try:
            lesson = load_lesson(source)
        except LessonError as error:
            catalog.errors.append(str(error))
            continue
        if catalog.get(lesson.id) is not None:
            catalog.errors.append(str(LessonError(source / LESSON_FILE, f"the id {lesson.id!r} is taken by "
                                                                        "another lesson", field_name="id")))
            continue
        if lesson.folder and any(other.folder == lesson.folder for other in catalog.lessons):
            catalog.errors.append(str(LessonError(source / LESSON_FILE, f"the folder {lesson.folder!r} is taken "
                                                                        "by another lesson", field_name="folder")))
            continue
        if lesson.default and any(other.default for other in catalog.lessons):
            catalog.errors.append(str(LessonError(source / LESSON_FILE, f"{catalog.default.id!r} is the default "
                                                                        "lesson already", field_name="default")))
            continue
        catalog.lessons.append(lesson)
    return catalog
