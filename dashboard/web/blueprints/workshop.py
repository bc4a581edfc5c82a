"""The workshop folder: the lesson's files as shipped, brought back over a person's edits when the instructor asks."""

from flask import Blueprint, redirect, render_template, request, url_for

from ...domain.workshop import WorkshopError
from .. import forms
from ..extensions import get_workshop, htmx
from ..views import dockerfile_view

bp = Blueprint("workshop", __name__, url_prefix="/workshop")


@bp.post("/images/restore")
def restore_images():
    """Write the images lesson's shipped files over the workshop's copies; nothing else in the folder changes."""
    forms.only_fields(request.form, set())
    try:
        restored = get_workshop().restore("images")
        kind, message = "ok", "Restored " + ", ".join(str(path) for path in restored) + " as shipped."
    except WorkshopError as error:
        kind, message = "error", str(error)
    if not htmx:
        return redirect(url_for("lesson.index"))
    return render_template("dockerfile.html", restore_message={"kind": kind, "message": message}, **dockerfile_view())
