"""Each action kind is one definition (action_kinds.KINDS): its fields, its button's label, its command and its
effect. The lesson loader, the press, the step views and the template all read it from there."""

import html
import shlex

import pytest

from tests.support import HTMX
from dashboard import create_app
from dashboard.domain import action_kinds, lesson_fields
from dashboard.domain.action_kinds import KINDS, Kind
from dashboard.domain.actions import Done
from dashboard.domain.lessons import LESSON_FILE, LessonError, load_lesson


def definitions(cls=Kind):
    """Every class defining a kind (named), however deep below Kind."""
    for sub in cls.__subclasses__():
        if sub.name:
            yield sub
        yield from definitions(sub)


def test_every_kind_in_the_vocabulary_has_exactly_one_definition_with_a_label_a_command_and_an_effect():
    names = [cls.name for cls in definitions() if cls.__module__ == action_kinds.__name__]
    assert sorted(names) == sorted(set(names)), "a kind defined twice"
    assert set(names) == set(KINDS)
    for name, kind in KINDS.items():
        assert kind.name == name
        assert kind.label.strip(), f"{name} has no button label"
        assert type(kind).typed is not Kind.typed, f"{name} has no command"
        assert type(kind).effect is not Kind.effect, f"{name} has no effect"
        assert all(callable(parse) and isinstance(required, bool) for parse, required in kind.fields.values()), name


class Echo(Kind):
    """A kind as a lesson author would add one: defined here, and nowhere else."""

    name, label = "echo", "Say it"
    fields = {"command": (lesson_fields.words, True)}

    def typed(self, lesson, action, place, host_port=None):
        return shlex.join(["echo", *action.command])

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        return Done(" ".join(action.command) + "\n")


LESSON = '''\
id = "echoes"
title = "Echoes"
intro = "Says things."

[[steps]]
id = "say"
title = "Say it"
text = "Says hello."
action = { kind = "echo", command = ["hello", "there"] }
'''


@pytest.fixture
def echo_kind(monkeypatch):
    monkeypatch.setitem(KINDS, Echo.name, Echo())


def lesson_folder(root, text=LESSON):
    folder = root / "01-echoes"
    folder.mkdir(parents=True)
    (folder / LESSON_FILE).write_text(text)
    return folder


def test_an_unknown_kind_is_refused_until_it_is_defined(tmp_path, echo_kind, monkeypatch):
    folder = lesson_folder(tmp_path)
    assert load_lesson(folder).steps[0].action.button == "Say it"
    monkeypatch.delitem(KINDS, Echo.name)
    with pytest.raises(LessonError, match="unknown action 'echo'"):
        load_lesson(folder)


def test_a_kind_s_fields_are_validated_from_its_definition(tmp_path, echo_kind):
    folder = lesson_folder(tmp_path, LESSON.replace('command = ["hello", "there"]', 'command = ["hi"], tail = 3'))
    with pytest.raises(LessonError, match=r"field 'action.tail': echo takes command"):
        load_lesson(folder)
    (folder / LESSON_FILE).write_text(LESSON.replace(', command = ["hello", "there"]', ""))
    with pytest.raises(LessonError, match=r"field 'action.command': missing"):
        load_lesson(folder)


@pytest.mark.engine  # its press runs through the app, whose pages ask the engine
def test_a_kind_defined_in_one_place_gets_its_button_its_command_and_its_effect(tmp_path, echo_kind):
    lesson_folder(tmp_path / "lessons")
    app = create_app({"TESTING": True, "LESSONS_DIR": str(tmp_path / "lessons"),
                      "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    client = app.test_client()
    page = html.unescape(client.get("/lessons/echoes").text)
    assert ">Say it</button>" in page
    assert "echo hello there" in page
    pressed = client.post("/lessons/echoes/steps/say", headers=HTMX)
    assert pressed.status_code == 200
    assert "hello there" in html.unescape(client.get("/lessons/echoes/steps/say", headers=HTMX).text)
    entry = app.extensions["transcript"].entries()[-1]
    assert (entry.action, entry.command, entry.output) == ("echo", "echo hello there", "hello there\n")
