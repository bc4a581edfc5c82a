"""compose.yaml: valid for Debian's docker-compose, and it really runs the dashboard against the host's engine."""

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import page_hooks

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parent.parent


def compose(*args, env=None, check=True):
    return subprocess.run(
        ["docker-compose", "-f", str(ROOT / "compose.yaml"), *args],
        cwd=ROOT, env={**os.environ, "PWD": str(ROOT), **(env or {})},
        capture_output=True, text=True, timeout=900, check=check,
    )


def test_compose_file_is_valid():
    result = compose("config", "-q")
    assert result.returncode == 0, result.stderr


@pytest.fixture
def composed_dashboard(free_port):
    """The dashboard as compose.yaml runs it, on a free loopback port, under a project name of its own."""
    subprocess.run([str(ROOT / "scripts" / "wheels")], check=True, capture_output=True, timeout=600)
    project = f"test-{uuid.uuid4().hex[:8]}"
    env = {"DASHBOARD_PORT": str(free_port)}
    try:
        compose("-p", project, "up", "-d", "--build", env=env)
        yield f"http://127.0.0.1:{free_port}", project
    finally:
        compose("-p", project, "down", "--remove-orphans", env=env, check=False)


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
    # The build context is mounted at its host path, so the command shown is true on the host.
    assert build_command.startswith(f"cd {ROOT / 'dashboard' / 'cowserv'} && docker build")

    [own] = docker_client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
    response = requests.delete(f"{url}/containers/{own.id}", headers={"HX-Request": "true"}, timeout=10)
    assert response.status_code == 404  # the dashboard's own container is not a tutorial container
    own.reload()
    assert own.status == "running"
