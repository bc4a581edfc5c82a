"""Small files written whole (mode 0600): a reader never sees half of one, and writers never mix theirs."""

import contextlib
import os
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
