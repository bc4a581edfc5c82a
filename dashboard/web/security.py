"""Who may change what: read-only by default, the instructor signs in with a secret, a student's browser with its
seat's link; CSRF and security headers.

Whoever can press "run" holds the Docker socket, which is root on the host, and students' own pages are served
from the same host (same-site), so every state-changing request needs a session AND a CSRF token sent by htmx as
a header; SameSite cookies alone would not stop a student's page on port 8000. The instructor's session is
accepted only from this machine (loopback) or over HTTPS, where nobody on the room's network can read it, and only
the one of the two it was signed in on; a seat's session may use plain HTTP, and acts only through the seat's own
URLs (the `seat` blueprint) on its own things.
"""

import hmac
import ipaddress
import secrets
from datetime import timedelta
from pathlib import Path

from flask import current_app, request, session
from flask.sessions import SecureCookieSessionInterface

from ..config import ConfigError, check_secret
from ..domain import files
from ..domain.session_generations import SessionGenerations

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
INSTRUCTOR = "instructor"  # the holder of instructor sessions (see domain/session_generations.py)
SEAT_BLUEPRINT = "seat"  # the only URLs a seat's session may change anything through
SEAT_SIGN_IN = {"seat.take", "seat.move"}  # of them, those a browser posts before it has a seat (join, move)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class Forbidden(Exception):
    """A request the signed-out screen (or a stale page) may not make; shown in the page with a 403."""


def _kept_secret(app, name):
    """A random secret generated on first start and kept in the instance folder, so restarts agree.

    Written whole to a temporary file (mode 0600) and then linked into place, which never replaces a file that is
    there: processes starting together on a fresh folder all read the one secret the first of them linked.
    """
    path = Path(app.instance_path) / name
    if not path.exists():
        files.write_once(path, secrets.token_urlsafe(24))  # another process may be first: its secret is the one
    secret = path.read_text().strip()
    check_secret(str(path), secret)
    return secret


def configure(app):
    """Secrets, session lifetime, server-side session generations and the checks every request goes through."""
    if app.config.get("SECRET_KEY") is None:
        app.config["SECRET_KEY"] = _kept_secret(app, "secret-key")
    if app.config.get("INSTRUCTOR_TOKEN") is None:
        app.config["INSTRUCTOR_TOKEN"] = _kept_secret(app, "instructor-token")
        app.logger.warning("Instructor token (as Jupyter's): %s  (sign in at /signin, or set DASHBOARD_INSTRUCTOR_TOKEN)",
                           app.config["INSTRUCTOR_TOKEN"])
    for key in ("SECRET_KEY", "INSTRUCTOR_TOKEN"):
        check_secret(key, app.config[key])
    app.extensions["session_generations"] = SessionGenerations(Path(app.instance_path) / "session-generations.json")
    app.session_interface = TransportSessions()
    app.extensions["instructor_from"] = this_machine(app.config["INSTRUCTOR_FROM"])
    app.config.update(
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=app.config["SESSION_MINUTES"]),
        # Counted from sign-in: open pages poll every second, and a refreshed cookie would never expire.
        SESSION_REFRESH_EACH_REQUEST=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
    )
    app.before_request(_check_request)
    app.after_request(_add_headers)
    app.context_processor(lambda: {"instructor": is_instructor(), "csrf_token": csrf_token(),
                                   "my_seat": current_seat()})


class TransportSessions(SecureCookieSessionInterface):
    """A session cookie set over HTTPS is marked Secure, so a browser never sends it back over the room's plain
    HTTP (cookies do not tell ports apart): the instructor's HTTPS session cannot be read off the network."""

    def get_cookie_secure(self, app):
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def _generations():
    return current_app.extensions["session_generations"]


def _token_fingerprint():
    """Which instructor token a session signed in with: a new token ends the sessions of the old one."""
    config = current_app.config
    return hmac.new(config["SECRET_KEY"].encode(), config["INSTRUCTOR_TOKEN"].encode(), "sha256").hexdigest()[:32]


def is_instructor():
    """True for a session the instructor signed in, while neither a sign-out nor a new token has ended it, on a
    request from this machine or over HTTPS, the same of the two that signed it in."""
    return (session.get("holder") == INSTRUCTOR
            and session.get("generation") == _generations().current(INSTRUCTOR)
            and hmac.compare_digest(str(session.get("token", "")), _token_fingerprint())
            and instructor_transport() and session.get("transport") == _transport())


def _transport():
    """The way this request came, as an instructor's session records it: a cookie issued on this machine's plain
    HTTP is not accepted over HTTPS from another address, nor an HTTPS one over plain HTTP."""
    return "https" if request.is_secure else "this machine"


def instructor_transport():
    """True when the instructor's cookie may travel this way: over HTTPS, or from this machine (from_this_machine)
    by the connection's own address, and, when a proxy of ours forwarded the request, by its client's too."""
    if request.is_secure:
        return True
    forwarded = forwarded_for()
    return from_this_machine(request.remote_addr or None) and (forwarded is None or from_this_machine(forwarded))


def from_this_machine(address):
    """Whether a connection from `address` comes from this machine: loopback, an address DASHBOARD_INSTRUCTOR_FROM
    names as this machine's, or none at all (a unix socket: gunicorn gives no address)."""
    if address is None:
        return True
    try:
        address = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False  # "" too: a forwarded address that is no address
    return address.is_loopback or address in current_app.extensions["instructor_from"]


def forwarded_for():
    """The client address the DASHBOARD_PROXIES proxies of ours wrote in X-Forwarded-For (each appends the
    address it saw), read only on a connection from this machine (the proxy nearest the dashboard runs here);
    None when the request was not forwarded so; "" when the header has fewer addresses than our proxies add."""
    proxies, header = current_app.config["PROXIES"], request.headers.get("X-Forwarded-For")
    if not proxies or header is None or not from_this_machine(request.remote_addr or None):
        return None
    addresses = [address.strip() for address in header.split(",")]
    return addresses[-proxies] if len(addresses) >= proxies else ""


def client_address():
    """The client's address, as the guess limit counts it: the one our proxies forwarded, else the connection's."""
    return forwarded_for() or request.remote_addr or ""


def this_machine(setting, route_table="/proc/net/route"):
    """The addresses DASHBOARD_INSTRUCTOR_FROM names (comma-separated), where `gateway` is the default route's
    gateway: in a container whose port is published on the host's loopback only (compose.yaml), the host's
    connections arrive from there."""
    addresses = set()
    for word in filter(None, (part.strip() for part in (setting or "").split(","))):
        if word == "gateway":
            addresses |= _default_gateways(route_table)
            continue
        try:
            addresses.add(ipaddress.ip_address(word))
        except ValueError:
            raise ConfigError(f"DASHBOARD_INSTRUCTOR_FROM: {word[:40]!r} is neither an IP address nor "
                              "'gateway'.") from None
    return frozenset(addresses)


def _default_gateways(route_table):
    try:
        lines = Path(route_table).read_text().splitlines()[1:]
    except OSError:
        return set()
    gateways = set()
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000" and fields[2] != "00000000":
            gateways.add(ipaddress.IPv4Address(bytes.fromhex(fields[2])[::-1]))
    return gateways


def _seat_fingerprint(seat):
    """Which link a seat's session signed in with: a revoked link (a new token) ends the sessions of the old one."""
    return hmac.new(current_app.config["SECRET_KEY"].encode(), f"{seat.name}:{seat.token}".encode(),
                    "sha256").hexdigest()[:32]


def _signed_in_seat():
    """The seat this browser signed in as with its link, while that link is good and the room open (whether or
    not another browser holds it since); else None."""
    name = session.get("seat")
    if not name or session.get("holder") != SEAT_BLUEPRINT:
        return None
    room = current_app.extensions["roster"].room
    seat = room.seat(name) if room is not None and not room.over else None
    if seat is None or not hmac.compare_digest(str(session.get("token", "")), _seat_fingerprint(seat)):
        return None
    return seat


def current_seat():
    """The seat this browser holds: signed in with its link, the link good, the room open, and no browser signed
    in to the seat since (Seat.sign_ins); else None."""
    seat = _signed_in_seat()
    return seat if seat is not None and session.get("sign_in") == seat.sign_ins else None


SEAT_MOVED = ("Your seat moved to another browser: its link was opened there (a phone or laptop you moved to?). Go "
              "on there. If that was not you, tell the instructor, who can give your seat a new link (the other "
              "browser is then out); or open your seat's link here again (your card, or the code your seat's page "
              "showed) to take it back.")
SEAT_LINK_STOPPED = ("This seat's link no longer works (the class ended, or the instructor gave the seat a new "
                     "link): ask the instructor for yours.")


def session_ends():
    """When this request's session cookie expires (time.time()), as Flask would then refuse it; None: no cookie."""
    app = current_app
    cookie = request.cookies.get(app.config["SESSION_COOKIE_NAME"])
    serializer = app.session_interface.get_signing_serializer(app)
    if not cookie or serializer is None:
        return None
    try:
        _, signed = serializer.loads(cookie, return_timestamp=True)
    except Exception:  # a cookie Flask would not read either: the session is empty, as for a screen
        return None
    # itsdangerous counts whole seconds and refuses only an age above the lifetime: a second more, as it does.
    return signed.timestamp() + app.permanent_session_lifetime.total_seconds() + 1


def seat_lost():
    """Why this browser's seat session no longer acts: the seat moved to another browser, or its link stopped."""
    return SEAT_MOVED if _signed_in_seat() is not None else SEAT_LINK_STOPPED


def grant_seat(session_, seat):
    """Sign a session in as the seat, as its sign-in number `seat.sign_ins` (Roster.hold: the latest holds the
    seat), ending any other session of this browser, with a fresh CSRF token."""
    session_.clear()
    session_.update(holder=SEAT_BLUEPRINT, seat=seat.name, token=_seat_fingerprint(seat), sign_in=seat.sign_ins,
                    csrf=secrets.token_urlsafe(32))
    session_.permanent = True


def csrf_token():
    """The session's CSRF token, made on first use (a signed-out viewer needs one to sign in)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def grant_instructor(session_):
    """Sign a session in as the instructor, with a fresh CSRF token; returns that token."""
    session_.clear()
    session_.update(holder=INSTRUCTOR, generation=_generations().current(INSTRUCTOR), token=_token_fingerprint(),
                    transport=_transport(), csrf=secrets.token_urlsafe(32))
    session_.permanent = True  # so it expires after SESSION_MINUTES
    return session_["csrf"]


def revoke_instructor(session_):
    """Sign the instructor out everywhere: this session and every other one, copied cookies included."""
    _generations().revoke(INSTRUCTOR)
    session_.clear()


def token_matches(given):
    """Whether `given` is the instructor token; nothing typed, or nothing at all, never is."""
    return bool(given) and hmac.compare_digest(given.encode(), current_app.config["INSTRUCTOR_TOKEN"].encode())


def _check_request():
    """Every state-changing request: a valid CSRF token, and the instructor's session except to sign in; a seat's
    URLs take the seat's session instead."""
    if request.method in SAFE_METHODS or request.routing_exception is not None:
        return  # reads change nothing; unknown URLs and methods get their 404/405
    expected = session.get("csrf")
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("This page is out of date or signed out (its CSRF token does not match): reload it.")
    if request.endpoint in SEAT_SIGN_IN:
        return
    if request.blueprint == SEAT_BLUEPRINT:
        if current_seat() is None:
            raise Forbidden(seat_lost())
        return
    if request.endpoint == "auth.signin":
        return
    if not is_instructor():
        if session.get("holder") == INSTRUCTOR and not instructor_transport():
            raise Forbidden(NOT_OVER_PLAIN_HTTP)
        if session.get("holder") == INSTRUCTOR and session.get("transport") != _transport():
            raise Forbidden(OTHER_TRANSPORT)
        raise Forbidden("Only the instructor can do that: sign in first.")


NOT_OVER_PLAIN_HTTP = ("The instructor signs in and acts only from the dashboard's own machine (http://127.0.0.1…) or "
                       "over HTTPS: over the room's plain HTTP anyone on the network could copy the session, which "
                       "holds the Docker socket.")
OTHER_TRANSPORT = ("This instructor session was signed in another way (this machine's plain HTTP, or HTTPS) and is "
                   "good only there: sign in again here.")


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
