"""Small files written whole (mode 0600): a reader never sees half of one, and writers never mix theirs."""

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path


def _written(path, text, mode=0o600):
    """The name of a new temporary file beside `path`, holding `text`, with `mode`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(handle, "w") as file:
        file.write(text)
    if mode != 0o600:  # mkstemp's
        os.chmod(temporary, mode)
    return temporary


def write_once(path, text, mode=0o600):
    """Create `path` holding `text` unless it exists: linked into place, so of writers racing, the first wins whole."""
    temporary = _written(path, text, mode)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def replace(path, text, mode=0o600):
    """Write `path` holding `text`, replacing it whole."""
    os.replace(_written(path, text, mode), path)


def read_start(folder, relative, limit):
    """(the first `limit` bytes of the file `relative` in `folder`, as text; whether it goes on past them), read only
    when it is a regular file inside `folder`: OSError for a link leading out of it, or a FIFO, a device, a folder
    (a FIFO would hold the reader for ever)."""
    inside = Path(folder).resolve()
    path = inside / relative
    if not path.resolve().is_relative_to(inside):
        raise OSError(errno.EACCES, "Not shown: a link leading outside the lesson's folder")
    handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    with os.fdopen(handle, "rb") as file:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise OSError(errno.EINVAL, "Not a regular file")
        data = file.read(limit + 1)
    return data[:limit].decode(errors="replace"), len(data) > limit
