"""The lessons' containers: list a lesson's, run the current lesson's port-publishing step, stop and remove one."""

from flask import Blueprint, current_app, render_template, request

from ...domain import commands, cowcheck
from .. import forms
from ..extensions import get_engine, get_snapshot, get_transcript, htmx
from ..fragments import render_once
from ..security import is_instructor
from ..step_views import command_preview, do_step, host_port_field
from ..views import CHANGED, containers_view, current_lesson, lesson_asked, probe_host, render_lesson, shown_already

bp = Blueprint("containers", __name__, url_prefix="/containers")


@bp.get("")
def index():
    """A lesson's containers (`?lesson=`, else the current lesson's); open pages poll it, and get a 204 while
    what they show is current."""
    lesson = lesson_asked()
    if not htmx:
        return render_lesson(lesson)
    view = containers_view(lesson)
    if shown_already(view["containers_version"]):
        return "", 204
    # Rendered once per version for each host and role, however many viewers ask (300 rows take ~15 ms).
    vary = (request.host, is_instructor())
    return render_once("container_list.html", view["containers_version"], vary, **view)


def port_run():
    """The current lesson's run that publishes a port (the images lesson's `docker run -d -p`); 404 without one."""
    lesson = current_lesson()
    if lesson.port_run is None:
        raise forms.NoSuchThing(f"The lesson {lesson.id} runs no container with a published port.")
    return lesson, lesson.port_run


@bp.get("/new")
def new():
    """The current lesson's run command for the host port typed so far (see steps.command)."""
    lesson, step = port_run()
    return command_preview(lesson, step)


@bp.post("")
def run():
    """Run the current lesson's port-publishing step on the host port given, as its button does."""
    lesson, step = port_run()
    host_port = host_port_field(step, request.form)
    if host_port is None:
        forms.host_port(None)  # the form's one field is required here: say so
    return do_step(lesson, step, host_port)


@bp.delete("/<container_id>")
def remove(container_id):
    """Stop and remove one of the lessons' containers, as `docker stop ID && docker rm ID`."""
    container_id = forms.container_id(container_id)
    command = commands.remove_command(container_id)
    engine = get_engine()
    # In the current lesson's transcript until the engine says whose container it is.
    with get_transcript().action("remove", command, lesson=current_lesson().id) as record:
        full_id, record["lesson"] = engine.owner(container_id)
        with get_snapshot().stopping_while(full_id):  # and re-read once it is gone
            engine.stop_and_remove(full_id)
        # What the CLI prints: `docker stop` then `docker rm` each echo the id they were given.
        record["output"], record["container_id"] = f"{container_id[:12]}\n{container_id[:12]}", full_id
    message = render_template("message.html", kind="ok", message=f"Stopped and removed {full_id[:12]}.",
                              command=command)
    return message, CHANGED


@bp.get("/<container_id>/logs")
def logs(container_id):
    """What a lesson's container printed (http.server's request lines), as `docker logs --tail`."""
    container_id = forms.container_id(container_id)
    tail = current_app.config["LOG_LINES"]
    text = get_engine().logs(container_id, tail)
    return render_template("container_logs.html", container_id=container_id, text=text,
                           logs_cli=commands.logs_command(container_id[:12], tail))


@bp.get("/<container_id>/cow")
def cow(container_id):
    """Is it answering on its port (the cow, or another lesson's page)? The dashboard asks from the server side and
    shows what came back.

    It asks DASHBOARD_COW_HOST when set, else where the engine publishes: its own address when it is another
    machine, else 127.0.0.1.
    """
    container_id = forms.container_id(container_id)
    engine = get_engine()
    host = probe_host()
    answers = [cowcheck.ask(host, port) for port in engine.published_ports(container_id)]
    return render_template("cow_answer.html", container_id=container_id, answers=answers)

