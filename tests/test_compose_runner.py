"""dashboard/domain/compose.py: a compose step runs the real `docker compose`; where Compose v2 is missing (or the
docker CLI itself), the step is refused with what to do, never a traceback. These use a stand-in `docker` on PATH
to be a machine without the plugin; the lesson's own tests (test_lesson_compose.py) run the real one."""

import os
import signal
import threading

import pytest

from tests.support import wait_until
from dashboard.domain import compose
from dashboard.domain.errors import EngineError, ToolMissing


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


def fake_docker(tmp_path, monkeypatch, script):
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n" + script)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")


def test_each_line_is_given_as_it_comes_before_compose_ends(tmp_path, monkeypatch):
    """The second line is printed only once the first was seen: a run that gave its lines at its end only would
    wait for ever (here: until its timeout)."""
    fake_docker(tmp_path, monkeypatch, 'echo "#1 [app 1/2] FROM base"\n'
                                       'while [ ! -e seen ]; do sleep 0.05; done\n'
                                       'echo "#2 [app 2/2] RUN echo hi" >&2\n')
    seen = []

    def on_line(text):
        seen.append(text)
        (tmp_path / "seen").touch()

    exit_code, output = compose.run(tmp_path, ["build"], timeout=20, on_line=on_line)
    assert exit_code == 0
    assert seen == ["#1 [app 1/2] FROM base", "#2 [app 2/2] RUN echo hi"]  # stderr too, in the order printed
    assert output == "#1 [app 1/2] FROM base\n#2 [app 2/2] RUN echo hi\n"


def test_a_line_redrawn_in_place_is_shown_as_a_terminal_leaves_it(tmp_path, monkeypatch):
    fake_docker(tmp_path, monkeypatch, r"printf 'Sending build context to Docker daemon  2B\r\r\n\033[2Kweb-1  | hi\n'")
    assert compose.run(tmp_path, ["build"]) == (0, "Sending build context to Docker daemon  2B\nweb-1  | hi\n")


def test_a_run_past_its_time_is_ended_and_said_so(tmp_path, monkeypatch):
    fake_docker(tmp_path, monkeypatch, "echo started\nexec sleep 30\n")
    with pytest.raises(EngineError, match=r"`docker compose up --build` did not end within 1 s"):
        compose.run(tmp_path, ["up", "--build"], timeout=1)


@pytest.mark.parametrize("words, builds", [
    (["up", "-d", "--build"], True), (["build"], True), (["build", "api"], True), (["up", "-d"], False),
    (["ps"], False), (["logs", "--tail", "10"], False), (["down", "-v"], False)])
def test_the_commands_that_build_are_told_apart(words, builds):
    assert compose.builds(words) is builds


def test_a_run_past_its_time_is_ended_with_the_children_holding_its_output(tmp_path, monkeypatch):
    """A child Compose started that still holds the pipe (a build's helper) is ended too, so the reading stops:
    ending Compose alone would leave the run reading until the child's 600 s are over."""
    fake_docker(tmp_path, monkeypatch, "echo started\nsleep 600 &\necho $! > child\nwait\n")
    raised = []
    running = threading.Thread(target=lambda: raised.append(pytest.raises(EngineError, compose.run, tmp_path,
                                                                          ["up", "--build"], timeout=1)))
    running.start()
    try:
        running.join(30)
        assert not running.is_alive(), "the run still reads the pipe a child of Compose holds"
        assert "did not end within 1 s" in str(raised[0].value)
        child = int((tmp_path / "child").read_text())
        wait_until(lambda: not _alive(child), "the child ended with Compose", timeout=5, every=0.05)
    finally:
        if (tmp_path / "child").exists() and _alive(int((tmp_path / "child").read_text())):
            os.kill(int((tmp_path / "child").read_text()), signal.SIGKILL)
        running.join(5)


def _alive(pid):
    """Whether the process runs (a zombie waiting for its parent counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
