"""A browser's requests to its seat's routes beyond SEAT_REQUESTS_PER_SECOND (twice that at once) are answered 429
before the app reads them: a script firing hundreds of presses costs the one worker next to nothing, so the class's
pages stay quick. (The app's own rule, one press per seat at a time, answers the few that get through.)"""

import math

from werkzeug.wrappers import Request

SEAT_ROUTES = "/seat/"  # a seat's presses, checks, board polls and name
TOO_MANY = ('<div class="message error" role="alert"><p>Too many requests from this browser at once: wait a moment '
            'and press again.</p></div>').encode()


def shed_floods(app):
    """Put the limit in front of the app, per browser: its session cookie's value alone (other cookies, a script's
    throw-away ones or those a student's app on another port of this host sets, change nothing). A request with
    no session cookie is the app's to refuse, and the seat's page itself (/seat) is not limited."""
    inner, allowance = app.wsgi_app, app.extensions["seat_allowance"]
    session_cookie = app.config["SESSION_COOKIE_NAME"]

    def wsgi(environ, start_response):
        if not environ.get("PATH_INFO", "").startswith(SEAT_ROUTES):
            return inner(environ, start_response)
        key = Request(environ).cookies.get(session_cookie)  # read as Flask reads it: any bytes, never an error
        wait = allowance.take(key) if key else 0
        if not wait:
            return inner(environ, start_response)
        start_response("429 Too Many Requests", [("Content-Type", "text/html; charset=utf-8"),
                                                 ("Content-Length", str(len(TOO_MANY))),
                                                 ("Retry-After", str(math.ceil(wait)))])
        return [TOO_MANY]

    app.wsgi_app = wsgi
