"""An engine that takes connections and never answers: every page comes back with the banner within a bound,
however many ask at once, instead of each waiting on the SDK's long timeout behind the others."""

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import HTMX
from dashboard import create_app

BOUND = 10  # seconds a page may take: the read timeout (3 s) once, with room for a busy machine

PAGES = ["/", "/present", "/healthz", "/containers", "/images/build", "/transcript", "/room"]


@pytest.fixture
def silent_engine(monkeypatch):
    """DOCKER_HOST on a loopback listener that accepts connections (the kernel does) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{listener.getsockname()[1]}")
        yield


def answers_within(bound, asked):
    """The futures' results, all of them within `bound` seconds from now (TimeoutError past it)."""
    deadline = time.monotonic() + bound
    return {key: future.result(timeout=max(0, deadline - time.monotonic())) for key, future in asked.items()}


def test_every_page_comes_back_with_the_banner_while_the_engine_is_silent(silent_engine, tmp_path):
    client = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")}).test_client()
    with ThreadPoolExecutor(max_workers=len(PAGES) * 2) as pool:
        answers = answers_within(BOUND, {(url, htmx): pool.submit(client.get, url, headers=HTMX if htmx else {})
                                         for url in PAGES for htmx in (False, True)})
    health = answers[("/healthz", False)]
    assert health.status_code == 503 and "did not answer in time" in health.json["error"]
    for (url, htmx), answer in answers.items():
        assert answer.status_code in (200, 503), (url, htmx, answer.status_code)
    for key in (("/", False), ("/present", False), ("/containers", True)):
        assert "The Docker engine is not reachable" in answers[key].text, key


def test_actions_get_the_reason_within_their_own_timeout(silent_engine, tmp_path, free_port):
    """Actions that read first are refused at once once the engine is known silent; one that goes straight to
    the engine (Run's create) waits its own timeout, not the page's, since a busy engine may take long."""
    client = create_app({"TESTING": True, "ENGINE_TIMEOUT": 2,
                         "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")}).test_client()
    assert client.get("/healthz").status_code == 503  # waits out the read timeout once
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = answers_within(BOUND, {
            "build": pool.submit(client.post, "/images/build", headers=HTMX),
            "remove": pool.submit(client.delete, "/containers/" + "a" * 64, headers=HTMX),
            "run": pool.submit(client.post, "/containers", data={"host_port": str(free_port)}, headers=HTMX),
        })
    for answer in answers.values():
        assert answer.status_code == 503 and "did not answer in time" in answer.text
