"""An HTTP answer from a lesson's server (a student's, maybe) read with bounds: at most LIMIT bytes of its body, and
all of it within a deadline, so an endless body or one trickled a byte at a time holds neither memory nor the
request (or the checks' background lane, which every seat shares) for longer than that."""

import socket
import threading
import time
from dataclasses import dataclass

import requests

LIMIT = 64 * 1024  # bytes of an answer's body read; the rest is left unread (cut says so)
SHOWN_LIMIT = "64 KB"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # its first LIMIT bytes at most
    cut: bool  # the body went on past LIMIT: only its start was read

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")


class TooSlow(requests.Timeout):
    """The answer did not end within the deadline; `received`: how many bytes of its body came meanwhile."""

    def __init__(self, message, received=0):
        super().__init__(message)
        self.received = received


def ask(method, url, seconds, limit=LIMIT):
    """The answer to METHOD url, its body read within `seconds` from now (connecting included) and cut after `limit`
    bytes. Raises requests' errors as requests.request does (TooSlow, a requests.Timeout, past the deadline)."""
    ends = time.monotonic() + seconds
    answer = requests.request(method, url, timeout=seconds, allow_redirects=False, stream=True)
    with answer:
        late = threading.Event()
        connection = getattr(answer.raw, "connection", None)

        def end():  # the deadline: the socket is shut, so a read waiting on it returns at once
            late.set()
            sock = getattr(connection, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(max(0.0, ends - time.monotonic()), end)
        timer.daemon = True
        timer.start()
        body = bytearray()
        try:
            while len(body) <= limit:
                chunk = answer.raw.read1(limit + 1 - len(body))
                if not chunk:
                    break
                body += chunk
        except Exception as error:  # urllib3's and the socket's: a shut socket, a broken body
            if late.is_set():
                raise TooSlow(f"no full answer within {seconds} s", len(body)) from error
            raise requests.ConnectionError(f"the answer broke off ({type(error).__name__})") from error
        finally:
            timer.cancel()
        if late.is_set() and len(body) <= limit:
            raise TooSlow(f"no full answer within {seconds} s", len(body))
        return Answer(answer.status_code, bytes(body[:limit]), len(body) > limit)
