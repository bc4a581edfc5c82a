"""The lessons' transcript: every action taken through the dashboard, as a terminal would have shown it, noted
with the lesson it belongs to, so each lesson's transcript replays that lesson.

Kept in a small SQLite file so it survives a page reload and a dashboard restart.
"""

import contextlib
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

from .errors import EngineError, WorkshopUnwritable

SCHEMA = """
CREATE TABLE IF NOT EXISTS entry (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    action TEXT NOT NULL,        -- build, run, run-once, exec, logs, list, remove, rm, edit, class-start, …
    command TEXT NOT NULL,       -- the command as the page showed it
    replay TEXT,                 -- the line a replay script runs (remove is written from the container's id)
    output TEXT NOT NULL,        -- what the CLI would have printed
    ok INTEGER NOT NULL,
    container_id TEXT,
    lesson TEXT NOT NULL         -- the lesson's id
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
    lesson: str


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

    def append(self, action, command, output, *, lesson, ok=True, replay=None, container_id=None):
        with self._lock, self._connect() as db:
            db.execute(
                "INSERT INTO entry (at, action, command, replay, output, ok, container_id, lesson) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (datetime.now(timezone.utc).isoformat(), action, command, replay, output, int(ok), container_id,
                 lesson),
            )

    @contextlib.contextmanager
    def action(self, action, command, *, lesson, replay=None):
        """Record the action in the block: `record["output"]`, `["container_id"]`, `["ok"]` and `["lesson"]` as set
        there, or the refusal (the engine's, or a workshop file that cannot be written)."""
        record = {"output": "", "container_id": None, "ok": True, "lesson": lesson}
        try:
            yield record
        except (EngineError, WorkshopUnwritable) as error:
            self.append(action, command, f"Error: {error}", ok=False, replay=replay, lesson=record["lesson"])
            raise
        self.append(action, command, record["output"], ok=record["ok"], replay=replay,
                    container_id=record["container_id"], lesson=record["lesson"])

    def record_build(self, build):
        """A finished build, with the lines the CLI prints at its end (or the engine's error)."""
        if build.state == "succeeded":
            output = f"Successfully built {build.short_image_id}\nSuccessfully tagged {build.plan.tag}:latest"
        else:
            output = f"Error: {build.error}"
        self.append("build", build.command, output, ok=build.state == "succeeded", replay=build.plan.replay,
                    lesson=build.plan.lesson)

    def entries(self, lesson=None):
        """Every entry in order, or one lesson's."""
        query = "SELECT id, at, action, command, replay, output, ok, container_id, lesson FROM entry"
        with self._connect() as db:
            if lesson is None:
                rows = db.execute(query + " ORDER BY id").fetchall()
            else:
                rows = db.execute(query + " WHERE lesson = ? ORDER BY id", (lesson,)).fetchall()
        return [Entry(id, datetime.fromisoformat(at), action, command, replay, output, bool(ok), container_id, lesson)
                for id, at, action, command, replay, output, ok, container_id, lesson in rows]

    def version(self):
        """Changes whenever an entry is added or the transcript is cleared."""
        with self._connect() as db:
            count, last = db.execute("SELECT COUNT(*), MAX(id) FROM entry").fetchone()
        return f"{count}-{last or 0}"

    def clear(self, lesson=None):
        """Start afresh: every lesson's transcript, or one lesson's."""
        with self._lock, self._connect() as db:
            if lesson is None:
                db.execute("DELETE FROM entry")
            else:
                db.execute("DELETE FROM entry WHERE lesson = ?", (lesson,))
