"""Building the images lesson's image on the real engine: streamed log, cache on a rebuild, failures shown."""

import shutil
import subprocess
import uuid

import docker
import pytest

from tests.support import HTMX, container_ids, page_hooks, wait_until
from dashboard import create_app
from dashboard.domain.commands import lesson_filter
from dashboard.domain.labels import LESSON_LABEL
from tests.support.lessons import DEFAULT_LESSON

# Both engine passes (engine_specific): builds: the builder's log, cache and errors.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]


def build_through(client):
    """Press Build, then follow the event stream to its end; returns the SSE text."""
    response = client.post("/images/build", headers=HTMX)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "build-started"
    panel = client.get("/images/build", headers=HTMX).text
    if client.application.extensions["builder"].running:  # so it ran while the panel was drawn
        assert "sse-connect" in panel and "disabled" in panel
    else:  # a build all from the cache can end first (Engine 26 takes well under a second)
        assert "sse-connect" in panel or "from the cache" in panel or "The build failed" in panel
    return b"".join(client.get("/images/build/events").response).decode()


def test_rebuild_reports_every_step_from_cache(client, cowserv_image, docker_client):
    stream = build_through(client)
    assert stream.count("Using cache") >= 4
    assert "event: done" in stream
    panel = client.get("/images/build", headers=HTMX).text
    assert "Built" in panel and "steps came from the cache" in panel
    assert docker_client.images.get("cowserv:latest").labels[LESSON_LABEL] == DEFAULT_LESSON


def test_shown_build_command_pasted_into_a_shell_builds_the_image(client, cowserv_image, docker_client):
    [command] = [c for c in page_hooks(client.get("/").text)[0] if " docker build " in c]
    assert command.endswith(" -t cowserv .")
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Using cache" in result.stdout


def test_a_second_press_during_a_build_joins_it(app, cowserv_image):
    client = app.test_client()
    client.post("/images/build", headers=HTMX)
    first = app.extensions["builder"].current
    second = client.post("/images/build", headers=HTMX)
    assert "Joined the build already running" in second.text
    assert app.extensions["builder"].current is first
    b"".join(client.get("/images/build/events").response)


def test_an_open_panel_polls_cheaply_until_a_build_starts(app, cowserv_image):
    client = app.test_client()
    client.get("/images/build", headers=HTMX)
    wait_until(lambda: app.extensions["snapshot"].following, "the event stream opening")  # its opening re-reads what it might have missed
    panel = client.get("/images/build", headers=HTMX).text
    since = panel.split("since=")[1].split('"')[0]
    assert client.get(f"/images/build?since={since}", headers=HTMX).status_code == 204
    client.post("/images/build", headers=HTMX)
    assert client.get(f"/images/build?since={since}", headers=HTMX).status_code == 200
    b"".join(client.get("/images/build/events").response)


def test_broken_dockerfile_shows_the_failing_step_and_keeps_the_image(tmp_path, cowserv_image, docker_client):
    context = tmp_path / "broken"
    shutil.copytree(create_app().config["BUILD_CONTEXT"], context)
    dockerfile = context / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("CMD ", "RUN exit 3\nCMD ", 1))
    app = create_app({"TESTING": True, "BUILD_CONTEXT": str(context), "IMAGE": "cowserv"})
    client = app.test_client()
    lesson_containers = container_ids(docker_client, label=lesson_filter(DEFAULT_LESSON))

    stream = build_through(client)
    assert "returned a non-zero code: 3" in stream
    panel = client.get("/images/build", headers=HTMX).text
    assert "The build failed at step" in panel and "failed here" in panel
    assert docker_client.images.get("cowserv:latest").id == cowserv_image  # the previous image keeps working
    # The failed step's container is removed, not left in the lesson's list.
    assert container_ids(docker_client, label=lesson_filter(DEFAULT_LESSON)) \
        <= lesson_containers


def test_the_log_streams_while_the_build_runs(tmp_path, docker_client):
    """A slow test-only context: lines must reach the viewer while the build is still running."""
    context = tmp_path / "slow"
    context.mkdir()
    nonce = uuid.uuid4().hex
    (context / "Dockerfile").write_text(
        "ARG BASE_IMAGE=python:3.12-slim\nFROM ${BASE_IMAGE}\n"
        f"RUN echo first {nonce} && sleep 1 && echo second && sleep 1 && echo third\n"
    )
    tag = f"cowserv-test-{nonce[:8]}"
    app = create_app({"TESTING": True, "BUILD_CONTEXT": str(context), "IMAGE": tag})
    client = app.test_client()
    try:
        client.post("/images/build", headers=HTMX)
        build = app.extensions["builder"].current
        seen_while_running = set()
        for chunk in client.get("/images/build/events").response:
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            if "event: line" in text and build.running:
                seen_while_running.add(text.split("data: ")[1].split("<")[1].split(">")[1])
        assert build.state == "succeeded", build.error
        partial = [line for line in seen_while_running if line in ("first " + nonce, "second", "third")]
        assert len(partial) >= 2, seen_while_running
    finally:
        try:
            docker_client.images.remove(tag, force=True)
        except docker.errors.ImageNotFound:
            pass
