"""A seat's page and board, as its student sees them and as the instructor watching the seat does (read-only)."""

from flask import render_template, request, session

from .extensions import get_lesson_pick, get_roster, get_room_life
from .fragments import render_once
from .links import port_links, seat_link
from .views import board_version, refresh_checks, seat_ports, shown_already, steps_view


def seat_current_lesson(seat):
    """The current lesson, which a seat does as written on its own engine (None: no reason it cannot)."""
    return get_lesson_pick().lesson, None


def render_seat(seat, can_act=True):
    """The seat's page: the current lesson's steps as the seat does them. Its student's own copy (`can_act`)
    shows the seat's link, to move to another device, and the way back to a seat this browser left; the
    instructor's read-only copy shows neither."""
    lesson, refused = seat_current_lesson(seat)
    refresh_checks(get_lesson_pick().lesson, [seat])
    roster = get_roster()
    room = roster.require()
    own_link = back = None
    if can_act:
        own_link = seat_link(seat)  # on DASHBOARD_ROOM_URL, as the sheet's cards
        back = roster.by_token(session.get("back") or "")
        back = back if back is not None and back.name != seat.name else None
    opening = get_room_life().opening
    starting = opening is not None and opening.room == room.id and not opening.finished
    return render_template("seat.html", refused=refused, room=room, lesson_id=lesson.id, own_link=own_link,
                           back=back, port_links=port_links(seat_ports(room).get(seat.name, ())), starting=starting,
                           **steps_view(lesson, seat=seat, can_act=can_act and refused is None))


def board_update(seat, can_act):
    """The seat's board for its page (or the instructor's read-only copy of it) to swap in; 204 while current.
    A page still showing another lesson reloads (HX-Refresh)."""
    lesson, refused = seat_current_lesson(seat)
    if request.args.get("lesson", lesson.id) != lesson.id:
        return "", 200, {"HX-Refresh": "true"}
    refresh_checks(get_lesson_pick().lesson, [seat])
    version = board_version(lesson, seat)
    if shown_already(version):
        return "", 204
    return render_once("board_update.html", version, (request.host, can_act), kind=f"board@{seat.name}",
                       **steps_view(lesson, seat=seat, can_act=can_act and refused is None))
