"""The one place where failures become pages or htmx fragments with a clear message, never a traceback.

The domain's errors carry a message and no HTTP status: STATUS says how each kind is answered here.
"""

import logging

from flask import current_app, make_response, render_template
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..domain.errors import (
    BuildingAnother,
    StepRunning,
    BuildQueueFull,
    ClassOver,
    ContainerNotFound,
    ContainerNotRunning,
    EngineError,
    EngineUnavailable,
    EverySeatRunning,
    ImageNotFound,
    NameInUse,
    PortInUse,
    SeatBusy,
    SeatFolderBlocked,
    ToolMissing,
    VolumeInUse,
    WorkshopUnwritable,
)
from ..domain.failures import TooManyFailures
from ..domain.seats import ClassStillOn, RoomError, SeatsUnavailable, ThingsLeft, TooFewSeats, TooManySeats
from ..domain.workshop import WorkshopError
from .extensions import htmx
from .filters import engine_text
from .forms import InvalidInput, NoSuchThing
from .security import Forbidden

log = logging.getLogger(__name__)

# The answer to each refusal, looked up along the error's class hierarchy (the most specific first).
STATUS = {
    InvalidInput: 400,
    Forbidden: 403,
    TooManyFailures: 429,  # wrong guesses of links, join codes or the token: its Retry-After says when to try again
    NoSuchThing: 404,
    RoomError: 404,  # no room open, or no such seat in it
    ClassStillOn: 409,
    ThingsLeft: 409,
    TooFewSeats: 409,  # the seats planned are not those the room form asked for: nothing opened
    TooManySeats: 400,  # more seats than this host holds: nothing opened
    SeatsUnavailable: 503,  # this host cannot give seats engines of their own (the compose deployment)
    ContainerNotFound: 404,  # already gone, or not the lesson's: the page refreshes its stale list
    ImageNotFound: 409,
    PortInUse: 409,
    NameInUse: 409,
    VolumeInUse: 409,
    ToolMissing: 503,
    WorkshopUnwritable: 503,  # the server's folder: nothing the request could change
    SeatFolderBlocked: 409,  # a seat's folder, as its student left it: theirs to put right
    WorkshopError: 503,  # a seat's folder in it, likewise
    ContainerNotRunning: 409,
    EverySeatRunning: 409,
    BuildingAnother: 409,
    StepRunning: 409,
    SeatBusy: 409,  # one press per seat at a time
    ClassOver: 409,  # a seat's build that waited past the class end
    BuildQueueFull: 503,  # the seats' build turn taken past BUILD_WAIT_SECONDS: try again in a moment
    EngineUnavailable: 503,
    EngineError: 502,  # the engine answered, and refused
}


def status_of(error):
    """The HTTP status a refusal is answered with (see STATUS)."""
    return next(STATUS[kind] for kind in type(error).__mro__ if kind in STATUS)


def _render(message, status, refresh=False):
    if request_ctx.url_adapter is None:  # a Host header Werkzeug cannot read: no URL, and so no page, can be built
        return message, status, {"Content-Type": "text/plain; charset=utf-8"}
    template = "message.html" if htmx else "error_page.html"
    response = (render_template(template, message=message, kind="error", status=status), status)
    if refresh:
        # The page shows something stale (a container already gone): ask the list to refresh itself.
        response += ({"HX-Trigger": "containers-changed"},)
    return response


def register(app):
    """Answer every failure with its message, in the page (htmx) or a page of its own."""

    def refused(error):
        status = status_of(error)
        message = engine_text(str(error)) if isinstance(error, EngineError) else str(error)  # a seat's, say
        response = make_response(_render(message, status, refresh=status == 404))
        if isinstance(error, TooManyFailures):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    for kind in STATUS:
        app.register_error_handler(kind, refused)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error):
        limit = current_app.config["MAX_CONTENT_LENGTH"] // 1024
        return _render(f"The request is larger than {limit} kB; the dashboard's forms are a few short fields.", 413)

    @app.errorhandler(HTTPException)
    def http_error(error):
        return _render(error.description, error.code)

    @app.errorhandler(Exception)
    def unexpected_error(error):
        log.exception("unexpected error")
        return _render("Something went wrong in the dashboard; the details are in its log.", 500)
