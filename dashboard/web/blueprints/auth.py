"""Instructor sign-in and sign-out; everyone else gets the read-only screen."""

from flask import Blueprint, redirect, render_template, request, session, url_for

from .. import forms, guesses
from ..security import (
    NOT_OVER_PLAIN_HTTP,
    Forbidden,
    grant_instructor,
    instructor_transport,
    revoke_instructor,
    token_matches,
)

bp = Blueprint("auth", __name__)


@bp.get("/signin")
def signin_form():
    """The sign-in form; the token is the one the dashboard printed at start, or DASHBOARD_INSTRUCTOR_TOKEN."""
    return render_template("signin.html")


@bp.post("/signin")
def signin():
    """Trade the instructor token for an instructor session (which expires after SESSION_MINUTES)."""
    forms.only_fields(request.form, {"token"})
    if not instructor_transport():
        raise Forbidden(NOT_OVER_PLAIN_HTTP)
    if not guesses.attempt(token_matches(request.form.get("token", ""))):  # 429 after too many wrong ones
        return render_template("signin.html", error="That is not the instructor token."), 403
    grant_instructor(session)
    return redirect(url_for("lessons.index"))


@bp.post("/signout")
def signout():
    """Back to the read-only screen, on every device the instructor signed in from (copied cookies included)."""
    forms.only_fields(request.form, set())
    revoke_instructor(session)
    return redirect(url_for("lessons.index"))
