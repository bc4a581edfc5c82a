"""A classroom dashboard that teaches Docker by doing it, each button beside the docker command it runs."""

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
    )
    app.config.from_mapping(
        IMAGE="cowserv",
        BUILD_CONTEXT=str(PACKAGE / "cowserv"),
        BASE_IMAGE=None,
        DEFAULT_HOST_PORT=8000,
        REFRESH_SECONDS=1,
        SNAPSHOT_SECONDS=5,
    )
    app.config.from_prefixed_env("DASHBOARD")
    if test_config is not None:
        app.config.update(test_config)

    from . import builds, engine, errors, filters, snapshot

    app.extensions["engine"] = engine.Engine()
    app.extensions["snapshot"] = snapshot.ContainerSnapshot(app.extensions["engine"], app.config["SNAPSHOT_SECONDS"])
    app.extensions["builder"] = builds.Builder()
    htmx.init_app(app)
    errors.register(app)
    filters.register(app)

    from . import containers, health, images, lesson

    app.register_blueprint(lesson.bp)
    app.register_blueprint(images.bp)
    app.register_blueprint(containers.bp)
    app.register_blueprint(health.bp)
    return app
