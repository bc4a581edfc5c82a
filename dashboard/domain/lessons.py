"""Lessons as data: each lesson is a folder holding `lesson.toml` and the files its steps use.

A lesson has an id (the value of its `classroom.lesson` label), a title, an introduction and ordered steps; a step
has one action from a fixed vocabulary (ACTIONS) and an optional check (CHECKS). Loading validates everything a
step will need before anyone presses a button, and names the file, the step and the field of each mistake; a
broken lesson is left out with its message, and never takes the others down.
"""

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

LESSON_FILE = "lesson.toml"
BASE_IMAGE = "python:3.12-slim"  # what lessons name for a plain Python; DASHBOARD_BASE_IMAGE stands in for it
POSTGRES_IMAGE = "postgres:16"  # what the state lesson names; DASHBOARD_POSTGRES_IMAGE stands in for it
# Every container and image a lesson makes carries LESSON_LABEL=<lesson id>, whether the dashboard or the docker CLI
# made it (the LABEL line of the Dockerfile a lesson builds, or `--label`): how the dashboard knows what is its own.
LESSON_LABEL = "classroom.lesson"
LESSON = "cowserv"  # the images lesson, whose Dockerfile carries the label
CONTAINER_PORT = 8000  # where the images lesson's cow listens in its container
IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")  # lesson and step ids: URL- and label-safe
CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}")  # as the engine takes `--name`
VOLUME_NAME = CONTAINER_NAME  # the engine takes the same characters for a named volume
IMAGE_REF = re.compile(r"[a-z0-9][a-z0-9._/-]{0,127}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
HEREDOC_END = "EOF"  # an edit's shell command is `cat > FILE <<'EOF'`: the content may not hold that line


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


@dataclass(frozen=True)
class Action:
    """One action of the vocabulary and its arguments, as the lesson file gives them (see ACTIONS)."""

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
    file: str = ""  # edit: a file inside the lesson's folder
    content: str = ""  # edit

    @property
    def needs_folder(self):
        """True when the command runs in the lesson's folder: a build, Compose (its compose.yaml is there), or a
        run bind-mounting `$(pwd)`."""
        return self.kind in ("build", "compose") or any(mount.binds_folder for mount in self.volumes)


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

    @property
    def absence(self):
        """True for a check that passes when something is not there (gone, empty, volume_gone): it passes before
        the thing was ever made, too."""
        return self.kind in ABSENCE


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    text: str
    action: Action
    check: Check | None = None
    hint: str = ""


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

    def step(self, step_id):
        return next((step for step in self.steps if step.id == step_id), None)

    @property
    def builds(self):
        """The tags this lesson's steps build: their images carry the lesson's label from their Dockerfile."""
        return {step.action.tag for step in self.steps if step.action.kind == "build"}

    @property
    def port_run(self):
        """The first detached run publishing a port: what classroom mode starts once per seat; None without one."""
        return next((step for step in self.steps
                     if step.action.kind == "run" and step.action.detach and step.action.ports), None)


# What each action and check takes: field -> (parser, required). Anything else in the table is refused.
def _text(value):
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value


def _line(value):
    value = _text(value).strip()
    if not value or "\n" in value:
        raise ValueError("must be one non-empty line")
    return value


def _matching(pattern, what):
    def parse(value):
        value = _text(value)
        if not pattern.fullmatch(value):
            raise ValueError(f"{value[:60]!r} is not {what}")
        return value
    return parse


def _boolean(value):
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _words(value):
    if not isinstance(value, list) or not value or not all(isinstance(word, str) and word for word in value):
        raise ValueError('must be a list of non-empty strings, as in ["echo", "hello"]')
    if any("\x00" in word or "\n" in word for word in value):
        raise ValueError("words may not hold a newline or a NUL")
    return tuple(value)


def _port_number(text):
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and 1 <= int(text) <= 65535):
        raise ValueError(f"{text[:20]!r} is not a port from 1 to 65535")
    return int(text)


def _ports(value):
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError('must be a list like ["8000:8000"] (host port:container port)')
    ports = []
    for item in value:
        host, colon, container = item.partition(":")
        if not colon:
            raise ValueError(f"{item[:20]!r} is not HOST:CONTAINER, as in \"8000:8000\"")
        ports.append(Port(_port_number(host), _port_number(container)))
    return tuple(ports)


def _env(value):
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


def _volumes(value):
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


def _relative(value):
    """A path inside the lesson's folder: relative, no `..`, simple characters (it is typed in shell commands)."""
    value = _text(value)
    path = PurePosixPath(value)
    if (not value or path.is_absolute() or ".." in path.parts
            or not re.fullmatch(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*", value)):
        raise ValueError(f"{value[:60]!r} is outside the lesson's folder: give a path inside it, as in \"index.html\"")
    return value


def _tail(value):
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10_000:
        raise ValueError("must be a whole number from 1 to 10000")
    return value


def _content(value):
    value = _text(value)
    if HEREDOC_END in value.splitlines():
        raise ValueError(f"may not hold a line that is exactly {HEREDOC_END} (it ends the shell command's heredoc)")
    if "\x00" in value:
        raise ValueError("may not hold a NUL")
    return value if value.endswith("\n") else value + "\n"


_NAME = _matching(CONTAINER_NAME, "a container name (letters, digits, _ . -)")
_VOLUME = _matching(VOLUME_NAME, "a volume name (letters, digits, _ . -)")
_IMAGE = _matching(IMAGE_REF, "an image reference such as python:3.12-slim")

ACTIONS = {
    "build": {"tag": (_matching(IDENTIFIER, "a tag (lowercase letters, digits, -)"), True),
              "context": (_relative, False)},
    "run": {"image": (_IMAGE, True), "name": (_NAME, False), "detach": (_boolean, False),
            "remove": (_boolean, False), "interactive": (_boolean, False), "ports": (_ports, False),
            "env": (_env, False), "volumes": (_volumes, False), "command": (_words, False)},
    "exec": {"name": (_NAME, True), "command": (_words, True), "env": (_env, False)},
    "logs": {"name": (_NAME, True), "tail": (_tail, False)},
    "list": {"all": (_boolean, False)},
    "remove": {"name": (_NAME, True)},
    "stop_and_remove": {"name": (_NAME, True)},
    "force_remove": {"name": (_NAME, True)},
    "edit": {"file": (_relative, True), "content": (_content, True)},
    "volume_create": {"name": (_VOLUME, True)},
    "volume_list": {},
    "volume_remove": {"name": (_VOLUME, True)},
    "compose": {"command": (_words, True)},  # Compose's subcommand and its options: ["up", "-d"]
}

ABSENCE = {"gone", "empty", "volume_gone"}  # checks that something is not there
CHECKS = {
    "image": {"tag": (_matching(IDENTIFIER, "a tag the lesson builds"), True)},
    "running": {"container": (_NAME, False)},  # without one: any of the lesson's containers
    # A published port answers with the text; `file`: the lesson's file the text is in (the page a container
    # serves), so that the file as it is in the workshop folder now, when it was changed, is accepted too.
    "answers": {"container": (_NAME, False), "text": (_line, True), "file": (_relative, False)},
    # An exec check's `starting`: a text its output holds while the program is still starting (pg_isready's
    # "no response"): the check then says "starting", not "failed".
    "exec": {"container": (_NAME, True), "command": (_words, True), "text": (_line, False), "env": (_env, False),
             "starting": (_line, False)},
    "volume": {"name": (_VOLUME, True)},  # the lesson's volume exists
    "volume_gone": {"name": (_VOLUME, True)},  # no volume of that name is the lesson's
    "empty": {},  # no container of the lesson is left
    "printed": {"container": (_NAME, True), "text": (_line, True)},  # the container's output holds the text
    "gone": {"container": (_NAME, True)},
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
    unknown = set(data) - {"id", "title", "text", "hint", "action", "check"}
    if unknown:
        raise LessonError(path, "a step takes id, title, text, hint, action, check", step_id, sorted(unknown)[0])
    if "action" not in data:
        raise LessonError(path, "missing: every step has one action", step_id, "action")
    action = Action(**_fields(data["action"], ACTIONS, path, step_id, "action"))
    check = Check(**_fields(data["check"], CHECKS, path, step_id, "check")) if "check" in data else None
    hint = data.get("hint", "")
    if not isinstance(hint, str):
        raise LessonError(path, "must be text", step_id, "hint")
    return Step(step_id, _required_text(data, "title", path, step_id), _required_text(data, "text", path, step_id),
                action, check, hint.strip())


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
    unknown = set(data) - {"id", "title", "intro", "folder", "files", "steps"}
    if unknown:
        raise LessonError(path, "a lesson takes id, title, intro, folder, files, steps", field_name=sorted(unknown)[0])
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
            _relative(name)
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
    lesson = Lesson(lesson_id, _required_text(data, "title", path), _required_text(data, "intro", path),
                    source, folder, tuple(files), steps, order=source.name)
    _check_lesson(lesson, path)
    return lesson


def _check_lesson(lesson, path):
    """What no single field says: unique step ids, folders where a step needs one, builds that label their image."""
    seen = set()
    for step in lesson.steps:
        if step.id in seen:
            raise LessonError(path, "two steps have this id", step.id, "id")
        seen.add(step.id)
        action = step.action
        if action.needs_folder and not lesson.folder:
            raise LessonError(path, "this action runs in the lesson's workshop folder: give the lesson a folder",
                              step.id, "action")
        if action.kind == "compose" and "compose.yaml" not in lesson.files:
            raise LessonError(path, "a compose step needs compose.yaml among the lesson's files", step.id,
                              "action.command")
        if action.kind == "edit" and action.file not in lesson.files:
            raise LessonError(path, f"{action.file!r} is not one of the lesson's files", step.id, "action.file")
        if action.kind == "build":
            dockerfile = lesson.source / action.context / "Dockerfile"
            if not dockerfile.is_file():
                raise LessonError(path, f"there is no Dockerfile in {dockerfile.parent}", step.id, "action.context")
            if str(PurePosixPath(action.context) / "Dockerfile") not in {str(PurePosixPath(f)) for f in lesson.files}:
                raise LessonError(path, "the build's Dockerfile must be one of the lesson's files (it is built from "
                                        "the workshop folder's copy)", step.id, "action.context")
            label = f'LABEL {LESSON_LABEL}="{lesson.id}"'
            if label not in dockerfile.read_text().splitlines():
                raise LessonError(path, f"{dockerfile} must carry the line {label}, so its containers are the "
                                        "lesson's", step.id, "action.context")
        check = step.check
        if check is not None and check.file:
            if check.file not in lesson.files:
                raise LessonError(path, f"{check.file!r} is not one of the lesson's files", step.id, "check.file")
            if check.text not in (lesson.source / check.file).read_text(errors="replace"):
                raise LessonError(path, f"{check.file} does not hold the check's text {check.text!r}", step.id,
                                  "check.file")
        if action.kind == "run" and action.interactive and action.detach:
            raise LessonError(path, "a run is interactive (-it) or detached (-d), not both", step.id,
                              "action.interactive")


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


def load_catalog(root):
    """The lessons of every folder in `root` that holds a lesson file, in the folders' order (02-… before 03-…).

    A lesson with a mistake is left out and its message kept, as is a second lesson with an id already taken.
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
        catalog.lessons.append(lesson)
    return catalog
