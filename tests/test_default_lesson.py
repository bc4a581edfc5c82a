"""The lesson the class starts on comes from the lesson catalogue (`default = true` in its file, else the first):
no module names a lesson, so the images lesson renamed in a copy of the lessons works as the shipped one does."""

import shutil
import uuid

import docker
import pytest

from tests.support import HTMX, free_tcp_port, wait_until
from dashboard import PACKAGE, create_app
from dashboard.domain.lessons import LESSON_FILE, load_catalog

SHIPPED = PACKAGE / "lessons"
IMAGES = "03-images"


def test_the_catalogue_names_the_default_lesson(tmp_path):
    assert load_catalog(SHIPPED).default.id == "cowserv"
    root = tmp_path / "lessons"
    shutil.copytree(SHIPPED, root)
    lesson_file = root / IMAGES / LESSON_FILE
    lesson_file.write_text(lesson_file.read_text().replace("default = true", "default = false"))
    assert load_catalog(root).default.id == "running"  # no lesson says: the first


def test_a_second_default_lesson_is_refused_naming_its_file(tmp_path):
    root = tmp_path / "lessons"
    shutil.copytree(SHIPPED, root)
    lesson_file = root / "02-running" / LESSON_FILE
    lesson_file.write_text("default = true\n" + lesson_file.read_text())
    catalog = load_catalog(root)
    assert catalog.default.id == "running" and "cowserv" not in catalog.ids
    assert catalog.errors == [f"{root / IMAGES / LESSON_FILE}, field 'default': 'running' is the default lesson "
                              "already"]


@pytest.fixture
def renamed(tmp_path, docker_client):
    """An app on a copy of the shipped lessons whose images lesson's id is `moo-<random>`, building under a tag of
    its own; what it made goes afterwards."""
    lesson_id, tag = f"moo-{uuid.uuid4().hex[:8]}", f"moo-image-{uuid.uuid4().hex[:8]}"
    root = tmp_path / "lessons"
    shutil.copytree(SHIPPED, root)
    for name in (LESSON_FILE, "Dockerfile"):
        path = root / IMAGES / name
        text = path.read_text()
        path.write_text(text.replace('id = "cowserv"', f'id = "{lesson_id}"')
                        .replace('classroom.lesson="cowserv"', f'classroom.lesson="{lesson_id}"'))
    app = create_app({"TESTING": True, "LESSONS_DIR": str(root), "WORKSHOP_DIR": str(tmp_path / "workshop"),
                      "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3"), "IMAGE": tag})
    app.lesson_id, app.tag, app.workshop = lesson_id, tag, tmp_path / "workshop"
    yield app
    for row in docker_client.api.containers(all=True, filters={"label": f"classroom.lesson={lesson_id}"}):
        docker_client.api.remove_container(row["Id"], force=True)
    try:
        docker_client.api.remove_image(tag, force=True)
    except docker.errors.NotFound:
        pass


@pytest.mark.engine
def test_the_images_lesson_renamed_is_the_default_and_builds_runs_and_replays_as_itself(renamed, docker_client):
    app, lesson_id, client = renamed, renamed.lesson_id, renamed.test_client()
    assert "cowserv" not in app.extensions["catalog"].ids
    assert app.config["BUILD_CONTEXT"] == str(app.workshop / "images")
    home = client.get("/")
    assert home.status_code == 200 and f'data-lesson="{lesson_id}"' in home.text  # the class starts on it

    started = client.post(f"/lessons/{lesson_id}/steps/build", headers=HTMX)
    assert started.status_code == 200 and "Build started." in started.text, started.text
    build = app.extensions["builder"].current
    wait_until(lambda: not build.running, "the renamed lesson's build", timeout=600, every=0.5)
    assert build.state == "succeeded", build.error
    assert docker_client.images.get(app.tag).labels["classroom.lesson"] == lesson_id

    port = free_tcp_port()
    ran = client.post(f"/lessons/{lesson_id}/steps/run", data={"host_port": str(port)}, headers=HTMX)
    assert ran.status_code == 200 and "Done:" in ran.text, ran.text
    running = docker_client.api.containers(filters={"label": f"classroom.lesson={lesson_id}"})
    assert [row["Image"] for row in running] == [app.tag]
    assert [entry.action for entry in app.extensions["transcript"].entries(lesson_id)] == ["build", "run"]
    script = client.get(f"/transcript/script?lesson={lesson_id}")
    assert script.status_code == 200
    assert "# The lesson Docker images: cowserv as the dashboard ran it." in script.text
    assert f"cid=$(docker run -d -p {port}:8000 {app.tag})" in script.text
