"""A classroom dashboard that teaches Docker by doing it, each button beside the docker command it runs.

`domain/` is the lesson with no web framework in it (the engine, builds, the class, the transcript, the commands
shown); `web/` puts it on the web (blueprints, errors, security, forms). create_app wires the two together.
"""

import logging
import os
from pathlib import Path

from . import config

PACKAGE = Path(__file__).parent
log = logging.getLogger(__name__)


def _resource_dir(name):
    """Templates and static files sit beside the package in a checkout and inside it in an installed wheel."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else PACKAGE.parent / name


def open_lessons(settings):
    """The lessons in LESSONS_DIR (default: the shipped ones), each validated; a lesson with a mistake is left out
    and its message logged (and shown on the lessons page), never taking the others down. None loading at all stops
    the start with a ConfigError."""
    from .domain.lessons import load_catalog

    root = Path(settings["LESSONS_DIR"] or PACKAGE / "lessons")
    try:
        catalog = load_catalog(root)
    except OSError as error:
        raise config.ConfigError(f"DASHBOARD_LESSONS_DIR {root} cannot be read: {error.strerror or error}") from None
    for message in catalog.errors:
        log.error("Lesson refused: %s", message)
    if not catalog.lessons:
        raise config.ConfigError(f"No lesson in {root} can be used: " + ("; ".join(catalog.errors) or
                                 "it holds no folder with a lesson.toml."))
    return catalog


def open_workshop(settings, catalog):
    """The workshop folder of `settings` (WORKSHOP_DIR), with every lesson's missing files written into it; a folder
    that cannot be made or written stops the start with a ConfigError saying so (gunicorn checks it first too)."""
    from .domain.workshop import WorkshopError, workshop

    folder = workshop(settings["WORKSHOP_DIR"])
    try:
        folder.provide(catalog.lessons)
    except WorkshopError as error:
        raise config.ConfigError(str(error)) from None
    return folder


def open_seat_host(settings):
    """The seats' engines on this host (seat_host.engines.SeatHost), in SEATS_DIR, their stand-ins from the host
    engine's local images (BASE_IMAGE, POSTGRES_IMAGE; else the images the lessons name)."""
    from .seat_host.engines import SeatHost

    return SeatHost(settings["SEATS_DIR"], os.environ.get("DOCKER_HOST"), settings["BASE_IMAGE"],
                    settings["POSTGRES_IMAGE"], settings["CLASS_WORKERS"])


def seat_settings(settings, catalog):
    """What every seat's engine is given besides the room form's limits (domain.room.SeatSettings): the room's
    address for its host ports (BIND's host), its disk budget (SEAT_DISK), and the ports the lessons publish."""
    from .domain.room import SeatSettings
    from .domain.seats import Limits, RoomError, lesson_ports

    try:
        disk = Limits(memory=settings["SEAT_DISK"]).memory_bytes
    except RoomError:
        raise config.ConfigError(f"DASHBOARD_SEAT_DISK {settings['SEAT_DISK'][:20]!r}: a size with k, m or g, as "
                                 "4g.") from None
    host = settings["BIND"].rsplit(":", 1)[0].strip("[]") if ":" in settings["BIND"] else "127.0.0.1"
    if settings["BIND"].startswith("unix:"):
        host = "127.0.0.1"
    return SeatSettings(bind_host=host or "0.0.0.0", disk=disk, lesson_ports=lesson_ports(catalog.lessons),
                        max_seats=settings["MAX_SEATS"], base=str(settings["SEATS_DIR"]))


def create_app(test_config=None):
    """Make the app; settings come from DASHBOARD_* environment variables, then `test_config`."""
    settings = {**config.defaults(), **config.from_environment(os.environ)}
    from flask import Flask  # here: the seats' helper processes (python -m dashboard.seat_host.…) need none

    app = Flask(
        __name__,
        template_folder=_resource_dir("templates"),
        static_folder=_resource_dir("static"),
        instance_path=settings["INSTANCE_PATH"],
    )
    app.config.from_mapping(settings)
    if test_config is not None:
        app.config.update(test_config)
    from .domain import builds, checks, engine, live, presses, room, seat_engines, seats, snapshot, stand_ins, \
        step_runs, transcript
    from .domain.current_lesson import LessonPick
    from .web import blueprints, errors, filters, guesses, security, shedding
    from .web.extensions import htmx

    catalog = app.extensions["catalog"] = open_lessons(app.config)
    app.extensions["workshop"] = open_workshop(app.config, catalog)
    if app.config["BUILD_CONTEXT"] is None:
        app.config["BUILD_CONTEXT"] = str(app.extensions["workshop"].folder(catalog.default))

    os.makedirs(app.instance_path, exist_ok=True)
    if app.config["TRANSCRIPT_PATH"] is None:
        app.config["TRANSCRIPT_PATH"] = os.path.join(app.instance_path, "transcript.sqlite3")
    store = transcript.TranscriptStore(app.config["TRANSCRIPT_PATH"])
    app.extensions["transcript"] = store
    app.extensions["engine"] = engine.Engine(app.config["ENGINE_TIMEOUT"], app.config["ENGINE_READ_TIMEOUT"])
    hub = app.extensions["live"] = live.Hub()
    app.extensions["snapshot"] = snapshot.ContainerSnapshot(
        app.extensions["engine"], app.config["SNAPSHOT_SECONDS"], min_interval=app.config["REFRESH_SECONDS"],
        on_change=lambda seat: hub.publish("containers", seat))
    app.extensions["stand_ins"] = stand_ins.StandIns(
        app.extensions["engine"], app.config, lambda: app.extensions["snapshot"].images_version)
    app.extensions["builder"] = builds.Builder(on_finish=store.record_build)
    # A long step's run and check are on the board (which tells the pages) at its end; its transcript entry too.
    app.extensions["step_runner"] = step_runs.StepRunner(on_finish=lambda run: hub.publish("transcript"))
    app.extensions["board"] = checks.Board(min_interval=app.config["REFRESH_SECONDS"],
                                           on_change=lambda scope: hub.publish("board", live.seat_of(scope)))
    roster = app.extensions["roster"] = seats.Roster(os.path.join(app.instance_path, "room.json"))
    app.extensions["seat_presses"] = presses.SeatPresses()
    seat_host = app.extensions["seat_host"] = open_seat_host(app.config)  # the room's, and the terminals'
    app.extensions["room_life"] = room.RoomLife(
        app.extensions["engine"], roster, app.extensions["board"], app.extensions["snapshot"],
        app.extensions["workshop"], app.extensions["seat_presses"], app.config["SEAT_PREFIX"],
        app.config["CLASS_WORKERS"], on_change=lambda: hub.publish("grid"), seat_host=seat_host,
        seat_engines=seat_engines.SeatEngines(
            seat_host.socket_url, app.config["ENGINE_TIMEOUT"], app.config["ENGINE_READ_TIMEOUT"],
            app.config["SNAPSHOT_SECONDS"], app.config["REFRESH_SECONDS"],
            on_change=lambda seat: (hub.publish("board", seat), hub.publish("grid"))),
        settings=seat_settings(app.config, catalog))
    app.extensions["room_life"].start()  # the open room's seats re-attached, every other seat swept
    app.extensions["build_turns"] = presses.BuildTurns(app.config["BUILD_WAIT_SECONDS"], roster)
    app.extensions["exec_checks"] = presses.Cooldown(app.config["EXEC_CHECK_SECONDS"])
    rate = app.config["SEAT_REQUESTS_PER_SECOND"]
    app.extensions["seat_allowance"] = presses.Allowance(rate, max(1, round(2 * rate)))
    app.extensions["lesson_pick"] = LessonPick(
        os.path.join(app.instance_path, "current-lesson"), catalog, catalog.default.id)
    htmx.init_app(app)
    security.configure(app)
    guesses.configure(app)
    errors.register(app)
    filters.register(app)
    blueprints.register(app)
    shedding.shed_floods(app)
    return app

