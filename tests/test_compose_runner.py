"""dashboard/domain/compose.py: a compose step runs the real `docker compose`; where Compose v2 is missing (or the
docker CLI itself), the step is refused with what to do, never a traceback. These use a stand-in `docker` on PATH
to be a machine without the plugin; the lesson's own tests (test_lesson_compose.py) run the real one."""

import pytest

from dashboard.domain import compose
from dashboard.domain.errors import ToolMissing


@pytest.fixture
def docker_without_compose(tmp_path, monkeypatch):
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho \"docker: 'compose' is not a docker command.\" >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))


def test_without_the_compose_plugin_a_compose_step_says_how_to_get_it(docker_without_compose, tmp_path):
    with pytest.raises(ToolMissing, match="Compose v2 .* is not installed here: scripts/up installs it"):
        compose.run(tmp_path, ["up", "-d"])
    assert compose.version() is None


def test_without_the_docker_cli_a_compose_step_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(ToolMissing, match="The docker CLI is not installed here"):
        compose.run(tmp_path, ["ps"])


def test_compose_runs_in_the_folder_with_the_environment_added(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$@ in $(pwd) with BASE_IMAGE=$BASE_IMAGE"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    exit_code, output = compose.run(tmp_path, ["up", "-d"], {"BASE_IMAGE": "cowserv-base:bookworm"})
    assert (exit_code, output) == (0, f"compose up -d in {tmp_path} with BASE_IMAGE=cowserv-base:bookworm\n")
