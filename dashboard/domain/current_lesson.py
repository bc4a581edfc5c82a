"""The lesson the class is on: the instructor picks it, `/`, the read-only screen and the presenter view follow it.

Kept in a one-line file in the instance folder, so a restart keeps the class where it was.
"""

from pathlib import Path

from . import files


class LessonPick:
    """The instructor's pick: the lesson's id, falling back to the default while the pick is not a loaded lesson."""

    def __init__(self, path, catalog, default):
        self._path = Path(path)
        self._catalog = catalog
        self._default = default
        self._id = None

    @property
    def id(self):
        """The current lesson's id: the one picked, while it is still a loaded lesson; else the default."""
        if self._id is None:
            try:
                self._id = self._path.read_text().strip()
            except OSError:
                self._id = ""
        if self._catalog.get(self._id) is not None:
            return self._id
        return self._default if self._catalog.get(self._default) is not None else self._catalog.ids[0]

    @property
    def lesson(self):
        return self._catalog.get(self.id)

    def choose(self, lesson_id):
        """Make `lesson_id` (a loaded lesson's) the current one, for every page that follows."""
        files.replace(self._path, lesson_id + "\n", mode=0o644)
        self._id = lesson_id
