"""The one place where failures become pages or htmx fragments with a clear message, never a traceback."""

import logging

from flask import current_app, render_template
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import htmx
from .engine import EngineError
from .forms import InvalidInput
from .security import Forbidden

log = logging.getLogger(__name__)


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
    @app.errorhandler(InvalidInput)
    @app.errorhandler(Forbidden)
    def refused(error):
        return _render(str(error), error.status)

    @app.errorhandler(EngineError)
    def engine_error(error):
        return _render(str(error), error.status, refresh=error.status == 404)

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
