"""Part 7 of the workshop, the monolith, on the real engine: the wallet's four programs (Postgres, the API under
gunicorn, Caddy and the page) in one container under supervisord. By its buttons (each check fails before its step
and passes after, but top's and the kill's, whose effect the run made), by its shown commands pasted in order into
bash, and the failures a student meets: the host's port 8100 taken, gunicorn killed (supervisord starts it again,
the balance kept), PID 1 stopped (the whole container ends, all four with it).

Installing the packages is slow, so the image is built once for the module, by the dashboard's own build path, and
kept under a tag of the module's; each test removes the `wallet` tag first (the build step's check must fail), and
its build takes the cached layers. The lesson's names are fixed (the image and the container `wallet`, the host's
port 8100): every container labelled classroom.lesson=monolith is force-removed before and after each test, and
both tags at the module's end.
"""

import re
import socket
import uuid
from dataclasses import replace

import docker
import pytest
import requests

from tests.support import shell, wait_until
from tests.support.engine import LESSON_LABEL
from tests.test_lessons_by_button import assert_fails, assert_passes, build_by_button, check, done, press
from tests.test_lessons_by_command import ByCommand
from dashboard import PACKAGE, create_app
from dashboard.domain import actions
from dashboard.domain.checks import FAILED, PASSED, STARTING
from dashboard.domain.lessons import load_lesson
from dashboard.domain.ports import host_port_free
from dashboard.web.views import evaluate_check, place_for

# Both engine passes (engine_specific): a build, exec, `docker top` and a container's end.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]

LESSON = "monolith"
TAG = NAME = "wallet"
PORT = 8100  # the run's `-p 8100:80`
SHIPPED = PACKAGE / "lessons" / "07-monolith"
PROGRAMS = ("supervisord", "caddy", "gunicorn", "postgres")


def lesson_rows(docker_client):
    return docker_client.api.containers(all=True, filters={"label": f"{LESSON_LABEL}={LESSON}"})


def remove_containers(docker_client):
    for row in lesson_rows(docker_client):
        try:
            docker_client.api.remove_container(row["Id"], force=True)
        except docker.errors.NotFound:
            pass


def untag(docker_client, tag):
    try:
        docker_client.api.remove_image(tag)  # one tag of several: the image and its layers stay
    except docker.errors.NotFound:
        pass


@pytest.fixture(scope="module")
def wallet_layers(docker_client, tmp_path_factory):
    """The wallet image, built once by the dashboard's build path, under a tag of the module's that keeps its
    layers for every test's own build; both tags and the lesson's containers go at the end."""
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path_factory.mktemp("monolith") / "t.sqlite3")})
    keep = f"wallet-layers-{uuid.uuid4().hex[:8]}"
    try:
        with app.app_context():
            from dashboard.web.extensions import get_builder, get_engine

            lesson = app.extensions["catalog"].get(LESSON)
            assert lesson is not None, app.extensions["catalog"].errors
            build = get_builder().start(get_engine(), actions.build_plan(lesson, lesson.step("build").action,
                                                                         place_for(lesson)))
        for _ in build.follow():
            pass
        assert build.state == "succeeded", build.error
        docker_client.api.tag(build.image_id, keep)
        yield keep
    finally:
        remove_containers(docker_client)
        for tag in (TAG, keep):
            untag(docker_client, tag)


@pytest.fixture
def monolith(docker_client, wallet_layers):
    """No container of the lesson, no `wallet` tag (its layers kept), and the host's port 8100 free; no container
    of the lesson afterwards."""
    remove_containers(docker_client)
    untag(docker_client, TAG)
    assert host_port_free(PORT), f"the lesson's port {PORT} is in use here: free it to run these tests"
    yield
    remove_containers(docker_client)


@pytest.fixture
def wallet_image(docker_client, wallet_layers, monolith):
    """The `wallet` image there, as after the build step."""
    docker_client.api.tag(wallet_layers, TAG)


def wallet(method, path):
    return requests.request(method, f"http://127.0.0.1:{PORT}/api{path}", timeout=10)


def balance_answers():
    """The balance, once the API and its Postgres answer (a second after the start)."""
    def answered():
        try:
            response = wallet("GET", "/balance")
        except requests.ConnectionError:
            return None
        return response.json() if response.status_code == 200 else None
    return wait_until(answered, "the wallet's balance answering", timeout=60, every=0.3)["balance"]


def processes(docker_client):
    """The container's processes as `docker top NAME -eo pid,ppid,args` lists them: (pid, parent's pid, command)."""
    return [tuple(row) for row in docker_client.api.top(NAME, ps_args="-eo pid,ppid,args")["Processes"]]


def api_master(docker_client):
    """The pid of gunicorn's master: supervisord's child running gunicorn (its workers are the master's)."""
    listed = processes(docker_client)
    supervisord = next(pid for pid, _, command in listed if "supervisord" in command)
    return next(pid for pid, parent, command in listed if parent == supervisord and "gunicorn" in command)


def api_status(docker_client):
    return docker_client.containers.get(NAME).exec_run(["supervisorctl", "status", "api"]).output.decode()


def test_part_7_monolith_by_buttons(app, client, docker_client, monolith):
    assert "There is no image wallet" in assert_fails(client, LESSON, "build")
    build_by_button(app, client, LESSON)
    assert "The engine has wallet" in assert_passes(client, LESSON, "build")
    labels = docker_client.api.inspect_image(TAG)["Config"]["Labels"]
    assert labels[LESSON_LABEL] == LESSON

    assert assert_fails(client, LESSON, "run") == "Container wallet is not running with a published port."
    container_id = done(client, LESSON, "run").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", container_id)
    assert docker_client.api.port(NAME, 80)[0]["HostPort"] == str(PORT)
    assert f"http://127.0.0.1:{PORT}/ answers with 'Wallet'" in assert_passes(client, LESSON, "run")

    assert balance_answers() == 0
    assert assert_fails(client, LESSON, "buy") == "The balance is 0: 1 or more is what this step makes."
    bought = done(client, LESSON, "buy")
    assert re.fullmatch(r'\{"balance":1,"served_by":"[0-9a-f]{12}"\}\n', bought), bought
    assert assert_passes(client, LESSON, "buy") == "The balance is 1."

    assert done(client, LESSON, "supervisord") == (SHIPPED / "supervisord.conf").read_text()

    # The run started the four programs: top's check passes before its button, which lists them.
    assert check(client, LESSON, "top")[0] == "passed"
    listed = done(client, LESSON, "top")
    assert listed.splitlines()[0].split()[:3] == ["UID", "PID", "PPID"], listed
    for program in PROGRAMS:
        assert program in listed, (program, listed)
    assert "4 programs in one container" in assert_passes(client, LESSON, "top")

    logged = done(client, LESSON, "logs")
    assert "INFO spawned: 'api'" in logged, logged  # supervisord
    assert '"POST /buy HTTP/1.1" 200' in logged, logged  # gunicorn
    assert '"logger":"http' in logged, logged  # Caddy's JSON lines
    assert "database system is ready to accept connections" in logged, logged  # Postgres

    # The kill: the API was running before it too (once past supervisord's first second); after it, supervisord
    # starts it again.
    assert_passes(client, LESSON, "kill-api")
    before = api_master(docker_client)
    assert done(client, LESSON, "kill-api") == ""
    assert "printed 'RUNNING'" in assert_passes(client, LESSON, "kill-api")
    assert api_master(docker_client) != before
    assert balance_answers() == 1

    assert "running" in assert_fails(client, LESSON, "stop")
    assert done(client, LESSON, "stop") == ""
    assert assert_passes(client, LESSON, "stop") == "Container wallet has exited (code 0)."
    with pytest.raises(requests.ConnectionError):  # the page, the API and the database ended with it
        wallet("GET", "/balance")

    assert_fails(client, LESSON, "remove")
    assert done(client, LESSON, "remove").strip() == NAME
    assert_passes(client, LESSON, "remove")
    assert lesson_rows(docker_client) == []


def test_part_7_monolith_by_commands(app, docker_client, monolith):
    lesson = ByCommand(app, LESSON)

    assert f"-t {TAG} ." in lesson.shown("build")
    built = lesson.run("build")
    assert "Successfully tagged wallet" in built or "naming to" in built, built
    assert lesson.shown("run").endswith("docker run -d --name wallet -p 8100:80 wallet")
    assert re.fullmatch(r"[0-9a-f]{64}\n", lesson.run("run"))
    assert balance_answers() == 0

    assert lesson.shown("buy") == "curl -sS --max-time 10 --fail-with-body -X POST http://localhost:8100/api/buy"
    assert lesson.run("buy").startswith('{"balance":1,')
    assert lesson.shown("supervisord").endswith("cat supervisord.conf")
    assert lesson.run("supervisord") == (SHIPPED / "supervisord.conf").read_text()
    assert lesson.shown("top") == "docker top wallet"
    listed = lesson.run("top", before=False)
    assert all(program in listed for program in PROGRAMS), listed
    assert '"POST /buy HTTP/1.1" 200' in lesson.run("logs")
    assert lesson.shown("kill-api") == "docker exec wallet pkill -f gunicorn"
    lesson.run("kill-api", before=False)
    assert balance_answers() == 1
    assert lesson.shown("stop") == "docker exec wallet kill 1"
    lesson.run("stop")
    assert lesson.run("remove").strip() == NAME
    assert lesson_rows(docker_client) == []
    lesson.finished()


def test_port_8100_taken_is_a_clear_message_and_the_command_fails_too(app, client, docker_client, wallet_image):
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", PORT))
        squatter.listen()
        response = press(client, LESSON, "run")
        assert response.status_code == 409, response.text
        assert f"Host port {PORT} is already in use: choose another one." in response.text
        assert lesson_rows(docker_client) == []  # refused before anything was made

        # The same command in bash fails with the engine's words, and leaves the container it created.
        result = shell(ByCommand(app, LESSON).shown("run"))
        assert result.returncode != 0
        assert "address already in use" in result.stderr or "port is already allocated" in result.stderr, \
            result.stderr
        # ... and leaves the container it created, as the step's text says: `docker rm wallet` removes it.
        assert [row["State"] for row in lesson_rows(docker_client)] == ["created"]
    state, reason = check(client, LESSON, "run")
    assert state == "failed" and "wallet is not running" in reason, reason
    assert shell("docker rm wallet").returncode == 0
    assert lesson_rows(docker_client) == []


def test_gunicorn_killed_comes_back_and_the_balance_is_kept(client, docker_client, wallet_image):
    done(client, LESSON, "run")
    balance_answers()
    for _ in range(2):
        assert wallet("POST", "/buy").status_code == 200
    started = docker_client.api.inspect_container(NAME)["State"]["StartedAt"]

    for round_ in range(2):  # and again: supervisord keeps starting it
        before = api_master(docker_client)
        done(client, LESSON, "kill-api")
        wait_until(lambda: "RUNNING" in api_status(docker_client), "supervisord starting the API again")
        assert api_master(docker_client) != before, round_
        assert balance_answers() == 2
    # The container itself never stopped: the engine saw nothing.
    attrs = docker_client.api.inspect_container(NAME)
    assert attrs["State"]["Running"] and attrs["State"]["StartedAt"] == started and attrs["RestartCount"] == 0
    assert "spawned: 'api'" in docker_client.api.logs(NAME).decode()


def test_the_api_answers_503_while_its_database_is_down(client, docker_client, wallet_image):
    """supervisord starts the API without waiting for Postgres (supervisord.conf says so): while the database does
    not answer, the API says so with a 503 through the proxy, never a 500; once it is back, the balance is there."""
    done(client, LESSON, "run")
    balance_answers()
    assert wallet("POST", "/buy").status_code == 200
    container = docker_client.containers.get(NAME)
    exit_code, output = container.exec_run(["supervisorctl", "stop", "postgres"])
    assert exit_code == 0 and "postgres: stopped" in output.decode(), output
    for method, path in (("GET", "/balance"), ("POST", "/buy"), ("POST", "/sell")):
        answer = wallet(method, path)
        assert answer.status_code == 503, (path, answer.status_code, answer.text)
        assert answer.json()["error"].startswith("the database does not answer: "), answer.text
    assert container.exec_run(["supervisorctl", "start", "postgres"]).exit_code == 0
    assert balance_answers() == 1


def test_an_exec_check_whose_program_says_starting_with_exit_0_is_starting(app, docker_client, wallet_image, client):
    """`supervisorctl status api` exits 0 while the API is STARTING (supervisord counts it as up): the kill step's
    check then says starting, not failed, as it does for a program that exits non-zero while starting."""
    done(client, LESSON, "run")
    lesson = app.extensions["catalog"].get(LESSON)
    step_check = lesson.step("kill-api").check
    with app.app_context():
        def said(output):
            asked = replace(step_check, command=("sh", "-c", f"printf '%s\\n' '{output}'"))
            return evaluate_check(lesson, asked)

        starting = said("api                              STARTING  ")
        assert (starting.state, starting.reason) == (STARTING, "`sh -c printf '%s\\n' 'api                     "
                                                                "         STARTING  '` in wallet: still starting "
                                                                "(api                              STARTING).")
        assert said("api                              RUNNING   pid 8, uptime 0:00:03").state == PASSED
        assert said("api                              FATAL     Exited too quickly").state == FAILED


def test_stopping_pid_1_ends_the_whole_container(client, docker_client, wallet_image):
    """`supervisorctl shutdown`, as the stop step's text says, does what `kill 1` does: supervisord stops its
    programs and ends, and the container with it; the page no longer answers, and an exec in it is refused."""
    done(client, LESSON, "run")
    balance_answers()
    exit_code, output = docker_client.containers.get(NAME).exec_run(["supervisorctl", "shutdown"])
    assert exit_code == 0 and "Shut down" in output.decode(), output
    wait_until(lambda: not docker_client.api.inspect_container(NAME)["State"]["Running"], "the container ending",
               timeout=60)
    assert docker_client.api.inspect_container(NAME)["State"]["ExitCode"] == 0
    logged = docker_client.api.logs(NAME).decode()
    for program in ("postgres", "api", "caddy"):
        assert f"stopped: {program}" in logged, (program, logged)
    assert assert_passes(client, LESSON, "stop") == "Container wallet has exited (code 0)."
    assert "not running" in assert_fails(client, LESSON, "run")
    with pytest.raises(requests.ConnectionError):
        wallet("GET", "/balance")
    refused = press(client, LESSON, "kill-api")
    assert refused.status_code == 409
    assert "Container wallet is not running" in refused.text


def test_the_lesson_loads_with_its_files():
    lesson = load_lesson(SHIPPED)
    assert lesson.id == LESSON and lesson.folder == "monolith"
    assert lesson.files == ("Dockerfile", "supervisord.conf", "Caddyfile", "api/app.py", "ui/index.html")
    assert lesson.builds == {TAG}
