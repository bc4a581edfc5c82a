"""The app's shared domain objects, made once per app by create_app and reached from a request through these."""

from flask import current_app
from flask_htmx import HTMX

htmx = HTMX()


def get_engine():
    """The app's Engine, made once per app (as flaskr's get_db)."""
    return current_app.extensions["engine"]


def get_snapshot():
    """The app's shared snapshot of the lesson's containers."""
    return current_app.extensions["snapshot"]


def get_builder():
    """The app's Builder, shared by every viewer of this process."""
    return current_app.extensions["builder"]


def get_step_runner():
    """The instructor's long steps run in the background, one at a time (domain/step_runs.py)."""
    return current_app.extensions["step_runner"]


def get_room_life():
    """The room's life and the instructor's actions on every seat (domain/room.py)."""
    return current_app.extensions["room_life"]


def get_transcript():
    """The app's transcript store."""
    return current_app.extensions["transcript"]


def get_workshop():
    """The app's workshop folder, where the lessons' files are built from and edited."""
    return current_app.extensions["workshop"]


def get_catalog():
    """The lessons that loaded, in workshop order, and the messages of those refused."""
    return current_app.extensions["catalog"]


def get_board():
    """The steps' latest check results and runs, shared by every viewer."""
    return current_app.extensions["board"]


def get_lesson_pick():
    """The instructor's pick of the lesson the class is on (its id, its lesson, choose()); see current_lesson()."""
    return current_app.extensions["lesson_pick"]


def get_roster():
    """The room of students' seats, if one is open (domain/seats.py)."""
    return current_app.extensions["roster"]


def get_stand_ins():
    """The local images standing in for those the lessons name (domain/stand_ins.py)."""
    return current_app.extensions["stand_ins"]


def get_build_turns():
    """The seats' build turn: one build at a time, a bounded wait (domain/presses.py)."""
    return current_app.extensions["build_turns"]


def get_exec_checks():
    """When each seat last ran a check inside its container (domain/presses.py)."""
    return current_app.extensions["exec_checks"]
