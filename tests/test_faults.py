"""Faults and bad input: a clear message and a 4xx (503 for the engine), never a 500, and nothing running is lost."""

import functools
import html
import re
import string
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlencode

import docker
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from tests.support import (HTMX, container_ids, free_tcp_port, form_csrf, page_hooks, run_by_button, sign_in_by_form,
                           wait_until)
from tests.support.engine import REAL_SOCKET, EngineSwitch
from dashboard import create_app
from dashboard.domain.engine import Engine, RunSpec
from dashboard.domain.commands import lesson_filter
from dashboard.domain.errors import EngineUnavailable
from dashboard.domain.labels import LESSON_LABEL
from tests.support.lessons import DEFAULT_LESSON
from dashboard.web.errors import status_of
from dashboard.web.security import is_instructor

# Both engine passes (engine_specific): the engine's errors and races, as the dashboard translates them.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]

NOT_REACHABLE = "The Docker engine is not reachable"


def message_of(response):
    """The text of the message a refusal shows (the first paragraph of its message box), unescaped."""
    return html.unescape(re.search(r'<div class="message error"[^>]*>\s*<p>(.*?)</p>', response.text, re.S)[1])


def test_twenty_concurrent_removals_remove_once_and_tell_the_others_it_is_gone(app, cowserv_image, created,
                                                                                  free_port):
    container_id = run_by_button(app.test_client(), free_port, created)
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: app.test_client().delete(f"/containers/{container_id}", headers=HTMX),
                                  range(20)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [404] * 19
    assert all("already gone" in r.text for r in responses if r.status_code == 404)


def test_the_engine_stops_mid_session_and_comes_back(tmp_path, engine_switch, cowserv_image, created, free_port,
                                                     docker_client):
    client = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")}).test_client()
    running = run_by_button(client, free_port, created)
    assert running in page_hooks(client.get("/containers", headers=HTMX).text)[1]  # the list's connection is open
    other_port = free_tcp_port()

    engine_switch.stop()  # the engine "stops": its socket goes, and every connection open to it is cut
    assert client.get("/healthz").status_code == 503
    page = client.get("/")
    assert page.status_code == 200 and NOT_REACHABLE in page.text
    for response in (client.post("/containers", data={"host_port": str(other_port)}, headers=HTMX),
                     client.delete(f"/containers/{running}", headers=HTMX)):
        assert response.status_code == 503
        assert "The Docker engine does not answer" in response.text
    assert not docker_client.api.containers(all=True, filters={"publish": str(other_port)})  # nothing was created

    engine_switch.start()  # and comes back: no restart of the dashboard
    assert client.get("/healthz").status_code == 200
    assert running in page_hooks(client.get("/containers", headers=HTMX).text)[1]
    assert docker_client.containers.get(running).status == "running"  # nothing running was lost


def test_the_engine_stops_while_a_one_shot_run_prints(engine_switch, cowserv_image, created, docker_client):
    """A one-shot run (`docker run --rm`, attached to and waited on) whose engine goes while it runs: the press is
    told the engine is away (a 503), never a 500, whichever of the cut streams tells it."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    created(name)
    spec = RunSpec(cowserv_image, name=name, detach=False, remove=True, labels=((LESSON_LABEL, "running"),),
                   command=("sh", "-c", "echo started; sleep 60"))
    with ThreadPoolExecutor(max_workers=1) as pool:
        run = pool.submit(Engine().start, spec)  # through the switch: engine_switch set DOCKER_HOST
        wait_until(lambda: docker_client.api.containers(filters={"name": f"^{name}$", "status": "running"}),
                   f"{name} running")
        engine_switch.stop()
        with pytest.raises(EngineUnavailable) as raised:
            run.result(timeout=30)
    assert status_of(raised.value) == 503


@pytest.mark.parametrize("container_id, status, message", [
    ("not-hex-at-all", 400, "A container id is 12 to 64 hex digits, as `docker ps` shows it."),
    ("abc", 400, "A container id is 12 to 64 hex digits, as `docker ps` shows it."),
    ("ABCDEF123456", 400, "A container id is 12 to 64 hex digits, as `docker ps` shows it."),
    ("a" * 65, 400, "A container id is 12 to 64 hex digits, as `docker ps` shows it."),
    ("0123456789ab" * 5, 404,
     "No lesson container 0123456789ab: it is already gone, or it is not one of the lesson's."),
])
def test_container_ids_that_are_malformed_or_unknown(client, container_id, status, message):
    for response in (client.delete(f"/containers/{container_id}", headers=HTMX),
                     client.get(f"/containers/{container_id}/logs", headers=HTMX),
                     client.get(f"/containers/{container_id}/cow", headers=HTMX)):
        assert response.status_code == status
        assert message_of(response) == message


def test_an_unknown_id_and_a_container_not_of_the_lesson_get_the_same_404(client, docker_client, created,
                                                                          unique_name):
    other = docker_client.containers.run("cowserv-base:bookworm", "sleep 300", name=unique_name, detach=True)
    created(other.id)
    unknown = uuid.uuid4().hex + uuid.uuid4().hex  # 64 hex digits no container has
    for method, view in (("delete", ""), ("get", "/logs"), ("get", "/cow")):
        answers = [getattr(client, method)(f"/containers/{container_id}{view}", headers=HTMX)
                   for container_id in (other.id, unknown)]
        assert [answer.status_code for answer in answers] == [404, 404]
        messages = {message_of(answer).replace(container_id[:12], "ID")
                    for answer, container_id in zip(answers, (other.id, unknown))}
        assert messages == {"No lesson container ID: it is already gone, or it is not one of the lesson's."}
    other.reload()
    assert other.status == "running"  # nothing touched


def test_unknown_fields_are_refused_and_start_nothing(client, docker_client, free_port):
    before = container_ids(docker_client, label=lesson_filter(DEFAULT_LESSON))
    response = client.post("/containers", data={"host_port": str(free_port), "privileged": "true"}, headers=HTMX)
    assert response.status_code == 400
    assert message_of(response) == "Unknown field(s): privileged."
    assert container_ids(docker_client, label=lesson_filter(DEFAULT_LESSON)) == before


def test_an_oversized_body_is_a_413_with_a_message(client, docker_client):
    before = container_ids(docker_client, label=lesson_filter(DEFAULT_LESSON))
    response = client.post("/containers", data={"host_port": "8" * 100_000}, headers=HTMX)
    assert response.status_code == 413
    assert message_of(response) == "The request is larger than 16 kB; the dashboard's forms are a few short fields."
    assert container_ids(docker_client, label=lesson_filter(DEFAULT_LESSON)) == before


def build_log_ids(client, last_event_id=None):
    """The event ids of the build log a (re)connecting viewer is sent, with this Last-Event-ID header."""
    headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
    response = client.get("/images/build/events", headers=headers)
    assert response.status_code == 200, response.text
    assert response.text.endswith("event: done\ndata: \n\n")
    return [int(number) for number in re.findall(r"^id: (\d+)$", response.text, re.M)]


@pytest.mark.parametrize("header", ["\xb2", "1\xb9", "\xb3\xb3", "9" * 5000, "-1", "+3", "3.0", "0x3", ""])
def test_a_last_event_id_that_is_not_a_plain_number_resumes_from_the_start(client, cowserv_image, header):
    client.post("/images/build", headers=HTMX)
    whole_log = build_log_ids(client)
    assert whole_log == list(range(len(whole_log))) and len(whole_log) > 5
    assert build_log_ids(client, "3") == whole_log[4:]  # a plain number: after the line it names
    assert build_log_ids(client, header) == whole_log  # anything else (latin-1 "²" passes isdigit()): from line 0


# Hostile input. Headers carry latin-1 (as WSGI hands them over), bodies, paths and query strings any text.
LATIN1 = st.characters(max_codepoint=0xFF, blacklist_characters="\r\n")
SPECIALS = st.sampled_from(["\xb2", "1\xb9", "\xb3", "9" * 5000, "-1", "+1", " 7 ", "0x10", "1e3", "", "%00",
                            "../..", "[::1", "a]b:99999", "\x00", "session=\xb2", "true", "false"])
NUMBERS = st.integers(min_value=-70000, max_value=70000).map(str)
DIGITS_OR_NOT = st.text("0123456789\xb2\xb3\xb9", max_size=4)  # "²³¹" pass str.isdigit(), and int() refuses them
HEADER_VALUES = st.one_of(SPECIALS, NUMBERS, st.text(LATIN1, max_size=30), DIGITS_OR_NOT)
VALUES = st.one_of(SPECIALS, NUMBERS, st.text(max_size=30), st.text(string.hexdigits, max_size=70))
HEADERS = st.dictionaries(
    st.sampled_from(["Last-Event-ID", "HX-Request", "HX-Current-URL", "HX-Target", "X-CSRF-Token", "Host", "Cookie",
                     "Content-Type", "Accept"]),
    HEADER_VALUES, max_size=4)
FIELDS = st.sampled_from(["host_port", "count", "first_port", "token", "since", "csrf_token", "x", ""])
QUERIES = st.one_of(st.dictionaries(FIELDS, VALUES, max_size=4).map(urlencode), st.text(LATIN1, max_size=30),
                    st.sampled_from(["%ff%fe=%b2", "since=%00", "count=3&count=4", "&&==&"]))
PORTS = st.integers(min_value=20000, max_value=30000).map(str)  # below the ephemeral range, where tests take theirs
FORMS = st.one_of(st.dictionaries(FIELDS, VALUES, max_size=4), st.fixed_dictionaries({"host_port": PORTS}),
                  st.fixed_dictionaries({"count": st.sampled_from(["1", "2", "3"]), "first_port": PORTS}))
BODIES = st.one_of(FORMS.map(lambda form: urlencode(form).encode()), st.binary(max_size=64),
                   st.just(b"x=" + b"8" * 20_000))
PATH_VARIABLE = re.compile(r"<(?:(\w+):)?(\w+)>")


@functools.cache
def app_routes():
    """Every (method, URL rule) pair of the app's URL map, GET, HEAD and OPTIONS included, but the live stream's
    GET: it never ends (test_live_stream reads it)."""
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": ":memory:"})
    return sorted({(method, rule.rule) for rule in app.url_map.iter_rules() for method in rule.methods
                   if not (rule.endpoint == "live.stream" and method in ("GET", "HEAD"))})


def routes():
    """Every route, three times in four one a view declares (HEAD and OPTIONS, which Flask adds, outnumber them)."""
    declared = st.sampled_from([route for route in app_routes() if route[0] not in ("HEAD", "OPTIONS")])
    added = st.sampled_from([route for route in app_routes() if route[0] in ("HEAD", "OPTIONS")])
    return st.one_of(declared, declared, declared, added)


def hostile_url(rule, value):
    """The rule's URL with every path variable filled with `value` (slashes kept for a path converter)."""
    return PATH_VARIABLE.sub(lambda variable: quote(value, safe="/" if variable[1] == "path" else ""), rule)


@pytest.fixture
def hostile_app(tmp_path, monkeypatch, docker_client, unique_name):
    """An app of its own (instance folder, transcript, seat prefix), whose engine calls go through an EngineSwitch.

    Yields (app, switch); teardown removes the seats it may have started.
    """
    monkeypatch.setenv("DASHBOARD_INSTANCE_PATH", str(tmp_path / "instance"))
    switch = EngineSwitch(tmp_path / "engine.sock", REAL_SOCKET).start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{switch.listen_path}")
    prefix = f"{unique_name}-seat-"
    # GUESS_LIMIT: a thousand examples' wrong tokens and links, all from 127.0.0.1, would otherwise make the test's
    # own sign-in a 429 (still no 5xx, and nothing changed); test_seat_ownership.py tests the limit.
    yield create_app({"TESTING": True, "MAX_SEATS": 3, "SEAT_PREFIX": prefix, "GUESS_LIMIT": 100_000,
                      "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3")}), switch
    for container in docker_client.containers.list(all=True, filters={"name": f"^{prefix}"}):
        container.remove(force=True)
    switch.close()


def sign_in(app):
    """(Cookie header, CSRF token) of an instructor session signed in through the real form."""
    client = app.test_client(instructor=False)
    response = sign_in_by_form(client, app.config["INSTRUCTOR_TOKEN"])
    assert response.status_code == 302, response.text
    csrf = form_csrf(client.get("/signin").text)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return f"{cookie.key}={cookie.value}", csrf


def cookie_after(app, cookie, response):
    """The session cookie a browser holds after the response: the one it sent, or the one the response set."""
    name = app.config["SESSION_COOKIE_NAME"]
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            return header.split(";")[0]
    return cookie


def signed_in(app, cookie):
    """Whether a request with this session cookie is the instructor's."""
    with app.test_request_context("/", headers={"Cookie": cookie}):
        return is_instructor()


def state(app, switch):
    """What a refused request must leave as it was: the engine's containers (seen as the state-changing calls the app
    made, so another client of the engine meanwhile does not count) and the transcript's actions."""
    return len(switch.writes), app.extensions["transcript"].entries()


def assert_unchanged(switch, before, after):
    """No engine call that changes anything; the transcript as it was, but for failed actions written down."""
    assert switch.writes[before[0]:] == [], "a refused request changed containers or images"
    assert after[1][:len(before[1])] == before[1], "a refused request changed the transcript"
    assert all(not entry.ok for entry in after[1][len(before[1]):]), after[1][len(before[1]):]


BACKGROUND = {"builder": "build"}  # the jobs a request can start, and their entries


def latest_jobs(app):
    return {name: app.extensions[name].current for name in BACKGROUND}


def finish_background_work(app, docker_client, jobs_before, entries_before):
    """Wait for a build the request began to end and be written down; remove the containers it made."""
    transcript = app.extensions["transcript"]
    for name, action in BACKGROUND.items():
        job = app.extensions[name].current
        if job is not jobs_before[name]:
            written = sum(entry.action == action for entry in entries_before)
            wait_until(lambda: not job.running and sum(e.action == action for e in transcript.entries()) > written,
                       f"the {action} to end and be written down", timeout=180)
    new_entries = transcript.entries()[len(entries_before):]
    made = {entry.container_id for entry in new_entries if entry.action == "run" and entry.container_id}
    for container_id in made:
        try:
            docker_client.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.deferred(routes), path_value=VALUES, query=QUERIES, body=BODIES,
       headers=HEADERS, as_instructor=st.booleans(), htmx=st.booleans())
@example(route=("POST", "/containers"), path_value="", query="", body=b"host_port=20001", headers={},
         as_instructor=True, htmx=True)
@example(route=("POST", "/room/every-seat"), path_value="", query="", body=b"step=run", headers={},
         as_instructor=True, htmx=False)
@example(route=("GET", "/healthz"), path_value="", query="", body=b"", headers={"Host": "a" * 64},  # no IDNA label
         as_instructor=False, htmx=False)
@example(route=("GET", "/images/build/events"), path_value="", query="", body=b"", headers={"Last-Event-ID": "\xb2"},
         as_instructor=False, htmx=False)
@example(route=("GET", "/images/build/events"), path_value="", query="", body=b"",
         headers={"Last-Event-ID": "9" * 5000}, as_instructor=True, htmx=True)
def test_arbitrary_input_never_gives_a_500_nor_changes_state_when_refused(
    hostile_app, cowserv_image, docker_client, route, path_value, query, body, headers, as_instructor, htmx
):
    (app, switch), (method, rule) = hostile_app, route
    cookie, csrf = sign_in(app) if as_instructor else ("", "")
    sent = {"Content-Type": "application/x-www-form-urlencoded", **({"X-CSRF-Token": csrf} if csrf else {}),
            **(HTMX if htmx else {}), **headers}
    if "Cookie" in headers or cookie:  # the hostile cookies after the session's: the first of a name counts
        sent["Cookie"] = "; ".join(part for part in (cookie, headers.get("Cookie")) if part)
    client = app.test_client(instructor=False, use_cookies=False)
    before, jobs_before = state(app, switch), latest_jobs(app)
    try:
        response = client.open(hostile_url(rule, path_value), method=method, query_string=query, data=body,
                               headers=sent)
        text = response.get_data(as_text=True)
        event(f"{method} {rule} {response.status_code}")  # what was covered: --hypothesis-show-statistics
        after = state(app, switch)
        assert response.status_code < 500 or response.status_code in (502, 503), (response.status_code, text)
        assert "Traceback" not in text
        if response.status_code >= 500:
            assert text.strip(), "a 502 or 503 says why"
        if response.status_code >= 400:
            assert_unchanged(switch, before, after)
            assert not as_instructor or signed_in(app, cookie_after(app, cookie, response)), "signed out by a refusal"
    finally:
        finish_background_work(app, docker_client, jobs_before, before[1])
