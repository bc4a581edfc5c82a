"""A `show` step reads only a regular file, and only its first 256 KB: on the instructor's place, inside the lesson's
folder (no link leading out of it, no FIFO, which would hold the press for ever); on a seat, as its student with
`test -f` and `head -c`, a reader that does not end answering with a message, never a 500."""

import os
import subprocess
from pathlib import Path

import pytest

from dashboard.domain import actions
from dashboard.domain.action_kinds import KINDS
from dashboard.domain.lessons import Action
from dashboard.seat_host.layout import FOLDER
from dashboard.seat_host.shell import StudentFiles

SHOWN = KINDS["show"].SHOWN


class Lesson:
    folder = "vocab"


def show(place, file="supervisord.conf"):
    return KINDS["show"].effect(None, Lesson(), Action("show", file=file), place)


@pytest.fixture
def instructor(tmp_path):
    folder = tmp_path / "workshop" / "vocab"
    folder.mkdir(parents=True)
    return folder, actions.Place(folder, tmp_path)


def test_the_instructor_s_show_refuses_a_link_leading_out_of_the_lesson_s_folder(instructor, tmp_path):
    folder, place = instructor
    (tmp_path / "secret").write_text("the dashboard's secret\n")
    (folder / "supervisord.conf").symlink_to(tmp_path / "secret")
    done = show(place)
    assert not done.ok and "secret" not in done.output
    assert done.output == "cat: supervisord.conf: Not shown: a link leading outside the lesson's folder\n"


def test_the_instructor_s_show_follows_a_link_inside_the_folder(instructor):
    folder, place = instructor
    (folder / "real.conf").write_text("[supervisord]\n")
    (folder / "supervisord.conf").symlink_to("real.conf")
    assert show(place).output == "[supervisord]\n"


def test_the_instructor_s_show_refuses_a_fifo_at_once(instructor):
    folder, place = instructor
    os.mkfifo(folder / "supervisord.conf")
    done = show(place)  # a read of a FIFO nobody writes would wait for ever
    assert (done.ok, done.output) == (False, "cat: supervisord.conf: Not a regular file\n")


def test_the_instructor_s_show_shows_the_first_256_kb_of_a_big_file_and_says_so(instructor):
    folder, place = instructor
    (folder / "supervisord.conf").write_text("x" * (SHOWN + 10))
    done = show(place)
    assert done.ok and done.output == "x" * SHOWN + "\n(the file goes on: only its first 256 KB are shown)\n"


@pytest.fixture
def seat(tmp_path):
    """A seat's files read by a stand-in argv_of that runs the command here, on a folder of the test's own."""
    (tmp_path / "vocab").mkdir()
    own = StudentFiles(lambda argv: [word.replace(FOLDER, str(tmp_path)) for word in argv])
    return tmp_path / "vocab", actions.Place(tmp_path / "nowhere", Path("/home/student"), seat="s1", own_files=own)


def test_a_seat_s_show_reads_the_first_256_kb_with_head(seat):
    folder, place = seat
    (folder / "supervisord.conf").write_text("y" * (SHOWN + 10))
    assert show(place).output == "y" * SHOWN + "\n(the file goes on: only its first 256 KB are shown)\n"
    (folder / "supervisord.conf").write_text("[supervisord]\n")
    assert show(place).output == "[supervisord]\n"


def test_a_seat_s_show_refuses_a_fifo(seat):
    folder, place = seat
    os.mkfifo(folder / "supervisord.conf")
    done = show(place)
    assert (done.ok, done.output) == (False, "cat: supervisord.conf: Not a regular file\n")


def test_a_seat_s_reader_that_does_not_end_answers_with_a_message(seat, monkeypatch):
    folder, place = seat
    (folder / "supervisord.conf").write_text("[supervisord]\n")
    real = subprocess.run

    def stalled(argv, **given):
        raise subprocess.TimeoutExpired(argv, given.get("timeout"))

    monkeypatch.setattr(subprocess, "run", stalled)
    done = show(place)
    monkeypatch.setattr(subprocess, "run", real)
    assert (done.ok, done.output) == (False, "cat: supervisord.conf: reading it did not end within 30 s\n")
