"""Part 6 of the workshop, Compose, on the real engine with the real Compose v2 (`docker compose`, the CLI plugin
scripts/install-compose installs): by its buttons (each check fails before its step and passes after), the two
services finding each other by name, by its shown commands pasted in order into bash, and the bad inputs (`up -d`
twice, `down` with nothing up, a compose step in a lesson without compose.yaml among its files).

The lesson's project is `compose` (its containers compose-api-1 and compose-web-1, its network compose_default),
and `web` publishes the host's port 8090, as the shipped compose.yaml says: each test asserts the port is free
first. Before and after each test the project is taken down (`docker compose -p compose down --remove-orphans` in
the workshop's folder), every container labelled classroom.lesson=compose is force-removed, and the lesson's files
are restored as shipped.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import docker
import pytest
import requests

from tests.support import HTMX, image_in_use, page_hooks, shell, wait_until
from tests.support.engine import LESSON_LABEL
from tests.test_lessons_by_button import assert_fails, assert_passes, check, done, output, press
from tests.test_lessons_by_command import ByCommand
from dashboard.domain.lessons import LESSON_FILE, LessonError, load_lesson
from dashboard.domain.ports import host_port_free
from dashboard.web.views import place_for

# Both engine passes (engine_specific): Compose v2 against the engine.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]

LESSON = "compose"
WEB_PORT = 8090  # compose.yaml's `ports: ["8090:8000"]`
API_TEXT = "Hello from the api service, found by its name."  # api/index.html, as shipped
CONTAINERS = {"compose-api-1", "compose-web-1"}
NETWORK = "compose_default"
SHIPPED = os.path.join(os.path.dirname(__file__), os.pardir, "dashboard", "lessons", "06-compose")


def lesson_rows(docker_client):
    return docker_client.api.containers(all=True, filters={"label": f"{LESSON_LABEL}={LESSON}"})


def names(docker_client):
    return {name.lstrip("/") for row in lesson_rows(docker_client) for name in row["Names"]}


def network_there(docker_client):
    return any(network["Name"] == NETWORK for network in docker_client.api.networks(names=[NETWORK]))


@pytest.fixture
def compose_lesson(app, docker_client):
    """The lesson's workshop folder, holding the shipped files, its project down, no container of it, and the
    port its web service publishes free; the same again afterwards."""
    lesson = app.extensions["catalog"].get(LESSON)
    assert lesson is not None, app.extensions["catalog"].errors
    with app.app_context():
        folder = place_for(lesson).folder

    def clean():
        for row in lesson_rows(docker_client):
            try:
                docker_client.api.remove_container(row["Id"], force=True)
            except docker.errors.NotFound:
                pass
        app.extensions["workshop"].restore(lesson)
        down = subprocess.run(["docker", "compose", "-p", LESSON, "down", "--remove-orphans"], cwd=folder,
                              capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stdout + down.stderr

    clean()
    assert names(docker_client) == set() and not network_there(docker_client)
    assert host_port_free(WEB_PORT), f"the lesson's web port {WEB_PORT} is in use here: free it to run these tests"
    yield folder
    clean()


def web_page():
    return requests.get(f"http://127.0.0.1:{WEB_PORT}/", timeout=10)


def test_part_6_compose_by_buttons(app, client, docker_client, compose_lesson):
    reason = assert_fails(client, LESSON, "up")
    assert reason == "Container compose-web-1 is not running with a published port.", reason
    started = done(client, LESSON, "up")
    assert re.search(r"Container compose-web-1\s+Started", started), started
    assert "Network compose_default" in started
    assert "http://127.0.0.1:8090/ answers with 'Hello from the api service'" in assert_passes(client, LESSON, "up")
    assert names(docker_client) == CONTAINERS
    rows = lesson_rows(docker_client)
    assert all(row["Labels"]["com.docker.compose.project"] == LESSON for row in rows)
    base = image_in_use(app, "python:3.12-slim")
    assert {row["Image"] for row in rows} == {base}  # the stand-in, through BASE_IMAGE, where one is in use
    # The lesson's page lists both: they carry the lesson's label.
    page = client.get(f"/lessons/{LESSON}")
    assert page.status_code == 200
    assert {row["Id"] for row in rows} <= set(page_hooks(page.text)[1])

    listed = done(client, LESSON, "ps")
    assert listed.splitlines()[0].split()[:2] == ["NAME", "IMAGE"], listed
    assert re.search(r"^compose-web-1\s.*\bweb\b.*0\.0\.0\.0:8090->8000/tcp", listed, re.M), listed
    assert re.search(r"^compose-api-1\s.*\bapi\b", listed, re.M), listed

    web_page()  # one more request for each service's log
    logged = done(client, LESSON, "logs")
    assert "\x1b" not in logged  # Compose's line-erasing control sequences are not shown as text
    assert re.search(r"^web-1\s+\| .*\"GET / HTTP/1\.[01]\" 200", logged, re.M), logged
    assert re.search(r"^api-1\s+\| .*\"GET / HTTP/1\.[01]\" 200", logged, re.M), logged

    assert assert_fails(client, LESSON, "down") == "Still there: compose-api-1, compose-web-1."
    removed = done(client, LESSON, "down")
    assert re.search(r"Container compose-web-1\s+Removed", removed), removed
    assert re.search(r"Network compose_default\s+Removed", removed), removed
    assert assert_passes(client, LESSON, "down") == "No container of this lesson is left."
    assert names(docker_client) == set() and not network_there(docker_client)
    assert host_port_free(WEB_PORT)


def test_the_services_find_each_other_by_name(client, docker_client, compose_lesson):
    done(client, LESSON, "up")
    assert_passes(client, LESSON, "up")
    page = web_page()
    assert page.status_code == 200
    assert f"It asked http://api:8000/ and got:</p>\n<pre>{API_TEXT}</pre>" in page.text

    # api publishes no port: web reaches it on the project's network only, where its name is its address.
    api = docker_client.api.inspect_container("compose-api-1")
    assert not any(api["NetworkSettings"]["Ports"].get("8000/tcp") or [])
    api_address = api["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]
    resolved = docker_client.containers.get("compose-web-1").exec_run(
        ["python3", "-c", "import socket; print(socket.gethostbyname('api'))"])
    assert (resolved.exit_code, resolved.output.decode().strip()) == (0, api_address)

    # web asks api on every request: a new text in api's folder (bind-mounted) is on web's page at once.
    (compose_lesson / "api" / "index.html").write_text("A new answer from api\n")
    assert "<pre>A new answer from api</pre>" in web_page().text
    # The step's check is worded against what web serves: api's file as it is now, changed from the lesson's own.
    (compose_lesson / "api" / "index.html").write_text("Answers <b>& more</b> from api\n")  # web escapes it
    reason = assert_passes(client, LESSON, "up")
    assert reason == (f"http://127.0.0.1:{WEB_PORT}/ answers with api/index.html as it is in {compose_lesson} now, "
                      "changed from the lesson's own ('Restore this lesson's files' brings back "
                      "'Hello from the api service').")


def test_part_6_compose_by_commands(app, docker_client, compose_lesson):
    lesson = ByCommand(app, LESSON)
    shown = lesson.shown("up")
    base = image_in_use(app, "python:3.12-slim")
    assert shown == f"cd {compose_lesson} && " + (f"BASE_IMAGE={base} " if base != "python:3.12-slim" else "") + \
        "docker compose up -d"

    started = lesson.run("up")
    assert re.search(r"Container compose-web-1\s+Started", started), started
    assert names(docker_client) == CONTAINERS
    assert API_TEXT in web_page().text

    listed = lesson.run("ps")
    assert re.search(r"^compose-web-1\s.*0\.0\.0\.0:8090->8000/tcp", listed, re.M), listed
    assert re.search(r"^compose-api-1\s", listed, re.M), listed
    logged = lesson.run("logs")
    assert re.search(r"web-1\s+\| .*\"GET / HTTP", logged), logged
    assert re.search(r"api-1\s+\| .*\"GET / HTTP", logged), logged

    removed = lesson.run("down")
    assert re.search(r"Network compose_default\s+Removed", removed), removed
    assert names(docker_client) == set() and not network_there(docker_client)
    lesson.finished()


def test_up_twice_changes_nothing(client, docker_client, compose_lesson):
    done(client, LESSON, "up")
    first = {row["Id"] for row in lesson_rows(docker_client)}
    again = done(client, LESSON, "up")
    assert re.search(r"Container compose-web-1\s+Running", again), again
    assert "Created" not in again and "Recreate" not in again, again
    assert {row["Id"] for row in lesson_rows(docker_client)} == first and len(first) == 2
    assert names(docker_client) == CONTAINERS
    assert_passes(client, LESSON, "up")


def test_down_with_nothing_up_succeeds_and_removes_nothing(client, docker_client, compose_lesson):
    response = press(client, LESSON, "down")
    assert response.status_code == 200, response.text
    assert "Done: Stop and remove everything." in response.text
    if "Done; it printed nothing." not in response.text:  # Compose 2.26 prints nothing; others warn
        assert "No resource found to remove" in output(response), output(response)
    state, reason = check(client, LESSON, "down")
    assert (state, reason) == ("passed", "No container of this lesson is left.")
    # The same from bash: it exits 0 and removes nothing.
    ran = shell(ByCommand(client.application, LESSON).shown("down"), env=dict(os.environ))
    assert ran.returncode == 0, ran.stderr
    assert "Removed" not in ran.stdout + ran.stderr


def test_a_compose_step_without_compose_yaml_among_the_files_is_refused(tmp_path):
    folder = tmp_path / "06-compose"
    shutil.copytree(SHIPPED, folder)
    path = folder / LESSON_FILE
    text = path.read_text()
    path.write_text(text.replace('files = ["compose.yaml", ', "files = ["))
    expected = f"{path}, step 'up', field 'action.command': a compose step needs compose.yaml among the lesson's files"
    with pytest.raises(LessonError) as refused:
        load_lesson(folder)
    assert str(refused.value) == expected
    checked = subprocess.run([sys.executable, "-m", "dashboard.lessons", "check", str(folder)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 1
    assert checked.stderr == f"refused: {expected}\n"


def test_the_shipped_compose_file_takes_its_image_from_base_image():
    """Where no registry answers, the stand-in reaches Compose as BASE_IMAGE: both services run it, none is built,
    each carries the lesson's label, and only web publishes a port (as read by Compose itself)."""
    def config(**env):
        environment = {key: value for key, value in os.environ.items() if key != "BASE_IMAGE"} | env
        ran = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=SHIPPED, env=environment,
                             capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
        return json.loads(ran.stdout)

    for env, image in (({}, "python:3.12-slim"), ({"BASE_IMAGE": "cowserv-base:bookworm"}, "cowserv-base:bookworm")):
        project = config(**env)
        assert project["name"] == LESSON
        services = project["services"]
        assert set(services) == {"api", "web"}
        for service in services.values():
            assert service["image"] == image and "build" not in service
            assert service["labels"] == {LESSON_LABEL: LESSON}
        assert "ports" not in services["api"]
        assert [(port["published"], port["target"]) for port in services["web"]["ports"]] == [(str(WEB_PORT), 8000)]
