"""compose.yaml: valid for Debian's docker-compose, and it really runs the dashboard against the host's engine; as
Compose v2 (`docker compose`) runs it too, with the lessons that run a stand-in image and Compose itself."""

import contextlib
import html
import os
import re
import secrets
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.support import csrf_of, page_hooks, wait_until
from tests.test_lesson_compose import API_TEXT, compose_lesson, web_page  # noqa: F401  (a fixture)
from tests.test_lesson_state import clean_state  # noqa: F401  (a fixture)

# Both engine passes (engine_specific): Compose (v1 and v2) against the engine.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]

ROOT = Path(__file__).resolve().parent.parent


def compose(*args, env=None, check=True, tool=("docker-compose",)):
    """compose.yaml run by Debian's docker-compose (1.29), or `tool` (("docker", "compose") for Compose v2)."""
    return subprocess.run(
        [*tool, "-f", str(ROOT / "compose.yaml"), *args],
        cwd=ROOT, env={**os.environ, "PWD": str(ROOT), **(env or {})},
        capture_output=True, text=True, timeout=900, check=check,
    )


TOKEN = "compose-test-token"


def test_compose_file_is_valid():
    result = compose("config", "-q", env={"DASHBOARD_INSTRUCTOR_TOKEN": TOKEN})
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_run_without_an_instructor_token():
    env = {key: value for key, value in os.environ.items() if key != "DASHBOARD_INSTRUCTOR_TOKEN"}
    result = subprocess.run(["docker-compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"], cwd=ROOT,
                            env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "set DASHBOARD_INSTRUCTOR_TOKEN" in result.stderr


@contextlib.contextmanager
def deployed(port, env, tool=("docker-compose",)):
    """The dashboard as compose.yaml runs it, on a free loopback port, under a project name of its own; taken down
    with its volume afterwards (its image, cowserv-dashboard:latest, stays: the next build reuses its layers)."""
    subprocess.run([str(ROOT / "scripts" / "wheels")], check=True, capture_output=True, timeout=600)
    project = f"test-{uuid.uuid4().hex[:8]}"
    env = {"DASHBOARD_PORT": str(port), **env}
    try:
        started = compose("-p", project, "up", "-d", "--build", env=env, tool=tool, check=False)
        assert started.returncode == 0, started.stdout + started.stderr
        yield f"http://127.0.0.1:{port}", project
    finally:
        compose("-p", project, "down", "--volumes", "--remove-orphans", env=env, tool=tool, check=False)


@pytest.fixture
def composed_dashboard(free_port):
    with deployed(free_port, {"DASHBOARD_INSTRUCTOR_TOKEN": TOKEN}) as deployment:
        yield deployment


def sign_in(url, token):
    """A session signed in as the instructor through the form, as the host's browser would; and its CSRF token."""
    instructor = requests.Session()
    csrf = csrf_of(instructor.get(f"{url}/signin", timeout=5).text)
    signed_in = instructor.post(f"{url}/signin", data={"token": token, "csrf_token": csrf}, timeout=5)
    assert "Sign out" in signed_in.text
    return instructor, csrf_of(signed_in.text)  # signing in gives a fresh token


def wait_healthy(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = requests.get(f"{url}/healthz", timeout=2)
            if response.status_code == 200:
                return response
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url}/healthz never answered 200")


def test_compose_runs_the_dashboard_on_the_hosts_engine(composed_dashboard, docker_client):
    url, project = composed_dashboard
    assert wait_healthy(url).json()["engine"] == "reachable"

    build_command = page_hooks(requests.get(url, timeout=5).text)[0][0]
    # The workshop folder is mounted at its host path (a folder under /tmp, from conftest), so the command shown is
    # true on the host, and the lesson's files are there.
    workshop = os.environ["DASHBOARD_WORKSHOP_DIR"]
    assert build_command.startswith(f"cd {workshop}/images && docker build")
    assert (Path(workshop) / "images" / "Dockerfile").is_file()

    instructor, csrf = sign_in(url, TOKEN)

    [own] = docker_client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
    response = instructor.delete(f"{url}/containers/{own.id}", timeout=10,
                                 headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    assert response.status_code == 404  # the dashboard's own container is not a lesson container
    own.reload()
    assert own.status == "running"


def test_the_compose_deployment_runs_the_state_and_compose_lessons(free_port, docker_client, clean_state,
                                                                   compose_lesson):
    """Started by Compose v2 with no DASHBOARD_POSTGRES_IMAGE (compose.yaml passes none unless set): the dashboard
    in its container finds the Postgres stand-in itself where postgres:16 is not here, runs the state lesson's
    first steps with it, and runs the compose lesson's `docker compose up -d` with the CLI and plugin its image
    carries, against the host's engine, in the workshop folder mounted at its host path."""
    have = {tag for image in docker_client.images.list() for tag in image.tags}
    postgres = "cowserv-postgres:bookworm" if "postgres:16" not in have and "cowserv-postgres:bookworm" in have \
        else "postgres:16"
    token = secrets.token_hex(16)
    env = {"DASHBOARD_INSTRUCTOR_TOKEN": token, "DASHBOARD_POSTGRES_IMAGE": ""}  # DASHBOARD_BASE_IMAGE: as set
    with deployed(free_port, env, tool=("docker", "compose")) as (url, _):
        assert wait_healthy(url).json()["engine"] == "reachable"
        instructor, csrf = sign_in(url, token)
        headers = {"HX-Request": "true", "X-CSRF-Token": csrf}

        page = html.unescape(instructor.get(f"{url}/lessons/state", timeout=10).text)
        assert f"-v pgdata:/var/lib/postgresql/data {postgres}" in page
        if postgres != "postgres:16":
            assert f'data-stand-in="postgres:16" data-stand-in-used="{postgres}"' in page
        for step in ("volume", "run"):
            response = instructor.post(f"{url}/lessons/state/steps/{step}", headers=headers, timeout=120)
            assert response.status_code == 200 and "Done:" in response.text, (step, response.text)
        assert docker_client.api.inspect_container("db")["Config"]["Image"] == postgres

        response = instructor.post(f"{url}/lessons/compose/steps/up", headers=headers, timeout=300)
        assert response.status_code == 200 and "Done:" in response.text, response.text
        assert re.search(r"Container compose-web-1\s+Started", html.unescape(response.text)), response.text
        wait_until(web_answers, "the compose lesson's web page answering", timeout=60, every=0.5)


def web_answers():
    """True once the compose lesson's web page (on the host's loopback) shows what it fetched from api."""
    try:
        return API_TEXT in web_page().text
    except requests.ConnectionError:
        return False
