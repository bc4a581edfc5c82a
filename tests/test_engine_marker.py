"""The `engine` marker stays honest: a test not marked `engine` runs with DOCKER_HOST at a tripwire where no engine
answers, and fails if it reaches for one, even when it swallows the error; so `pytest -m "not engine"` needs none."""

import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from tests.support.engine import Tripwire

ROOT = Path(__file__).resolve().parents[1]

REACHES = '''
import docker

def test_reaches_and_swallows_the_error():
    try:
        docker.from_env().ping()
    except docker.errors.DockerException:
        pass

def test_stays_off_the_engine():
    assert 1 + 1 == 2
'''


def test_a_test_not_marked_engine_sees_the_tripwire(tripwire):
    assert os.environ["DOCKER_HOST"] == tripwire.docker_host


def test_the_tripwire_counts_each_reach_and_answers_nothing(tmp_path):
    wire = Tripwire(tmp_path / "docker.sock")
    try:
        with pytest.raises(docker.errors.DockerException):
            docker.DockerClient(base_url=wire.docker_host, timeout=5)  # asks the engine its API version
        assert wire.connections >= 1
    finally:
        wire.close()


def test_an_unmarked_test_that_reaches_the_engine_fails_saying_so(tmp_path):
    (tmp_path / "test_reach.py").write_text(REACHES)
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
                          "-c", os.devnull, "--rootdir", str(tmp_path), str(tmp_path / "test_reach.py")],
                         cwd=ROOT, env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
                         capture_output=True, text=True, timeout=120)
    assert "2 passed, 1 error" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
    assert "this test reached for the Docker engine" in run.stdout
    assert "ERROR at teardown of test_reaches_and_swallows_the_error" in run.stdout
