"""The workshop folder: the lesson's files written on first use, a person's edits kept, Restore as the instructor."""

import os
import subprocess
from html import escape
from pathlib import Path

import pytest

from tests.support import HTMX, page_hooks
from tests.test_config import gunicorn
from dashboard import PACKAGE, create_app
from dashboard.config import ConfigError

pytestmark = pytest.mark.engine  # its pages show the engine's version

SHIPPED = (PACKAGE / "lessons" / "03-images" / "Dockerfile").read_text()
EDIT = "ENV WORKSHOP_EDIT=mine\n"


@pytest.fixture
def workshop(tmp_path, monkeypatch):
    """A workshop folder of the test's own (under /tmp), not made yet."""
    folder = tmp_path / "class of today" / "docker-workshop"
    monkeypatch.setenv("DASHBOARD_WORKSHOP_DIR", str(folder))
    return folder


def edit(dockerfile):
    text = dockerfile.read_text()
    dockerfile.write_text(text.replace("CMD ", EDIT + "CMD ", 1))


def test_a_fresh_workshop_folder_gets_the_lessons_files_and_the_page_shows_where(workshop):
    app = create_app({"TESTING": True})
    dockerfile = workshop / "images" / "Dockerfile"
    assert dockerfile.read_text() == SHIPPED
    assert app.config["BUILD_CONTEXT"] == str(workshop / "images")
    page = app.test_client().get("/").text
    assert f"<code data-workshop-dir>{escape(str(workshop))}</code>" in page
    assert f"<code data-dockerfile-path>{escape(str(dockerfile))}</code>" in page
    [build] = [command for command in page_hooks(page)[0] if " docker build " in command]
    assert build.startswith(f"cd '{workshop}/images' && docker build --force-rm ")  # /tmp is not under HOME


def test_an_edited_dockerfile_is_kept_at_the_next_start_and_shown(workshop):
    create_app({"TESTING": True})
    dockerfile = workshop / "images" / "Dockerfile"
    edit(dockerfile)
    edited = dockerfile.read_text()
    page = create_app({"TESTING": True}).test_client().get("/").text
    assert dockerfile.read_text() == edited
    assert "WORKSHOP_EDIT=mine" in page


def test_restore_brings_back_the_shipped_files_and_nothing_else(workshop):
    app = create_app({"TESTING": True})
    dockerfile = workshop / "images" / "Dockerfile"
    edit(dockerfile)
    notes = workshop / "images" / "notes.txt"
    notes.write_text("my notes\n")
    client = app.test_client()
    page = client.get("/").text
    assert "Restore this lesson&#39;s files" in page or "Restore this lesson's files" in page
    assert 'hx-confirm="Bring back this lesson' in page

    response = client.post("/workshop/images/restore", headers=HTMX)
    assert response.status_code == 200
    assert dockerfile.read_text() == SHIPPED
    assert notes.read_text() == "my notes\n"
    assert "Restored" in response.text and "WORKSHOP_EDIT" not in response.text
    edit(dockerfile)
    assert client.post("/workshop/images/restore").status_code == 302  # without htmx: back to the page
    assert dockerfile.read_text() == SHIPPED


def test_the_page_lists_the_files_that_differ_from_the_lesson_s_own_beside_restore(workshop):
    """An earlier class's edits stay; each lesson's page names the files that differ, until Restore brings them
    back: the images lesson's (the Dockerfile panel) and a lesson that builds nothing (its files' section)."""
    app = create_app({"TESTING": True})
    client = app.test_client()
    assert 'data-changed-files=""' in client.get("/").text
    edit(workshop / "images" / "Dockerfile")
    (workshop / "compose" / "api" / "index.html").write_text("Edited by an earlier class.\n")
    (workshop / "compose" / "web" / "web.py").unlink()

    assert 'data-changed-files="Dockerfile"' in client.get("/").text
    assert 'data-changed-files="api/index.html web/web.py"' in client.get("/lessons/compose").text
    viewer = app.test_client(instructor=False).get("/lessons/compose").text
    assert 'data-changed-files="api/index.html web/web.py"' in viewer  # a viewer sees it, without the button

    assert 'data-changed-files=""' in client.post("/workshop/images/restore", headers=HTMX).text
    assert 'data-changed-files=""' in client.post("/workshop/compose/restore", headers=HTMX).text
    assert 'data-changed-files=""' in client.get("/lessons/compose").text


def test_restore_refuses_a_signed_out_viewer_and_changes_nothing(workshop):
    app = create_app({"TESTING": True})
    dockerfile = workshop / "images" / "Dockerfile"
    edit(dockerfile)
    edited = dockerfile.read_text()
    viewer = app.test_client(instructor=False)
    assert "Restore this lesson" not in viewer.get("/").text
    assert viewer.post("/workshop/images/restore", headers=HTMX).status_code == 403
    assert dockerfile.read_text() == edited


def test_a_workshop_folder_that_cannot_be_made_stops_the_start_with_a_message(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("DASHBOARD_WORKSHOP_DIR", str(blocker / "docker-workshop"))
    with pytest.raises(ConfigError, match=f"The workshop folder {blocker}/docker-workshop cannot be written"):
        create_app({"TESTING": True})
    result = gunicorn("--bind", "127.0.0.1:0")
    assert result.returncode != 0
    assert f"Refusing to start: The workshop folder {blocker}/docker-workshop cannot be written" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.engine
@pytest.mark.engine_specific  # the shown build command, run by the docker CLI
def test_the_shown_build_command_from_a_workshop_under_home_builds_the_image(tmp_path, monkeypatch, cowserv_image):
    """The default ~/docker-workshop of a user whose HOME is a temporary folder: the command starts from `~`,
    and pasted into bash by that user (same HOME) it builds the same image."""
    docker_config = os.environ.get("DOCKER_CONFIG", os.path.expanduser("~/.docker"))  # the user's docker CLI config
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DASHBOARD_WORKSHOP_DIR")
    page = create_app({"TESTING": True}).test_client().get("/").text
    [command] = [c for c in page_hooks(page)[0] if " docker build " in c]
    assert command.startswith("cd ~/docker-workshop/images && docker build --force-rm ")
    assert command.endswith(" -t cowserv .")
    assert (home / "docker-workshop" / "images" / "Dockerfile").read_text() == SHIPPED
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "HOME": str(home), "DOCKER_CONFIG": docker_config}, cwd="/")
    assert result.returncode == 0, result.stderr
    assert "Using cache" in result.stdout
    assert Path(home / "docker-workshop" / "images" / "Dockerfile").read_text() == SHIPPED
