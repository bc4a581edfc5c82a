"""A lesson's transcript: what the dashboard did, as a terminal would show it, and as a script to replay."""

from flask import Blueprint, Response, redirect, render_template, request, url_for

from ...domain.replay import replay_script
from .. import forms
from ..extensions import get_board, get_transcript, htmx
from ..views import lesson_asked, place_for, render_lesson, shown_already, transcript_view

bp = Blueprint("transcript", __name__, url_prefix="/transcript")


@bp.get("")
def show():
    """The lesson's transcript (`?lesson=`, else the current one's); open pages poll it and get a 204 while what
    they show is current."""
    lesson = lesson_asked()
    if not htmx:
        return render_lesson(lesson)
    if shown_already(get_transcript().version()):  # checked before reading every entry: most polls stop here
        return "", 204
    return render_template("transcript.html", **transcript_view(lesson))


@bp.get("/script")
def script():
    """The lesson's transcript as a bash script, downloaded."""
    lesson = lesson_asked()
    text = replay_script(get_transcript().entries(lesson.id), place_for(lesson).folder if lesson.folder else None,
                         lesson.title)
    return Response(text, mimetype="text/x-shellscript",
                    headers={"Content-Disposition": f'attachment; filename="{lesson.id}-lesson.sh"'})


@bp.post("/clear")
def clear():
    """Start the lesson's transcript afresh (the steps' latest runs go with it)."""
    forms.only_fields(request.form, set())
    lesson = lesson_asked()
    get_transcript().clear(lesson.id)
    get_board().forget_runs(lesson.id)
    if htmx:
        return render_template("transcript.html", **transcript_view(lesson)), {"HX-Trigger": "board-changed"}
    return redirect(url_for("lessons.show", lesson_id=lesson.id))
