"""Long work that every viewer follows (a build): one of a kind at a time, kept after it ends."""

import threading


class LatestJob:
    """The latest job of a kind, run in a thread of its own; `on_finish(job)` is called from that thread at its end.

    A job has `number` (the how-manieth of this process), `running` and `version` (what its viewers show).
    """

    def __init__(self, on_finish):
        self.lock = threading.Lock()  # held while deciding whether a new job may start
        self._on_finish = on_finish
        self.current = None

    @property
    def running(self):
        return self.current is not None and self.current.running

    @property
    def version(self):
        """Changes whenever another job starts, or the current one moves on in a way its viewers show."""
        return self.current.version if self.current else "none"

    @property
    def next_number(self):
        return self.current.number + 1 if self.current else 1

    def launch(self, job, work):
        """Make `job` the current one (the caller holds `lock`) and run `work(job)` in the background."""
        self.current = job

        def run():
            work(job)
            self._on_finish(job)

        threading.Thread(target=run, daemon=True).start()
        return job
