"""The lessons: the current one at `/` (and `/present`), every one at `/lessons/<id>`, and the instructor's pick."""

from flask import Blueprint, redirect, render_template, request, url_for

from .. import forms
from ..extensions import get_catalog, get_lesson_pick, get_room_life, htmx
from ..fragments import render_once
from ..security import is_instructor
from ..views import board_version, lesson_named, refresh_checks, render_lesson, shown_already, steps_view

bp = Blueprint("lessons", __name__)


@bp.get("/")
def index():
    """The current lesson's page, read-only until the instructor signs in; it follows the instructor's pick."""
    return render_lesson(follows=True)


@bp.get("/present")
def present():
    """The current lesson for a projector: large type, high contrast, the active step standing out."""
    return render_lesson(presenter=True, follows=True)


@bp.get("/lessons")
def catalog():
    """Every lesson in workshop order, the current one marked; the instructor also sees lessons refused."""
    return render_template("lessons.html", catalog=get_catalog(), current_id=get_lesson_pick().id)


@bp.get("/lessons/<lesson_id>")
def show(lesson_id):
    """One lesson's page, whichever the current one is."""
    return render_lesson(lesson_named(lesson_id))


@bp.post("/lessons/current")
def choose():
    """Make a lesson the current one: `/`, the read-only screen and the presenter view move to it."""
    forms.only_fields(request.form, {"lesson"})
    lesson = lesson_named(request.form.get("lesson", ""))
    get_lesson_pick().choose(lesson.id)
    get_room_life().provide_images(lesson)  # the seats' engines get the stand-ins it needs, in the background
    if htmx:
        return "", 200, {"HX-Redirect": url_for("lessons.index")}
    return redirect(url_for("lessons.index"))


@bp.get("/lessons/<lesson_id>/board")
def board(lesson_id):
    """Every step's check and latest run, for open pages to swap in; 204 while what they show is current.

    Asking also refreshes the lesson's checks in the background when what they look at may have changed, so
    however many pages poll, each check runs once per change, and its result is shared.
    """
    lesson = lesson_named(lesson_id)
    refresh_checks(lesson)
    version = board_version(lesson)
    if shown_already(version):
        return "", 204
    vary = (request.host, is_instructor(), lesson.id)
    return render_once("board_update.html", version, vary, **steps_view(lesson))
