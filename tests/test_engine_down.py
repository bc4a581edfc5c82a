"""With the engine unreachable every page still renders with a banner, actions answer 503, and it recovers alone."""


import pytest

from tests.support import HTMX, page_hooks, wait_until
from tests.support.engine import REAL_SOCKET
from dashboard import create_app
from dashboard.domain.room import Opening
from dashboard.domain.seats import Limits

pytestmark = pytest.mark.engine



@pytest.fixture
def dead_socket(tmp_path, monkeypatch):
    """DOCKER_HOST pointing at a socket path where nothing listens (yet)."""
    path = tmp_path / "docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    return path


@pytest.fixture
def down_client(dead_socket):
    return create_app({"TESTING": True}).test_client()


BANNER = "The Docker engine is not reachable"

PAGES = ["/", "/present",
         # without htmx, the fragments' URLs answer with the whole lesson page
         "/containers", "/images/build", "/containers/new?host_port=8080", "/transcript"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_renders_with_the_banner(down_client, url):
    response = down_client.get(url)
    assert response.status_code == 200
    assert BANNER in response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize("url", ["/containers"])
def test_the_live_fragments_show_the_banner_in_place_of_their_list(down_client, url):
    response = down_client.get(url, headers=HTMX)
    assert response.status_code == 200
    assert BANNER in response.text and "<html" not in response.text
    assert page_hooks(response.text)[1] == []  # no rows


@pytest.mark.parametrize("url, command", [
    ("/images/build", "docker build --force-rm"),
    ("/containers/new?host_port=8080", "docker run -d -p 8080:8000 cowserv"),
])
def test_the_command_fragments_still_show_their_command(down_client, url, command):
    """They show no engine state, so no banner: the page around them has it. Their command needs no engine."""
    response = down_client.get(url, headers=HTMX)
    assert response.status_code == 200
    assert BANNER not in response.text and "<html" not in response.text
    assert any(command in shown for shown in page_hooks(response.text)[0])


def test_the_transcript_its_script_and_the_build_stream_need_no_engine(down_client):
    transcript = down_client.get("/transcript", headers=HTMX)
    assert transcript.status_code == 200 and 'id="transcript"' in transcript.text
    script = down_client.get("/transcript/script")
    assert script.status_code == 200 and script.text.startswith("#!/usr/bin/env bash")
    events = down_client.get("/images/build/events")
    assert events.status_code == 200 and events.text == "event: done\ndata: \n\n"  # no build: the stream ends


def test_the_page_and_the_live_list_say_why_and_how_to_fix_it(down_client):
    for response in (down_client.get("/"), down_client.get("/containers", headers=HTMX)):
        assert BANNER in response.text
        assert "scripts/ensure-engine" in response.text


def test_healthz_is_503_with_the_reason(down_client):
    response = down_client.get("/healthz")
    assert response.status_code == 503
    assert response.json["engine"] == "unreachable"


@pytest.mark.parametrize("method, url, data", [
    ("post", "/containers", {"host_port": "PORT"}), ("post", "/images/build", None),
    ("delete", "/containers/" + "a" * 64, None), ("get", "/containers/" + "a" * 64 + "/logs", None),
    ("get", "/containers/" + "a" * 64 + "/cow", None),
])
def test_actions_answer_503_with_a_message(down_client, free_port, method, url, data):
    data = {field: str(free_port) if value == "PORT" else value for field, value in (data or {}).items()}
    response = getattr(down_client, method)(url, data=data, headers=HTMX)
    assert response.status_code == 503
    assert "The Docker engine does not answer" in response.text


def test_the_rooms_actions_on_every_seat_say_when_the_seats_engines_do_not_answer(dead_socket, tmp_path,
                                                                                  monkeypatch):
    """Run on every seat, and stop and remove every seat's things, act on the seats' own engines, not the
    instructor's: with the seats' engines away (paper seats: never started), each seat's run fails saying why, and
    the removal answers 503 with a message."""
    monkeypatch.setenv("DASHBOARD_INSTANCE_PATH", str(tmp_path))
    app = create_app({"TESTING": True})
    room = app.extensions["roster"].open([("seat-20001", 20001)], 60, Limits(), 1)
    app.extensions["room_life"].opening = Opening(room.id, 1, {"seat-20001"}, finished=True)
    app.extensions["lesson_pick"].choose("running")
    client = app.test_client()
    ran = client.post("/room/every-seat", data={"step": "detached"}, headers=HTMX)
    assert ran.status_code == 200, ran.text
    job = app.extensions["room_life"].every_seat
    wait_until(lambda: not job.running, "the run on every seat's end")
    assert job.runs["seat-20001"].state == "failed" and "does not answer" in job.runs["seat-20001"].note
    removed = client.delete("/room/seats", headers=HTMX)
    assert removed.status_code == 503 and "does not answer" in removed.text


@pytest.mark.engine_specific  # reconnecting: the API version is agreed again
def test_the_dashboard_recovers_when_the_engine_comes_back(down_client, dead_socket):
    assert down_client.get("/healthz").status_code == 503
    dead_socket.symlink_to(REAL_SOCKET)
    response = down_client.get("/healthz")
    assert response.status_code == 200
    assert response.json["engine"] == "reachable" and response.json["version"]
    assert "not reachable" not in down_client.get("/").text


@pytest.mark.engine_specific  # the version the engine gives
def test_healthz_reports_the_engine_version(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["engine"] == "reachable"
    assert response.json["api_version"]
