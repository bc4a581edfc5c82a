"""The local images that stand in for the pulled ones the lessons name, here where no registry answers.

A setting names one (DASHBOARD_BASE_IMAGE for python:3.12-slim, DASHBOARD_POSTGRES_IMAGE for postgres:16) and
wins. Else, when the named image is not on the engine and the one scripts/make-base-image (or make-postgres-image)
makes is, that one stands in: the dashboard finds it however it was started (scripts/up, gunicorn, compose.yaml).
The engine is asked again only when its images change (the snapshot's images_version), never for each page.
"""

import threading
from dataclasses import dataclass

from .errors import EngineError
from .lessons import BASE_IMAGE, POSTGRES_IMAGE

KNOWN = {BASE_IMAGE: "cowserv-base:bookworm", POSTGRES_IMAGE: "cowserv-postgres:bookworm"}
SETTINGS = {BASE_IMAGE: "BASE_IMAGE", POSTGRES_IMAGE: "POSTGRES_IMAGE"}  # the DASHBOARD_* setting of each


@dataclass(frozen=True)
class StandIn:
    named: str  # the image a lesson names
    used: str  # the local image used, and named in the commands, instead
    setting: str | None = None  # the DASHBOARD_* variable that chose it; None when found on the engine


class StandIns:
    """The stand-ins in use, by the image each replaces: those the settings give, and those found on the engine
    (resolved again when `images_version()` changes; while the engine does not answer, the settings' alone)."""

    def __init__(self, engine, settings, images_version, known=KNOWN):
        """`settings`: the app's config (BASE_IMAGE, POSTGRES_IMAGE); `known`: named image -> its local stand-in."""
        self._engine, self._images_version, self._known = engine, images_version, dict(known)
        self._chosen = {named: StandIn(named, settings[SETTINGS[named]], "DASHBOARD_" + SETTINGS[named])
                        for named in self._known if SETTINGS.get(named) and settings.get(SETTINGS[named])}
        self._lock = threading.Lock()
        self._resolved_for, self._found = None, {}

    def current(self):
        """{named image: StandIn} for every image that one stands in for now."""
        version = self._images_version()
        with self._lock:  # concurrent pages wait for one resolution instead of making their own
            if self._resolved_for != version:
                try:
                    self._found = self._find()
                    self._resolved_for = version
                except EngineError:
                    return dict(self._chosen)  # asked again at the next page, as the engine may be back
            return {**self._found, **self._chosen}

    def _find(self):
        found = {}
        for named, local in self._known.items():
            if named not in self._chosen and self._engine.image(named) is None \
                    and self._engine.image(local) is not None:
                found[named] = StandIn(named, local)
        return found
