"""The vocabulary parts 7 and 8 use: the actions `request` (curl), `top` (docker top) and `show` (cat), the checks
`running` of a list of containers, `stopped`, `processes`, `counter` and `spread`, a step's `warning`, and
Compose's stand-in variables. Their fields are refused with a message naming the field; their commands, pasted
into bash, print what their buttons show; their checks ask the real engine and real ports.

Engine tests run small servers from the base stand-in (cowserv-base:bookworm: python3), labelled with a lesson id of
the test's own and force-removed afterwards.
"""

import html
import json
import re
import socket
import subprocess
import textwrap
import threading
import uuid
from pathlib import Path, PurePosixPath

import docker
import pytest
import requests

from tests.support import HTMX, free_tcp_port, shell, wait_until
from tests.support.engine import LESSON_LABEL
from dashboard import create_app
from dashboard.domain import action_kinds, actions, checks, compose, room
from dashboard.domain.engine import Engine
from dashboard.domain.errors import ContainerNotRunning
from dashboard.domain.lessons import LESSON_FILE, LessonError, load_lesson
from dashboard.seat_host import shell as seat_shell

BASE = "cowserv-base:bookworm"

LESSON = '''\
id = "{id}"
title = "Vocabulary"
intro = "The new kinds."
folder = "{id}"
files = ["supervisord.conf", "compose.yaml"]

[[steps]]
id = "buy"
title = "Buy"
text = "Buys one."
warning = "This spends `money`."
action = {{ kind = "request", method = "POST", port = {port}, path = "/api/buy" }}
check = {{ kind = "counter", port = {port}, path = "/api/balance", field = "balance", at_least = 3 }}

[[steps]]
id = "balance"
title = "Balance"
text = "Reads it."
action = {{ kind = "request", port = {port}, path = "/api/balance" }}
check = {{ kind = "spread", port = {port}, path = "/api/balance", field = "served_by", count = 3 }}

[[steps]]
id = "top"
title = "Top"
text = "Its processes."
action = {{ kind = "top", name = "{name}" }}
check = {{ kind = "processes", container = "{name}", names = ["python3"] }}

[[steps]]
id = "show"
title = "Show"
text = "The file."
action = {{ kind = "show", file = "supervisord.conf" }}
check = {{ kind = "running", containers = ["{name}"] }}

[[steps]]
id = "ended"
title = "Ended"
text = "It ended."
action = {{ kind = "top", name = "{name}" }}
check = {{ kind = "stopped", container = "{name}" }}

[[steps]]
id = "up"
title = "Up"
text = "Compose."
action = {{ kind = "compose", command = ["up", "-d"] }}
'''

COMPOSE = """\
services:
  api:
    build: {args: {BASE_IMAGE: ${BASE_IMAGE:-python:3.12-slim}}}
    ports:
      - "PORT:8000"
  postgres:
    image: ${POSTGRES_IMAGE:-postgres:16}
"""


def make_lesson(root, lesson_id="vocab", port=8100, name="wallet", text=LESSON, compose_yaml=COMPOSE):
    folder = root / f"07-{lesson_id}"
    folder.mkdir(parents=True)
    (folder / "supervisord.conf").write_text("[supervisord]\nnodaemon=true\n")
    (folder / "compose.yaml").write_text(compose_yaml.replace("PORT", str(port)))  # the port its requests ask
    (folder / LESSON_FILE).write_text(text.format(id=lesson_id, port=port, name=name))
    return folder


def place(folder, **given):
    return actions.Place(Path(folder), Path("/home/u"), **given)


# --- the lesson file: fields parsed, mistakes named --------------------------------------------------------------

def test_the_new_kinds_load_with_their_fields(tmp_path):
    lesson = load_lesson(make_lesson(tmp_path))
    buy, balance, top, show, ended, _ = lesson.steps
    assert (buy.action.method, buy.action.port, buy.action.path) == ("POST", 8100, "/api/buy")
    assert buy.warning == "This spends `money`." and balance.warning == ""
    assert (balance.action.method, balance.action.button) == ("GET", "GET /api/balance")
    assert (buy.check.port, buy.check.path, buy.check.field, buy.check.at_least) == (8100, "/api/balance",
                                                                                      "balance", 3)
    assert (balance.check.field, balance.check.count) == ("served_by", 3)
    assert (top.action.name, top.check.names) == ("wallet", ("python3",))
    assert (show.action.file, show.action.needs_folder, show.check.containers) == ("supervisord.conf", True,
                                                                                    ("wallet",))
    assert ended.check.kind == "stopped" and ended.check.container == "wallet"


@pytest.mark.parametrize("old, new, field, message", [
    ('method = "POST"', 'method = "PUT"', "action.method", "is not GET or POST"),
    ('method = "POST", port = {port}', 'method = "POST", port = "{port}"', "action.port", "a whole number"),
    ('method = "POST", port = {port}', 'method = "POST", port = 70000', "action.port", "from 1 to 65535"),
    ('method = "POST", port = {port}', 'method = "POST", port = 8999', "action.port",
     "port 8999 is not one the lesson publishes (its runs' ports and its compose.yaml's: 8100)"),
    ('kind = "spread", port = {port}', 'kind = "spread", port = 8999', "check.port",
     "port 8999 is not one the lesson publishes"),
    ('path = "/api/buy"', 'path = "api/buy"', "action.path", "absolute path"),
    ('path = "/api/buy"', 'path = "/api/buy; rm -rf ~"', "action.path", "absolute path"),
    ('file = "supervisord.conf"', 'file = "other.conf"', "action.file", "not one of the lesson's files"),
    ('file = "supervisord.conf"', 'file = "../etc/passwd"', "action.file", "outside the lesson's folder"),
    (', at_least = 3', '', "check.at_least", "missing"),
    ('at_least = 3', 'at_least = "3"', "check.at_least", "a whole number"),
    ('count = 3', 'count = 1', "check.count", "from 2 to 20"),
    ('field = "served_by"', 'field = "served by"', "check.field", "a field of a JSON answer"),
    ('names = ["python3"]', 'names = []', "check.names", "non-empty list"),
    ('names = ["python3"]', 'names = ["python3", "python3"]', "check.names", "twice"),
    ('containers = ["{name}"]', 'containers = "{name}"', "check.containers", "non-empty list"),
    ('containers = ["{name}"]', 'containers = ["{name}"], container = "{name}"', "check.containers", "not both"),
    ('kind = "stopped", container = "{name}"', 'kind = "stopped"', "check.container", "missing"),
    ('warning = "This spends `money`."', 'warning = 3', "warning", "must be text"),
    ('action = {{ kind = "top", name = "{name}" }}\ncheck = {{ kind = "processes"',
     'action = {{ kind = "top" }}\ncheck = {{ kind = "processes"', "action.name", "missing"),
])
def test_a_bad_field_is_refused_naming_it(tmp_path, old, new, field, message):
    assert old in LESSON, old
    folder = make_lesson(tmp_path, text=LESSON.replace(old, new, 1))
    with pytest.raises(LessonError, match=rf"field '{re.escape(field)}': .*{re.escape(message)}"):
        load_lesson(folder)


# --- the commands shown ------------------------------------------------------------------------------------------

def test_the_commands_shown(tmp_path):
    lesson = load_lesson(make_lesson(tmp_path))
    here = actions.Place(Path("/home/u/docker-workshop/vocab"), Path("/home/u"))
    shown = {step.id: actions.command(lesson, step.action, here) for step in lesson.steps}
    assert shown["buy"] == "curl -sS --max-time 10 --fail-with-body -X POST http://localhost:8100/api/buy"
    assert shown["balance"] == "curl -sS --max-time 10 --fail-with-body http://localhost:8100/api/balance"
    assert shown["top"] == "docker top wallet"
    assert shown["show"] == "cd ~/docker-workshop/vocab && cat supervisord.conf"
    assert shown["up"] == "cd ~/docker-workshop/vocab && docker compose up -d"  # no stand-in in use


def test_compose_names_every_stand_in_its_compose_yaml_uses(tmp_path):
    """BASE_IMAGE=… POSTGRES_IMAGE=… before `docker compose`: only the stand-ins in use, only those compose.yaml
    names as ${NAME…}; the button gives Compose the same variables."""
    both = load_lesson(make_lesson(tmp_path / "a"))
    base_only = load_lesson(make_lesson(tmp_path / "b", compose_yaml=COMPOSE.replace("${POSTGRES_IMAGE:-postgres:16}",
                                                                                     "postgres:16")))
    stood_in = actions.Place(Path("/home/u/docker-workshop/vocab"), Path("/home/u"), base_image="cowserv-base:b",
                             postgres_image="cowserv-postgres:b")
    up = both.step("up").action
    assert actions.command(both, up, stood_in) == ("cd ~/docker-workshop/vocab && BASE_IMAGE=cowserv-base:b "
                                                   "POSTGRES_IMAGE=cowserv-postgres:b docker compose up -d")
    assert actions.command(base_only, up, stood_in) == ("cd ~/docker-workshop/vocab && BASE_IMAGE=cowserv-base:b "
                                                        "docker compose up -d")
    only_postgres = actions.Place(stood_in.folder, stood_in.home, postgres_image="cowserv-postgres:b")
    assert actions.command(both, up, only_postgres) == ("cd ~/docker-workshop/vocab && POSTGRES_IMAGE="
                                                        "cowserv-postgres:b docker compose up -d")
    assert action_kinds.stand_in_variables(both, stood_in) == {"BASE_IMAGE": "cowserv-base:b",
                                                               "POSTGRES_IMAGE": "cowserv-postgres:b"}
    assert action_kinds.KINDS["compose"].variables_named(both) == ("BASE_IMAGE", "POSTGRES_IMAGE")
    assert action_kinds.KINDS["compose"].variables_named(base_only) == ("BASE_IMAGE",)


REAL_POPEN = subprocess.Popen


def test_compose_on_a_seat_runs_as_its_student_in_its_view_with_the_students_environment_only(tmp_path,
                                                                                               monkeypatch):
    """A seat's Compose runs in the seat's view as its student (its compose.yaml read, its build contexts packed as
    the student: nothing of this host's files), in the lesson's folder as the view names it, with the student's
    environment only (the classic builder, as its shell has it: BuildKit is refused by the seat's walls), never
    the dashboard's (its secrets); the instructor's has the stand-ins' variables."""
    lesson = load_lesson(make_lesson(tmp_path))
    wrapped, ran = [], []
    files = seat_shell.StudentFiles(lambda argv: wrapped.append(argv) or ["echo", *argv])
    monkeypatch.setenv("DASHBOARD_INSTRUCTOR_TOKEN", "the instructor's secret")
    monkeypatch.setattr(compose.subprocess, "Popen", lambda argv, **options: ran.append((argv, options)) or
                        REAL_POPEN(["true"], stdout=subprocess.PIPE))
    seen = PurePosixPath("/home/student/docker-workshop/vocab")
    seat = actions.Place(tmp_path, Path("/home/student"), seat="s1", seen=seen, own_files=files)
    assert actions.perform(None, lesson, lesson.step("up").action, seat).ok
    assert wrapped == [["env", "-C", str(seen), "docker", "compose", "up", "-d"]]
    (argv, options), = ran
    assert argv == ["echo", *wrapped[0]] and options["cwd"] is None
    assert options["env"] == seat_shell.STUDENT_ENV and options["env"]["DOCKER_BUILDKIT"] == "0"
    assert "DASHBOARD_INSTRUCTOR_TOKEN" not in options["env"]
    given = []
    monkeypatch.setattr(compose, "run", lambda folder, words, env=None, *_, **__: given.append((words, env)) or (0, ""))
    instructor = actions.Place(tmp_path, Path("/home/u"), base_image="cowserv-base:b",
                               postgres_image="cowserv-postgres:b")
    actions.perform(None, lesson, lesson.step("up").action, instructor)
    assert given == [(("up", "-d"), {"BASE_IMAGE": "cowserv-base:b", "POSTGRES_IMAGE": "cowserv-postgres:b"})]


def test_show_prints_the_file_as_it_is_in_the_folder(tmp_path):
    lesson = load_lesson(make_lesson(tmp_path))
    folder = tmp_path / "workshop"
    folder.mkdir()
    (folder / "supervisord.conf").write_text("[program:api]\ncommand=gunicorn app:app\n")
    shown = actions.perform(None, lesson, lesson.step("show").action, place(folder))
    assert shown.ok and shown.output == "[program:api]\ncommand=gunicorn app:app\n"
    (folder / "supervisord.conf").unlink()
    missing = actions.perform(None, lesson, lesson.step("show").action, place(folder))
    assert not missing.ok and missing.output == "cat: supervisord.conf: No such file or directory\n"
    # the shown command prints the same, pasted into bash
    (folder / "supervisord.conf").write_text("[program:api]\n")
    pasted = shell(actions.command(lesson, lesson.step("show").action, place(folder)))
    assert pasted.stdout == actions.perform(None, lesson, lesson.step("show").action, place(folder)).output


def test_show_on_a_seat_reads_the_file_as_its_student(tmp_path):
    """A seat's folder is read through its own_files (as its student, in its view), never from the host's path."""
    lesson = load_lesson(make_lesson(tmp_path))
    asked = []

    class OwnFiles:
        def read(self, relative, limit):
            asked.append(relative)
            return "as the student sees it\n", False

    seat = actions.Place(tmp_path / "nowhere", Path("/home/student"), seat="s1", own_files=OwnFiles())
    assert actions.perform(None, lesson, lesson.step("show").action, seat).output == "as the student sees it\n"
    assert asked == ["vocab/supervisord.conf"]


def test_top_is_printed_as_docker_top_prints_it():
    table = action_kinds.top_table(["UID", "PID", "CMD"], [["root", "1", "supervisord -n"],
                                                           ["www-data", "12345", "caddy run"]])
    assert table == ("UID                 PID                 CMD\n"
                     "root                1                   supervisord -n\n"
                     "www-data            12345               caddy run\n")


# --- on the real engine ------------------------------------------------------------------------------------------

# A tiny API: POST /api/buy adds one; GET /api/balance answers {"balance": n, "served_by": NAME}, NAME cycling
# through three names (as three replicas behind a round-robin proxy would answer).
SERVER = textwrap.dedent('''\
    import json, http.server
    state = {"balance": 0, "asked": 0}
    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def do_GET(self):
            if self.path == "/api/balance":
                state["asked"] += 1
                return self.answer(200, {"balance": state["balance"], "served_by": "api-%d" % (state["asked"] % 3 + 1)})
            self.answer(404, {"error": "no such page"})
        def do_POST(self):
            if self.path == "/api/buy":
                state["balance"] += 1
                return self.answer(200, {"balance": state["balance"]})
            if self.path == "/api/sell" and state["balance"] == 0:
                return self.answer(409, {"error": "nothing to sell", "balance": 0})
            self.answer(404, {"error": "no such page"})
    http.server.ThreadingHTTPServer(("", 8000), Handler).serve_forever()
''')


@pytest.fixture
def wallet(tmp_path, docker_client):
    """A lesson of the test's own (its id unique), with its API running in a container named as the lesson says,
    publishing a free host port: (lesson, place, the container's name, its host port)."""
    lesson_id = f"vocab-{uuid.uuid4().hex[:8]}"
    name, port = f"wallet-{lesson_id}", free_tcp_port()
    lesson = load_lesson(make_lesson(tmp_path / "lessons", lesson_id, port, name))
    docker_client.containers.run(BASE, ["python3", "-c", SERVER], name=name, detach=True,
                                        labels={LESSON_LABEL: lesson_id}, ports={"8000/tcp": port})
    try:
        wait_until(lambda: _answers(port), f"the test API on port {port}")
        yield lesson, actions.Place(tmp_path / "lessons" / f"07-{lesson_id}", Path("/home/u")), name, port
    finally:
        for row in docker_client.api.containers(all=True, filters={"label": f"{LESSON_LABEL}={lesson_id}"}):
            try:
                docker_client.api.remove_container(row["Id"], force=True)
            except docker.errors.NotFound:
                pass


def _answers(port):
    try:
        return requests.get(f"http://127.0.0.1:{port}/api/balance", timeout=1).ok
    except requests.RequestException:
        return False


def evaluate(lesson, check, here):
    return checks.evaluate(Engine(), lesson, check, here, "127.0.0.1")


def test_request_prints_the_answer_as_curl_does(wallet):
    lesson, here, _, port = wallet
    buy = lesson.step("buy").action
    done = actions.perform(Engine(), lesson, buy, here)
    assert done.ok and json.loads(done.output) == {"balance": 1} and done.output.endswith("\n")
    pasted = shell(actions.command(lesson, buy, here))
    assert pasted.returncode == 0 and json.loads(pasted.stdout) == {"balance": 2}


def test_a_request_that_is_refused_or_answered_with_an_error_is_not_done(wallet, tmp_path):
    lesson, here, _, port = wallet
    sell = load_lesson(make_lesson(tmp_path / "sell", port=port, text=LESSON.replace("/api/buy", "/api/sell")))
    refused = actions.perform(Engine(), sell, sell.step("buy").action, here)
    body, error = refused.output.splitlines(keepends=True)
    assert not refused.ok and json.loads(body) == {"error": "nothing to sell", "balance": 0}
    # as the pasted curl's --fail-with-body: the body, then its error (exit 22)
    said = shell(actions.command(sell, sell.step("buy").action, here))
    assert said.returncode == 22 and error == said.stderr == "curl: (22) The requested URL returned error: 409\n"
    assert body.rstrip("\n") == said.stdout.rstrip("\n")
    closed = free_tcp_port()
    nobody = load_lesson(make_lesson(tmp_path / "closed", port=closed))
    done = actions.perform(Engine(), nobody, nobody.step("buy").action, here)
    pasted = shell(actions.command(nobody, nobody.step("buy").action, here))
    refused = rf"curl: \(7\) Failed to connect to localhost port {closed} after \d+ ms: Couldn't connect to server\n"
    assert not done.ok and re.fullmatch(refused, done.output), done.output
    assert pasted.returncode == 7 and re.fullmatch(refused, pasted.stderr), pasted.stderr


def test_top_prints_what_docker_top_prints(wallet):
    lesson, here, name, _ = wallet
    done = actions.perform(Engine(), lesson, lesson.step("top").action, here)
    pasted = shell(actions.command(lesson, lesson.step("top").action, here))
    assert pasted.returncode == 0, pasted.stderr
    # the same table but for the C column (the CPU use now, which changes between two asks): 20 characters wide
    assert done.ok and mask_cpu(done.output) == mask_cpu(pasted.stdout)
    assert "python3 -c" in done.output and done.output.startswith("UID")


def mask_cpu(table):
    return [line[:60] + line[80:] for line in table.splitlines()]


def test_the_checks_on_a_running_container(wallet, docker_client):
    lesson, here, name, port = wallet
    assert evaluate(lesson, lesson.step("top").check, here) == checks.Result(
        checks.PASSED, f"{name} runs python3: 1 program in one container.")
    more = lesson.step("top").check.__class__("processes", container=name, names=("python3", "caddy", "gunicorn"))
    result = evaluate(lesson, more, here)
    assert result.state == checks.FAILED and "runs python3, but no caddy or gunicorn" in result.reason
    assert evaluate(lesson, lesson.step("show").check, here) == checks.Result(checks.PASSED,
                                                                              f"All of {name} are running.")
    two = more.__class__("running", containers=(name, "microservices-api-3"))
    assert evaluate(lesson, two, here) == checks.Result(checks.FAILED, "Not running: microservices-api-3.")
    stopped = evaluate(lesson, lesson.step("ended").check, here)
    assert stopped == checks.Result(checks.FAILED, f"Container {name} is running, not stopped yet.")
    # counter: the balance is 0 until three BUYs
    counter = lesson.step("buy").check
    assert evaluate(lesson, counter, here).reason == "The balance is 0: 3 or more is what this step makes."
    for _ in range(3):
        actions.perform(Engine(), lesson, lesson.step("buy").action, here)
    assert evaluate(lesson, counter, here) == checks.Result(checks.PASSED, "The balance is 3.")
    # spread: three different served_by answer; four never do
    spread = lesson.step("balance").check
    assert evaluate(lesson, spread, here) == checks.Result(checks.PASSED,
                                                           "3 different served_by answered: api-1, api-2, api-3.")
    four = evaluate(lesson, more.__class__("spread", port=port, path="/api/balance", field="served_by", count=4), here)
    assert four == checks.Result(checks.FAILED, "Only 3 different served_by answered (api-1, api-2, api-3), 4 needed.")
    missing = evaluate(lesson, more.__class__("counter", port=port, path="/api/balance", field="price", at_least=1),
                       here)
    assert missing.state == checks.FAILED and "without JSON holding 'price'" in missing.reason


def test_the_checks_once_it_stopped(wallet, docker_client):
    lesson, here, name, port = wallet
    docker_client.api.stop(name, timeout=1)
    stopped = evaluate(lesson, lesson.step("ended").check, here)
    assert stopped.state == checks.PASSED and re.fullmatch(rf"Container {name} has exited \(code -?\d+\)\.",
                                                           stopped.reason), stopped
    assert evaluate(lesson, lesson.step("show").check, here) == checks.Result(checks.FAILED, f"Not running: {name}.")
    processes = evaluate(lesson, lesson.step("top").check, here)
    assert processes == checks.Result(checks.FAILED, f"Container {name} is not running: `docker top` lists the "
                                                     "processes of a running container.")
    with pytest.raises(ContainerNotRunning, match="is not running"):
        Engine().top(name, lesson.id)
    counter = evaluate(lesson, lesson.step("buy").check, here)
    assert counter.state == checks.FAILED and f"http://127.0.0.1:{port}/api/balance does not answer" in counter.reason
    docker_client.api.remove_container(name, force=True)
    assert evaluate(lesson, lesson.step("ended").check, here) == checks.Result(
        checks.FAILED, f"There is no container {name} of this lesson.")


def test_a_seat_s_reasons_name_its_port_as_its_student_knows_it(wallet):
    lesson, here, _, port = wallet
    seat = actions.Place(here.folder, here.home, seat="s1", probe_host="127.0.0.1")
    assert checks._counter(lesson.step("buy").check, "127.0.0.1", seat=True).reason.startswith("The balance is")
    closed = lesson.step("buy").check.__class__("counter", port=free_tcp_port(), path="/api/balance",
                                                field="balance", at_least=1)
    reason = checks._counter(closed, seat.probe_host, seat=True).reason
    assert reason.startswith(f"Your port {closed.port} (/api/balance) does not answer"), reason


def test_the_new_checks_are_refreshed_in_the_background():
    assert {"stopped", "processes", "counter", "spread", "running"} <= checks.READ_ONLY
    assert {"stopped", "running"} <= checks.FROM_THE_LIST
    assert not {"processes", "counter", "spread"} & checks.FROM_THE_LIST


# --- the pages ---------------------------------------------------------------------------------------------------

@pytest.mark.engine  # its pages ask the engine
def test_a_step_s_warning_is_shown_before_its_button_to_everyone(tmp_path):
    make_lesson(tmp_path / "lessons")
    app = create_app({"TESTING": True, "LESSONS_DIR": str(tmp_path / "lessons"),
                      "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    page = app.test_client().get("/lessons/vocab").text
    step = page[page.index('id="step-buy"'):page.index('id="step-balance"')]
    warning = re.search(r'<div class="step-warning"[^>]*><strong>Warning:</strong> <p>This spends '
                        r'<code>money</code>\.</p></div>', step)
    assert warning, step
    assert warning.start() < step.index("<button"), "the warning comes before the button"
    viewer = app.test_client(instructor=False).get("/lessons/vocab").text
    assert "<strong>Warning:</strong> <p>This spends" in viewer and 'type="submit"' not in viewer[
        viewer.index('id="step-buy"'):viewer.index('id="step-balance"')]


@pytest.mark.engine
def test_pressing_top_of_a_missing_container_is_a_404_and_a_refused_request_a_failed_run(tmp_path):
    make_lesson(tmp_path / "lessons", name=f"nobody-{uuid.uuid4().hex[:8]}", port=free_tcp_port())
    app = create_app({"TESTING": True, "LESSONS_DIR": str(tmp_path / "lessons"),
                      "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    client = app.test_client()
    top = client.post("/lessons/vocab/steps/top", headers=HTMX)
    assert top.status_code == 404, top.text
    buy = client.post("/lessons/vocab/steps/buy", headers=HTMX)
    assert buy.status_code == 200 and "curl: (7) Failed to connect" in html.unescape(buy.text)
    assert client.post("/lessons/vocab/steps/nosuch", headers=HTMX).status_code == 404


@pytest.mark.engine  # its pages ask the engine
def test_a_compose_lesson_names_the_postgres_stand_in_its_compose_yaml_uses(tmp_path):
    """The page says which Postgres stands in, and its Compose command gives it, as the state lesson's run does."""
    make_lesson(tmp_path / "lessons")
    app = create_app({"TESTING": True, "LESSONS_DIR": str(tmp_path / "lessons"),
                      "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3"), "BASE_IMAGE": "cowserv-base:bookworm",
                      "POSTGRES_IMAGE": "cowserv-postgres:bookworm"})
    page = html.unescape(app.test_client().get("/lessons/vocab").text)
    assert 'data-stand-in="postgres:16" data-stand-in-used="cowserv-postgres:bookworm"' in page
    assert ("BASE_IMAGE=cowserv-base:bookworm POSTGRES_IMAGE=cowserv-postgres:bookworm docker compose up -d"
            in page)


def test_the_new_checks_settle_after_a_press():
    """A check right after its step (a server just started, a proxy finding its replicas) is asked again a few
    seconds while it fails."""
    assert {"processes", "counter", "spread"} <= room.SETTLING


def test_a_request_answered_by_a_closed_connection_says_what_curl_says(tmp_path):
    """A port that takes the connection and closes it unanswered (a proxy whose upstream is gone): curl's (52)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def close_each():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.recv(1024)
            connection.close()

    threading.Thread(target=close_each, daemon=True).start()
    try:
        lesson = load_lesson(make_lesson(tmp_path, port=port))
        here = place(tmp_path)
        done = actions.perform(Engine(), lesson, lesson.step("buy").action, here)
        pasted = shell(actions.command(lesson, lesson.step("buy").action, here))
    finally:
        listener.close()
    assert (done.ok, done.output) == (False, "curl: (52) Empty reply from server\n")
    assert pasted.returncode == 52 and pasted.stderr == done.output


def test_a_seat_s_own_files_read_a_file_with_head(tmp_path):
    """StudentFiles.read runs `head -c` (in the seat's view, as its student, by its argv_of; here, on a folder of the
    test's own): the text, or OSError with its own words, which show turns into what `cat FILE` prints."""
    from dashboard.seat_host.layout import FOLDER
    from dashboard.seat_host.shell import StudentFiles

    own = StudentFiles(lambda argv: [word.replace(FOLDER, str(tmp_path)) for word in argv])
    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "supervisord.conf").write_text("[supervisord]\n")
    assert own.read("vocab/supervisord.conf", 1000) == ("[supervisord]\n", False)
    with pytest.raises(OSError, match="No such file or directory"):
        own.read("vocab/missing.conf", 1000)
    lesson = load_lesson(make_lesson(tmp_path / "lessons"))
    seat = actions.Place(tmp_path / "nowhere", Path("/home/student"), seat="s1", own_files=own)
    (tmp_path / "vocab" / "supervisord.conf").unlink()
    assert actions.perform(None, lesson, lesson.step("show").action, seat).output == (
        "cat: supervisord.conf: No such file or directory\n")
