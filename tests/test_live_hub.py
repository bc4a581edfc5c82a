"""The live hub (domain/live.py): numbered nudges, resuming after an id, bounded memory, and who sees what."""

import threading
import time

from dashboard.domain.live import EVERYTHING, TICK, Hub, Viewer, seat_of, topics_for


def test_ids_count_up_and_resume_gives_the_missed_nudges():
    hub = Hub()
    start = hub.last_id
    hub.publish("board", "A1")
    hub.publish("containers")
    assert [(n.topic, n.seat) for n in hub.since(start)] == [("board", "A1"), ("containers", None)]
    assert hub.since(hub.last_id) == []


def test_an_id_no_longer_kept_or_from_another_process_means_everything():
    hub = Hub(keep=4)
    start = hub.last_id
    for _ in range(5):
        hub.publish("containers")
    assert hub.since(start) is None  # one of the missed ones is gone
    assert hub.since(hub.id_of(1)) is not None  # 2..5 all kept
    assert hub.since(Hub().last_id) is None  # another hub's (a restart's) id
    assert hub.since("nonsense") is None
    assert hub.since(hub.id_of(99)) is None  # an id from the future is not ours either


def test_memory_stays_bounded_however_many_nudges():
    hub = Hub(keep=8)
    for _ in range(10_000):
        hub.publish("board", "A1")
    assert len(hub._kept) == 8


def test_a_waiting_stream_wakes_on_a_nudge_and_falls_back_to_everything_when_behind():
    hub = Hub(keep=2, tick_seconds=60)
    after = hub.number
    threading.Timer(0.05, hub.publish, ("lesson",)).start()
    got = hub.wait(after, timeout=10)
    assert [n.topic for n in got] == ["lesson"]
    for _ in range(3):
        hub.publish("containers")
    assert [n.topic for n in hub.wait(after, timeout=0)] == [EVERYTHING]


def test_wait_returns_nothing_at_the_heartbeat_and_ticks_when_due():
    hub = Hub(tick_seconds=0.2)
    assert hub.wait(hub.number, timeout=0.05) == []
    time.sleep(0.2)
    assert [n.topic for n in hub.wait(hub.number, timeout=1)] == [TICK]


def test_a_seat_hears_only_of_its_own_seat_and_the_room_wide_topics():
    hub = Hub()
    for topic, seat in [("board", "A1"), ("board", "B2"), ("containers", "B2"), ("grid", None), ("lesson", None),
                        ("containers", None), ("session", None)]:
        hub.publish(topic, seat)
    nudges = hub.since(hub.id_of(0))
    assert topics_for(Viewer("seat", "A1"), nudges) == ["board", "lesson"]
    assert topics_for(Viewer("screen"), nudges) == ["grid", "lesson", "containers"]
    assert topics_for(Viewer("instructor"), nudges) == ["board", "containers", "grid", "lesson"]


def test_a_boards_scope_names_its_seat():
    assert seat_of("cowserv@A1") == "A1" and seat_of("cowserv") is None
