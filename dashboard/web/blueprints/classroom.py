"""Classroom mode, for the current lesson when it publishes a port: a container per student (a cow, in the images
lesson), started at once; the room sheet of their URLs; the class stopped at once."""

from functools import lru_cache

import segno
from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup

from ...domain import actions, commands
from ...domain.classroom import SeatRun
from ...domain.labels import LESSON_LABEL
from .. import forms
from ..extensions import get_classroom, get_engine, get_snapshot, get_transcript, htmx
from ..filters import port_link_host
from ..security import Forbidden, is_instructor
from ..views import CHANGED, containers_view, current_lesson, place_for, shown_already

bp = Blueprint("classroom", __name__, url_prefix="/classroom")


@bp.app_template_filter("qr_svg")
@lru_cache(maxsize=1024)
def qr_svg(text):
    """`text` as a QR code in inline SVG, sized by CSS; segno draws modules only, so none of `text` is markup."""
    return Markup(segno.make(text, micro=False).svg_inline(omitsize=True, border=2))


def class_numbers(values):
    """(seat count, first port) from a form, validated."""
    forms.only_fields(values, {"count", "first_port"})
    count = forms.seat_count(values.get("count"), current_app.config["MAX_SEATS"])
    return count, forms.first_seat_port(values.get("first_port"), count)


def seat_run(lesson):
    """What each seat of the lesson runs: its first detached run publishing a port; None when it has none."""
    step = lesson.port_run
    if step is None:
        return None
    action = step.action
    labelled = actions.labelled_by_command(lesson, action)
    return SeatRun(lesson.id, place_for(lesson).image(action.image), action.ports[0].container,
                   ((LESSON_LABEL, lesson.id),) if labelled else ())


def class_loop(run, ports):
    """The loop that starts these seats from a shell, one at a time."""
    return commands.class_command(run.image, ports, get_classroom().prefix, run.container_port,
                                  run.lesson if run.labels else None)


def class_plan(count, first_port):
    """The seats a start would make now, and the loop that makes the same ones from a shell."""
    lesson, classroom = current_lesson(), get_classroom()
    seats = classroom.plan(first_port, count, {c.name for c in containers_view(lesson)["containers"]},
                           probe_ports=get_engine().ports_are_local)
    return seats, class_loop(require_seat_run(lesson), [seat.port for seat in seats])


def require_seat_run(lesson):
    run = seat_run(lesson)
    if run is None:
        raise forms.NoSuchThing(f"The lesson {lesson.title!r} publishes no port, so it has no classroom mode: "
                                "pick a lesson that does.")
    return run


def seat_url(container, host, container_port):
    """http://HOST:PORT/, where a seat answers; None while it publishes nothing (stopped)."""
    ports = [public for public, private in container.ports if private == container_port]
    return f"http://{host}:{ports[0]}/" if ports else None


def class_view():
    """The class panel: the latest start and its progress, and the seats among the shared snapshot's containers."""
    lesson, classroom = current_lesson(), get_classroom()
    view, run = containers_view(lesson), seat_run(lesson)
    host = port_link_host(request.host)
    seats = sorted((c for c in view["containers"] if c.name.startswith(classroom.prefix)),
                   key=lambda c: (not c.ports, c.ports, c.name))  # running seats first, by port
    seats = [(c, seat_url(c, host, run.container_port if run else None)) for c in seats]
    return {"start": classroom.current, "seats": seats, "engine_error": view["engine_error"], "host": host,
            "lesson": lesson, "seat_run": run,
            "engine_address": get_engine().remote_address,
            "class_version": f"{classroom.version}-{view['containers_version']}", "prefix": classroom.prefix,
            "remove_cli": commands.class_remove_command(classroom.prefix, lesson.id)}


def viewer_loop(count, first_port):
    """The loop a signed-out screen shows, probing no port: the latest start's, else the plain `seq` of the numbers.

    Only the instructor's preview binds ports to see which are free: up to MAX_SEATS binds a request, which
    anyone's browser (or a script) could repeat, and each can make a real start find its port taken.
    """
    start, lesson = get_classroom().current, current_lesson()
    if start and start.lesson == lesson.id:
        return start.command, "The loop the latest start ran, one seat at a time."
    run = seat_run(lesson)
    if run is None:
        return None, None
    return (class_loop(run, range(first_port, first_port + count)),
            "The loop for these numbers; a start skips any port already in use.")


def render_classroom(count=None, first_port=None):
    """The whole classroom page; views call this for browsers that did not ask through htmx."""
    count = count or current_app.config["DEFAULT_SEATS"]
    first_port = first_port or current_app.config["FIRST_SEAT_PORT"]
    if seat_run(current_lesson()) is None:
        class_cli, note = None, None
    elif is_instructor():
        class_cli, note = class_plan(count, first_port)[1], "The loop with the ports a start would take now."
    else:
        class_cli, note = viewer_loop(count, first_port)
    return render_template("classroom.html", count=count, first_port=first_port, class_cli=class_cli,
                           class_cli_note=note, **class_view())


@bp.get("")
def index():
    """The classroom page; open pages poll it for the start's progress and the seats, and get 204 while current."""
    if not htmx:
        return render_classroom()
    view = class_view()
    if shown_already(view["class_version"]):
        return "", 204
    return render_template("class_status.html", **view)


@bp.get("/new")
def new():
    """The class loop for the numbers typed so far, with the ports it would use now, before the click.

    The instructor's only: finding the ports in use binds each one (see viewer_loop).
    """
    if not is_instructor():
        raise Forbidden("Only the instructor can preview which ports a class would take: sign in first.")
    config = current_app.config
    defaults = {"count": str(config["DEFAULT_SEATS"]), "first_port": str(config["FIRST_SEAT_PORT"])}
    count, first_port = class_numbers({**defaults, **request.args.to_dict()})
    if htmx:
        return render_template("class_command.html", class_cli=class_plan(count, first_port)[1])
    return render_classroom(count, first_port)


@bp.post("")
def start():
    """Start a seat per student, several engine calls at a time, as the loop beside the button does one by one."""
    count, first_port = class_numbers(request.form)
    engine, run = get_engine(), require_seat_run(current_lesson())
    engine.require_image(run.image)
    seats, command = class_plan(count, first_port)
    get_classroom().start(engine, run, seats, command, current_app.config["CLASS_WORKERS"])
    if htmx:
        message = f"Starting {count} seats from port {seats[0].port}, as this loop does one by one:"
        return render_template("message.html", kind="ok", message=message, command=command), CHANGED
    return render_classroom(count, first_port)


@bp.delete("")
def stop_all():
    """Stop and remove every seat of the class at once, as `docker ps -aq --filter … | xargs -r docker rm -f`."""
    forms.only_fields(request.form, set())
    classroom, lesson = get_classroom(), current_lesson()
    command = commands.class_remove_command(classroom.prefix, lesson.id)
    with get_transcript().action("class-stop", command, replay=command, lesson=lesson.id) as record:
        removed = classroom.remove_all(get_engine(), current_app.config["CLASS_WORKERS"], lesson.id)
        record["output"] = "\n".join(full_id[:12] for full_id in removed)  # as `docker rm -f` prints `ps -q`'s ids
    get_snapshot().invalidate()
    message = f"Stopped and removed {len(removed)} seat{'' if len(removed) == 1 else 's'}."
    return render_template("message.html", kind="ok", message=message, command=command), CHANGED


@bp.get("/sheet")
def sheet():
    """The room sheet: every seat's URL on the host this browser used, large, with its QR code; printable."""
    return render_template("room_sheet.html", **class_view())
