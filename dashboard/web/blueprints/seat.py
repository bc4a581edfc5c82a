"""A student's seat: signed in by its link or the projected join code, it does the current lesson's steps on its
own things, each button beside the true command (security.py lets a seat's session change things only here)."""

import math

from flask import Blueprint, redirect, render_template, request, session, url_for

from ...domain import checks, room, seats
from .. import forms, guesses
from ..extensions import get_exec_checks, get_roster, get_room_life, htmx
from ..security import INSTRUCTOR, SEAT_BLUEPRINT, Forbidden, current_seat, grant_seat, seat_lost
from ..seat_views import board_update, render_seat, seat_current_lesson
from ..step_views import check_now, status, step_answer
from ..views import CHANGED, engine_of, lesson_named, place_for, probe_host, step_named

bp = Blueprint("seat", __name__)

NOT_SIGNED_IN = ("This page is a student's seat: open your seat's link (the QR code on your card), or scan the "
                 "join code the instructor shows.")


def my_seat():
    """The seat this browser signed in as; 403 with what to do when it has none (or its link was revoked)."""
    seat = current_seat()
    if seat is None:
        raise Forbidden(NOT_SIGNED_IN if session.get("holder") != SEAT_BLUEPRINT else seat_lost())
    return seat


LINK_REFUSED = ("This seat link does not work: the class ended, or the instructor gave the seat a new link. "
                "Ask for yours.")


def linked_seat(token):
    """The seat whose link carries `token`; 403 for any other (a wrong guess, counted: see guesses.py)."""
    seat = get_roster().by_token(token[:100])
    guesses.attempt(seat is not None, counts=room_on())
    if seat is None:
        raise Forbidden(LINK_REFUSED)
    return seat


@bp.get("/s/<token>")
def sign_in(token):
    """A seat's link: a browser holding no seat takes a seat nobody holds yet in one step (a scanned card), and
    the token leaves the address bar (a redirect to /seat). Else it asks first (seat_switch.html): a GET never
    takes a seat from another browser, nor switches this one, so a link preview or a classmate's link changes
    nothing."""
    not_the_instructor()
    seat, mine = linked_seat(token), current_seat()
    if mine is not None and mine.name == seat.name:
        return redirect(url_for("seat.page"))
    if mine is None and seat.sign_ins == 0:
        return seated(held(seat, token))
    return render_template("seat_switch.html", seat=seat, mine=mine)


@bp.post("/s/<token>")
def move(token):
    """The question's button: this browser holds the seat now, and the browser that held it is told it moved.
    The seat this browser leaves stays reachable: its page links back to it."""
    forms.only_fields(request.form, set())
    not_the_instructor()
    seat, mine = linked_seat(token), current_seat()
    if mine is not None and mine.name == seat.name:
        return redirect(url_for("seat.page"), 303)
    response = seated(held(seat, token), 303)
    if mine is not None:
        session["back"] = mine.token
    return response


def held(seat, token):
    """The seat held by this sign-in (Roster.hold); 403 when its link was given a new one since it was looked up."""
    seat = get_roster().hold(seat.name, token[:100])
    if seat is None:
        raise Forbidden(LINK_REFUSED)
    return seat


JOIN_REFUSED = ("Joining is closed, this join code is an old one, or every seat it hands out is taken: ask the "
                "instructor.")


def join_code(code):
    """`code`, once this address may guess; a wrong code of the open room is a wrong guess (see guesses.py)."""
    guesses.attempt(get_roster().code_matches(code[:100]), counts=room_on())
    return code[:100]


def room_on():
    """Whether a room is open and its class on: a link or code tried then is a guess at a live secret."""
    room = get_roster().room
    return room is not None and not room.over


@bp.get("/join/<code>")
def join(code):
    """The projected join code: a button that takes the next free join seat (a GET takes nothing, so a link
    preview or a prefetch never uses a seat up); a browser on its seat already goes back to it."""
    if current_seat() is not None:
        return redirect(url_for("seat.page"))
    not_the_instructor()
    if not get_roster().joinable(join_code(code)):
        raise Forbidden(JOIN_REFUSED)
    return render_template("seat_join.html", code=code)


@bp.post("/join/<code>")
def take(code):
    """Take the next free join seat for this browser, once; a second press keeps the seat it has."""
    forms.only_fields(request.form, set())
    if current_seat() is not None:
        return redirect(url_for("seat.page"), 303)
    not_the_instructor()
    seat = get_roster().join(join_code(code))
    if seat is None:
        raise Forbidden(JOIN_REFUSED)
    return seated(seat, 303)


def not_the_instructor():
    """An instructor's session is never replaced by a seat's: a page on this host (a student's container) could
    make the instructor's browser open a link."""
    if session.get("holder") == INSTRUCTOR:
        raise Forbidden("This browser is signed in as the instructor: open a seat's link in another browser (or "
                        "sign out first). To see a seat's page, use Open on its row of the grid.")


def seated(seat, status=302):
    """Sign this browser in as `seat`, as held by Roster.hold, and go to its page."""
    grant_seat(session, seat)
    return redirect(url_for("seat.page"), status)


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
    second meanwhile is refused, naming the first). It acts in the room it began in only (seats.Stint)."""
    seat = my_seat()
    lesson, step = seat_step(seat, lesson_id, step_id)
    forms.only_fields(request.form, set())
    # The place holds the room and link this press began with (seats.Stint); its build keeps to them.
    done = room.run_on_seat(engine_of(seat), get_room_life(), seat, lesson, step, place_for(lesson, seat),
                            probe_host())
    if not htmx:  # a form sent without JavaScript: the page, the step's run shown in its status
        return redirect(url_for("seat.page"), 303)
    return step_answer(lesson, step, done, seat)


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
