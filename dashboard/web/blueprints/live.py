"""The pages' one live stream (`GET /live`): Server-Sent "changed" nudges, each answered by the page with its GET.

One stream per browser (static/live.js shares it between tabs). It carries only what its viewer may see
(domain/live.Viewer), and ends with a `close` event when that viewer's session stops being good: a sign-out, a
revoked or moved seat link, the class's end, the session's expiry.
"""

import time

from flask import Blueprint, Response, current_app, request, session, stream_with_context, url_for

from ...domain.live import EVERYTHING, Viewer, topics_for
from ..security import current_seat, is_instructor, session_ends

bp = Blueprint("live", __name__)

PING_SECONDS = 15  # a comment line this often keeps buffering proxies (and their idle timeouts) from cutting it
RETRY_MS = 2000  # how soon a browser reconnects after a drop

# What a request that changed something (any method but GET/HEAD, answered below 400) may have changed, by
# blueprint; a board's own changes and the engine's come from the board and the snapshot themselves.
CHANGES = {
    "lessons": ("lesson",), "steps": ("containers", "transcript"), "containers": ("containers", "transcript"),
    "images": ("build", "transcript"), "transcript": ("transcript",), "workshop": ("board",),
    "room": ("grid", "join"), "seat": ("grid", "join"), "auth": ("session",),
}


def get_hub():
    """The app's hub of live nudges (domain/live.py)."""
    return current_app.extensions["live"]


def viewer():
    """Who this request's session is, as the stream tells it apart."""
    if is_instructor():
        return Viewer("instructor")
    seat = current_seat()
    return Viewer("seat", seat.name) if seat is not None else Viewer("screen")


def _event(name, data, event_id=None):
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {data}\n\n"


@bp.get("/live")
def stream():
    """The nudges this viewer's pages answer with their GET, as Server-Sent Events; `Last-Event-ID` (or `?since=`,
    the id a page was rendered at) resumes: the missed nudges, or one `all` when they are no longer kept."""
    hub, me = get_hub(), viewer()
    ends = session_ends() if session.get("holder") is not None else None  # a screen's session holds nothing
    last = request.headers.get("Last-Event-ID") or request.args.get("since")
    cursor, first = hub.number, []
    if last:
        missed = hub.since(last)
        first = [EVERYTHING] if missed is None else topics_for(me, missed)

    def events():
        nonlocal cursor
        yield f"retry: {RETRY_MS}\n\n"
        if first:
            yield _event("changed", " ".join(first), hub.id_of(cursor))
        while True:
            nudges = hub.wait(cursor, PING_SECONDS)
            if viewer() != me:
                yield _event("close", "signed out")
                return
            if ends is not None and time.time() >= ends:
                yield _event("close", "session expired")
                return
            if not nudges:
                yield ": ping\n\n"
                continue
            cursor = nudges[-1].number
            topics = topics_for(me, nudges)
            if topics:
                yield _event("changed", " ".join(topics), hub.id_of(cursor))

    return Response(stream_with_context(events()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@bp.app_context_processor
def live_page():
    """What a page's body needs to follow the stream (static/live.js): its URL, the id the page was rendered at,
    and the viewer, whose tabs share one stream."""
    me = viewer()
    return {"live": {"url": url_for("live.stream"), "since": get_hub().last_id,
                     "viewer": me.role + (f"-{me.seat}" if me.seat else ""),
                     "worker": url_for("static", filename="live-worker.js")}}


@bp.after_app_request
def publish_changes(response):
    """Nudge the streams about what a request that changed something may have changed (CHANGES)."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and response.status_code < 400:
        for topic in CHANGES.get(request.blueprint, ()):
            current_app.extensions["live"].publish(topic)
    return response
