"""With the engine unreachable every page still renders with a banner, actions answer 503, and it recovers alone."""

import os

import pytest

from tests.support import HTMX
from dashboard import create_app

pytestmark = pytest.mark.engine

REAL_SOCKET = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")


@pytest.fixture
def dead_socket(tmp_path, monkeypatch):
    """DOCKER_HOST pointing at a socket path where nothing listens (yet)."""
    path = tmp_path / "docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    return path


@pytest.fixture
def down_client(dead_socket):
    return create_app({"TESTING": True}).test_client()


@pytest.mark.parametrize("url", ["/", "/containers", "/images/build", "/containers/new?host_port=8080"])
def test_every_page_renders_with_the_banner(down_client, url):
    response = down_client.get(url)
    assert response.status_code == 200
    assert "The Docker engine is not reachable" in response.text or "docker run" in response.text
    assert "Traceback" not in response.text


def test_the_page_and_the_live_list_say_why_and_how_to_fix_it(down_client):
    for response in (down_client.get("/"), down_client.get("/containers", headers=HTMX)):
        assert "The Docker engine is not reachable" in response.text
        assert "scripts/ensure-engine" in response.text


def test_healthz_is_503_with_the_reason(down_client):
    response = down_client.get("/healthz")
    assert response.status_code == 503
    assert response.json["engine"] == "unreachable"


@pytest.mark.parametrize(
    "method, url, data",
    [("post", "/containers", {"host_port": "8123"}), ("post", "/images/build", None),
     ("delete", "/containers/" + "a" * 64, None)],
)
def test_actions_answer_503_with_a_message(down_client, method, url, data):
    response = getattr(down_client, method)(url, data=data, headers=HTMX)
    assert response.status_code == 503
    assert "does not answer" in response.text


def test_the_dashboard_recovers_when_the_engine_comes_back(down_client, dead_socket):
    assert down_client.get("/healthz").status_code == 503
    dead_socket.symlink_to(REAL_SOCKET)
    response = down_client.get("/healthz")
    assert response.status_code == 200
    assert response.json["engine"] == "reachable" and response.json["version"]
    assert "not reachable" not in down_client.get("/").text


def test_healthz_reports_the_engine_version(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["engine"] == "reachable"
    assert response.json["api_version"]
