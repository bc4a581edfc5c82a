"""The workshop folder: a lesson's files as shipped, brought back over a person's edits when the instructor asks."""

from flask import Blueprint, redirect, render_template, request, url_for

from ...domain.workshop import WorkshopError
from .. import forms
from ..extensions import get_catalog, get_workshop, htmx
from ..views import build_step, changed_files, dockerfile_view, place_for

bp = Blueprint("workshop", __name__, url_prefix="/workshop")


@bp.post("/<folder>/restore")
def restore(folder):
    """Write the lesson's shipped files over the workshop's copies; nothing else in the folder changes."""
    forms.only_fields(request.form, set())
    lesson = next((lesson for lesson in get_catalog().lessons if lesson.folder and lesson.folder == folder), None)
    if lesson is None:
        raise forms.NoSuchThing(f"No lesson has the workshop folder {folder[:40]!r}.")
    try:
        restored = get_workshop().restore(lesson, place_for(lesson).folder)
        kind, message = "ok", "Restored " + ", ".join(str(path) for path in restored) + " as shipped."
    except WorkshopError as error:
        kind, message = "error", str(error)
    if not htmx:
        return redirect(url_for("lessons.show", lesson_id=lesson.id))
    restore_message = {"kind": kind, "message": message}
    if build_step(lesson) is None:
        return render_template("workshop_files.html", lesson=lesson, restore_message=restore_message,
                               workshop_dir=get_workshop().root, changed_files=changed_files(lesson))
    return render_template("dockerfile.html", restore_message=restore_message, **dockerfile_view(lesson))
