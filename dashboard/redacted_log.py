"""gunicorn's access log without the seats' keys: a seat's link (/s/TOKEN) and the join code (/join/CODE) are
written with the secret part replaced, so a console on the projector or a shared log never hands out a seat."""

import re

from gunicorn.glogging import Logger

SECRET_PATHS = re.compile(r"(/(?:s|join)/)[^/?\s]+")


def redact(text):
    return SECRET_PATHS.sub(r"\1…", text) if isinstance(text, str) else text


class RedactedLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f"):
            atoms[key] = redact(atoms.get(key))
        return atoms
