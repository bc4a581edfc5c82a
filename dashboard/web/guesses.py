"""Wrong guesses of the room's secrets (a seat's link, the join code, the instructor token), limited per client
address (domain/failures.py): past DASHBOARD_GUESS_LIMIT in DASHBOARD_GUESS_WINDOW seconds, errors.py answers 429
with Retry-After. The address is the connection's, never a header a client writes, unless DASHBOARD_PROXIES says
how many proxies of ours put it in X-Forwarded-For and the connection comes from this machine
(security.client_address)."""

from flask import current_app

from ..domain.failures import FailureLimit
from .security import client_address


def configure(app):
    app.extensions["guesses"] = FailureLimit(app.config["GUESS_LIMIT"], app.config["GUESS_WINDOW"])


def attempt(ok, counts=True):
    """`ok` (whether the guess was right), once this address may guess at all; a wrong guess is counted when it
    `counts` (a link of a room no longer open guesses nothing)."""
    return current_app.extensions["guesses"].attempt(client_address(), ok, counts)
