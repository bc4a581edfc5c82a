"""A classroom dashboard that teaches Docker by doing it, each button beside the docker command it runs."""

import os
from pathlib import Path

from flask import Flask
from flask_htmx import HTMX

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
    app.config.from_mapping(
        IMAGE="cowserv",
        BUILD_CONTEXT=str(PACKAGE / "cowserv"),
        BASE_IMAGE=None,
        DEFAULT_HOST_PORT=8000,
        REFRESH_SECONDS=1,
        SNAPSHOT_SECONDS=5,
        TRANSCRIPT_PATH=None,  # default: transcript.sqlite3 in the instance folder
        COW_HOST="127.0.0.1",
        LOG_LINES=200,
        DEFAULT_SEATS=30,  # classroom mode: the start form's seat count, its limit and its first port
        MAX_SEATS=300,
        FIRST_SEAT_PORT=8001,
        SEAT_PREFIX="seat-",  # seats are named PREFIX + port; stop-all removes the lesson's containers named so
        CLASS_WORKERS=6,  # engine calls at once when the class starts or stops
        INSTRUCTOR_TOKEN=None,  # default: generated on first start, kept in the instance folder, printed
        SECRET_KEY=None,  # default: generated on first start, kept in the instance folder
        SESSION_MINUTES=480,
        MAX_CONTENT_LENGTH=16 * 1024,  # forms here are a few fields; anything larger is refused with a 413
    )
    app.config.from_prefixed_env("DASHBOARD")
    if test_config is not None:
        app.config.update(test_config)

    from . import builds, engine, errors, filters, seats, security, snapshot, transcript_store

    if app.config["TRANSCRIPT_PATH"] is None:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["TRANSCRIPT_PATH"] = os.path.join(app.instance_path, "transcript.sqlite3")
    transcript = transcript_store.TranscriptStore(app.config["TRANSCRIPT_PATH"])
    app.extensions["transcript"] = transcript
    app.extensions["engine"] = engine.Engine()
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
