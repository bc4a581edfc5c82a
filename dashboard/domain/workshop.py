"""The workshop folder: the files a person builds from or edits, one folder per lesson, owned by the user the
dashboard runs as (default ~/docker-workshop).

The shipped lesson files stay in the package (dashboard/lessons/<folder>/) as the source. On first use each lesson's files are written into the
workshop, never over a file that is there (a person's edit wins); `restore` brings the shipped versions back,
over those files only, leaving anything else in the folder alone.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import files


class WorkshopError(Exception):
    """The workshop folder cannot be made or written; the message names the folder and the reason."""


@dataclass(frozen=True)
class Workshop:
    root: Path  # the workshop folder, absolute
    home: Path  # the dashboard user's HOME: commands name a folder under it from `~`
    _compared: dict = field(default_factory=dict, compare=False, repr=False)  # path -> (its stats, differs)

    def folder(self, lesson):
        """The lesson's folder in the workshop (the images lesson's `images`: where its image is built from)."""
        return self.root / lesson.folder

    def files(self, lesson):
        """The lesson's files: their paths in the workshop, in the order the lesson file lists them."""
        return [self.folder(lesson) / name for name in lesson.files]

    def provide_into(self, folder, lessons, replace=False):
        """Write the lessons' files into `folder` (a seat's lesson folder): missing ones, or (`replace`) all of them
        again."""
        for lesson in lessons:
            self._write(lesson, files.replace if replace else files.write_once, folder)

    def provide(self, lessons):
        """Write every lesson's missing files into the workshop; a file already there is left as it is."""
        for lesson in lessons:
            self._write(lesson, files.write_once)

    def restore(self, lesson, folder=None):
        """Bring back the lesson's shipped files, over the workshop's copies (or those in `folder`, where its steps
        run: the default lesson's DASHBOARD_BUILD_CONTEXT); nothing else there is touched."""
        return self._write(lesson, files.replace, folder)

    def changed(self, lesson, folder=None):
        """The lesson's files whose copy in its workshop folder (or `folder`) differs from the lesson's own, or is
        missing: what Restore would bring back. A file is read again only when its size or mtime changed."""
        folder = Path(folder) if folder is not None else self.folder(lesson)
        return [name for name in lesson.files if self._differs(folder / name, lesson.source / name)]

    def _differs(self, path, shipped):
        try:
            own = path.stat()
            stats = (own.st_mtime_ns, own.st_size, shipped.stat().st_mtime_ns)
        except OSError:
            return True
        kept = self._compared.get(path)
        if kept is not None and kept[0] == stats:
            return kept[1]
        try:
            differs = path.read_bytes() != shipped.read_bytes()
        except OSError:
            return True
        self._compared[path] = (stats, differs)
        return differs

    def _write(self, lesson, write, folder=None):
        written, folder = [], Path(folder) if folder is not None else self.folder(lesson)
        try:
            for name in lesson.files:
                path = folder / name
                write(path, (lesson.source / name).read_text(), mode=0o644)
                written.append(path)
        except OSError as error:
            raise WorkshopError(
                f"The workshop folder {self.root} cannot be written ({error.strerror or error}): set "
                "DASHBOARD_WORKSHOP_DIR to a folder the dashboard's user can create and write."
            ) from error
        return written


def workshop(path):
    """The Workshop at `path` (`~` expanded for the user the dashboard runs as), made absolute."""
    return Workshop(Path(os.path.abspath(os.path.expanduser(str(path)))), Path(os.path.expanduser("~")))
