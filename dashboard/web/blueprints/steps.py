"""A lesson's steps: press one (its action, as the command beside it does), check one, preview its command."""

from flask import Blueprint, request

from .. import forms
from ..extensions import get_snapshot, htmx
from ..step_views import check_now, command_preview, do_step, host_port_field, start_build, start_step, status
from ..views import lesson_named, render_lesson, step_named

bp = Blueprint("steps", __name__, url_prefix="/lessons/<lesson_id>/steps")


def lesson_step(lesson_id, step_id):
    lesson = lesson_named(lesson_id)
    return lesson, step_named(lesson, step_id)


@bp.post("/<step_id>")
def press(lesson_id, step_id):
    """Do the step's action (a build, or Compose building, starts in the background; every open page follows it)."""
    lesson, step = lesson_step(lesson_id, step_id)
    if step.action.definition.background:
        forms.only_fields(request.form, set())
        return start_build(lesson)
    if step.action.definition.streams(step.action):  # long work (Compose building): in the background too
        forms.only_fields(request.form, set())
        return start_step(lesson, step)
    return do_step(lesson, step, host_port_field(step, request.form))


@bp.get("/<step_id>")
def show(lesson_id, step_id):
    """The step's status (its latest run and check) for htmx; the lesson page for a browser."""
    lesson, step = lesson_step(lesson_id, step_id)
    if not htmx:
        return render_lesson(lesson)
    return status(lesson, step)


@bp.post("/<step_id>/check")
def check(lesson_id, step_id):
    """Ask the step's check again now, for every page to see."""
    forms.only_fields(request.form, set())
    lesson, step = lesson_step(lesson_id, step_id)
    if step.check is None:
        raise forms.NoSuchThing(f"The step {step.id} has no check.")
    get_snapshot().invalidate()  # asked now: the list read fresh (one call, shared with every viewer)
    check_now(lesson, step)
    return status(lesson, step), {"HX-Trigger": "board-changed"}


@bp.get("/<step_id>/command")
def command(lesson_id, step_id):
    """The step's command for the host port typed so far, so the command updates before the click."""
    return command_preview(*lesson_step(lesson_id, step_id))
