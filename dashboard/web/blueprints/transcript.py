"""The transcript panel: what the dashboard did, as a terminal would show it, and as a script to replay."""

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from ...domain.replay import replay_script
from .. import forms
from ..extensions import get_transcript, htmx
from ..views import render_page, shown_already, transcript_view

bp = Blueprint("transcript", __name__, url_prefix="/transcript")


@bp.get("")
def show():
    """The transcript; open pages poll it and get a 204 while what they show is current."""
    if not htmx:
        return render_page()
    if shown_already(get_transcript().version()):  # checked before reading every entry: most polls stop here
        return "", 204
    return render_template("transcript.html", **transcript_view())


@bp.get("/script")
def script():
    """The transcript as a bash script, downloaded."""
    text = replay_script(get_transcript().entries(), current_app.config["BUILD_CONTEXT"])
    return Response(text, mimetype="text/x-shellscript",
                    headers={"Content-Disposition": 'attachment; filename="cowserv-lesson.sh"'})


@bp.post("/clear")
def clear():
    """Start the transcript afresh."""
    forms.only_fields(request.form, set())
    get_transcript().clear()
    if htmx:
        return render_template("transcript.html", **transcript_view())
    return redirect(url_for("lesson.index"))
