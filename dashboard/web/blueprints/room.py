"""A room of students on seats of their own: the instructor opens it (seats, end time, limits), hands out the
seats' links (a printable sheet, or one projected join code), watches the progress grid, and from a seat's row
opens its page read-only, resets it or gives it a new link."""

import os

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from ...domain import room as room_life
from ...domain import seats
from ...seat_host import layout
from .. import forms
from ..extensions import get_catalog, get_roster, get_room_life, htmx
from ..fragments import render_once
from ..links import port_links, room_url, seat_link
from ..seat_views import board_update, render_seat
from ..security import Forbidden, is_instructor
from ..views import current_lesson, place_for, probe_host, room_view, seat_ports, shown_already, step_named

bp = Blueprint("room", __name__, url_prefix="/room")
# Classroom mode's old address (the room does what it did): its bookmarks open the room page.
old_classroom = Blueprint("classroom", __name__, url_prefix="/classroom")


@old_classroom.get("", defaults={"rest": ""})
@old_classroom.get("/<path:rest>")
def moved(rest):
    """Classroom mode became the room's actions on every seat: its pages answer with the room page's address."""
    return redirect(url_for("room.index"), 301)


def instructor_only(what):
    if not is_instructor():
        raise Forbidden(f"Only the instructor can {what}: sign in first (from this machine, or over HTTPS).")


@bp.get("")
def index():
    """The room page: open a room, or run the one open; open pages poll the grid."""
    if htmx and request.args.get("since") is not None:
        return grid()
    view = room_view()
    return render_template("room.html", room_url=room_url(), seats_unavailable=get_room_life().unavailable(),
                           port_links=port_links, **view, **room_defaults(), **every_seat_view(view))


def every_seat_view(view):
    """The instructor's actions on every seat: the command that removes every seat's things (with a room or none),
    and while a class is on in a lesson seats can do, the step picked first (room.default_every_seat_step) and its
    loop; nothing for others."""
    if not is_instructor():
        return {"every_seat_cli": None, "remove_every_seat_cli": None}
    shown = {"every_seat_cli": None, "remove_every_seat_cli": room_life.remove_every_seat_command(seats_dir())}
    room, lesson = view["room"], view["lesson"]
    if room is None or room.over or not room.seats:
        return shown
    step = room_life.default_every_seat_step(lesson)
    return shown | {"every_seat_cli": every_seat_loop(lesson, step), "every_seat_step": step}


def seats_dir():
    return current_app.config["SEATS_DIR"]


def room_defaults():
    """The room form's first values, and the lessons whose seats need more than some limits give (seat_needs)."""
    config = current_app.config
    return {"defaults": {"count": config["DEFAULT_SEATS"], "join_count": 0, "first_port": config["FIRST_SEAT_PORT"],
                         "minutes": config["CLASS_MINUTES"], "memory": config["SEAT_MEMORY"],
                         "cpus": config["SEAT_CPUS"], "pids": config["SEAT_PIDS"]},
            "needing_more": [lesson for lesson in get_catalog().lessons if lesson.seat_needs]}


@bp.get("/grid")
def grid():
    """The progress grid, for the room page and the presenter view; 204 while what they show is current. The
    signed-out screen shows no actions, and no students' names when the instructor hides them."""
    view = room_view()
    version = view["grid_version"]
    if shown_already(version):
        return "", 204
    vary = (is_instructor(), request.args.get("projector") == "1")
    return render_once("room_grid.html", version, (*vary, request.host), projector=vary[1], port_links=port_links,
                       **view)


@bp.post("")
def open_room():
    """Open a room: a seat per student, each with its own link, folder, Docker engine and limits (the whole seat's),
    until the end time; the engines start in the background, the room page showing how far. A room open before is
    ended first, and every seat engine of no room is swept (RoomLife.open)."""
    values = request.form
    forms.only_fields(values, {"count", "join_count", "first_port", "minutes", "memory", "cpus", "pids"})
    cards, join_seats = forms.room_seats(values.get("count"), values.get("join_count"),
                                         current_app.config["MAX_SEATS"])
    first_port = forms.first_seat_port(values.get("first_port"), cards + join_seats, layout.PORT_BLOCK)
    minutes, limits = forms.minutes(values.get("minutes")), forms.limits(values, seats.Limits)
    cpus = os.cpu_count() or 1
    if limits.cpus > cpus:
        raise forms.InvalidInput(f"CPUs {limits.cpus:g}: this host has {cpus}, and a seat cannot be given more.")
    get_room_life().open(first_port, cards, join_seats, minutes, limits, True, seat_lessons(), [current_lesson()])
    return redirect(url_for("room.index"), 303)


def seat_lessons():
    """The lessons whose files each seat's folder holds: every lesson."""
    return list(get_catalog().lessons)


@bp.delete("")
def end():
    """End the class now, as its end time would: what the seats made is removed, and their links stop working."""
    forms.only_fields(request.form, set())
    get_roster().require()
    removed = get_room_life().end()
    message = f"The class ended: {removed} seats' engines stopped and removed, with everything they made."
    return render_template("message.html", kind="ok", message=message), {"HX-Refresh": "true"}


@bp.post("/close")
def close():
    """Put away a room whose class ended: the room page offers a new one, and the presenter view drops its grid.
    What its seats made must be removed first, unless the instructor closes it anyway (`anyway=1`)."""
    forms.only_fields(request.form, {"anyway"})
    anyway = forms.flag(request.form["anyway"], "anyway") if "anyway" in request.form else False
    get_room_life().close(anyway)
    return redirect(url_for("room.index"), 303)


def every_seat_step(values):
    """The current lesson, and the step `values` names."""
    lesson = current_lesson()
    return lesson, step_named(lesson, values.get("step", ""))


@bp.get("/every-seat/command")
def every_seat_preview():
    """The loop a run of the step on every seat does, for the picker to show before the click."""
    instructor_only("run a step on every seat")
    lesson, step = every_seat_step(request.args)
    forms.only_fields(request.args, {"step"})
    return render_template("step_command.html", cli=every_seat_loop(lesson, step), step=step)


def every_seat_loop(lesson, step):
    room = get_roster().require()
    return room_life.every_seat_command(lesson, step, room, seats_dir(), lambda seat: place_for(lesson, seat))


@bp.post("/every-seat")
def run_on_every_seat():
    """Run the step on every seat of the room, as each seat's own press does (one press per seat: a seat busy with
    its student's press is skipped), several seats at a time in the background; the grid fills in as seats finish."""
    instructor_only("run a step on every seat")
    forms.only_fields(request.form, {"step"})
    lesson, step = every_seat_step(request.form)
    room = get_roster().require()
    places = {seat.name: place_for(lesson, seat) for seat in room.seats.values()}
    command = every_seat_loop(lesson, step)
    job = get_room_life().run_on_every_seat(lesson, step, places, probe_host(), command)
    if not htmx:  # the form without JavaScript: the room page shows the run in its grid
        return redirect(url_for("room.index"), 303)
    message = f"Running {step.title!r} on {len(job.runs)} seats, as this loop does one by one:"
    return render_template("message.html", kind="ok", message=message, command=command), {"HX-Trigger": "board-changed"}


@bp.delete("/seats")
def remove_every_seat():
    """Stop and remove every seat's containers, volumes and images at once, as the command beside the button."""
    instructor_only("remove every seat's things")
    forms.only_fields(request.form, set())
    containers, volumes, images = get_room_life().sweep()  # with no room open too: any seat's leftovers
    message = (f"Removed every seat's things: {containers} containers, {volumes} volumes and {images} images.")
    return (render_template("message.html", kind="ok", message=message,
                            command=room_life.remove_every_seat_command(seats_dir())),
            {"HX-Trigger": "board-changed"})


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
    room = get_roster().require()
    return render_template("seat_sheet.html", room=room, room_url=room_url(), seat_link=seat_link,
                           port_links=port_links, seat_ports=seat_ports(room))


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
    """A fresh start for the seat: its engine removed with everything it made and started again, its files as
    shipped."""
    forms.only_fields(request.form, set())
    seat = seat_named(name)
    removed = get_room_life().reset_seat(seat, seat_lessons())
    message = f"{seat.name} is reset: {removed} containers, volumes and images removed, its files as shipped."
    if htmx:
        return render_template("message.html", kind="ok", message=message), {"HX-Trigger": "board-changed"}
    return redirect(url_for("room.index"), 303)


def keep_time(app):
    """End the room at its end time: RoomLife's clock, and a look at every request (a timer lost with a restart)."""
    @app.before_request
    def end_if_due():
        get_room_life().end_if_due()
