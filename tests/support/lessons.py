"""What the lesson tests share (test_lessons_by_button, test_lessons_by_command, and the state and compose lessons'
tests): the lessons' containers on the engine, and the fixtures that clean them up around a test."""

import re
import uuid

import docker
import pytest

from tests.support.engine import LESSON_LABEL
from dashboard import PACKAGE, create_app
from dashboard.domain.lessons import load_catalog

DEFAULT_LESSON = load_catalog(PACKAGE / "lessons").default.id  # the shipped lesson a class starts on (cowserv)



def lesson_containers(docker_client, lesson_id):
    return docker_client.api.containers(all=True, filters={"label": f"{LESSON_LABEL}={lesson_id}"})


def remove_lesson_containers(docker_client, lesson_id):
    for row in lesson_containers(docker_client, lesson_id):
        try:
            docker_client.api.remove_container(row["Id"], force=True)
        except docker.errors.NotFound:
            pass


def names(docker_client, lesson_id):
    return {name.lstrip("/") for row in lesson_containers(docker_client, lesson_id) for name in row["Names"]}


@pytest.fixture
def clean_lessons(app, docker_client):
    """No container of `running` or `realistic`, no `website` image (its build step's check must fail first), and
    the realistic lesson's files as shipped (an earlier edit step changed index.html), before and after."""
    realistic = app.extensions["catalog"].get("realistic")

    def clean():
        for lesson_id in ("running", "realistic"):
            remove_lesson_containers(docker_client, lesson_id)
        app.extensions["workshop"].restore(realistic)

    clean()
    try:
        docker_client.api.remove_image("website", force=True)
    except docker.errors.NotFound:
        pass
    yield
    clean()


@pytest.fixture
def cowserv_app(tmp_path, docker_client, created):
    """An app whose cowserv image is built under a tag of this test's (DASHBOARD_IMAGE's stand-in), so the build
    step's check fails first without touching the cowserv:latest other tests run; the tag goes afterwards."""
    tag = f"cowserv-lesson-{uuid.uuid4().hex[:8]}"
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3"), "IMAGE": tag})
    app.tag = tag
    yield app
    for row in docker_client.api.containers(all=True, filters={"ancestor": tag}):
        created(row["Id"])  # made from this test's tag: this test's
    try:
        docker_client.api.remove_image(tag, force=True)
    except docker.errors.NotFound:
        pass


def assert_fails_unless_another_answers(docker_client, state, reason):
    """The cowserv run's check before the run: failed, or passed through a container this test did not make."""
    if state == "failed":
        assert reason.startswith("No container of this lesson is running") or "does not answer" in reason, reason
        return
    assert state == "passed", reason
    port = re.search(r"http://[^:]+:(\d+)/ answers", reason)[1]
    others = docker_client.api.containers(filters={"label": f"{LESSON_LABEL}=cowserv", "publish": port})
    assert others, f"{reason}: and no other cowserv container publishes port {port}"
