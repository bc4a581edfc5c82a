"""A long step's output (one whose kind streams it: Compose building) is bounded on the board: every viewer is sent
its last 64 KB while it runs, its final run keeps its last 256 KB; and a seat's press of it that fails in any way
ends with a failed run on the board, never one left "running" for good. Pure: a stand-in kind, no engine."""

import shlex

import pytest

from dashboard.domain import lesson_fields, room, step_runs
from dashboard.domain.action_kinds import KINDS, Kind
from dashboard.domain.actions import Done, Place
from dashboard.domain.lessons import LESSON_FILE, load_lesson


class Board:
    def __init__(self):
        self.shown = []

    def ran(self, scope, step_id, ran):
        self.shown.append(ran)


class Snapshot:
    def invalidate(self):
        pass


class Long(Kind):
    """A long kind whose effect prints `lines` lines of 1000 characters, then fails (`fails`) or ends."""

    name, label = "long", "Run long"
    fields = {"command": (lesson_fields.words, True)}
    lines, fails = 3, None

    def typed(self, lesson, action, place, host_port=None):
        return shlex.join(["long", *action.command])

    def streams(self, action):
        return True

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        printed = [f"{number:06d} " + "x" * 993 for number in range(self.lines)]
        for line in printed:
            on_line(line)
        if self.fails:
            raise self.fails
        return Done("".join(line + "\n" for line in printed))


LESSON = '''\
id = "long"
title = "Long"
intro = "A long step."

[[steps]]
id = "up"
title = "Up"
text = "Runs long."
action = { kind = "long", command = ["up"] }
'''


@pytest.fixture
def long_kind(monkeypatch, tmp_path):
    kind = Long()
    monkeypatch.setitem(KINDS, kind.name, kind)
    folder = tmp_path / "01-long"
    folder.mkdir()
    (folder / LESSON_FILE).write_text(LESSON)
    return kind, load_lesson(folder), Place(tmp_path, tmp_path, seat="seat-8001")


def test_a_running_step_shows_its_last_64_kb_saying_the_start_is_cut():
    board = Board()
    progress = step_runs.Progress(board, "lesson", "up", "docker compose build", every=0)
    for number in range(200):  # 200 KB
        progress.line(f"{number:06d} " + "x" * 993)
    progress.close()
    shown = board.shown[-1].output
    assert shown.startswith("(the start is cut: only the last 64 KB are shown)\n")
    assert len(shown) <= step_runs.SHOWN_RUNNING + 100
    assert shown.endswith(f"{199:06d} " + "x" * 993 + "\n") and progress.output == shown


def test_the_last_of_an_output_is_whole_lines_after_a_line_saying_the_start_is_cut():
    text = "".join(f"{number:06d} " + "x" * 993 + "\n" for number in range(300))  # 300 KB
    kept = step_runs.last(text)
    first, second = kept.splitlines()[:2]
    assert first == "(the start is cut: only the last 256 KB are shown)"
    assert len(second) == 1000 and text.endswith(kept[len(first) + 1:])
    assert step_runs.last("short\n") == "short\n"


def test_a_long_step_s_final_run_keeps_its_last_256_kb(long_kind):
    kind, lesson, place = long_kind
    kind.lines = 300
    board = Board()
    done = room.press_step(None, board, Snapshot(), lesson, lesson.step("up"), place, "127.0.0.1", check=False)
    final = board.shown[-1]
    assert not final.running and final.ok and final.output == done.output
    assert final.output.startswith("(the start is cut: only the last 256 KB are shown)\n")
    assert len(final.output) <= step_runs.KEPT + 100
    assert all(len(ran.output) <= step_runs.SHOWN_RUNNING + 100 for ran in board.shown[:-1])


def test_a_seat_s_long_step_that_fails_unexpectedly_ends_failed_on_the_board(long_kind):
    kind, lesson, place = long_kind
    kind.fails = RuntimeError("boom")
    board, ended = Board(), []
    with pytest.raises(RuntimeError, match="boom"):
        room.press_step(None, board, None, lesson, lesson.step("up"), place, "127.0.0.1",
                        ended=lambda: ended.append(True))
    final = board.shown[-1]
    assert not final.running and not final.ok
    assert final.output.endswith(f"{2:06d} " + "x" * 993 + "\nError: it stopped unexpectedly: boom")
    assert ended == [True]
