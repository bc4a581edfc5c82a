"""Lesson files: a malformed one is refused with a message naming its file, step and field, never taking the others
down; `python -m dashboard.lessons check` says the same before a start; and a lesson file's text is never markup."""

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import HTMX
from dashboard import PACKAGE, create_app
from dashboard.config import ConfigError
from dashboard.domain.lessons import LESSON_FILE, LessonError, load_catalog, load_lesson
from dashboard.domain.seats import Limits

SHIPPED = PACKAGE / "lessons"
DOCKERFILE = 'FROM python:3.12-slim\nCOPY index.html .\nLABEL classroom.lesson="sample"\n'

# A valid lesson: each case below changes one thing in it.
GOOD = '''\
id = "sample"
title = "A sample lesson"
intro = "Builds an image and serves a page."
folder = "sample"
files = ["Dockerfile", "index.html"]

[[steps]]
id = "build"
title = "Build it"
text = "Builds the image."
action = { kind = "build", tag = "sample" }
check = { kind = "image", tag = "sample" }

[[steps]]
id = "serve"
title = "Serve it"
text = "Serves the page."
action = { kind = "run", image = "sample", name = "sample", detach = true, ports = ["8000:8000"] }
check = { kind = "answers", container = "sample", text = "Hello" }

[[steps]]
id = "edit"
title = "Edit it"
text = "Writes the page."
action = { kind = "edit", file = "index.html", content = "<p>new</p>" }
'''


def write_lesson(folder, text=GOOD, dockerfile=DOCKERFILE):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LESSON_FILE).write_text(text)
    (folder / "Dockerfile").write_text(dockerfile)
    (folder / "index.html").write_text("<p>Hello</p>\n")
    return folder


def changed(old, new):
    assert GOOD.count(old) == 1, old
    return GOOD.replace(old, new)


def refusal(folder):
    with pytest.raises(LessonError) as refused:
        load_lesson(folder)
    return str(refused.value)


def assert_names(message, folder, step, field):
    """The message starts with the file, then names the step (when the mistake is in one) and the field."""
    where, _, _ = message.partition(": ")
    assert where.startswith(str(folder / LESSON_FILE)), message
    if step is None:
        assert ", step " not in where, message
    else:
        assert f", step {step!r}" in where, message
    assert f", field {field!r}" in where, message


def test_the_sample_lesson_loads(tmp_path):
    lesson = load_lesson(write_lesson(tmp_path / "sample"))
    assert [step.id for step in lesson.steps] == ["build", "serve", "edit"]


CASES = {
    "lesson title missing": (changed('title = "A sample lesson"\n', ""), None, "title", "missing"),
    "step title missing": (changed('title = "Serve it"\n', ""), "serve", "title", "missing"),
    "step action missing": (changed('action = { kind = "run", image = "sample", name = "sample", detach = true, '
                                    'ports = ["8000:8000"] }\n', ""), "serve", "action", "missing"),
    "run image missing": (changed('image = "sample", ', ""), "serve", "action.image", "missing"),
    "unknown action kind": (changed('kind = "run"', 'kind = "launch"'), "serve", "action.kind",
                            "unknown action 'launch'"),
    "unknown check kind": (changed('kind = "answers"', 'kind = "responds"'), "serve", "check.kind",
                           "unknown check 'responds'"),
    "unknown lesson field": (changed('folder = "sample"\n', 'folder = "sample"\nauthor = "me"\n'), None, "author",
                             "a lesson takes"),
    "unknown step field": (changed('id = "serve"\n', 'id = "serve"\ntitel = "typo"\n'), "serve", "titel",
                           "a step takes"),
    "unknown action field": (changed('detach = true', 'detach = true, prots = ["1:1"]'), "serve",
                             "action.prots", "run takes"),
    "unknown check field": (changed('text = "Hello" }', 'text = "Hello", port = 8000 }'), "serve", "check.port",
                            "answers takes"),
    "port out of range": (changed('"8000:8000"', '"80800:8000"'), "serve", "action.ports", "'80800'"),
    "port not a number": (changed('"8000:8000"', '"x:8000"'), "serve", "action.ports", "'x'"),
    "port without a colon": (changed('"8000:8000"', '"8000"'), "serve", "action.ports", "HOST:CONTAINER"),
    "edit outside the folder": (changed('file = "index.html"', 'file = "../x"'), "edit", "action.file",
                                "outside the lesson's folder"),
    "build context absolute": (changed('tag = "sample" }\ncheck', 'tag = "sample", context = "/etc" }\ncheck'),
                               "build", "action.context", "outside the lesson's folder"),
    "files entry outside the folder": (changed('files = ["Dockerfile", "index.html"]',
                                               'files = ["Dockerfile", "index.html", "../../etc/passwd"]'),
                                       None, "files", "outside the lesson's folder"),
    "files entry missing": (changed('files = ["Dockerfile", "index.html"]', 'files = ["Dockerfile", "gone.html"]'),
                            None, "files", "'gone.html' is not in"),
    "duplicate step ids": (changed('id = "edit"', 'id = "serve"'), "serve", "id", "two steps have this id"),
    "edit of a file not the lesson's": (changed('file = "index.html"', 'file = "other.html"'), "edit",
                                        "action.file", "not one of the lesson's files"),
    "bad lesson id": (changed('id = "sample"', 'id = "Sample Lesson"'), None, "id", "lowercase"),
    "check's file not the lesson's": (changed('text = "Hello" }', 'text = "Hello", file = "other.html" }'), "serve",
                                      "check.file", "not one of the lesson's files"),
    "seat needs without pids": (changed('folder = "sample"\n', 'folder = "sample"\nseat_needs = { memory = "512m" }\n'),
                                None, "seat_needs", "a table of memory and pids"),
    "seat needs of bad memory": (changed('folder = "sample"\n',
                                         'folder = "sample"\nseat_needs = { memory = "lots", pids = 300 }\n'),
                                 None, "seat_needs", "memory 'lots'"),
    "after_previous not a boolean": (changed('text = "Hello" }', 'text = "Hello", after_previous = "yes" }'),
                                     "serve", "check.after_previous", "true or false"),
    "check's file without its text": (changed('text = "Hello" }', 'text = "Hello", file = "Dockerfile" }'), "serve",
                                      "check.file", "does not hold the check's text 'Hello'"),
}


@pytest.mark.parametrize("text, step, field, says", CASES.values(), ids=CASES.keys())
def test_a_malformed_lesson_is_refused_naming_file_step_and_field(tmp_path, text, step, field, says):
    folder = write_lesson(tmp_path / "sample", text)
    message = refusal(folder)
    assert_names(message, folder, step, field)
    assert says in message


def test_a_lessons_seat_needs_load_and_say_which_limits_meet_them(tmp_path):
    folder = write_lesson(tmp_path / "sample", changed('folder = "sample"\n',
                                                       'folder = "sample"\nseat_needs = { memory = "1g", pids = 300 }\n'))
    needs = load_lesson(folder).seat_needs
    assert (needs.memory, needs.pids) == ("1g", 300)
    assert needs.met_by(Limits(memory="1024m", pids=300)) and not needs.met_by(Limits(memory="512m", pids=300))
    assert not needs.met_by(Limits(memory="2g", pids=299))
    assert load_lesson(write_lesson(tmp_path / "plain")).seat_needs is None


def test_a_build_whose_dockerfile_lacks_the_label_line_is_refused(tmp_path):
    folder = write_lesson(tmp_path / "sample", dockerfile="FROM python:3.12-slim\nCOPY index.html .\n")
    message = refusal(folder)
    assert_names(message, folder, "build", "action.context")
    assert 'LABEL classroom.lesson="sample"' in message
    assert str(folder / "Dockerfile") in message


def test_a_label_for_another_lesson_is_not_the_lesson_s_label(tmp_path):
    folder = write_lesson(tmp_path / "sample", dockerfile='FROM python:3.12-slim\nLABEL classroom.lesson="other"\n')
    assert_names(refusal(folder), folder, "build", "action.context")


def test_invalid_toml_is_refused_naming_the_file(tmp_path):
    folder = write_lesson(tmp_path / "sample", GOOD + '\n[[steps]\nid = "broken"\n')
    message = refusal(folder)
    assert message.startswith(f"{folder / LESSON_FILE}: is not valid TOML"), message


def test_a_refused_lesson_is_left_out_and_the_others_load(tmp_path):
    write_lesson(tmp_path / "01-good")
    broken = write_lesson(tmp_path / "02-broken", changed('"8000:8000"', '"x:8000"').replace('"sample"', '"broken"'))
    catalog = load_catalog(tmp_path)
    assert catalog.ids == ["sample"]
    [message] = catalog.errors
    assert_names(message, broken, "serve", "action.ports")


def test_a_second_lesson_with_a_taken_id_is_refused(tmp_path):
    write_lesson(tmp_path / "01-first")
    second = write_lesson(tmp_path / "02-second", GOOD.replace('folder = "sample"', 'folder = "other"'))
    catalog = load_catalog(tmp_path)
    assert catalog.ids == ["sample"]
    [message] = catalog.errors
    assert message.startswith(str(second / LESSON_FILE)) and "field 'id'" in message


def check_command(*folder):
    return subprocess.run([sys.executable, "-m", "dashboard.lessons", "check", *map(str, folder)],
                          capture_output=True, text=True, timeout=60, cwd=PACKAGE.parent)


@pytest.mark.parametrize("folder", [(), (SHIPPED,)], ids=["default", "shipped folder"])
def test_check_passes_the_shipped_lessons(folder):
    result = check_command(*folder)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name, lesson_id in (("02-running", "running"), ("03-images", "cowserv"),
                            ("04-realistic-dockerfile", "realistic")):
        assert any(line.startswith(f"ok: {SHIPPED / name / LESSON_FILE}: {lesson_id} (") for line in lines), lines
    assert "refused" not in result.stdout + result.stderr


def test_check_of_one_lesson_folder(tmp_path):
    folder = write_lesson(tmp_path / "sample")
    result = check_command(folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ok: {folder / LESSON_FILE}: sample (3 steps)\n"


def test_check_refuses_a_broken_lesson_with_its_message(tmp_path):
    write_lesson(tmp_path / "01-good")
    broken = write_lesson(tmp_path / "02-broken", changed('"8000:8000"', '"80800:8000"').replace('"sample"', '"broken"'))
    result = check_command(tmp_path)
    assert result.returncode == 1
    assert f"ok: {tmp_path / '01-good' / LESSON_FILE}: sample" in result.stdout
    [line] = result.stderr.splitlines()
    assert line.startswith(f"refused: {broken / LESSON_FILE}, step 'serve', field 'action.ports': ")
    assert "'80800'" in line

    alone = check_command(broken)
    assert alone.returncode == 1 and alone.stdout == ""
    assert alone.stderr == line + "\n"


def test_check_of_a_folder_without_lessons_fails(tmp_path):
    result = check_command(tmp_path)
    assert result.returncode == 1
    assert "no folder here holds a lesson.toml" in result.stderr


HTML_INTRO = 'An intro with <script>alert("intro")</script> in it, and `<b>code</b>`.'


@pytest.fixture
def mixed_app(tmp_path):
    """An app on a lessons folder holding one good lesson (with HTML in its text) and one broken one (with HTML
    in its mistake)."""
    root = tmp_path / "lessons"
    good = GOOD.replace('intro = "Builds an image and serves a page."', f"intro = '''{HTML_INTRO}'''")
    good = good.replace('title = "A sample lesson"', 'title = "A <em>sample</em> lesson"')
    good = good.replace('text = "Builds the image."', 'text = "Builds the image."\nhint = "Try <u>this</u>."')
    good = good.replace('text = "Serves the page."', "text = '<img src=x onerror=alert(1)> serves the page.'")
    write_lesson(root / "01-good", good)
    broken = write_lesson(root / "02-broken", changed('kind = "run"', 'kind = "<script>x</script>"')
                          .replace('id = "sample"', 'id = "broken"').replace('"sample"', '"broken"'))
    app = create_app({"TESTING": True, "LESSONS_DIR": str(root), "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    app.broken_file = broken / LESSON_FILE
    return app


@pytest.mark.engine  # its pages show the engine's version
def test_an_app_with_a_broken_lesson_starts_and_serves_the_good_one(mixed_app):
    client = mixed_app.test_client()
    assert mixed_app.extensions["catalog"].ids == ["sample"]
    page = client.get("/lessons/sample")
    assert page.status_code == 200
    assert 'data-lesson="sample"' in page.text
    assert client.get("/").status_code == 200  # the good lesson is the current one
    for path in ("/lessons/broken", "/lessons/broken/steps/serve"):
        for headers in ({}, HTMX):
            response = client.get(path, headers=headers)
            assert response.status_code == 404, (path, response.status_code)
            assert "There is no lesson 'broken'" in html.unescape(response.text)
    assert client.post("/lessons/broken/steps/serve", headers=HTMX).status_code == 404


@pytest.mark.engine  # its pages show the engine's version
def test_the_instructor_s_lessons_page_lists_the_refusal_and_a_viewer_s_does_not(mixed_app):
    instructor = mixed_app.test_client().get("/lessons")
    assert instructor.status_code == 200
    assert "Lessons left out" in instructor.text
    assert f"{mixed_app.broken_file}, step &#39;serve&#39;, field &#39;action.kind&#39;" in instructor.text
    assert "&lt;script&gt;x&lt;/script&gt;" in instructor.text  # the mistake quoted, escaped
    assert "<script>x" not in instructor.text

    viewer = mixed_app.test_client(instructor=False).get("/lessons")
    assert viewer.status_code == 200
    assert 'data-lesson="sample"' in viewer.text
    assert "Lessons left out" not in viewer.text
    assert str(mixed_app.broken_file) not in viewer.text


@pytest.mark.engine  # its pages show the engine's version
def test_html_in_a_lesson_file_is_shown_escaped(mixed_app):
    for client in (mixed_app.test_client(), mixed_app.test_client(instructor=False)):
        page = client.get("/lessons/sample").text
        assert '<script>alert("intro")</script>' not in page
        assert "&lt;script&gt;alert(&#34;intro&#34;)&lt;/script&gt;" in page
        assert "<code>&lt;b&gt;code&lt;/b&gt;</code>" in page  # `code` spans still work, their text escaped
        assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "<em>sample</em>" not in page and "A &lt;em&gt;sample&lt;/em&gt; lesson" in page
        assert "<u>this</u>" not in page and "&lt;u&gt;this&lt;/u&gt;" in page
        # The edit's content (HTML by nature) is shown as text too.
        assert "<p>new</p>" not in page and "&lt;p&gt;new&lt;/p&gt;" in page
    assert not re.search(r"<script>\s*alert", page)


@pytest.mark.engine  # its pages show the engine's version
def test_the_lessons_page_shows_a_title_escaped(mixed_app):
    page = mixed_app.test_client(instructor=False).get("/lessons").text
    assert "<em>sample</em>" not in page and "A &lt;em&gt;sample&lt;/em&gt; lesson" in page


def test_an_app_with_no_usable_lesson_does_not_start_and_says_why(tmp_path):
    broken = write_lesson(tmp_path / "lessons" / "01-broken", changed('"8000:8000"', '"x:8000"'))
    with pytest.raises(ConfigError) as refused:
        create_app({"TESTING": True, "LESSONS_DIR": str(tmp_path / "lessons")})
    assert f"{broken / LESSON_FILE}, step 'serve', field 'action.ports'" in str(refused.value)


def test_the_shipped_lessons_load():
    catalog = load_catalog(SHIPPED)
    assert catalog.errors == []
    assert catalog.ids == ["running", "cowserv", "realistic", "state", "compose", "monolith", "microservices"]
    assert all(isinstance(lesson.source, Path) for lesson in catalog.lessons)


def test_a_build_whose_dockerfile_is_not_among_the_lesson_s_files_is_refused(tmp_path):
    """The build runs in the workshop folder, where only the lesson's files are written: a Dockerfile that is not
    one of them would load here and fail on the first build."""
    folder = write_lesson(tmp_path / "sample", changed('files = ["Dockerfile", "index.html"]', 'files = ["index.html"]'))
    message = refusal(folder)
    assert_names(message, folder, "build", "action.context")
    assert "must be one of the lesson's files" in message


def test_a_file_that_is_a_link_out_of_the_lesson_s_folder_is_refused(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("not the lesson's\n")
    folder = write_lesson(tmp_path / "sample")
    (folder / "index.html").unlink()
    (folder / "index.html").symlink_to(outside)
    message = refusal(folder)
    assert_names(message, folder, None, "files")
    assert "leads outside the lesson's folder" in message
