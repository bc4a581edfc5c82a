"""Wrong guesses of the room's secrets (a seat's link, the join code, the instructor token), limited per client
address (domain/failures.py): past DASHBOARD_GUESS_LIMIT in DASHBOARD_GUESS_WINDOW seconds, errors.py answers 429
with Retry-After. The address is the connection's (request.remote_addr), never a header a client writes, unless
DASHBOARD_PROXIES says how many proxies of ours put it in X-Forwarded-For."""

from flask import current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from ..domain.failures import FailureLimit


def configure(app):
    app.extensions["guesses"] = FailureLimit(app.config["GUESS_LIMIT"], app.config["GUESS_WINDOW"])
    if app.config["PROXIES"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXIES"])


def attempt(ok, counts=True):
    """`ok` (whether the guess was right), once this address may guess at all; a wrong guess is counted when it
    `counts` (a link of a room no longer open guesses nothing)."""
    return current_app.extensions["guesses"].attempt(request.remote_addr or "", ok, counts)
