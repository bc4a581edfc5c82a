"""A circuit breaker for an engine that takes connections and does not answer: given up on for `hold` seconds, so
pages come back with the banner within one read timeout however many engine calls they make."""

import time

from .errors import EngineUnavailable


class Breaker:
    """Open for `hold` seconds after a timeout; while open, `check` refuses at once with the same reason."""

    def __init__(self, hold):
        self.hold = hold
        self._until, self._reason = 0.0, ""

    def check(self):
        """Raise EngineUnavailable while the engine is known silent."""
        if time.monotonic() < self._until:
            raise EngineUnavailable(self._reason)

    def open(self, cause):
        """Give up on the engine for `hold` seconds after a timeout (`cause`); the refusal to raise now."""
        self._reason = (f"The Docker engine accepted the connection but did not answer in time "
                        f"({type(cause).__name__}); the dashboard tries again every {self.hold:g} s.")
        self._until = time.monotonic() + self.hold
        return EngineUnavailable(self._reason)
