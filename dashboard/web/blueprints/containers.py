"""Tutorial containers: run one, list them, stop and remove one."""

from flask import Blueprint, current_app, render_template, request

from ...domain import commands, cowcheck
from .. import forms
from ..extensions import get_engine, get_snapshot, get_transcript, htmx
from ..fragments import render_once
from ..security import is_instructor
from ..views import CHANGED, containers_view, image_ref, render_page, shown_already

bp = Blueprint("containers", __name__, url_prefix="/containers")


@bp.get("")
def index():
    """The list of tutorial containers; open pages poll it, and get a 204 while what they show is current."""
    if not htmx:
        return render_page()
    view = containers_view()
    if shown_already(view["containers_version"]):
        return "", 204
    # Rendered once per version for each host and role, however many viewers ask (300 rows take ~15 ms).
    vary = (request.host, is_instructor())
    return render_once("container_list.html", view["containers_version"], vary, **view)


@bp.get("/new")
def new():
    """The run form's command for the port typed so far, so the CLI updates before the click.

    Half-typed input is part of typing, not a failed request: the preview shows what is wrong with a 200.
    """
    forms.only_fields(request.args, {"host_port"})
    typed = request.args.get("host_port", str(current_app.config["DEFAULT_HOST_PORT"]))
    if not htmx:
        return render_page(host_port=forms.host_port(typed))
    try:
        return render_template("run_command.html", run_cli=commands.run_command(image_ref(), forms.host_port(typed)))
    except forms.InvalidInput as error:
        return render_template("message.html", kind="error", message=str(error))


@bp.post("")
def run():
    """Start a detached container publishing the given host port, as `docker run -d -p`."""
    forms.only_fields(request.form, {"host_port"})
    host_port = forms.host_port(request.form.get("host_port"))
    command = commands.run_command(image_ref(), host_port)
    with get_transcript().action("run", command, replay=command) as record:
        record["container_id"] = record["output"] = get_engine().run(image_ref(), host_port)
    get_snapshot().invalidate()
    result = {"container_id": record["container_id"], "host_port": host_port, "run_cli": command}
    if htmx:
        return render_template("run_result.html", result=result), CHANGED
    return render_page(host_port=host_port, result=result)


@bp.delete("/<container_id>")
def remove(container_id):
    """Stop and remove one tutorial container, as `docker stop ID && docker rm ID`."""
    container_id = forms.container_id(container_id)
    command = commands.remove_command(container_id)
    engine = get_engine()
    with get_transcript().action("remove", command) as record:
        full_id = engine.tutorial_container(container_id)
        with get_snapshot().stopping_while(full_id):  # and re-read once it is gone
            engine.stop_and_remove(full_id)
        # What the CLI prints: `docker stop` then `docker rm` each echo the id they were given.
        record["output"], record["container_id"] = f"{container_id[:12]}\n{container_id[:12]}", full_id
    message = render_template("message.html", kind="ok", message=f"Stopped and removed {full_id[:12]}.",
                              command=command)
    return message, CHANGED


@bp.get("/<container_id>/logs")
def logs(container_id):
    """What a tutorial container printed (http.server's request lines), as `docker logs --tail`."""
    container_id = forms.container_id(container_id)
    tail = current_app.config["LOG_LINES"]
    text = get_engine().logs(container_id, tail)
    return render_template("container_logs.html", container_id=container_id, text=text,
                           logs_cli=commands.logs_command(container_id, tail))


@bp.get("/<container_id>/cow")
def cow(container_id):
    """Is the cow answering on its port? The dashboard asks from the server side and shows what came back.

    It asks DASHBOARD_COW_HOST when set, else where the engine publishes: its own address when it is another
    machine, else 127.0.0.1.
    """
    container_id = forms.container_id(container_id)
    engine = get_engine()
    host = current_app.config["COW_HOST"] or engine.ports_host("127.0.0.1")
    answers = [cowcheck.ask(host, port) for port in engine.published_ports(container_id)]
    return render_template("cow_answer.html", container_id=container_id, answers=answers)
