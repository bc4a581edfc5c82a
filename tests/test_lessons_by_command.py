"""The commands are true: parts 2, 3 and 4 of the workshop done by pasting each step's shown command, in order, into
bash (the `-it` step in a terminal), from an engine with none of the lesson's containers. Each step's check fails
right before its command and passes right after, as it does after the step's button.

The commands are made with place.home = this process's HOME, and bash runs with this process's environment, so a
`~` in them is the folder the app's workshop means. Containers of `running` and `realistic` (fixed names) are
force-removed before and after each test; the cowserv test removes only what it made.
"""

import os
import pty
import re
import select
import subprocess
import time

import pytest
import requests

from tests.support.lessons import (
    assert_fails_unless_another_answers,
    clean_lessons,  # noqa: F401  (a fixture)
    cowserv_app,  # noqa: F401  (a fixture)
    names,
)
from tests.support import HTMX, free_tcp_port, get_cow, page_hooks, shell, wait_until
from dashboard.domain import actions
from dashboard.domain.checks import FAILED, PASSED
from dashboard.web.views import evaluate_check, place_for

# Both engine passes (engine_specific): the shown commands, pasted into the docker CLI.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]

class ByCommand:
    """Walks a lesson's steps in order, each by its shown command pasted into bash, its check asked around it."""

    def __init__(self, app, lesson_id):
        self.app, self.client = app, app.test_client()
        self.lesson = app.extensions["catalog"].get(lesson_id)
        self.done = []

    def shown(self, step_id, host_port=None):
        """The step's command as the page shows it (the step's command preview, with the host port typed), which is
        actions.command for the lesson's place."""
        query = {"host_port": str(host_port)} if host_port is not None else {}
        response = self.client.get(f"/lessons/{self.lesson.id}/steps/{step_id}/command", query_string=query,
                                   headers=HTMX)
        assert response.status_code == 200, response.text
        [shown] = page_hooks(response.text)[0]
        with self.app.app_context():
            step = self.lesson.step(step_id)
            assert shown == actions.command(self.lesson, step.action, place_for(self.lesson), host_port)
        return shown

    def check(self, step_id):
        with self.app.app_context():
            return evaluate_check(self.lesson, self.lesson.step(step_id).check)

    def run(self, step_id, host_port=None, terminal=False, before=True):
        """Paste the step's command; its check fails before (with `before`) and passes after. (exit, output)."""
        step = self.lesson.step(step_id)
        assert [s.id for s in self.lesson.steps][len(self.done)] == step_id, "steps are pasted in order"
        self.done.append(step_id)
        command = self.shown(step_id, host_port)
        if step.check is not None and before:
            result = self.check(step_id)
            assert result.state == FAILED and result.reason, (step_id, result)
        if terminal:
            exit_code, output = in_terminal(command)
        else:
            ran = shell(command, env=dict(os.environ))
            exit_code, output = ran.returncode, ran.stdout + ran.stderr
        assert exit_code == 0, (command, output)
        if step.check is not None:
            def passed():
                result = self.check(step_id)
                return result if result.state == PASSED else None
            wait_until(passed, f"the check of {self.lesson.id}/{step_id} passing after its command", every=0.5)
        return output

    def finished(self):
        assert self.done == [step.id for step in self.lesson.steps]


def in_terminal(command, timeout=120):
    """Run the command in bash with a terminal (a pty as its stdin, stdout and stderr), as typed in one: (exit, what
    the terminal showed)."""
    master, slave = pty.openpty()
    process = subprocess.Popen(["bash", "-c", command], stdin=slave, stdout=slave, stderr=slave,
                               start_new_session=True, env=dict(os.environ))
    os.close(slave)
    shown, deadline = b"", time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"{command!r} did not end within {timeout} s: {shown!r}")
            if select.select([master], [], [], 0.5)[0]:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: every process holding the terminal has ended
                    break
                if not data:
                    break
                shown += data
    finally:
        os.close(master)
    return process.wait(timeout=30), shown.decode(errors="replace")


def test_part_2_running_containers_by_commands(app, docker_client, clean_lessons):
    lesson = ByCommand(app, "running")

    assert lesson.run("hello") == "Hello from a container\n"
    listed = lesson.run("ps")
    assert listed.startswith("CONTAINER ID") and "hello" not in listed
    assert re.search(r"Exited \(0\).*\bhello$", lesson.run("ps-all"), re.M)

    ticker_id = lesson.run("detached").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", ticker_id)
    wait_until(lambda: docker_client.api.logs(ticker_id).strip(), "the ticker's first date")
    assert re.search(r"\d\d:\d\d:\d\d", lesson.run("logs"))
    assert lesson.run("stop").split() == ["ticker", "ticker"]
    assert lesson.run("rm").strip() == "hello"
    assert names(docker_client, "running") == set()

    assert lesson.run("rm-flag").strip() == "Gone when done"
    assert names(docker_client, "running") == set()

    command = lesson.shown("interactive")
    assert command.startswith("docker run -it --rm ")
    shown = lesson.run("interactive", terminal=True)
    assert re.search(r"inside [0-9a-f]{12}\r\n", shown), shown  # \r\n: it ran on a terminal
    assert "NAME=" in shown
    assert names(docker_client, "running") == set()
    lesson.finished()


def test_the_interactive_command_needs_its_terminal(app, clean_lessons):
    """Without a terminal the same `-it` command is refused: the test above did give it one."""
    ran = shell(ByCommand(app, "running").shown("interactive"), env=dict(os.environ), stdin=subprocess.DEVNULL)
    assert ran.returncode != 0
    assert "TTY" in ran.stderr or "terminal" in ran.stderr, ran.stderr


def test_part_3_cowserv_by_commands(cowserv_app, docker_client, created, free_port):
    lesson = ByCommand(cowserv_app, "cowserv")

    assert cowserv_app.tag in lesson.shown("build")
    built = lesson.run("build")
    assert "Successfully tagged" in built or "naming to" in built, built

    # The run's check asks any running cowserv container: it fails first unless another test's container answers.
    before = lesson.check("run")
    assert_fails_unless_another_answers(docker_client, before.state, before.reason)
    command = lesson.shown("run", free_port)
    assert f"-p {free_port}:8000 {cowserv_app.tag}" in command
    container_id = lesson.run("run", free_port, before=False).strip()
    created(container_id)
    assert re.fullmatch(r"[0-9a-f]{64}", container_id)
    assert "^__^" in get_cow(free_port).text
    lesson.finished()


def test_part_4_realistic_dockerfile_by_commands(app, docker_client, clean_lessons, free_port):
    lesson, live_port = ByCommand(app, "realistic"), free_tcp_port()

    lesson.run("build")
    lesson.run("run", free_port)
    assert "Hello from the image" in get_cow(free_port).text
    assert re.search(r"\bindex\.html$", lesson.run("exec"), re.M)
    requests.get(f"http://127.0.0.1:{free_port}/", timeout=5)
    assert '"GET / HTTP/1.1" 200' in lesson.run("logs")  # http.server logs on stderr: docker logs shows it there
    assert lesson.run("remove").strip() == "website"

    assert '-v "$(pwd)":/site' in lesson.shown("live", live_port)
    lesson.run("live", live_port)
    assert "Hello from the image" in get_cow(live_port).text

    assert lesson.shown("edit").startswith("cat > ")
    lesson.run("edit")
    served = requests.get(f"http://127.0.0.1:{live_port}/", timeout=5).text
    assert "Edited live, no rebuild" in served
    with app.app_context():
        assert "Edited live" in (place_for(lesson.lesson).folder / "index.html").read_text()

    assert lesson.run("clean").strip() == "website-live"
    assert names(docker_client, "realistic") == set()
    lesson.finished()
