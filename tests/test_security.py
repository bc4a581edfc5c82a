"""Read-only by default; the instructor signs in; CSRF on every state change; headers; refusing a public bind."""

import contextlib
import os
import subprocess
import sys
import time

import docker
import pytest

from tests.support import HTMX, csrf_of, form_csrf, free_ports, run_by_button, sign_in_by_form
from dashboard import create_app
from dashboard.web import step_views


TOKEN = "correct horse battery staple"


@pytest.fixture
def secured_app(tmp_path, engine_switch, docker_client, unique_name, monkeypatch):
    prefix = f"{unique_name}-seat-"
    # SEAT_REQUESTS_PER_SECOND: one browser here asks every seat route in a burst, which the seat routes' allowance
    # would answer 429 (test_one_seat_cannot_stall.py tests that allowance); these tests check who may do what.
    app = create_app({"TESTING": True, "INSTRUCTOR_TOKEN": TOKEN, "SEAT_PREFIX": prefix,
                      "SEAT_REQUESTS_PER_SECOND": 10_000, "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3")})
    # A step's check asked on request (POST …/check), noted: the background refresh every page triggers is not.
    app.checks_asked = []
    evaluate = step_views.evaluate_check
    monkeypatch.setattr(step_views, "evaluate_check",
                        lambda lesson, check, *seat: app.checks_asked.append((lesson.id, check))
                        or evaluate(lesson, check, *seat))
    yield app
    for container in docker_client.containers.list(all=True, filters={"name": f"^{prefix}"}):
        container.remove(force=True)


@pytest.fixture
def viewer(secured_app):
    return secured_app.test_client(instructor=False)


@pytest.fixture
def seat(secured_app, cowserv_image, docker_client):
    """A cow the instructor started, so each refused action has something it would have changed."""
    created = []
    container_id = run_by_button(secured_app.test_client(), free_ports(1)[0], created.append)
    yield container_id
    for made in created:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.api.remove_container(made, force=True)


def sign_in(client, token=TOKEN):
    return sign_in_by_form(client, token)


def signed_in(client):
    return "Sign out" in client.get("/").text


def state(app, switch):
    """What a refused request must leave alone: the engine (no state-changing call), the transcript, the build,
    the class start (none begun), every lesson's workshop files, the current lesson, the steps' latest runs on the
    board, and the checks asked for (none)."""
    catalog, board, workshop = app.extensions["catalog"], app.extensions["board"], app.extensions["workshop"]
    return (len(switch.writes), app.extensions["transcript"].entries(), app.extensions["builder"].current,
            app.extensions["room_life"].every_seat,
            [(path, path.stat().st_mtime_ns) for lesson in catalog.lessons for path in workshop.files(lesson)],
            app.extensions["lesson_pick"].id,
            {(lesson.id, step.id): board.last_run(lesson.id, step.id) for lesson in catalog.lessons
             for step in lesson.steps},
            len(app.checks_asked))


STATE_CHANGES = [
    ("post", "/images/build", {}),
    ("post", "/containers", {"host_port": "PORT"}),
    ("delete", "/containers/SEAT", {}),
    ("post", "/transcript/clear", {}),
    ("post", "/room/every-seat", {"step": "run"}),
    ("delete", "/room/seats", {}),
    ("post", "/workshop/images/restore", {}),
    ("post", "/workshop/website/restore", {}),
    ("post", "/signout", {}),
    ("post", "/lessons/current", {"lesson": "running"}),
    ("post", "/lessons/cowserv/steps/build", {}),
    ("post", "/lessons/cowserv/steps/run", {"host_port": "PORT"}),
    ("post", "/lessons/running/steps/detached", {}),
    ("post", "/lessons/realistic/steps/edit", {}),
    ("post", "/lessons/cowserv/steps/run/check", {}),
]


def send(client, method, url, data, seat, headers):
    """One of STATE_CHANGES, aimed at the seat (DELETE) or at a free port (a run, a class start)."""
    port = str(free_ports(1)[0])
    data = {field: port if value == "PORT" else value for field, value in data.items()}
    return getattr(client, method)(url.replace("SEAT", seat), data=data, headers={**HTMX, **headers})


def test_the_read_only_screen_shows_the_lesson_without_buttons(viewer):
    page = viewer.get("/").text
    assert "Read-only screen" in page and "Instructor sign-in" in page
    assert "docker run -d" in page and "docker build" in page  # the commands are still there to learn from
    assert "Build cowserv" not in page and ">Run</button>" not in page and "Clear</button>" not in page
    assert viewer.get("/transcript/script").status_code == 200


@pytest.mark.parametrize("method, url, data", STATE_CHANGES)
def test_a_viewer_can_change_nothing_even_with_a_valid_csrf_token(secured_app, engine_switch, viewer, seat, method,
                                                                   url, data):
    csrf = csrf_of(viewer.get("/").text)
    before = state(secured_app, engine_switch)
    response = send(viewer, method, url, data, seat, {"X-CSRF-Token": csrf})
    assert response.status_code == 403
    assert "Only the instructor can do that: sign in first." in response.text
    assert state(secured_app, engine_switch) == before


@pytest.mark.parametrize("method, url, data", STATE_CHANGES)
def test_the_instructor_without_the_csrf_token_is_refused(secured_app, engine_switch, seat, method, url, data):
    client = secured_app.test_client(instructor=False)
    assert sign_in(client).status_code == 302
    before = state(secured_app, engine_switch)
    response = send(client, method, url, data, seat, {})
    assert response.status_code == 403
    assert "CSRF token does not match" in response.text
    assert state(secured_app, engine_switch) == before
    assert signed_in(client)


def test_signing_in_gives_the_buttons_and_signing_out_takes_them_back(secured_app):
    client = secured_app.test_client(instructor=False)
    assert sign_in(client, "wrong").status_code == 403
    assert "Build cowserv" not in client.get("/").text

    response = sign_in(client)
    assert response.status_code == 302
    page = client.get("/").text
    assert "Build cowserv" in page and "Sign out" in page

    client.post("/signout", data={"csrf_token": csrf_of(page)})
    assert "Build cowserv" not in client.get("/").text


@pytest.mark.engine  # its pages show the engine's version
def test_sessions_expire_even_while_the_page_keeps_polling(tmp_path):
    app = create_app({"TESTING": True, "INSTRUCTOR_TOKEN": TOKEN, "SESSION_MINUTES": 2 / 60,
                      "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    client = app.test_client(instructor=False)
    sign_in(client)
    assert "Sign out" in client.get("/").text
    for _ in range(6):  # an open page polls every second; that must not keep the session alive
        client.get("/transcript", headers=HTMX)
        time.sleep(0.5)
    assert "Sign out" not in client.get("/").text


def test_a_get_never_changes_state(secured_app, engine_switch, seat, docker_client):
    """Every URL that changes something, asked with GET, HEAD and OPTIONS by the signed-in instructor with the CSRF
    token: a 405 where no view reads it, the page where one does, and nothing changed either way."""
    client = secured_app.test_client(instructor=False)
    sign_in(client)
    csrf = {"X-CSRF-Token": csrf_of(client.get("/").text)}
    rules = {rule.rule for rule in secured_app.url_map.iter_rules() if rule.methods & {"POST", "DELETE"}}
    assert rules == {"/signin", "/signout", "/images/build", "/containers", "/containers/<container_id>",
                     "/transcript/clear", "/room/every-seat", "/room/seats", "/workshop/<folder>/restore", "/lessons/current",
                     "/lessons/<lesson_id>/steps/<step_id>", "/lessons/<lesson_id>/steps/<step_id>/check",
                     "/room", "/room/close", "/room/joining", "/join/<code>", "/s/<token>", "/room/names", "/room/seats/<name>/revoke", "/room/seats/<name>/reset",
                     "/seat/name", "/seat/lessons/<lesson_id>/steps/<step_id>",
                     "/seat/lessons/<lesson_id>/steps/<step_id>/check"}
    lessons = secured_app.extensions["catalog"].lessons
    changing = {rule.replace("<container_id>", seat).replace("<name>", "seat-8001") for rule in rules
                if "<" not in rule.replace("<container_id>", "").replace("<name>", "")}
    changing |= {f"/workshop/{lesson.folder}/restore" for lesson in lessons if lesson.folder}
    for lesson in lessons:
        for step in lesson.steps:
            changing |= {f"/lessons/{lesson.id}/steps/{step.id}", f"/lessons/{lesson.id}/steps/{step.id}/check",
                         f"/seat/lessons/{lesson.id}/steps/{step.id}", f"/seat/lessons/{lesson.id}/steps/{step.id}/check"}
    # And what reads a lesson's state: the board every open page polls, which refreshes the checks.
    reading = {f"/lessons/{lesson.id}/board" for lesson in lessons} | {f"/lessons/{lesson.id}" for lesson in lessons}
    before = state(secured_app, engine_switch)
    for url in sorted(changing | reading):
        for method in ("GET", "HEAD", "OPTIONS"):
            response = client.open(url, method=method, query_string={"host_port": "20001", "count": "1"},
                                   headers={**HTMX, **csrf})
            # GET /lessons/current reads as the lesson named "current": there is none (the pick is POST only).
            allowed = (200, 204, 405, 404) if url == "/lessons/current" else (200, 204, 405)
            assert response.status_code in allowed, (method, url, response.status_code)
    assert state(secured_app, engine_switch) == before
    assert signed_in(client)
    assert docker_client.api.inspect_container(seat)["State"]["Running"]


def test_a_token_is_generated_printed_and_kept_when_none_is_configured(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DASHBOARD_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("DASHBOARD_INSTRUCTOR_TOKEN", raising=False)
    first = create_app({"TESTING": True})
    token = first.config["INSTRUCTOR_TOKEN"]
    assert len(token) >= 24 and token in caplog.text
    assert create_app({"TESTING": True}).config["INSTRUCTOR_TOKEN"] == token  # a restart keeps it
    assert oct((tmp_path / "instructor-token").stat().st_mode & 0o777) == "0o600"


def test_security_headers(viewer):
    response = viewer.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in response.text and " on" + "click=" not in response.text  # no inline script


def test_the_session_cookie_is_http_only_and_same_site_strict(secured_app):
    client = secured_app.test_client(instructor=False)
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


@pytest.mark.parametrize("bind", ["0.0.0.0:5999", "[::]:5999"])
def test_binding_a_public_address_without_a_token_refuses_to_start(bind):
    env = {k: v for k, v in os.environ.items() if k != "DASHBOARD_INSTRUCTOR_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "python:dashboard.gunicorn_conf", "--bind", bind,
         "dashboard:create_app()"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "without DASHBOARD_INSTRUCTOR_TOKEN" in result.stderr


def test_loopback_binds_are_recognised():
    from dashboard.web.security import is_loopback

    for bind in ("127.0.0.1:5000", "localhost:5000", "[::1]:5000", "unix:/run/dashboard.sock", "127.0.0.2:80"):
        assert is_loopback(bind), bind
    for bind in ("0.0.0.0:5000", "[::]:5000", "192.0.2.7:5000", "example.org:5000"):
        assert not is_loopback(bind), bind


# --- the instructor's secret never crosses the room's plain HTTP --------------------------------------------------

ROOM_LAPTOP = {"REMOTE_ADDR": "192.0.2.50"}  # an address of the room's network, not this machine (never connected to)


def transport_app(tmp_path, **config):
    return create_app({"TESTING": True, "INSTRUCTOR_TOKEN": TOKEN, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3"),
                       **config})


@pytest.mark.engine  # its pages show the engine's version
def test_over_plain_http_from_the_room_the_sign_in_page_redirects_to_https(tmp_path):
    """With an HTTPS listener, /signin over plain HTTP from another machine is a redirect to it (the host the
    browser used, the listener's port), never the form; the read-only pages' sign-in link goes there too."""
    app = transport_app(tmp_path, HTTPS_BIND="0.0.0.0:5443")
    laptop = app.test_client(instructor=False)
    laptop.environ_base.update(ROOM_LAPTOP)
    answer = laptop.get("/signin", base_url="http://room.example:5000")
    assert answer.status_code in (302, 303) and answer.location == "https://room.example:5443/signin"
    assert 'name="token"' not in answer.text
    page = laptop.get("/", base_url="http://room.example:5000").text
    assert 'href="https://room.example:5443/signin"' in page
    # Over HTTPS, and on this machine, the form is there and the link stays.
    assert 'name="token"' in laptop.get("/signin", base_url="https://room.example:5443").text
    here = app.test_client(instructor=False)
    assert 'name="token"' in here.get("/signin").text and 'href="/signin"' in here.get("/").text


@pytest.mark.engine  # its pages show the engine's version
def test_over_plain_http_from_the_room_without_https_the_sign_in_page_says_how_to_sign_in(tmp_path):
    """Without an HTTPS listener, /signin over plain HTTP from another machine shows no form: it says to sign in
    on this machine (at its loopback address and port) or to serve HTTPS."""
    app = transport_app(tmp_path, BIND="0.0.0.0:5077")
    laptop = app.test_client(instructor=False)
    laptop.environ_base.update(ROOM_LAPTOP)
    answer = laptop.get("/signin", base_url="http://room.example:5077")
    assert answer.status_code == 200
    assert 'name="token"' not in answer.text and "<form" not in answer.text.split("<main>")[1]
    assert "http://127.0.0.1:5077/signin" in answer.text and "DASHBOARD_HTTPS_BIND" in answer.text


@pytest.mark.engine  # its pages show the engine's version
def test_an_address_counted_as_this_machine_gets_the_form_over_plain_http(tmp_path):
    """compose.yaml's DASHBOARD_INSTRUCTOR_FROM=gateway: the host's browser arrives from the gateway, this
    machine's, and gets the form over plain HTTP (and signs in)."""
    app = transport_app(tmp_path, INSTRUCTOR_FROM=ROOM_LAPTOP["REMOTE_ADDR"], HTTPS_BIND="0.0.0.0:5443")
    host = app.test_client(instructor=False)
    host.environ_base.update(ROOM_LAPTOP)
    assert 'name="token"' in host.get("/signin").text
    assert sign_in(host).status_code == 302 and signed_in(host)


@pytest.mark.engine  # its pages show the engine's version
def test_an_instructor_cookie_is_accepted_only_on_the_transport_that_issued_it(tmp_path):
    """Signed in over this machine's plain HTTP, the cookie is refused over HTTPS (from the room, or even from
    here); signed in over HTTPS, it is refused over this machine's plain HTTP."""
    app = transport_app(tmp_path)
    here = app.test_client(instructor=False)
    assert sign_in(here).status_code == 302 and signed_in(here)
    for address in (ROOM_LAPTOP["REMOTE_ADDR"], "127.0.0.1"):
        over_https = here.get("/", base_url="https://localhost", environ_base={"REMOTE_ADDR": address})
        assert "Sign out" not in over_https.text, address
    csrf = csrf_of(here.get("/").text)
    refused = here.post("/lessons/current", data={"lesson": "running"}, headers={"X-CSRF-Token": csrf},
                        base_url="https://localhost", environ_base=ROOM_LAPTOP)
    assert refused.status_code == 403 and "sign in again" in refused.text
    assert signed_in(here)  # still the instructor where it signed in

    laptop = app.test_client(instructor=False)
    laptop.environ_base.update(ROOM_LAPTOP)
    https = {"base_url": "https://localhost"}
    csrf = form_csrf(laptop.get("/signin", **https).text)
    assert laptop.post("/signin", data={"token": TOKEN, "csrf_token": csrf}, **https).status_code == 302
    assert "Sign out" in laptop.get("/", **https).text
    assert "Sign out" not in laptop.get("/", environ_base={"REMOTE_ADDR": "127.0.0.1"}).text


@pytest.mark.engine  # its pages show the engine's version
def test_a_forwarded_for_header_never_makes_a_room_client_this_machine(tmp_path):
    """DASHBOARD_PROXIES=1 trusts X-Forwarded-For only on a connection from this machine (the proxy runs here),
    and "this machine" needs the connection's own address: a room client writing `X-Forwarded-For: 127.0.0.1`
    gets no form and cannot sign in over plain HTTP; nor can a room client that a proxy here forwards."""
    app = transport_app(tmp_path, PROXIES=1, BIND="0.0.0.0:5077")
    laptop = app.test_client(instructor=False)
    laptop.environ_base.update(ROOM_LAPTOP)
    spoofed = {"X-Forwarded-For": "127.0.0.1"}
    page = laptop.get("/signin", headers=spoofed)
    assert page.status_code == 200 and 'name="token"' not in page.text
    refused = laptop.post("/signin", data={"token": TOKEN, "csrf_token": csrf_of(page.text)}, headers=spoofed)
    assert refused.status_code == 403 and not signed_in(laptop)

    proxy = app.test_client(instructor=False)  # a proxy on this machine, forwarding a room client
    proxied = proxy.get("/signin", headers={"X-Forwarded-For": "127.0.0.1, " + ROOM_LAPTOP["REMOTE_ADDR"]})
    assert 'name="token"' not in proxied.text
    here = proxy.get("/signin", headers={"X-Forwarded-For": "127.0.0.1"})  # a browser here, through the proxy
    assert 'name="token"' in here.text
