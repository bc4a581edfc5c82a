"""What a step's press, check, status and command preview answer, alike from the lesson's URLs, the container
list's Run (the port run) and a seat's page."""

import contextlib
import time

from flask import redirect, render_template, request, url_for

from ..domain import actions, room
from ..domain.checks import Ran, scope_of
from ..domain.errors import EngineError, WorkshopUnwritable
from . import forms
from .extensions import get_board, get_builder, get_engine, get_snapshot, get_transcript, htmx
from .views import CHANGED, build_plan, evaluate_check, place_for, render_lesson, steps_view


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


def command_preview(lesson, step, values=None):
    """The step's command for the host port typed so far (`values`: the request's query), before the click.

    Half-typed input is part of typing, not a failed request: the preview shows what is wrong with a 200.
    """
    values = request.args if values is None else values
    try:
        host_port = host_port_field(step, values)
    except forms.InvalidInput as error:
        if not htmx:
            raise
        return render_template("message.html", kind="error", message=str(error))
    if not htmx:
        return render_lesson(lesson, host_port=host_port)
    cli = actions.command(lesson, step.action, place_for(lesson), host_port)
    return render_template("step_command.html", cli=cli, step=step)


def start_build(lesson):
    """Start the lesson's build, or join the one already running; every open panel then shows it."""
    builder = get_builder()
    joined = builder.running
    builder.start(get_engine(), build_plan(lesson))
    if not htmx:
        return redirect(url_for("lessons.show", lesson_id=lesson.id))
    message = "Joined the build already running." if joined else "Build started."
    return render_template("message.html", kind="ok", message=message), {"HX-Trigger": "build-started"}
