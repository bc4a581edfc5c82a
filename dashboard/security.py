"""Who may change what: read-only by default, the instructor signs in with a secret; CSRF and security headers.

Whoever can press "run" holds the Docker socket, which is root on the host, and students' own pages are served
from the same host (same-site), so every state-changing request needs the instructor's session AND a CSRF token
sent by htmx as a header; SameSite cookies alone would not stop a student's page on port 8000.
"""

import hmac
import ipaddress
import secrets
from datetime import timedelta
from pathlib import Path

from flask import current_app, request, session

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class Forbidden(Exception):
    """A request the signed-out screen (or a stale page) may not make; shown in the page with a 403."""

    status = 403


def _kept_secret(app, name):
    """A random secret generated on first start and kept in the instance folder, so restarts and workers agree."""
    path = Path(app.instance_path) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24))
    return path.read_text().strip()


def configure(app):
    """Secrets, session lifetime and the checks every request goes through."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _kept_secret(app, "secret-key")
    if not app.config.get("INSTRUCTOR_TOKEN"):
        app.config["INSTRUCTOR_TOKEN"] = _kept_secret(app, "instructor-token")
        app.logger.warning("Instructor token (as Jupyter's): %s  (sign in at /signin, or set DASHBOARD_INSTRUCTOR_TOKEN)",
                           app.config["INSTRUCTOR_TOKEN"])
    # DASHBOARD_* values are read as JSON where they parse: a token of digits would arrive as a number.
    for key in ("SECRET_KEY", "INSTRUCTOR_TOKEN"):
        app.config[key] = str(app.config[key])
    app.config.update(
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=app.config["SESSION_MINUTES"]),
        # Counted from sign-in: open pages poll every second, and a refreshed cookie would never expire.
        SESSION_REFRESH_EACH_REQUEST=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
    )
    app.before_request(_check_request)
    app.after_request(_add_headers)
    app.context_processor(lambda: {"instructor": is_instructor(), "csrf_token": csrf_token()})


def is_instructor():
    return session.get("instructor") is True


def csrf_token():
    """The session's CSRF token, made on first use (a signed-out viewer needs one to sign in)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def grant_instructor(session_):
    """Sign a session in as the instructor, with a fresh CSRF token; returns that token."""
    session_.clear()
    session_["instructor"] = True
    session_["csrf"] = secrets.token_urlsafe(32)
    session_.permanent = True  # so it expires after SESSION_MINUTES
    return session_["csrf"]


def token_matches(given):
    return hmac.compare_digest(given.encode(), current_app.config["INSTRUCTOR_TOKEN"].encode())


def _check_request():
    """Every state-changing request: a valid CSRF token, and the instructor's session except to sign in."""
    if request.method in SAFE_METHODS or request.routing_exception is not None:
        return  # reads change nothing; unknown URLs and methods get their 404/405
    expected = session.get("csrf")
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("This page is out of date or signed out (its CSRF token does not match): reload it.")
    if request.endpoint != "auth.signin" and not is_instructor():
        raise Forbidden("Only the instructor can do that: sign in first.")


def _add_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def is_loopback(bind):
    """True when a gunicorn bind address (HOST:PORT, [V6]:PORT or unix:PATH) is reachable from this host only."""
    if bind.startswith("unix:"):
        return True
    host = bind.rsplit(":", 1)[0].strip("[]") if ":" in bind else bind
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
