"""The workshop folder: the files a person builds from or edits, one folder per lesson, owned by the user the
dashboard runs as (default ~/docker-workshop).

The shipped lesson files stay in the package as the source. On first use each lesson's files are written into the
workshop, never over a file that is there (a person's edit wins); `restore` brings the shipped versions back,
over those files only, leaving anything else in the folder alone.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from . import files

# Each lesson: its folder in the workshop, the package folder its files are shipped in, the files a person edits.
LESSONS = {"images": ("cowserv", ("Dockerfile",))}


class WorkshopError(Exception):
    """The workshop folder cannot be made or written; the message names the folder and the reason."""


@dataclass(frozen=True)
class Workshop:
    root: Path  # the workshop folder, absolute
    shipped: Path  # the package folder holding each lesson's shipped folder
    home: Path  # the dashboard user's HOME: commands name a folder under it from `~`

    def folder(self, lesson):
        """The lesson's folder in the workshop (`images`: where the image is built from)."""
        return self.root / lesson

    def files(self, lesson):
        """The lesson's files: their paths in the workshop, in the order they are shipped."""
        return [self.folder(lesson) / name for name in LESSONS[lesson][1]]

    def _shipped_text(self, lesson, name):
        return (self.shipped / LESSONS[lesson][0] / name).read_text()

    def provide(self):
        """Write every lesson's missing files into the workshop; a file already there is left as it is."""
        for lesson in LESSONS:
            self._write(lesson, files.write_once)

    def restore(self, lesson):
        """Bring back the lesson's shipped files, over the workshop's copies; nothing else there is touched."""
        return self._write(lesson, files.replace)

    def _write(self, lesson, write):
        written = []
        try:
            for path in self.files(lesson):
                write(path, self._shipped_text(lesson, path.name), mode=0o644)
                written.append(path)
        except OSError as error:
            raise WorkshopError(
                f"The workshop folder {self.root} cannot be written ({error.strerror or error}): set "
                "DASHBOARD_WORKSHOP_DIR to a folder the dashboard's user can create and write."
            ) from error
        return written


def workshop(path, shipped):
    """The Workshop at `path` (`~` expanded for the user the dashboard runs as), made absolute."""
    return Workshop(Path(os.path.abspath(os.path.expanduser(str(path)))), Path(shipped),
                    Path(os.path.expanduser("~")))
