"""Answers of a lesson's server (a student's, maybe) read with bounds: the `request` button and the counter, spread
and answers checks read at most 64 KB of a body, all of it within their deadline, however the server sends it."""

import contextlib
import socket
import threading
import time
from types import SimpleNamespace

import pytest

from dashboard.domain import checks, http_answers
from dashboard.domain.action_kinds import KINDS
from dashboard.domain.actions import Place
from dashboard.domain.lessons import Action, Check


@contextlib.contextmanager
def server(send):
    """A server on 127.0.0.1 that answers every connection with `send(connection)`: (its port)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    def answer(connection):
        with contextlib.suppress(OSError), connection:
            connection.recv(65536)
            send(connection, stop)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()


def endless(connection, stop):
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    while not stop.is_set():
        connection.sendall(b"x" * 65536)


def trickle(connection, stop):
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    while not stop.is_set():
        connection.sendall(b"x")
        time.sleep(0.2)


def status(code, body):
    def send(connection, stop):
        connection.sendall(f"HTTP/1.1 {code} X\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                           + body)
    return send


def test_an_endless_body_is_cut_after_64_kb():
    with server(endless) as port:
        answer = http_answers.ask("GET", f"http://127.0.0.1:{port}/", 3)
    assert answer.cut and len(answer.body) == http_answers.LIMIT


def test_a_trickled_body_ends_at_the_deadline():
    with server(trickle) as port:
        asked = time.monotonic()
        with pytest.raises(http_answers.TooSlow) as raised:
            http_answers.ask("GET", f"http://127.0.0.1:{port}/", 1)
    assert time.monotonic() - asked < 2.5  # not 1000 bytes × 0.2 s
    assert raised.value.received >= 1


def request(port, path="/", method="GET", timeout=None):
    kind = KINDS["request"]
    action = Action("request", port=port, path=path, method=method)
    place = Place(folder=None, home=None, probe_host="127.0.0.1")
    if timeout is not None:
        kind = type(kind)()
        kind.timeout = timeout
    return kind.effect(None, None, action, place)


def test_the_request_button_shows_the_first_64_kb_of_an_endless_answer_and_says_so():
    with server(endless) as port:
        done = request(port)
    assert done.ok
    assert done.output.endswith("(the answer goes on: only its first 64 KB are shown)\n")
    assert len(done.output) < 70_000


def test_the_request_button_gives_up_on_a_trickle_as_curl_max_time_does():
    with server(trickle) as port:
        done = request(port, timeout=1)
    assert not done.ok
    assert done.output.startswith("curl: (28) Operation timed out after 1000 milliseconds with ")
    assert done.output.endswith(" bytes received\n")


def test_the_request_button_fails_on_409_with_the_body_then_curls_error():
    body = b'{"error": "nothing to sell", "balance": 0}'
    with server(status(409, body)) as port:
        done = request(port, "/api/sell", "POST")
    assert not done.ok
    assert done.output == body.decode() + "\ncurl: (22) The requested URL returned error: 409\n"


def test_the_request_command_says_the_time_limit_and_the_failure():
    action = Action("request", port=8100, path="/api/buy", method="POST")
    assert KINDS["request"].typed(None, action, None) == \
        "curl -sS --max-time 10 --fail-with-body -X POST http://localhost:8100/api/buy"


def counter_check(port):
    return Check("counter", port=port, path="/balance", field="balance", at_least=1)


def test_a_counter_check_ends_within_its_deadline_on_a_trickle():
    with server(trickle) as port:
        asked = time.monotonic()
        result = checks._counter(counter_check(port), "127.0.0.1")
    assert time.monotonic() - asked < checks.ANSWER_SECONDS + 2
    assert result.state == checks.FAILED
    assert "does not finish its answer within 3 s" in result.reason


def test_a_counter_check_reads_no_more_than_64_kb():
    with server(endless) as port:
        result = checks._counter(counter_check(port), "127.0.0.1")
    assert result.state == checks.FAILED
    assert "more than 64 KB" in result.reason


def test_a_spread_check_ends_within_its_deadline_on_a_trickle():
    with server(trickle) as port:
        asked = time.monotonic()
        result = checks._spread(Check("spread", port=port, path="/balance", field="served_by", count=3), "127.0.0.1")
    assert time.monotonic() - asked < checks.ANSWER_SECONDS + 2  # the first trickle ends the spread's asking
    assert result.state == checks.FAILED and "within 3 s" in result.reason


def test_an_answers_check_ends_within_its_deadline_and_reads_no_more_than_64_kb():
    with server(trickle) as slow, server(endless) as big:
        listed = [SimpleNamespace(name="web", running=True, ports=((slow, 80), (big, 81)))]
        asked = time.monotonic()
        result = checks._answers(listed, Check("answers", text="never there"), "127.0.0.1")
    assert time.monotonic() - asked < 2 * checks.ANSWER_SECONDS + 2
    assert result.state == checks.FAILED
    assert "does not finish its answer within 3 s" in result.reason
    assert "in its first 64 KB (read no further)" in result.reason
