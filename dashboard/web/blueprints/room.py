"""A room of students on seats of their own: the instructor opens it (seats, end time, limits), hands out the
seats' links (a printable sheet, or one projected join code), watches the progress grid, and from a seat's row
opens its page read-only, resets it or gives it a new link."""

import threading
import time

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from ...domain import seats
from ...domain.errors import EngineError
from .. import forms
from ..extensions import get_board, get_catalog, get_classroom, get_engine, get_lesson_pick, get_roster
from ..extensions import get_snapshot, get_workshop, htmx
from ..fragments import render_once
from ..links import room_url, seat_link
from ..security import Forbidden, is_instructor
from ..views import containers_view, room_view, shown_already
from .seat import render_seat

bp = Blueprint("room", __name__, url_prefix="/room")


def instructor_only(what):
    if not is_instructor():
        raise Forbidden(f"Only the instructor can {what}: sign in first (from this machine, or over HTTPS).")


@bp.get("")
def index():
    """The room page: open a room, or run the one open; open pages poll the grid."""
    if htmx and request.args.get("since") is not None:
        return grid()
    view = room_view()
    return render_template("room.html", room_url=room_url(), **view, **room_defaults())


def room_defaults():
    config = current_app.config
    return {"defaults": {"count": config["DEFAULT_SEATS"], "join_count": 0, "first_port": config["FIRST_SEAT_PORT"],
                         "minutes": config["CLASS_MINUTES"], "memory": config["SEAT_MEMORY"],
                         "cpus": config["SEAT_CPUS"], "pids": config["SEAT_PIDS"]}}


@bp.get("/grid")
def grid():
    """The progress grid, for the room page and the presenter view; 204 while what they show is current. The
    signed-out screen shows no actions, and no students' names when the instructor hides them."""
    view = room_view()
    version = view["grid_version"]
    if shown_already(version):
        return "", 204
    vary = (is_instructor(), request.args.get("projector") == "1")
    return render_once("room_grid.html", version, vary, projector=vary[1], **view)


@bp.post("")
def open_room():
    """Open a room: a seat per student, each with its own link, folder, labels and limits, until the end time.
    A room open before is ended first (its seats' things removed, its links stopped), and whatever any seat made
    before is swept (sweep_seats), so nothing of a previous class is left."""
    values = request.form
    forms.only_fields(values, {"count", "join_count", "first_port", "minutes", "memory", "cpus", "pids"})
    cards, join_seats = forms.room_seats(values.get("count"), values.get("join_count"),
                                         current_app.config["MAX_SEATS"])
    count = cards + join_seats
    first_port = forms.first_seat_port(values.get("first_port"), count)
    minutes, limits = forms.minutes(values.get("minutes")), forms.limits(values, seats.Limits)
    if limits.cpus > get_engine().cpus():
        raise forms.InvalidInput(f"CPUs {limits.cpus:g}: the engine has {get_engine().cpus()}, and refuses a "
                                 "container more than it has.")
    previous = get_roster().room
    end_room()
    sweep_seats()
    for name in previous.seats if previous else ():
        get_board().forget_seat(name)  # the old room's grid, kept to look at until now
    taken = {c.name for c in containers_view(get_lesson_pick().lesson)["containers"]}
    planned = get_classroom().plan(first_port, count, taken, probe_ports=get_engine().ports_are_local)
    room = get_roster().open([(seat.name, seat.port) for seat in planned], minutes, limits, cards, join_seats)
    for seat in room.seats.values():
        get_workshop().provide_seat(seat.name, seat_lessons(), replace=True)  # not a previous class's edits
    current_app.extensions["room_clock"].schedule(room.ends_at)
    return redirect(url_for("room.index"), 303)


def seat_lessons():
    """The lessons seats can do (seats.not_for_seats), whose files each seat's folder holds."""
    return [lesson for lesson in get_catalog().lessons if seats.not_for_seats(lesson) is None]


def end_room():
    """End the open room now: its links stop at once (the grid keeps the seats' last progress to look at), then
    every seat's containers, volumes and images are removed; one clearing at a time, however many requests and
    timers ask. How many things were removed (0 when another request is clearing)."""
    roster = get_roster()
    if roster.room is None:
        return 0
    roster.end()
    clearing = current_app.extensions.setdefault("room_clearing", threading.Lock())
    if not clearing.acquire(blocking=False):
        return 0
    try:
        room = roster.room
        if room is None or room.cleared:
            return 0
        removed = seats.clear_seats(get_engine(), list(room.seats), current_app.config["CLASS_WORKERS"])
        roster.cleared()
    finally:
        clearing.release()
        get_snapshot().invalidate()
    return removed


def sweep_seats():
    """Remove everything any seat made, of any earlier room (one closed anyway, a dashboard that stopped with its
    room open), so a new room's seats start with nothing of a previous class; the engine away: refused (503)."""
    try:
        get_engine().remove_seats()
    finally:
        get_snapshot().invalidate()


@bp.delete("")
def end():
    """End the class now, as its end time would: what the seats made is removed, and their links stop working."""
    forms.only_fields(request.form, set())
    get_roster().require()
    removed = end_room()
    message = f"The class ended: {removed} of the seats' containers, volumes and images removed."
    return render_template("message.html", kind="ok", message=message), {"HX-Refresh": "true"}


@bp.post("/close")
def close():
    """Put away a room whose class ended: the room page offers a new one, and the presenter view drops its grid.
    What its seats made must be removed first (tried again now), unless the instructor closes it anyway
    (`anyway=1`: the engine may be gone for good; the next room's opening removes it)."""
    forms.only_fields(request.form, {"anyway"})
    anyway = forms.flag(request.form["anyway"], "anyway") if "anyway" in request.form else False
    room = get_roster().require()
    if not room.ended:
        raise seats.ClassStillOn("The class is still on: end it first (End the class now).")
    if not room.cleared and not anyway:
        try:
            end_room()
        except EngineError as error:
            raise seats.things_left(room, error) from error
        if not room.cleared:  # another request is removing them right now
            raise seats.things_left(room, "they are being removed right now")
    for name in room.seats:
        get_board().forget_seat(name)
    get_roster().close()
    current_app.extensions["room_clock"].cancel()
    return redirect(url_for("room.index"), 303)


@bp.post("/joining")
def joining():
    """Open or close the projected join code (opening again makes a new code)."""
    forms.only_fields(request.form, {"open"})
    get_roster().set_joining(forms.flag(request.form.get("open"), "open"))
    return redirect(url_for("room.index"), 303)


@bp.post("/names")
def names():
    """Hide or show the students' names on the projector's grid."""
    forms.only_fields(request.form, {"hide"})
    get_roster().set_hide_names(forms.flag(request.form.get("hide"), "hide"))
    return redirect(url_for("room.index"), 303)


@bp.get("/sheet")
def sheet():
    """The printable sheet: a card per card seat with its link and QR code, and per join seat given a new link
    (the join code hands out the others). The links are the seats' keys: the instructor's only, never on the
    projector."""
    instructor_only("print the seats' links")
    return render_template("seat_sheet.html", room=get_roster().require(), room_url=room_url(), seat_link=seat_link)


@bp.get("/join")
def join_code():
    """The join code to project: each browser that scans it gets the next free join seat, once."""
    return render_template("room_join.html", room=get_roster().room, room_url=room_url())


@bp.get("/seats/<name>")
def watch(name):
    """A seat's page as its student sees it, read-only, to help a stuck student."""
    instructor_only("open a seat's page")
    return render_seat(seat_named(name), can_act=False)


@bp.get("/seats/<name>/board")
def seat_board(name):
    """The watched seat's board, for its read-only page to swap in."""
    instructor_only("watch a seat")
    from .seat import board_update
    return board_update(seat_named(name), can_act=False)


def seat_named(name):
    if not seats.SEAT_NAME.fullmatch(name):
        raise forms.InvalidInput("A seat's name is letters, digits, '_' and '-', as the grid shows it.")
    return get_roster().require_seat(name)


@bp.post("/seats/<name>/revoke")
def revoke(name):
    """A new link for the seat: the old one, and every browser signed in with it, stop working at once."""
    forms.only_fields(request.form, set())
    seat = get_roster().revoke(seat_named(name).name)
    message = (f"{seat.name} has a new link: print its card again from the sheet." if seat.kind == seats.CARD else
               f"{seat.name} has a new link: it was the join code's (which does not hand it out again), and its card "
               "is on the sheet now: print it and hand it to its student.")
    if htmx:
        return render_template("message.html", kind="ok", message=message)
    return redirect(url_for("room.index"), 303)


@bp.post("/seats/<name>/reset")
def reset(name):
    """Remove everything the seat made and bring back its lesson files, for a fresh start."""
    forms.only_fields(request.form, set())
    seat = seat_named(name)
    removed = seats.clear_seats(get_engine(), [seat.name], 1)
    get_workshop().provide_seat(seat.name, seat_lessons(), replace=True)
    get_board().forget_seat(seat.name)
    get_snapshot().invalidate()
    message = f"{seat.name} is reset: {removed} containers, volumes and images removed, its files as shipped."
    if htmx:
        return render_template("message.html", kind="ok", message=message), {"HX-Trigger": "board-changed"}
    return redirect(url_for("room.index"), 303)


RETRY_SECONDS = 30  # an end the engine could not do (it was away) is tried again this much later


def keep_time(app):
    """End the room at its end time: a timer in the background (again every RETRY_SECONDS while the engine is
    away), and a look at every request (a timer lost with a restart)."""
    def end_when_due():
        with app.app_context():
            room = get_roster().room
            if room is None or not room.to_clear:
                return
            try:
                end_room()
            except EngineError:
                clock.schedule(time.time() + RETRY_SECONDS)

    clock = app.extensions["room_clock"] = seats.RoomClock(end_when_due)
    room = app.extensions["roster"].room
    if room is not None and not room.cleared:
        clock.schedule(room.ends_at)

    @app.before_request
    def end_if_due():
        room = get_roster().room
        if room is not None and room.to_clear and time.monotonic() >= app.extensions.get("room_retry", 0):
            try:
                end_room()
            except EngineError:  # the engine away: the pages go on, and the end is tried again in a while
                app.extensions["room_retry"] = time.monotonic() + RETRY_SECONDS
