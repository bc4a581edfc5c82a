"""A classroom dashboard that teaches Docker by doing it, each button beside the docker command it runs.

`domain/` is the lesson with no web framework in it (the engine, builds, the class, the transcript, the commands
shown); `web/` puts it on the web (blueprints, errors, security, forms). create_app wires the two together.
"""

import os
from pathlib import Path

from flask import Flask

from . import config

PACKAGE = Path(__file__).parent


def _resource_dir(name):
    """Templates and static files sit beside the package in a checkout and inside it in an installed wheel."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else PACKAGE.parent / name


def open_workshop(settings):
    """The workshop folder of `settings` (WORKSHOP_DIR), with every lesson's missing files written into it; a folder
    that cannot be made or written stops the start with a ConfigError saying so (gunicorn checks it first too)."""
    from .domain.workshop import WorkshopError, workshop

    folder = workshop(settings["WORKSHOP_DIR"], PACKAGE)
    try:
        folder.provide()
    except WorkshopError as error:
        raise config.ConfigError(str(error)) from None
    return folder


def create_app(test_config=None):
    """Make the app; settings come from DASHBOARD_* environment variables, then `test_config`."""
    app = Flask(
        __name__,
        template_folder=_resource_dir("templates"),
        static_folder=_resource_dir("static"),
        instance_path=os.environ.get("DASHBOARD_INSTANCE_PATH"),  # secrets and the transcript live here
    )
    app.config.from_mapping(config.defaults())
    app.config.update(config.from_environment(os.environ))
    if test_config is not None:
        app.config.update(test_config)
    app.extensions["workshop"] = open_workshop(app.config)
    if app.config["BUILD_CONTEXT"] is None:
        app.config["BUILD_CONTEXT"] = str(app.extensions["workshop"].folder("images"))

    from .domain import builds, classroom, engine, snapshot, transcript
    from .web import blueprints, errors, filters, security
    from .web.extensions import htmx

    if app.config["TRANSCRIPT_PATH"] is None:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["TRANSCRIPT_PATH"] = os.path.join(app.instance_path, "transcript.sqlite3")
    store = transcript.TranscriptStore(app.config["TRANSCRIPT_PATH"])
    app.extensions["transcript"] = store
    app.extensions["engine"] = engine.Engine(app.config["ENGINE_TIMEOUT"], app.config["ENGINE_READ_TIMEOUT"])
    app.extensions["snapshot"] = snapshot.ContainerSnapshot(
        app.extensions["engine"], app.config["SNAPSHOT_SECONDS"], min_interval=app.config["REFRESH_SECONDS"]
    )
    app.extensions["builder"] = builds.Builder(on_finish=store.record_build)
    app.extensions["classroom"] = classroom.Classroom(app.config["SEAT_PREFIX"], on_finish=store.record_class_start)
    htmx.init_app(app)
    security.configure(app)
    errors.register(app)
    filters.register(app)
    blueprints.register(app)
    return app
