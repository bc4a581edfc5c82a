"""An engine that takes connections and never answers: every page comes back with the banner within a bound,
however many ask at once, instead of each waiting on the SDK's long timeout behind the others."""

import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import HTMX
from dashboard import create_app

BOUND = 10  # seconds a page may take: the read timeout (3 s) once, with room for a busy machine

PAGES = ["/", "/present", "/healthz", "/containers", "/images/build", "/transcript", "/classroom",
         "/classroom/sheet"]


@pytest.fixture
def silent_engine(monkeypatch):
    """DOCKER_HOST on a loopback listener that accepts connections (the kernel does) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{listener.getsockname()[1]}")
        yield


def test_every_page_comes_back_with_the_banner_while_the_engine_is_silent(silent_engine, tmp_path):
    client = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")}).test_client()
    with ThreadPoolExecutor(max_workers=len(PAGES) * 2) as pool:
        asked = {(url, htmx): pool.submit(client.get, url, headers=HTMX if htmx else {})
                 for url in PAGES for htmx in (False, True)}
        answers = {key: future.result(timeout=BOUND) for key, future in asked.items()}  # TimeoutError past it
    health = answers[("/healthz", False)]
    assert health.status_code == 503 and "did not answer in time" in health.json["error"]
    for (url, htmx), answer in answers.items():
        assert answer.status_code in (200, 503), (url, htmx, answer.status_code)
    for key in (("/", False), ("/present", False), ("/containers", True), ("/classroom", False)):
        assert "The Docker engine is not reachable" in answers[key].text, key


def test_actions_are_refused_at_once_with_the_reason_once_the_engine_is_known_silent(silent_engine, tmp_path):
    client = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")}).test_client()
    assert client.get("/healthz").status_code == 503  # waits out the read timeout once
    with ThreadPoolExecutor(max_workers=4) as pool:
        asked = [pool.submit(client.post, "/images/build", headers=HTMX),
                 pool.submit(client.delete, "/containers/" + "a" * 64, headers=HTMX),
                 pool.submit(client.post, "/classroom", data={"count": "1", "first_port": "8001"}, headers=HTMX)]
        answers = [future.result(timeout=BOUND) for future in asked]
    for answer in answers:
        assert answer.status_code == 503 and "did not answer in time" in answer.text
