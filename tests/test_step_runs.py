"""A compose step that builds (`up --build`, `build`) pressed by the instructor runs in the background, one at a
time, on the real engine with the real Compose: the press answers at once, the step's status shows the output as
it comes (BuildKit's `#N` lines, or the classic builder's `Step N/M`) and where the build is, then the usual run,
its check and its transcript entry; a press while it runs joins it, another step meanwhile works, and a failing
build shows its error.

Each test makes a lesson of its own (a unique id, so its compose project, containers and image are its own):
a compose.yaml building a small Dockerfile on the base image, whose RUN steps print and sleep. What it made is
taken down afterwards, pass or fail.
"""

import html
import re
import subprocess
import threading
import time
import uuid

import pytest

from tests.support import HTMX, wait_until
from tests.test_lessons_by_button import check, press
from dashboard import create_app
from dashboard.domain import step_runs
from dashboard.domain.checks import Ran
from dashboard.web.views import place_for

pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]

DOCKERFILE = """\
ARG BASE_IMAGE=python:3.12-slim
FROM ${{BASE_IMAGE}}
RUN echo "first of {token}" && sleep 2
RUN echo "second of {token}" && sleep 2{failing}
RUN echo "third of {token}" && sleep 1
LABEL classroom.lesson="{lesson}"
"""

COMPOSE = """\
name: {lesson}
services:
  app:
    build:
      context: .
      args: {{BASE_IMAGE: "${{BASE_IMAGE:-python:3.12-slim}}"}}
    command: ["sleep", "infinity"]
    init: true
    labels: [classroom.lesson={lesson}]
"""

LESSON = """\
id = "{lesson}"
title = "A slow build"
intro = "A compose project whose build takes a few seconds."
folder = "{lesson}"
files = ["compose.yaml", "Dockerfile"]

[[steps]]
id = "up"
title = "Build and start it"
text = "Builds the image, then starts its container."
action = {{ kind = "compose", command = ["up", "-d", "--build"] }}
check = {{ kind = "running", container = "{lesson}-app-1" }}

[[steps]]
id = "build"
title = "Build it again"
text = "Builds the image only."
action = {{ kind = "compose", command = ["build"] }}

[[steps]]
id = "ps"
title = "List it"
text = "Lists the project's containers."
action = {{ kind = "compose", command = ["ps"] }}
"""


def write_slow_lesson(lessons, failing=False):
    """A lesson of its own in the folder `lessons`, whose compose build prints and sleeps (a few seconds); its id."""
    lesson_id = f"progress-{uuid.uuid4().hex[:8]}"
    source = lessons / "01-slow"
    source.mkdir(parents=True)
    (source / "lesson.toml").write_text(LESSON.format(lesson=lesson_id))
    (source / "compose.yaml").write_text(COMPOSE.format(lesson=lesson_id))
    (source / "Dockerfile").write_text(DOCKERFILE.format(
        token=lesson_id, lesson=lesson_id, failing=' && echo "it breaks here" && exit 3' if failing else ""))
    return lesson_id


def take_down(docker_client, lesson_id, folder):
    """The lesson's project down, its image and containers gone."""
    subprocess.run(["docker", "compose", "-p", lesson_id, "down", "--rmi", "local", "--remove-orphans"],
                   cwd=folder, capture_output=True, timeout=120)
    for row in docker_client.api.containers(all=True, filters={"label": f"classroom.lesson={lesson_id}"}):
        docker_client.api.remove_container(row["Id"], force=True)


@pytest.fixture
def slow(tmp_path, docker_client):
    """Makes the test's apps, each on a slow lesson; afterwards what each made is gone."""
    made = []

    def make(failing=False):
        root = tmp_path / str(len(made))
        lesson_id = write_slow_lesson(root / "lessons", failing)
        app = create_app({"TESTING": True, "LESSONS_DIR": str(root / "lessons"), "WORKSHOP_DIR": str(root / "workshop"),
                          "TRANSCRIPT_PATH": str(root / "t.sqlite3")})
        assert app.extensions["catalog"].ids == [lesson_id], app.extensions["catalog"].errors
        app.lesson_id = lesson_id
        made.append(app)
        return app

    yield make
    for app in made:
        runner = app.extensions["step_runner"]
        if runner.running:  # a failing test left it running: it ends within its build's few seconds
            wait_until(lambda: not runner.running, "the run to end", timeout=300, every=0.5)
        with app.test_request_context():
            folder = place_for(app.extensions["catalog"].get(app.lesson_id)).folder
        take_down(docker_client, app.lesson_id, folder)


def status(client, lesson_id, step_id):
    """The step's status fragment as a page swaps it in: (running, stage, output, the whole fragment)."""
    response = client.get(f"/lessons/{lesson_id}/steps/{step_id}", headers=HTMX)
    assert response.status_code == 200, response.text
    text = response.text
    stage = re.search(r"<code data-stage>(.*?)</code>", text, re.S)
    output = re.search(r'<pre class="output" data-step-output[^>]*>(.*?)</pre>', text, re.S)
    return ('data-running="true"' in text, stage and html.unescape(stage[1]), output and html.unescape(output[1]),
            text)


def ended(client, lesson_id, step_id, timeout=300):
    """The step's status once its run ended: (output, the whole fragment)."""
    def over():
        running, _, output, text = status(client, lesson_id, step_id)
        return None if running else (output or "", text)
    return wait_until(over, f"the run of {step_id} to end", timeout=timeout, every=0.2)


def test_an_instructor_s_compose_build_runs_in_the_background_its_output_shown_as_it_comes(slow, docker_client):
    app = slow()
    client, lesson = app.test_client(), app.lesson_id
    assert check(client, lesson, "up")[0] == "failed"

    pressed = press(client, lesson, "up")
    assert pressed.status_code == 200, pressed.text
    assert "Started: Build and start it." in pressed.text
    assert 'data-running="true"' in pressed.text  # the answer already shows it running

    # Partial output while it runs: BuildKit's numbered lines (Compose v2 prints them, not `Step N/M`), the
    # first RUN's line before the last RUN has started, and the stage it is at.
    def partial():
        running, stage, output, _ = status(client, lesson, "up")
        return (stage, output) if running and output and f"first of {lesson}" in output else None
    stage, output = wait_until(partial, "the first RUN's output while the build runs", timeout=120, every=0.1)
    assert f"third of {lesson}" not in output
    assert re.search(r"^#\d+ ", output, re.M) or re.search(r"^Step \d+/\d+ : ", output, re.M), output
    assert re.match(r"#\d+ \S|Step \d+/\d+ : ", stage), stage
    # The read-only screen and the presenter swap in the board, which shows the same.
    screen = app.test_client(instructor=False)
    board = screen.get(f"/lessons/{lesson}/board", headers=HTMX)
    assert board.status_code == 200 and 'data-running="true"' in board.text
    assert f"first of {lesson}" in html.unescape(board.text)

    # Pressed again while it runs: it joins the same run; another step meanwhile is done at once.
    again = press(client, lesson, "up")
    assert again.status_code == 200, again.text
    assert "Joined &#39;Build and start it&#39;, running already." in again.text
    run = app.extensions["step_runner"].current
    assert run.running and run.number == 1
    listed = press(client, lesson, "ps")
    assert listed.status_code == 200 and "Done: List it." in listed.text
    # Another long step meanwhile is refused: one at a time.
    other = press(client, lesson, "build")
    assert other.status_code == 409
    assert "'Build and start it' (lesson " in html.unescape(other.text) and "one long step at a time" in other.text

    output, text = ended(client, lesson, "up")
    assert 'data-done="true"' in text and "What it printed:" in text
    assert f"first of {lesson}" in output and f"third of {lesson}" in output
    assert re.search(rf"Container {lesson}-app-1\s+Started", output), output
    wait_until(lambda: 'data-check="passed"' in status(client, lesson, "up")[3], "the step's check passing")
    wait_until(lambda: not run.running, "the run noted as ended (just after its run went on the board)")
    assert run.state == "done"
    assert docker_client.api.inspect_container(f"{lesson}-app-1")["State"]["Running"]

    entries = [entry for entry in app.extensions["transcript"].entries(lesson) if entry.action == "compose"]
    up = [entry for entry in entries if "up -d --build" in entry.command]
    assert len(up) == 1, entries  # the joined press is the same run: one entry
    assert up[0].ok and up[0].output == output
    assert up[0].command.endswith("docker compose up -d --build") and up[0].replay.endswith("up -d --build")

    # Its page shows the run as the others' (the whole page, as a browser without htmx gets it).
    page = html.unescape(client.get(f"/lessons/{lesson}").text)
    assert f"third of {lesson}" in page


def test_a_failing_compose_build_shows_its_error_and_fails(slow):
    app = slow(failing=True)
    client, lesson = app.test_client(), app.lesson_id
    pressed = press(client, lesson, "build")
    assert pressed.status_code == 200 and "Started: Build it again." in pressed.text
    output, text = ended(client, lesson, "build")
    assert "It failed:" in text and 'data-done="true"' not in text
    assert "it breaks here" in output and f"third of {lesson}" not in output
    assert re.search(r"exit code: 3|returned a non-zero code: 3", output), output
    entry = app.extensions["transcript"].entries(lesson)[-1]
    assert (entry.action, entry.ok, entry.output) == ("compose", False, output)
    run = app.extensions["step_runner"].current
    wait_until(lambda: not run.running, "the run noted as ended (just after its run went on the board)")
    assert run.state == "done"  # it ran, and failed: its run says so
    # Pressed again once it ended (by a browser without htmx: back to the page): a new run.
    again = client.post(f"/lessons/{lesson}/steps/build")
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/lessons/{lesson}")
    assert app.extensions["step_runner"].current.number == 2


def test_a_compose_build_pressed_while_the_engine_is_away_is_refused_at_once(slow, engine_switch):
    app = slow()
    engine_switch.stop()
    response = press(app.test_client(), app.lesson_id, "up")
    assert response.status_code == 503, response.text
    assert app.extensions["step_runner"].current is None


class Board:
    def __init__(self):
        self.shown = []

    def ran(self, scope, step_id, ran):
        self.shown.append(ran)


def test_progress_shows_the_output_so_far_at_most_every_so_often_and_nothing_once_closed():
    board = Board()
    progress = step_runs.Progress(board, "lesson", "up", "docker compose build", every=0.3)
    assert board.shown == [Ran("docker compose build", "", False, running=True)]
    for line in ("#0 building with \"default\" instance using docker driver", "#5 [app 2/3] RUN echo one",
                 "#5 0.155 one", "#5 DONE 1.2s"):
        progress.line(line)
    assert len(board.shown) == 1  # within `every` of the first: kept for a moment
    wait_until(lambda: len(board.shown) == 2, "the lines shown once the moment is over", timeout=5, every=0.05)
    latest = board.shown[-1]
    assert latest.running and latest.stage == "#5 [app 2/3] RUN echo one"
    assert latest.output.splitlines()[-1] == "#5 DONE 1.2s"
    progress.line("Step 4/6 : RUN echo two && sleep 1")
    progress.close()
    time.sleep(0.6)  # past the moment a line kept before the close would have been shown
    assert len(board.shown) == 2  # closed: its last Ran is the step's own, never overwritten by a late one
    assert progress.output.endswith("Step 4/6 : RUN echo two && sleep 1\n")


def test_a_compose_build_pressed_where_compose_is_missing_is_refused_at_once(slow, tmp_path, monkeypatch):
    app = slow()
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho \"docker: 'compose' is not a docker command.\" >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    response = press(app.test_client(), app.lesson_id, "up")
    assert response.status_code == 503, response.text
    assert "Compose v2 (`docker compose`) is not installed here" in html.unescape(response.text)
    assert app.extensions["step_runner"].current is None


def test_a_press_once_the_run_is_shown_ended_starts_it_again_while_its_check_is_still_asked():
    """The run ends for its presses as its run goes on the board (`end`), not after its check settles: a press the
    page offers once the step shows ended starts a new run, never joins the old one."""
    runner = step_runs.StepRunner(on_finish=lambda run: None)
    lesson, step = type("Lesson", (), {"id": "l"})(), type("Step", (), {"id": "up", "title": "Up"})()
    shown_ended, checked = threading.Event(), threading.Event()

    def work(run):
        run.end()  # its run on the board, ended
        shown_ended.set()
        checked.wait(10)  # its check still being asked

    first, joined = runner.start(lesson, step, lambda: None, work)
    assert not joined
    assert shown_ended.wait(10)
    second, joined = runner.start(lesson, step, lambda: None, lambda run: None)
    assert not joined and second is not first and second.number == first.number + 1
    checked.set()
