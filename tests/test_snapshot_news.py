"""When the shared list tells the pages of a change the engine's events showed: once per change, a `docker run`'s
create and start told as one (the pages then make one list read between them). No engine: events are fed in."""

import time

from tests.support import wait_until
from dashboard.domain.snapshot import ContainerSnapshot


def snapshot_telling(told):
    return ContainerSnapshot(engine=None, max_age=5, min_interval=1.0, on_change=told.append)


def test_a_create_and_its_start_are_told_once_as_one_change():
    told = []
    snapshot = snapshot_telling(told)
    snapshot._tell(None, "create")
    time.sleep(0.3)  # the network set up between them
    assert told == []  # not yet: the start is still to come
    snapshot._tell(None, "start")
    wait_until(lambda: told, "the change told")
    time.sleep(1.2)  # past when the create alone would have been told
    assert told == [None]


def test_a_seats_change_and_the_lessons_are_each_told():
    told = []
    snapshot = snapshot_telling(told)
    snapshot._tell("seat-8001", "die")
    snapshot._tell(None, "destroy")
    wait_until(lambda: len(told) == 2, "both changes told")
    assert sorted(told, key=str) == sorted(["seat-8001", None], key=str)


def test_a_create_alone_is_told_too():
    told = []
    snapshot_telling(told)._tell(None, "create")
    wait_until(lambda: told == [None], "a docker create told", timeout=5)
