"""The lesson's transcript: every action taken through the dashboard, as a terminal would have shown it.

Kept in a small SQLite file so it survives a page reload and a dashboard restart.
"""

import contextlib
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

from .errors import EngineError

SCHEMA = """
CREATE TABLE IF NOT EXISTS entry (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    action TEXT NOT NULL,        -- build, run, remove, class-start, class-stop
    command TEXT NOT NULL,       -- the command as the page showed it
    replay TEXT,                 -- the line a replay script runs (remove is written from the container's id)
    output TEXT NOT NULL,        -- what the CLI would have printed
    ok INTEGER NOT NULL,
    container_id TEXT
)
"""


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    action: str
    command: str
    replay: str | None
    output: str
    ok: bool
    container_id: str | None


class TranscriptStore:
    def __init__(self, path):
        self._path = str(path)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(SCHEMA)

    @contextlib.contextmanager
    def _connect(self):
        db = sqlite3.connect(self._path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    def append(self, action, command, output, ok=True, replay=None, container_id=None):
        with self._lock, self._connect() as db:
            db.execute(
                "INSERT INTO entry (at, action, command, replay, output, ok, container_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (datetime.now(timezone.utc).isoformat(), action, command, replay, output, int(ok), container_id),
            )

    @contextlib.contextmanager
    def action(self, action, command, replay=None):
        """Record the action in the block: `record["output"]`/`["container_id"]` as set there, or the engine's refusal."""
        record = {"output": "", "container_id": None}
        try:
            yield record
        except EngineError as error:
            self.append(action, command, f"Error: {error}", ok=False, replay=replay)
            raise
        self.append(action, command, record["output"], replay=replay, container_id=record["container_id"])

    def record_build(self, build):
        """A finished build, with the lines the CLI prints at its end (or the engine's error)."""
        if build.state == "succeeded":
            output = f"Successfully built {build.short_image_id}\nSuccessfully tagged {build.plan.tag}:latest"
        else:
            output = f"Error: {build.error}"
        self.append("build", build.command, output, ok=build.state == "succeeded", replay=build.plan.replay)

    def record_class_start(self, job):
        """A finished class start: the loop, and what it prints (an id per seat, or the engine's refusal)."""
        output = "\n".join(seat.container_id or f"Error: {seat.error}" for seat in sorted(job.seats, key=lambda s: s.port))
        self.append("class-start", job.command, output, ok=not job.failed, replay=job.command)

    def entries(self):
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, at, action, command, replay, output, ok, container_id FROM entry ORDER BY id"
            ).fetchall()
        return [Entry(id, datetime.fromisoformat(at), action, command, replay, output, bool(ok), container_id)
                for id, at, action, command, replay, output, ok, container_id in rows]

    def version(self):
        """Changes whenever an entry is added or the transcript is cleared."""
        with self._connect() as db:
            count, last = db.execute("SELECT COUNT(*), MAX(id) FROM entry").fetchone()
        return f"{count}-{last or 0}"

    def clear(self):
        with self._lock, self._connect() as db:
            db.execute("DELETE FROM entry")
