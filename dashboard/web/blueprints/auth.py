"""Instructor sign-in and sign-out; everyone else gets the read-only screen."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from .. import forms, guesses
from ..filters import browser_host
from ..security import (
    NOT_OVER_PLAIN_HTTP,
    Forbidden,
    grant_instructor,
    instructor_transport,
    revoke_instructor,
    token_matches,
)
from ..tls import split_bind

bp = Blueprint("auth", __name__)


@bp.get("/signin")
def signin_form():
    """The sign-in form, on this machine or over HTTPS; over the room's plain HTTP no form (the token would cross
    the room in clear): a redirect to the HTTPS listener, or, without one, how to sign in."""
    if instructor_transport():
        return render_template("signin.html")
    if https_url := https_signin_url():
        return redirect(https_url, 303)
    return render_template("signin.html", on_this_machine=f"http://127.0.0.1:{_port()}{url_for('auth.signin_form')}")


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


@bp.app_template_global()
def signin_url():
    """Where a page's sign-in link goes: the HTTPS listener's sign-in for a browser on the room's plain HTTP,
    else this address's (which, over plain HTTP without HTTPS, says how to sign in)."""
    return (not instructor_transport() and https_signin_url()) or url_for("auth.signin_form")


def _port():
    """The port this browser used (the plain-HTTP listener's, when no proxy stands between)."""
    try:
        return urlsplit(f"//{request.host}").port or 80
    except ValueError:  # a Host header with a port that is none
        return 80


def https_signin_url():
    """The HTTPS listener's sign-in (DASHBOARD_HTTPS_BIND's port, on the host this browser used), or None."""
    bind = current_app.config["HTTPS_BIND"]
    try:
        port = split_bind(bind)[1] if bind else None
    except ValueError:  # not HOST:PORT: the listener did not start either
        return None
    if port is None:
        return None
    netloc = browser_host(request.host) + ("" if port == 443 else f":{port}")
    return f"https://{netloc}{url_for('auth.signin_form')}"
