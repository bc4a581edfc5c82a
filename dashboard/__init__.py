"""A classroom dashboard that teaches Docker by doing it, each button beside the docker command it runs."""

import os
from pathlib import Path

from flask import Flask
from flask_htmx import HTMX

from . import config

htmx = HTMX()

PACKAGE = Path(__file__).parent


def _resource_dir(name):
    """Templates and static files sit beside the package in a checkout and inside it in an installed wheel."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else PACKAGE.parent / name


def create_app(test_config=None):
    """Make the app; settings come from DASHBOARD_* environment variables, then `test_config`."""
    app = Flask(
        __name__,
        template_folder=_resource_dir("templates"),
        static_folder=_resource_dir("static"),
        instance_path=os.environ.get("DASHBOARD_INSTANCE_PATH"),  # secrets and the transcript live here
    )
    app.config.from_mapping(config.defaults(), BUILD_CONTEXT=str(PACKAGE / "cowserv"))
    app.config.update(config.from_environment(os.environ))
    if test_config is not None:
        app.config.update(test_config)

    from . import builds, engine, errors, filters, seats, security, snapshot, transcript_store

    if app.config["TRANSCRIPT_PATH"] is None:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["TRANSCRIPT_PATH"] = os.path.join(app.instance_path, "transcript.sqlite3")
    transcript = transcript_store.TranscriptStore(app.config["TRANSCRIPT_PATH"])
    app.extensions["transcript"] = transcript
    app.extensions["engine"] = engine.Engine(app.config["ENGINE_TIMEOUT"], app.config["ENGINE_READ_TIMEOUT"])
    app.extensions["snapshot"] = snapshot.ContainerSnapshot(
        app.extensions["engine"], app.config["SNAPSHOT_SECONDS"], min_interval=app.config["REFRESH_SECONDS"]
    )
    app.extensions["builder"] = builds.Builder(on_finish=transcript.record_build)
    app.extensions["classroom"] = seats.Classroom(app.config["SEAT_PREFIX"], on_finish=transcript.record_class_start)
    htmx.init_app(app)
    security.configure(app)
    errors.register(app)
    filters.register(app)

    from . import auth, classroom, containers, health, images, lesson, transcript

    app.register_blueprint(auth.bp)
    app.register_blueprint(lesson.bp)
    app.register_blueprint(images.bp)
    app.register_blueprint(containers.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(transcript.bp)
    app.register_blueprint(classroom.bp)
    return app
