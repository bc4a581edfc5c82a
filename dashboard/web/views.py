"""What every page and fragment shows, shared by the blueprints: the lesson's panels as template context, the
polls' 204 check, and the whole lesson page for browsers that did not ask through htmx."""

from pathlib import Path

from flask import current_app, render_template, request

from ..domain import commands, dockerfile
from ..domain.builds import BuildPlan
from ..domain.errors import EngineError
from .extensions import get_builder, get_engine, get_snapshot, get_transcript, get_workshop, htmx

# The page that acted refreshes its list and transcript at once; other pages catch up at their next poll.
CHANGED = {"HX-Trigger": "containers-changed, transcript-changed"}


def image_ref():
    """The reference `docker run` uses: the tag the build gives, at latest."""
    return f"{current_app.config['IMAGE']}:latest"


def build_plan():
    """The build the button starts, and the command that does the same."""
    config = current_app.config
    context, tag, base_image = config["BUILD_CONTEXT"], config["IMAGE"], config["BASE_IMAGE"]
    return BuildPlan(
        context=context,
        tag=tag,
        build_args={"BASE_IMAGE": base_image} if base_image else {},
        command=commands.build_command(context, tag, base_image, home=get_workshop().home),
        replay=commands.build_invocation(tag, base_image),
    )


def shown_already(version):
    """True when an htmx poll carries the version it would get; it is then answered 204, and nothing is swapped."""
    return bool(htmx) and request.args.get("since") == version


def containers_view():
    """What the container list shows: the shared snapshot of the containers, or why the engine cannot say."""
    try:
        version, containers, stopping = get_snapshot().current()
        engine_error = None
    except EngineError as error:  # the page still renders, with the banner saying why
        version, containers, stopping, engine_error = "unreachable", [], frozenset(), str(error)
    return {"containers": containers, "containers_version": version, "stopping": stopping,
            "engine_error": engine_error, "list_cli": commands.list_command()}


def build_panel_version():
    """Changes when the build moves on, and when an image changes on the engine (a `docker build` or `docker rmi`
    from the CLI too), so open build panels show the image and layers the engine has."""
    return f"{get_builder().version}-{get_snapshot().images_version}"


def image_view():
    """The current build, the image as the engine has it and its layers (`docker history`)."""
    version = build_panel_version()  # taken first: a change while reading shows at the next poll
    try:
        image, layers = get_engine().image(image_ref()), get_engine().history(image_ref())
    except EngineError:
        image, layers = None, []
    return {"build": get_builder().current, "build_version": version, "image": image, "layers": layers,
            "build_cli": build_plan().command, "history_cli": commands.history_command(image_ref()),
            "builder_note": builder_note()}


def builder_note():
    """This Dockerfile's lines as this log (the classic builder) and BuildKit print them, when the engine is one
    whose CLI builds with BuildKit (Docker Engine 23 and later); None otherwise, or while the engine is away."""
    about = get_engine().about()
    if about is None or not about.cli_builds_with_buildkit:
        return None
    return {"engine_version": about.version, "lines": dockerfile.builder_lines(dockerfile_view()["instructions"])}


def dockerfile_view():
    """The build context's Dockerfile, read from the file the build uses, instruction by instruction."""
    path = Path(current_app.config["BUILD_CONTEXT"]) / "Dockerfile"
    return {"instructions": dockerfile.instructions(path.read_text()), "dockerfile_path": path,
            "workshop_dir": get_workshop().root}


def transcript_view():
    """Every action so far, and the version open pages compare theirs with."""
    store = get_transcript()
    return {"entries": store.entries(), "transcript_version": store.version()}


def render_page(host_port=None, result=None, presenter=False):
    """The whole lesson page; other views call this for browsers that did not ask through htmx."""
    host_port = host_port or current_app.config["DEFAULT_HOST_PORT"]
    return render_template(
        "index.html",
        host_port=host_port,
        run_cli=commands.run_command(image_ref(), host_port),
        result=result,
        presenter=presenter,
        **image_view(),
        **containers_view(),
        **dockerfile_view(),
        **transcript_view(),
    )

