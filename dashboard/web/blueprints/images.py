"""A lesson's image: build it (in the background, streamed to every viewer) and show where it stands."""

from flask import Blueprint, Response, render_template, request, stream_with_context

from .. import forms
from ..extensions import get_builder, htmx
from ..step_views import start_build
from ..views import build_panel_version, build_step, image_view, lesson_asked, render_lesson, shown_already

bp = Blueprint("images", __name__, url_prefix="/images")


@bp.get("/build")
def show_build():
    """The build panel: idle with the current image, running, or finished with its log.

    Open pages poll it with the build version they show; while that is still current the answer is 204.
    """
    lesson = lessons_build(lesson_asked())
    if not htmx:
        return render_lesson(lesson)
    if shown_already(build_panel_version()):
        return "", 204
    return render_template("build_panel.html", **image_view(lesson))


@bp.post("/build")
def build():
    """Start a build of the current lesson's image (as its build step's button does)."""
    forms.only_fields(request.form, set())
    return start_build(lessons_build(lesson_asked()))


def lessons_build(lesson):
    """The lesson, when it has a build step; 404 when it builds nothing."""
    if build_step(lesson) is None:
        raise forms.NoSuchThing(f"The lesson {lesson.id} builds no image.")
    return lesson


def _event(name, html="", event_id=None):
    """One Server-Sent Event; each line of the HTML becomes a data line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    data = "".join(f"data: {line}\n" for line in (html.splitlines() or [""]))
    return f"{head}event: {name}\n{data}\n"


@bp.get("/build/events")
def build_events():
    """The running build's log as Server-Sent Events: each line, the progress bar, then `done`.

    A viewer that joins late gets the log from the start; a reconnecting one resumes after Last-Event-ID.
    """
    build = get_builder().current
    last_seen = forms.last_event_id(request.headers.get("Last-Event-ID"))
    start = 0 if last_seen is None else last_seen + 1

    def stream():
        for item in build.follow(start) if build else ():
            if item is None:
                yield ": still building\n\n"
                continue
            index, line = item
            yield _event("line", render_template("build_line.html", line=line, build=build), index)
            if line.kind in ("step", "cache"):
                yield _event("progress", render_template("build_progress.html", build=build))
        yield _event("done")

    return Response(
        stream_with_context(stream()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
