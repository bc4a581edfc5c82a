"""A student's seat: signed in by its link or the projected join code, it does the current lesson's steps on its
own things, each button beside the true command (security.py lets a seat's session change things only here)."""

import math

from flask import Blueprint, redirect, render_template, request, session, url_for

from ...domain import checks, seats
from .. import forms
from ..extensions import (get_current_lesson, get_engine, get_exec_checks, get_roster, get_seat_presses, get_workshop,
                          htmx)
from ..fragments import render_once
from ..security import INSTRUCTOR, SEAT_BLUEPRINT, Forbidden, current_seat, grant_seat
from ..views import CHANGED, board_version, lesson_named, refresh_checks, shown_already, step_named, steps_view
from .steps import check_now, do_step, status

bp = Blueprint("seat", __name__)

NOT_SIGNED_IN = ("This page is a student's seat: open your seat's link (the QR code on your card), or scan the "
                 "join code the instructor shows.")


def my_seat():
    """The seat this browser signed in as; 403 with what to do when it has none (or its link was revoked)."""
    seat = current_seat()
    if seat is None:
        raise Forbidden(NOT_SIGNED_IN if session.get("holder") != SEAT_BLUEPRINT else
                        "This seat's link no longer works (the class ended, or the instructor gave the seat a new "
                        "link): ask the instructor for yours.")
    return seat


def seat_current_lesson(seat):
    """The current lesson as this seat does it; 409 when seats cannot do it (Compose), with why."""
    lesson = get_current_lesson().lesson
    return seats.for_seat(lesson, seat), seats.not_for_seats(lesson)


@bp.get("/s/<token>")
def sign_in(token):
    """Trade a seat's link for a seat session, and drop the token from the address bar (a redirect to /seat)."""
    not_the_instructor()
    seat = get_roster().by_token(token[:100])
    if seat is not None:
        get_roster().take(seat.name)  # the join code no longer hands it out
    return seated(seat, "This seat link does not work: the class ended, or the instructor gave the seat a new "
                        "link. Ask for yours.")


JOIN_REFUSED = "Joining is closed, this join code is an old one, or every seat is taken: ask the instructor."


@bp.get("/join/<code>")
def join(code):
    """The projected join code: a button that takes the next free seat (a GET takes nothing, so a link preview
    or a prefetch never uses a seat up); a browser on its seat already goes back to it."""
    if current_seat() is not None:
        return redirect(url_for("seat.page"))
    not_the_instructor()
    if not get_roster().joinable(code[:100]):
        raise Forbidden(JOIN_REFUSED)
    return render_template("seat_join.html", code=code)


@bp.post("/join/<code>")
def take(code):
    """Take the next free seat for this browser, once; a second press keeps the seat it has."""
    forms.only_fields(request.form, set())
    if current_seat() is not None:
        return redirect(url_for("seat.page"), 303)
    not_the_instructor()
    return seated(get_roster().join(code[:100]), JOIN_REFUSED, 303)


def not_the_instructor():
    """An instructor's session is never replaced by a seat's: a page on this host (a student's container) could
    make the instructor's browser open a link."""
    if session.get("holder") == INSTRUCTOR:
        raise Forbidden("This browser is signed in as the instructor: open a seat's link in another browser (or "
                        "sign out first). To see a seat's page, use Open on its row of the grid.")


def seated(seat, refusal, status=302):
    """Sign this browser in as `seat` and go to its page; 403 with `refusal` when there is none."""
    if seat is None:
        raise Forbidden(refusal)
    grant_seat(session, seat)
    return redirect(url_for("seat.page"), status)


def render_seat(seat, can_act=True):
    """The seat's page: the current lesson's steps as the seat does them."""
    lesson, refused = seat_current_lesson(seat)
    refresh_checks(get_current_lesson().lesson, [seat])
    room = get_roster().require()
    return render_template("seat.html", refused=refused, room=room, lesson_id=lesson.id,
                           **steps_view(lesson, seat=seat, can_act=can_act and refused is None))


@bp.get("/seat")
def page():
    """The seat's page; it follows the instructor's pick of lesson, as `/` does."""
    return render_seat(my_seat())


@bp.get("/seat/board")
def board():
    """The seat's steps' checks and latest runs, for its page to swap in; 204 while current. A page whose link
    stopped working (revoked, or the class ended) reloads, to say so at the top."""
    if current_seat() is None:
        return "", 200, {"HX-Refresh": "true"}
    return board_update(my_seat(), can_act=True)


def board_update(seat, can_act):
    """The seat's board for its page (or the instructor's read-only copy of it) to swap in; 204 while current.
    A page still showing another lesson reloads (HX-Refresh)."""
    lesson, refused = seat_current_lesson(seat)
    if request.args.get("lesson", lesson.id) != lesson.id:
        return "", 200, {"HX-Refresh": "true"}
    refresh_checks(get_current_lesson().lesson, [seat])
    version = board_version(lesson, seat)
    if shown_already(version):
        return "", 204
    return render_once("board_update.html", version, (request.host, can_act), kind=f"board@{seat.name}",
                       **steps_view(lesson, seat=seat, can_act=can_act and refused is None))


def seat_step(seat, lesson_id, step_id):
    """The current lesson's step, as the seat does it; a step of another lesson is refused (the class moved on)."""
    lesson, refused = seat_current_lesson(seat)
    if lesson_named(lesson_id).id != lesson.id:
        raise forms.NoSuchThing(f"The class is on {lesson.title!r} now, not {lesson_id!r}: reload the page.")
    if refused:
        raise Forbidden(refused)
    return lesson, step_named(lesson, step_id)


@bp.post("/seat/lessons/<lesson_id>/steps/<step_id>")
def press(lesson_id, step_id):
    """Do the step on the seat's own things, as the command beside it does; one press of the seat at a time (a
    second meanwhile is refused, naming the first)."""
    seat = my_seat()
    lesson, step = seat_step(seat, lesson_id, step_id)
    forms.only_fields(request.form, set())
    with get_seat_presses().pressing(seat.name, step.title):
        get_workshop().provide_seat(seat.name, [lesson])  # its files, should the folder have gone since the room opened
        answer = do_step(lesson, step, seat=seat)
        room = get_roster().room
        if room is None or room.over:  # the class ended while the step ran: what it made goes too
            seats.clear_seats(get_engine(), [seat.name], 1)
    return answer if answer is not None else redirect(url_for("seat.page"), 303)


@bp.post("/seat/lessons/<lesson_id>/steps/<step_id>/check")
def check(lesson_id, step_id):
    """Ask the seat's check of the step again now; a check that starts a process in the seat's container runs at
    most once every EXEC_CHECK_SECONDS a seat, and an ask meanwhile shows the latest result, saying so."""
    seat = my_seat()
    lesson, step = seat_step(seat, lesson_id, step_id)
    forms.only_fields(request.form, set())
    if step.check is None:
        raise forms.NoSuchThing(f"The step {step.id} has no check.")
    wait = 0 if step.check.kind in checks.READ_ONLY else get_exec_checks().take(seat.name)
    if not wait:
        check_now(lesson, step, seat=seat)  # on the shared list as next read: one call a period for the room
    if not htmx:
        return redirect(url_for("seat.page"))
    note = None if not wait else (
        f"A check that runs a command inside your container runs at most once every "
        f"{get_exec_checks().seconds:g} s: this is its latest result. Ask again in {math.ceil(wait)} s.")
    return status(lesson, step, seat=seat, note=note), CHANGED


@bp.post("/seat/name")
def name():
    """The name the student types, shown to the instructor beside the seat (hidden on the projector if chosen)."""
    seat = my_seat()
    forms.only_fields(request.form, {"student"})
    get_roster().name_student(seat.name, forms.student_name(request.form.get("student"), seats.STUDENT_NAME))
    if htmx:
        return render_template("message.html", kind="ok", message="Saved: the instructor sees it beside your seat.")
    return redirect(url_for("seat.page"))
