"""What every page and fragment shows, shared by the blueprints: a lesson's panels as template context, the polls'
204 check, and the whole lesson page for browsers that did not ask through htmx."""

import time
from pathlib import Path, PurePosixPath

from flask import current_app, g, render_template, request, url_for

from ..domain import actions, checks, commands, dockerfile, progress
from ..domain.errors import EngineError
from ..domain.lessons import BASE_IMAGE, COMPOSE_IMAGES, POSTGRES_IMAGE
from ..domain.room import listed_now
from ..seat_host import layout
from . import forms
from .security import is_instructor
from .extensions import (
    get_board,
    get_build_turns,
    get_builder,
    get_catalog,
    get_engine,
    get_lesson_pick,
    get_roster,
    get_room_life,
    get_snapshot,
    get_stand_ins,
    get_transcript,
    get_workshop,
    htmx,
)

# The page that acted refreshes its list, transcript and steps at once; other pages catch up at their next poll.
CHANGED = {"HX-Trigger": "containers-changed, transcript-changed, board-changed"}
CHECKS_EVERY = 10  # seconds: a watched lesson's checks are refreshed at least this often, and on every change


def current_lesson():
    """The lesson the class is on."""
    return get_lesson_pick().lesson


def lesson_named(value):
    """The loaded lesson with this id; 404 with the lessons there are when there is none."""
    lesson = get_catalog().get(forms.lesson_id(value))
    if lesson is None:
        raise forms.NoSuchThing(f"There is no lesson {value[:40]!r}: the lessons are {', '.join(get_catalog().ids)}.")
    return lesson


def lesson_asked():
    """The lesson a fragment's `lesson` query names, else the current one."""
    value = request.args.get("lesson")
    return current_lesson() if value is None else lesson_named(value)


def step_named(lesson, value):
    step = lesson.step(forms.step_id(value))
    if step is None:
        raise forms.NoSuchThing(f"The lesson {lesson.id} has no step {value[:40]!r}.")
    return step


def place_for(lesson, seat=None):
    """Where the lesson's steps run: its workshop folder (the default lesson's: BUILD_CONTEXT), and the images that
    stand in for those it names (for python:3.12-slim and postgres:16, those domain/stand_ins.py gives;
    DASHBOARD_IMAGE for the default lesson's build); a seat's: the lesson's folder in the seat's own, on its own
    engine, which holds the stand-ins under the lessons' names. Made once per request."""
    places = g.setdefault("places", {})
    key = (lesson.id, seat.name if seat else None)
    if key not in places:
        places[key] = _place(lesson, seat)
    return places[key]


def _place(lesson, seat):
    config = current_app.config
    workshop = get_workshop()
    if seat is not None:
        return seat_place(lesson, seat)
    folder = Path(config["BUILD_CONTEXT"]) if lesson == get_catalog().default else workshop.folder(lesson)
    own_tag = {tag: config["IMAGE"] for tag in get_catalog().default.builds} if config["IMAGE"] else {}
    stand_ins = own_tag | {named: s.used for named, s in get_stand_ins().current().items()}
    return actions.Place(folder, workshop.home, stand_ins, stand_ins.get(BASE_IMAGE),
                         postgres_image=stand_ins.get(POSTGRES_IMAGE), probe_host=config["COW_HOST"] or None)


def seat_place(lesson, seat):
    """A seat's place: the lesson's folder in the seat's own (as its terminal and its engine see it, under
    ~/docker-workshop), the lesson's images by their own names, its ports answering in its namespace."""
    roster = get_roster()
    where = get_room_life().seat_place(seat.name)
    return actions.Place(where.files / lesson.folder, PurePosixPath(layout.HOME), seat=seat.name,
                         build_turns=get_build_turns(), stint=roster.stint(seat),
                         seen=PurePosixPath(layout.FOLDER) / lesson.folder, probe_host=where.seat_address,
                         own_files=get_room_life().seat_host.student_files(seat.name))


def engine_of(seat=None):
    """The engine a page of `seat` acts on: the seat's own, else the instructor's (the host's)."""
    return get_room_life().seat_engine(seat.name) if seat is not None else get_engine()


def snapshot_of(seat=None):
    """The container list of that engine, shared by its readers."""
    return get_room_life().seat_snapshot(seat.name) if seat is not None else get_snapshot()


def probe_host():
    """Where the server asks a published port: DASHBOARD_COW_HOST, else the engine's host (127.0.0.1 when local)."""
    return current_app.config["COW_HOST"] or get_engine().endpoint.published_host("127.0.0.1")


def build_step(lesson):
    return next((step for step in lesson.steps if step.action.definition.builds_image), None)


def build_plan(lesson):
    """The build the lesson's build step starts, and the command that does the same."""
    return actions.build_plan(lesson, build_step(lesson).action, place_for(lesson))


def shown_already(version):
    """True when an htmx poll carries the version it would get; it is then answered 204, and nothing is swapped."""
    return bool(htmx) and request.args.get("since") == version


def containers_view(lesson):
    """What the lesson's container list shows: its containers in the shared snapshot, or why the engine cannot say."""
    try:
        version, containers, stopping = get_snapshot().current()
        engine_error = None
    except EngineError as error:  # the page still renders, with the banner saying why
        version, containers, stopping, engine_error = "unreachable", [], frozenset(), str(error)
    return {"containers": [c for c in containers if c.lesson == lesson.id],
            "containers_version": f"{version}-{lesson.id}", "stopping": stopping, "engine_error": engine_error,
            "list_cli": commands.lesson_list_command(lesson.id, True), "lesson": lesson}


def build_panel_version():
    """Changes when the build moves on, and when an image changes on the engine (a `docker build` or `docker rmi`
    from the CLI too), so open build panels show the image and layers the engine has."""
    return f"{get_builder().version}-{get_snapshot().images_version}"


def image_view(lesson):
    """The lesson's build: the current build, the image as the engine has it and its layers (`docker history`)."""
    version = build_panel_version()  # taken first: a change while reading shows at the next poll
    plan = build_plan(lesson)
    latest = get_builder().current
    build = latest if latest is not None and latest.plan.tag == plan.tag else None  # this lesson's image's
    try:
        image, layers = get_engine().image(plan.tag), get_engine().history(plan.tag)
    except EngineError:
        image, layers = None, []
    other = latest if latest is not None and latest is not build and latest.running else None
    return {"build": build, "other_build": other,
            "build_version": version, "image": image, "layers": layers,
            "build_cli": plan.command, "build_tag": plan.tag, "build_step": build_step(lesson),
            "history_cli": commands.history_command(plan.tag), "builder_note": builder_note(lesson),
            "lesson": lesson}


def builder_note(lesson):
    """This Dockerfile's lines as this log (the classic builder) and BuildKit print them, when the engine is one
    whose CLI builds with BuildKit (Docker Engine 23 and later); None otherwise, or while the engine is away."""
    about = get_engine().about()
    if about is None or not about.cli_builds_with_buildkit:
        return None
    return {"engine_version": about.version,
            "lines": dockerfile.builder_lines(dockerfile_view(lesson)["instructions"])}


def dockerfile_view(lesson):
    """The lesson's Dockerfile, read from the file its build uses, instruction by instruction; read once per
    request (the page and the builder note both show it)."""
    views = g.setdefault("dockerfiles", {})
    if lesson.id not in views:
        views[lesson.id] = _dockerfile_view(lesson)
    return views[lesson.id]


def _dockerfile_view(lesson):
    path = Path(build_plan(lesson).context) / "Dockerfile"
    try:
        instructions = dockerfile.instructions(path.read_text())
    except OSError:  # removed by hand: "restore this lesson's files" brings it back
        instructions = []
    return {"instructions": instructions, "dockerfile_path": path, "workshop_dir": get_workshop().root,
            "changed_files": changed_files(lesson), "lesson": lesson}


def changed_files(lesson):
    """The lesson's files that differ from its own where its steps run (an earlier class's edits): shown beside
    Restore, which brings them back."""
    return get_workshop().changed(lesson, place_for(lesson).folder)


def transcript_view(lesson):
    """The lesson's actions so far, and the version open pages compare theirs with."""
    store = get_transcript()
    return {"entries": store.entries(lesson.id), "transcript_version": store.version(), "lesson": lesson}


def evaluate_check(lesson, check, seat=None):
    """A check's result now (see checks.evaluate); a seat's on its own engine. It reads that engine's shared
    container list as next read (at most one read a refresh period, however many ask; at once after a press,
    which marks it stale), so it sees what a command typed or pasted before it did."""
    return checks.evaluate(engine_of(seat), lesson, check, place_for(lesson, seat), probe_host(),
                           listed_now(snapshot_of(seat)))


def refresh_checks(lesson, seats_=None):
    """Refresh the lesson's checks in the background when what they look at may have changed: the containers or
    images (as the engine's events tell), or every CHECKS_EVERY seconds (a file edited in an editor). With
    `seats_`, those seats' checks of the lesson instead, each on its own engine (read at most once per change or
    period: its shared list), in one background refresh (the progress grid's)."""
    now = time.monotonic()
    host = probe_host()

    def wanted(seat):
        engine, snapshot, place = engine_of(seat), snapshot_of(seat), place_for(lesson, seat)
        try:
            listed_at, containers = snapshot.listed()
            images = snapshot.images_version
        except EngineError:
            listed_at, containers, images = now, None, None
        # What the checks look at: the scope's own containers (not their "Up 5 seconds"), the images, and the
        # time in steps of CHECKS_EVERY.
        own = None if containers is None else tuple(
            (c.id, c.name, c.state, c.ports) for c in containers if checks.of_lesson(c, lesson, place))
        return listed_at, (checks.scope_of(lesson.id, seat and seat.name), lesson,
                           (own, images, int(now // CHECKS_EVERY)),
                           lambda check: checks.evaluate(engine, lesson, check, place, host, containers))

    asked = [wanted(seat) for seat in (seats_ if seats_ is not None else [None])]
    if asked:
        get_board().refresh_many([item for _, item in asked], min(at for at, _ in asked))


def board_version(lesson, seat=None):
    """Changes when the board changes for this lesson as the instructor does it, or as this seat does."""
    scope = checks.scope_of(lesson.id, seat and seat.name)
    return f"{get_board().version_of(scope)}-{scope}"


def steps_view(lesson, host_port=None, seat=None, can_act=None):
    """Each step with its command, its check's latest result and its latest run, as the board has them; for a
    seat, the seat's (the lesson's commands as written, for its own engine). `can_act`: whether this page shows the buttons (default: the
    instructor's page does)."""
    board, place = get_board(), place_for(lesson, seat)
    scope = checks.scope_of(lesson.id, seat and seat.name)
    steps = [{"step": step, "number": number,
              "cli": actions.command(lesson, step.action, place,
                                     host_port if step == lesson.port_run and seat is None else None),
              "result": board.result(scope, step.id), "ran": board.last_run(scope, step.id)}
             for number, step in enumerate(lesson.steps, start=1)]
    if can_act is None:
        can_act = seat is None and is_instructor()
    version = board_version(lesson, seat)
    if seat is None:
        board_url = url_for("lessons.board", lesson_id=lesson.id, since=version)
    elif can_act:
        board_url = url_for("seat.board", since=version, lesson=lesson.id)
    else:  # the instructor watching a seat's page
        board_url = url_for("room.seat_board", name=seat.name, since=version, lesson=lesson.id)
    return {"lesson": lesson, "steps": steps, "board_version": version, "place": place, "seat": seat,
            "can_act": can_act, "urls": SEAT_URLS if seat is not None else LESSON_URLS, "board_url": board_url}


# Where a step's buttons and a page's board poll go: the instructor's lesson URLs, or a seat's own.
LESSON_URLS = {"press": "steps.press", "check": "steps.check"}
SEAT_URLS = {"press": "seat.press", "check": "seat.check"}


def stand_ins_shown(lesson):
    """The stand_ins.StandIn of each pulled image this lesson uses (a build or Compose uses the base image) that a
    local image stands in for, here where no registry answers: which one, and what chose it."""
    named = {step.action.definition.pulled_image(step.action) for step in lesson.steps} - {None}
    if any(step.action.definition.uses_base_image for step in lesson.steps):
        named.add(BASE_IMAGE)
    # the images its compose.yaml names by a stand-in variable: ${POSTGRES_IMAGE:-postgres:16}
    named |= {COMPOSE_IMAGES[variable] for step in lesson.steps
              for variable in step.action.definition.variables_named(lesson)}
    in_use = get_stand_ins().current()
    return [in_use[image] for image in sorted(named) if image in in_use]


def lesson_view(lesson, host_port=None):
    """Everything a lesson page shows."""
    view = steps_view(lesson, host_port)
    view.update({
        "labelled_by_command": any(step.action.definition.labelled_by_command(lesson, step.action)
                                   for step in lesson.steps),
        "stand_ins": stand_ins_shown(lesson), "changed_files": changed_files(lesson),
        "current_id": get_lesson_pick().id, "catalog": get_catalog()})
    if build_step(lesson) is not None:
        view.update(image_view(lesson))
        view.update(dockerfile_view(lesson))
    view.update(containers_view(lesson))
    view.update(transcript_view(lesson))
    return view


def room_view():
    """The room, the current lesson's grid (seats down, steps across) and its counts; costs the engine nothing
    beyond the shared list: the seats' checks are refreshed in the background, throttled (checks.Board)."""
    roster, lesson = get_roster(), current_lesson()
    room = roster.room
    seat_list = list(room.seats.values()) if room else []
    life = get_room_life()
    opening = life.opening if room is not None and life.opening is not None and life.opening.room == room.id \
        else None
    if room and not room.ended and (opening is None or opening.finished):
        refresh_checks(lesson, seat_list)
    rows, counts = progress.grid(get_board(), lesson, seat_list)
    every_seat = life.every_seat if life.every_seat is not None and life.every_seat.lesson == lesson.id else None
    failed = life.opening if life.opening is not None and life.opening.error and room is None else None
    return {"room": room, "lesson": lesson, "rows": rows, "counts": counts, "refused": None,
            "every_seat": every_seat, "opening": opening, "failed_opening": failed,
            "seat_ports": seat_ports(room),
            "grid_version": f"{get_board().version}-{life.version}-{opening.version if opening else ''}-{lesson.id}"}


def seat_ports(room):
    """{seat name: its (host port, lesson port) pairs}: `http://ROOM-HOST:8001/` is its engine's port 8000."""
    return {state.name: state.ports for state in get_room_life().states(room)} if room else {}


def render_lesson(lesson=None, presenter=False, follows=False, host_port=None):
    """The whole lesson page (the current lesson's unless given); views call this for browsers that did not ask
    through htmx. `follows`: the page moves to the lesson the instructor picks (`/` and `/present`)."""
    lesson = lesson or current_lesson()
    port_run = lesson.port_run
    host_port = host_port or (port_run.action.ports[0].host if port_run else None)
    refresh_checks(lesson)
    room = room_view() if presenter and lesson == current_lesson() else None
    return render_template("lesson.html", presenter=presenter, follows=follows, host_port=host_port,
                           room_grid=room, **lesson_view(lesson, host_port))
