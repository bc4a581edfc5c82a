"""Which sessions are still good, kept on the server: a generation per holder, and revoking one bumps it.

The session itself lives in the signed cookie, so a copied cookie would stay good until it expires. Each session
records the generation of its holder (the instructor; later a student's seat) when it signed in, and is good
only while that generation is current: signing out, or revoking a seat's link, bumps it and so ends that
holder's sessions on every device at once. Generations are kept in a small JSON file in the instance folder, so a
revocation outlives a restart; the one worker process (see config.workers) keeps them in memory too.
"""

import json
import threading
from pathlib import Path

from . import files


class SessionGenerations:
    def __init__(self, path):
        self._path = Path(path)
        self._lock = threading.Lock()
        self._generations = self._load()

    def _load(self):
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise RuntimeError(f"{self._path} cannot be read ({error}): remove it to end every session.") from error
        return {str(holder): int(generation) for holder, generation in data.items()}

    def current(self, holder):
        """The generation a session of `holder` must carry to be good."""
        return self._generations.get(holder, 0)

    def revoke(self, holder):
        """End every session of `holder`, on every device: the sessions it signs in from now on carry a new one."""
        with self._lock:
            self._generations[holder] = self.current(holder) + 1
            self._save()

    def _save(self):
        files.replace(self._path, json.dumps(self._generations))
