"""The lesson page: build, run, list and remove, each button beside its docker command."""

from flask import Blueprint, current_app, render_template, request

from . import cli, htmx
from .builds import get_builder
from .engine import EngineUnavailable, get_engine
from .snapshot import get_snapshot

bp = Blueprint("lesson", __name__)


def image_ref():
    """The reference `docker run` uses: the tag the build gives, at latest."""
    return f"{current_app.config['IMAGE']}:latest"


def build_cli():
    config = current_app.config
    return cli.build_command(config["BUILD_CONTEXT"], config["IMAGE"], config["BASE_IMAGE"])


def build_args():
    base_image = current_app.config["BASE_IMAGE"]
    return {"BASE_IMAGE": base_image} if base_image else {}


def shown_already(version):
    """True when an htmx poll carries the version it would get; it is then answered 204, and nothing is swapped."""
    return bool(htmx) and request.args.get("since") == version


def containers_view():
    """What the container list shows: the shared snapshot of the containers, or why the engine cannot say."""
    try:
        version, containers = get_snapshot().current()
        engine_error = None
    except EngineUnavailable as error:
        version, containers, engine_error = "unreachable", [], str(error)
    return {"containers": containers, "containers_version": version, "engine_error": engine_error,
            "list_cli": cli.list_command()}


def image_view():
    """The current build, or else the image as the engine has it."""
    try:
        image = get_engine().image(image_ref())
    except EngineUnavailable:
        image = None
    builder = get_builder()
    return {"build": builder.current, "build_version": builder.version, "image": image, "build_cli": build_cli()}


def render_page(host_port=None, result=None):
    """The whole lesson page; other views call this for browsers that did not ask through htmx."""
    host_port = host_port or current_app.config["DEFAULT_HOST_PORT"]
    return render_template(
        "index.html",
        host_port=host_port,
        run_cli=cli.run_command(image_ref(), host_port),
        result=result,
        **image_view(),
        **containers_view(),
    )


@bp.get("/")
def index():
    return render_page()
