"""The README is a newcomer's: short, the two set-up commands, a link to every file in docs/, and no link in it or
in docs/ pointing nowhere. The worked lesson of docs/writing-lessons.md is a valid lesson, its shown command is the
one printed there, and taught from a lessons folder of its own it runs and checks on the real engine."""

import re
from pathlib import Path

import pytest
import requests

from dashboard import create_app
from dashboard.domain import actions
from dashboard.domain.lessons import load_lesson
from tests.support import HTMX

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))
WRITING = (ROOT / "docs" / "writing-lessons.md").read_text()
SECTION = WRITING.split("## Write your own lesson", 1)[1].split("\n## ", 1)[0]
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


def test_the_readme_is_short_enough_to_read_in_ten_minutes():
    assert len(README.splitlines()) <= 260


def test_the_readme_sets_up_with_exactly_the_two_commands():
    block = README.split("## Set up", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert block.splitlines() == ["scripts/up      # bring the dashboard up on http://127.0.0.1:5000/",
                                  "scripts/test    # run the whole test suite"]
    for script in ("scripts/up", "scripts/test"):
        assert (ROOT / script).is_file() and (ROOT / script).stat().st_mode & 0o111, script


def test_the_readme_links_to_every_file_in_docs():
    assert {"teaching.md", "writing-lessons.md", "deploying.md", "architecture.md", "testing.md",
            "benchmarks.md"} <= {doc.name for doc in DOCS}
    for doc in DOCS:
        assert f"](docs/{doc.name})" in README, doc.name


def anchors(text):
    """The anchors GitHub gives a Markdown file's headings (code blocks left out)."""
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.*)$", prose, re.MULTILINE)}


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOCS], ids=lambda page: str(page.relative_to(ROOT)))
def test_every_link_between_the_readme_and_docs_leads_somewhere(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target}"
        if anchor:
            assert anchor in anchors(linked.read_text()), f"{page.name}: {target}"
