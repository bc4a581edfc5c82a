"""Tutorial containers: run one, list them, stop and remove one."""

from flask import Blueprint, current_app, render_template, request

from . import cli, forms, htmx
from .engine import get_engine
from .lesson import containers_view, image_ref, render_page, shown_already
from .snapshot import get_snapshot

bp = Blueprint("containers", __name__, url_prefix="/containers")


@bp.get("")
def index():
    """The list of tutorial containers; open pages poll it, and get a 204 while what they show is current."""
    if not htmx:
        return render_page()
    view = containers_view()
    if shown_already(view["containers_version"]):
        return "", 204
    return render_template("container_list.html", **view)


@bp.get("/new")
def new():
    """The run form's command for the port typed so far, so the CLI updates before the click."""
    forms.only_fields(request.args, {"host_port"})
    host_port = forms.host_port(request.args.get("host_port", str(current_app.config["DEFAULT_HOST_PORT"])))
    if htmx:
        return render_template("run_command.html", run_cli=cli.run_command(image_ref(), host_port))
    return render_page(host_port=host_port)


@bp.post("")
def run():
    """Start a detached container publishing the given host port, as `docker run -d -p`."""
    forms.only_fields(request.form, {"host_port"})
    host_port = forms.host_port(request.form.get("host_port"))
    container_id = get_engine().run(image_ref(), host_port)
    get_snapshot().invalidate()
    result = {"container_id": container_id, "host_port": host_port,
              "run_cli": cli.run_command(image_ref(), host_port)}
    if htmx:
        return render_template("run_result.html", result=result), {"HX-Trigger": "containers-changed"}
    return render_page(host_port=host_port, result=result)


@bp.delete("/<container_id>")
def remove(container_id):
    """Stop and remove one tutorial container, as `docker stop ID && docker rm ID`."""
    full_id = get_engine().stop_and_remove(forms.container_id(container_id))
    get_snapshot().invalidate()
    return (
        render_template("message.html", kind="ok",
                        message=f"Stopped and removed {full_id[:12]}.", command=cli.remove_command(full_id)),
        {"HX-Trigger": "containers-changed"},
    )
