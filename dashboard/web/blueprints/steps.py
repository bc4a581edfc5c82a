"""A lesson's steps: press one (its action, as the command beside it does), check one, preview its command."""

import contextlib
import time

from flask import Blueprint, render_template, request

from ...domain import actions, room
from ...domain.checks import Ran, scope_of
from ...domain.errors import EngineError, WorkshopUnwritable
from .. import forms
from ..extensions import get_board, get_engine, get_snapshot, get_transcript, htmx
from ..views import CHANGED, evaluate_check, lesson_named, place_for, render_lesson, step_named, steps_view
from .images import start_build

bp = Blueprint("steps", __name__, url_prefix="/lessons/<lesson_id>/steps")


def lesson_step(lesson_id, step_id):
    lesson = lesson_named(lesson_id)
    return lesson, step_named(lesson, step_id)


def host_port_field(step, values):
    """The host port typed for a run that publishes one port (None when not given); refused for other steps."""
    action = step.action
    takes_port = action.kind == "run" and len(action.ports) == 1
    forms.only_fields(values, {"host_port"} if takes_port else set())
    return forms.host_port(values["host_port"]) if takes_port and "host_port" in values else None


def status(lesson, step, oob=False, seat=None, note=None):
    """The step's status fragment: its latest run and its check, as the board has them (the seat's, for a seat),
    with `note` under the check (why it was not asked again)."""
    view = steps_view(lesson, seat=seat, can_act=None if seat is None else True)
    entry = next(item for item in view["steps"] if item["step"] == step)
    return render_template("step_status.html", item=entry, oob=oob, note=note, **view)


def check_now(lesson, step, settle=False, seat=None):
    """Evaluate the step's check and put it on the board; with `settle`, ask again for a few seconds while it
    fails, as a server just started may not answer yet."""
    result = room.settled_check(lambda: evaluate_check(lesson, step.check, seat), step, settle)
    get_board().put(scope_of(lesson.id, seat and seat.name), step.id, result)


TRANSCRIPT_ACTIONS = {"remove": "rm", "force_remove": "rm-f", "stop_and_remove": "stop-rm"}


def transcript_action(action):
    """How the transcript names the action: a detached run is "run" (the replay keeps its id in a variable); a
    removal by name is not "remove", which is the list's removal by id."""
    if action.kind == "run":
        return "run" if action.detach else "run-once"
    return TRANSCRIPT_ACTIONS.get(action.kind, action.kind)


def recorded(lesson, step, place, command, host_port, seat):
    """The transcript entry of an instructor's step (the lesson's replay script); a seat's steps are its own and
    go on its row of the progress grid instead."""
    if seat is not None:
        return contextlib.nullcontext({})
    return get_transcript().action(transcript_action(step.action), command,
                                   replay=actions.replay(lesson, step.action, place, host_port), lesson=lesson.id)


def do_step(lesson, step, host_port=None, seat=None):
    """Do the step's action as its command does, note it on the board and in the transcript, check it. A seat
    does its own lesson (seats.for_seat) on its own things; the page then shows the seat's status."""
    place = place_for(lesson, seat)
    command = actions.command(lesson, step.action, place, host_port)
    board, scope, snapshot = get_board(), scope_of(lesson.id, seat and seat.name), get_snapshot()
    # A seat's press reads the shared list as next read after it, at most one read a refresh period for the room.
    pressed = time.monotonic()
    listed = (lambda: snapshot.read_after(pressed)[1]) if seat is not None else None
    try:
        with recorded(lesson, step, place, command, host_port, seat) as record:
            done = actions.perform(get_engine(), lesson, step.action, place, host_port, listed)
            record.update(output=done.output, container_id=done.container_id, ok=done.ok)
    except (EngineError, WorkshopUnwritable) as error:
        board.ran(scope, step.id, Ran(command, f"Error: {error}", False))
        raise
    finally:
        if seat is None:
            snapshot.invalidate()
    ports = actions.run_ports(step.action, host_port) if step.action.kind == "run" else ()
    board.ran(scope, step.id, Ran(command, done.output, done.ok, done.container_id,
                                  ports[0][0] if len(ports) == 1 else None))
    if step.check is not None:
        check_now(lesson, step, settle=True, seat=seat)
    if not htmx:  # a form sent without JavaScript: the whole page, the step's run shown in its status
        return None if seat is not None else render_lesson(lesson, host_port=host_port)
    message = render_template("message.html", kind="ok" if done.ok else "error",
                              message=f"Done: {step.title}." if done.ok else "It ran, and failed: see its output.")
    return message + status(lesson, step, oob=True, seat=seat), CHANGED


@bp.post("/<step_id>")
def press(lesson_id, step_id):
    """Do the step's action (a build starts in the background, and every open page follows it)."""
    lesson, step = lesson_step(lesson_id, step_id)
    if step.action.kind == "build":
        forms.only_fields(request.form, set())
        return start_build(lesson)
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
    """The step's command for the host port typed so far, so the command updates before the click.

    Half-typed input is part of typing, not a failed request: the preview shows what is wrong with a 200.
    """
    lesson, step = lesson_step(lesson_id, step_id)
    try:
        host_port = host_port_field(step, request.args)
    except forms.InvalidInput as error:
        if not htmx:
            raise
        return render_template("message.html", kind="error", message=str(error))
    if not htmx:
        return render_lesson(lesson, host_port=host_port)
    cli = actions.command(lesson, step.action, place_for(lesson), host_port)
    return render_template("step_command.html", cli=cli, step=step)
