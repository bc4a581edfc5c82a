"""An open /live stream, read as a browser's EventSource would (tests of the live channel)."""

import queue
import threading

WAIT = 20  # seconds: only so that a broken test ends


class Stream:
    """An open /live stream read in a thread of its own; next() gives each event as a dict (a ping: {"ping": ""})."""

    def __init__(self, client, path="/live", **headers):
        self.events, self.ended, self.opened = queue.Queue(), threading.Event(), queue.Queue()
        # Opened and read in one thread: the stream's generator holds the request's context from its first step.
        threading.Thread(target=self._read, args=(client, path, headers), daemon=True).start()
        self.response = self.opened.get(timeout=WAIT)
        assert self.response.status_code == 200 and self.response.mimetype == "text/event-stream"

    def _read(self, client, path, headers):
        text = ""
        try:
            response = client.get(path, headers=headers, buffered=False)
            self.opened.put(response)
            for chunk in response.response:
                if getattr(self, "closing", False):
                    response.close()  # in this thread, which holds the generator's context
                    break
                text += chunk.decode() if isinstance(chunk, bytes) else chunk
                while "\n\n" in text:
                    block, text = text.split("\n\n", 1)
                    event = {}
                    for line in block.splitlines():
                        field, _, value = line.partition(":")
                        event[field or "ping"] = value.strip()
                    self.events.put(event)
        finally:
            self.ended.set()
            self.events.put(None)

    def next(self, timeout=WAIT):
        return self.events.get(timeout=timeout)

    def changed(self, timeout=WAIT):
        """The next `changed` or `close` event (pings and periodic ticks skipped); None once the stream ended."""
        while True:
            event = self.next(timeout)
            if event is None or event.get("event") == "close" or event.get("data", "tick") != "tick":
                return event

    def close(self):
        self.closing = True
