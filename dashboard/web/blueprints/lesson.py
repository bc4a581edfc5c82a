"""The lesson page: build, run, list and remove, each button beside its docker command."""

from flask import Blueprint

from ..views import render_page

bp = Blueprint("lesson", __name__)


@bp.get("/")
def index():
    """The lesson page: read-only until the instructor signs in."""
    return render_page()


@bp.get("/present")
def present():
    """The same page for a projector: large type, high contrast, the active step standing out."""
    return render_page(presenter=True)
