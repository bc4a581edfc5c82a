"""A browser's requests to its seat's routes beyond a few at once are answered 429 before the app reads them: a
script firing hundreds of presses at once costs the one worker next to nothing, so the class's pages stay quick.
(The app's own rule, one press per seat at a time, answers the few that get through: domain/presses.py.)"""

SEAT_ROUTES = "/seat/"  # a seat's presses, checks, board polls and name
TOO_MANY = ('<div class="message error" role="alert"><p>Too many requests at once from this browser: wait for the '
            'ones running to finish.</p></div>').encode()
RETRY_AFTER = "2"


def shed_floods(app):
    """Put the limit in front of the app: at most SEAT_REQUESTS_AT_ONCE requests to the seat's routes at a time
    from one browser (the same cookies); a request without cookies is the app's to refuse."""
    inner, in_flight = app.wsgi_app, app.extensions["seat_in_flight"]

    def wsgi(environ, start_response):
        key = environ.get("HTTP_COOKIE")
        if not key or not environ.get("PATH_INFO", "").startswith(SEAT_ROUTES):
            return inner(environ, start_response)
        if not in_flight.enter(key):
            start_response("429 Too Many Requests", [("Content-Type", "text/html; charset=utf-8"),
                                                     ("Content-Length", str(len(TOO_MANY))),
                                                     ("Retry-After", RETRY_AFTER)])
            return [TOO_MANY]
        try:
            return inner(environ, start_response)  # the seat's routes answer whole (none streams): the work is done
        finally:
            in_flight.leave(key)

    app.wsgi_app = wsgi
