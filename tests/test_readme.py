"""The README's worked lesson ("Write your own lesson") is a valid lesson, its shown command is the one the README
prints, and taught from a lessons folder of its own it runs and checks on the real engine."""

import re
from pathlib import Path

import pytest
import requests

from dashboard import create_app
from dashboard.domain import actions
from dashboard.domain.lessons import load_lesson
from tests.support import HTMX

README = (Path(__file__).parent.parent / "README.md").read_text()
SECTION = README.split("## Write your own lesson", 1)[1].split("\n## ", 1)[0]
EXAMPLE = re.search(r"```toml\n(.*?)```", SECTION, re.DOTALL)[1]
SHOWN = re.search(r"The page shows the first step as\n`([^`]+)`", SECTION)[1]


@pytest.fixture
def lessons_dir(tmp_path):
    folder = tmp_path / "lessons" / "05-serve-a-folder"
    folder.mkdir(parents=True)
    (folder / "lesson.toml").write_text(EXAMPLE)
    (folder / "index.html").write_text("<h1>Hello from the workshop folder</h1>\n")
    return folder.parent


def test_the_worked_example_loads_and_shows_the_command_the_readme_prints(lessons_dir):
    lesson = load_lesson(lessons_dir / "05-serve-a-folder")
    place = actions.Place(Path.home() / "docker-workshop" / lesson.folder, Path.home())
    assert [step.id for step in lesson.steps] == ["serve", "clean"]
    assert actions.command(lesson, lesson.steps[0].action, place) == SHOWN


def test_the_worked_example_is_taught_from_a_lessons_folder_of_its_own(lessons_dir, free_port, docker_client,
                                                                        tmp_path):
    app = create_app({"TESTING": True, "LESSONS_DIR": str(lessons_dir),
                      "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3")})
    client = app.test_client()
    try:
        assert client.get("/lessons/serve-a-folder").status_code == 200
        before = client.post("/lessons/serve-a-folder/steps/serve/check", headers=HTMX)
        assert 'data-check="failed"' in before.text
        pressed = client.post("/lessons/serve-a-folder/steps/serve", data={"host_port": str(free_port)},
                              headers=HTMX)
        assert pressed.status_code == 200, pressed.text
        assert 'data-check="passed"' in pressed.text
        assert "Hello from the workshop folder" in requests.get(f"http://127.0.0.1:{free_port}/", timeout=5).text
        cleaned = client.post("/lessons/serve-a-folder/steps/clean", headers=HTMX)
        assert cleaned.status_code == 200 and 'data-check="passed"' in cleaned.text
    finally:
        for row in docker_client.api.containers(all=True, filters={"label": "classroom.lesson=serve-a-folder"}):
            docker_client.api.remove_container(row["Id"], force=True)
