"""compose.yaml: valid for Debian's docker-compose, and it really runs the dashboard against the host's engine."""

import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.support import page_hooks

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parent.parent


def compose(*args, env=None, check=True):
    return subprocess.run(
        ["docker-compose", "-f", str(ROOT / "compose.yaml"), *args],
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


@pytest.fixture
def composed_dashboard(free_port):
    """The dashboard as compose.yaml runs it, on a free loopback port, under a project name of its own."""
    subprocess.run([str(ROOT / "scripts" / "wheels")], check=True, capture_output=True, timeout=600)
    project = f"test-{uuid.uuid4().hex[:8]}"
    env = {"DASHBOARD_PORT": str(free_port), "DASHBOARD_INSTRUCTOR_TOKEN": TOKEN}
    try:
        compose("-p", project, "up", "-d", "--build", env=env)
        yield f"http://127.0.0.1:{free_port}", project
    finally:
        compose("-p", project, "down", "--volumes", "--remove-orphans", env=env, check=False)


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

    instructor = requests.Session()
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', instructor.get(f"{url}/signin", timeout=5).text)[1]
    signed_in = instructor.post(f"{url}/signin", data={"token": TOKEN, "csrf_token": csrf}, timeout=5)
    assert "Sign out" in signed_in.text
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', signed_in.text)[1]  # signing in gives a fresh token

    [own] = docker_client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
    response = instructor.delete(f"{url}/containers/{own.id}", timeout=10,
                                 headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    assert response.status_code == 404  # the dashboard's own container is not a tutorial container
    own.reload()
    assert own.status == "running"
