"""What a step's press, check, status and command preview answer, alike from the lesson's URLs, the container
list's Run (the port run) and a seat's page."""

from flask import redirect, render_template, request, url_for

from ..domain import actions, room
from ..domain.checks import scope_of
from . import forms
from .extensions import get_board, get_builder, get_engine, get_snapshot, get_step_runner, get_transcript, htmx
from .views import CHANGED, build_plan, evaluate_check, place_for, probe_host, render_lesson, steps_view


def host_port_field(step, values):
    """The host port typed for a run that publishes one port (None when not given); refused for other steps."""
    action = step.action
    takes_port = action.definition.takes_host_port(action)
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


def recorder(lesson, step, place, host_port=None):
    """What notes an instructor's step in the transcript (the lesson's replay script), given its command; a seat's
    steps are its own and go on its row of the progress grid instead. The store is taken now: a long step notes
    its run from a thread of its own."""
    store = get_transcript()
    return lambda command: store.action(step.action.definition.transcript_name(step.action), command,
                                        replay=actions.replay(lesson, step.action, place, host_port),
                                        lesson=lesson.id)


def do_step(lesson, step, host_port=None):
    """The instructor's press: the step's action as its command does (room.press_step), noted in the transcript;
    every page's list is read afresh after it."""
    place = place_for(lesson)
    try:
        done = room.press_step(get_engine(), get_board(), get_snapshot(), lesson, step, place, probe_host(), host_port,
                               record=recorder(lesson, step, place, host_port))
    finally:
        get_snapshot().invalidate()
    if not htmx:  # a form sent without JavaScript: the whole page, the step's run shown in its status
        return render_lesson(lesson, host_port=host_port)
    return step_answer(lesson, step, done)


def start_step(lesson, step):
    """The instructor's press of a long step (Compose building): it runs in the background, or a press while it
    runs joins it; every page's status of the step shows its output as it comes, then its run and check."""
    place = place_for(lesson)
    _, joined = room.press_in_background(get_step_runner(), get_engine(), get_board(), get_snapshot(), lesson, step,
                                         place, probe_host(), record=recorder(lesson, step, place))
    if not htmx:
        return redirect(url_for("lessons.show", lesson_id=lesson.id))
    message = (f"Joined {step.title!r}, running already." if joined
               else f"Started: {step.title}. Its output shows below as it comes.")
    return render_template("message.html", kind="ok", message=message) + status(lesson, step, oob=True), CHANGED


def step_answer(lesson, step, done, seat=None):
    """What a press answers htmx: done or failed, and the step's status in place (the seat's, for a seat)."""
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
