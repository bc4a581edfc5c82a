"""dashboard/domain/builds.py: a Build fed the chunks the engine's classic builder sends, as `decode=True` yields them."""

import threading
import time

import pytest

from dashboard.domain.builds import Build, BuildPlan, LogLine
from tests.support import wait_until

IMAGE_ID = "sha256:5c3f0e1d2b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

# A cached rebuild of the cowserv Dockerfile, chunk by chunk.
CACHED_BUILD = [
    {"stream": "Step 1/7 : ARG BASE_IMAGE=python:3.12-slim"},
    {"stream": "\n"},
    {"stream": "Step 2/7 : FROM ${BASE_IMAGE}"},
    {"stream": "\n"},
    {"stream": " ---> 1d5c3f0e1d2b\n"},
    {"stream": "Step 3/7 : LABEL classroom.lesson=\"cowserv\""},
    {"stream": "\n"},
    {"stream": " ---> Using cache\n"},
    {"stream": " ---> 2e6d4a1f2c3b\n"},
    {"stream": "Step 4/7 : RUN apt-get update && apt-get install -y cowsay fortune && rm -rf /var/lib/apt/lists/*"},
    {"stream": "\n"},
    {"stream": " ---> Using cache\n"},
    {"stream": " ---> 3f7e5b2a3d4c\n"},
    {"stream": "Step 5/7 : ENV PATH=$PATH:/usr/games"},
    {"stream": "\n"},
    {"stream": " ---> Using cache\n"},
    {"stream": " ---> 4a8f6c3b4e5d\n"},
    {"stream": "Step 6/7 : RUN echo \"<pre>\" > index.html && fortune | cowsay >> index.html && echo \"</pre>\" >> index.html"},
    {"stream": "\n"},
    {"stream": " ---> Using cache\n"},
    {"stream": " ---> 5b9a7d4c5f6e\n"},
    {"stream": "Step 7/7 : CMD python3 -m http.server 8000"},
    {"stream": "\n"},
    {"stream": " ---> Using cache\n"},
    {"stream": " ---> 5c3f0e1d2b4a\n"},
    {"aux": {"ID": IMAGE_ID}},
    {"stream": "Successfully built 5c3f0e1d2b4a\n"},
    {"stream": "Successfully tagged cowserv:latest\n"},
]

FAILED_RUN = [
    {"stream": "Step 1/7 : ARG BASE_IMAGE=python:3.12-slim"},
    {"stream": "\n"},
    {"stream": "Step 2/7 : FROM ${BASE_IMAGE}"},
    {"stream": "\n"},
    {"stream": " ---> 1d5c3f0e1d2b\n"},
    {"stream": "Step 3/7 : LABEL classroom.lesson=\"cowserv\""},
    {"stream": "\n"},
    {"stream": " ---> Running in 0a1b2c3d4e5f\n"},
    {"stream": " ---> 2e6d4a1f2c3b\n"},
    {"stream": "Step 4/7 : RUN apt-get update && apt-get install -y cowsay fortune && rm -rf /var/lib/apt/lists/*"},
    {"stream": "\n"},
    {"stream": " ---> Running in 6f7a8b9c0d1e\n"},
    {"stream": "\x1b[91mE: Unable to locate package cowsay\n\x1b[0m"},
    {
        "errorDetail": {
            "code": 100,
            "message": "The command '/bin/sh -c apt-get update && apt-get install -y cowsay fortune && "
            "rm -rf /var/lib/apt/lists/*' returned a non-zero code: 100",
        },
        "error": "The command '/bin/sh -c apt-get update && apt-get install -y cowsay fortune && "
        "rm -rf /var/lib/apt/lists/*' returned a non-zero code: 100",
    },
]


PLAN = BuildPlan(context="/srv/cowserv", tag="cowserv", build_args={},
                 command="cd /srv/cowserv && docker build -t cowserv .", replay="docker build -t cowserv .",
                 lesson="cowserv")


def fed(chunks):
    build = Build(plan=PLAN)
    for chunk in chunks:
        build.record(chunk)
    return build


def texts(build):
    return [line.text for line in build.lines]


def test_a_new_build_is_running_at_zero():
    build = Build(plan=PLAN)

    assert build.running
    assert (build.step, build.total_steps, build.percent) == (0, 0, 0)
    assert build.failed_step is None
    assert build.lines == []


def test_step_lines_set_step_and_total():
    build = fed(CACHED_BUILD[:4])

    assert (build.step, build.total_steps) == (2, 7)
    assert build.lines == [
        LogLine("Step 1/7 : ARG BASE_IMAGE=python:3.12-slim", step=1, kind="step"),
        LogLine("Step 2/7 : FROM ${BASE_IMAGE}", step=2, kind="step"),
    ]
    assert build.percent == int(100 * 1 / 7)


def test_blank_stream_chunks_add_no_lines():
    build = fed([{"stream": "\n"}, {"stream": "   \n"}, {"stream": ""}])

    assert build.lines == []


def test_using_cache_marks_the_current_step_cached():
    build = fed(CACHED_BUILD[:9])

    assert build.cached_steps == {3}
    assert build.lines[-2] == LogLine(" ---> Using cache", kind="cache")
    assert build.lines[-1] == LogLine(" ---> 2e6d4a1f2c3b", kind="output")


def test_a_cached_build_succeeds_with_the_aux_image_id():
    build = fed(CACHED_BUILD)

    assert build.running  # the stream ending is not the build ending: finish() says so
    assert build.image_id == IMAGE_ID  # the aux ID wins over the short id of "Successfully built"
    assert build.percent == int(100 * 6 / 7)

    build.finish()

    assert build.state == "succeeded"
    assert not build.running
    assert build.percent == 100
    assert (build.step, build.total_steps) == (7, 7)
    assert build.cached_steps == {3, 4, 5, 6, 7}
    assert build.failed_step is None
    assert build.error is None
    assert build.finished is not None
    assert texts(build)[-2:] == ["Successfully built 5c3f0e1d2b4a", "Successfully tagged cowserv:latest"]


def test_successfully_built_gives_the_image_id_when_there_is_no_aux():
    build = fed([chunk for chunk in CACHED_BUILD if "aux" not in chunk])
    build.finish()

    assert build.state == "succeeded"
    assert build.image_id == "5c3f0e1d2b4a"


def test_finish_without_an_image_fails():
    build = fed(CACHED_BUILD[:5])
    build.finish()

    assert build.state == "failed"
    assert build.error == "The engine ended the build without an image."
    assert build.lines[-1] == LogLine("The engine ended the build without an image.", kind="error")
    assert build.failed_step == 2


def test_error_chunk_fails_the_build_at_its_step():
    build = fed(FAILED_RUN)

    assert build.state == "failed"
    assert not build.running
    assert build.failed_step == 4
    assert build.step == 4
    assert build.total_steps == 7
    assert build.percent == int(100 * 3 / 7)
    assert build.cached_steps == set()
    assert build.image_id is None
    assert build.error.endswith("returned a non-zero code: 100")
    assert build.lines[-1] == LogLine(build.error, kind="error")
    assert build.finished is not None


def test_colour_codes_are_stripped():
    build = fed(FAILED_RUN)

    assert "E: Unable to locate package cowsay" in texts(build)
    assert not any("\x1b" in text for text in texts(build))


def test_finish_after_an_error_chunk_keeps_the_failure():
    build = fed(FAILED_RUN)
    error, lines = build.error, list(build.lines)

    build.finish()

    assert build.state == "failed"
    assert build.error == error
    assert build.lines == lines


def test_finish_with_an_error_fails_a_running_build():
    build = fed(CACHED_BUILD[:13])

    build.finish(error="The Docker engine does not answer: Connection aborted.")

    assert build.state == "failed"
    assert build.failed_step == 4
    assert build.lines[-1] == LogLine("The Docker engine does not answer: Connection aborted.", kind="error")


def test_error_chunk_with_only_error_key():
    build = fed([{"stream": "Step 1/1 : FROM nosuchimage\n"}, {"error": "pull access denied for nosuchimage"}])

    assert build.state == "failed"
    assert build.error == "pull access denied for nosuchimage"
    assert build.failed_step == 1


def test_a_multi_line_stream_chunk_is_split_into_lines():
    build = fed([
        {"stream": "Step 4/7 : RUN apt-get update\n"},
        {"stream": "Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]\r\n"
                   "Get:2 http://deb.debian.org/debian bookworm-updates InRelease [55.4 kB]\n"
                   "\n"
                   "Reading package lists...   \n"},
    ])

    assert texts(build) == [
        "Step 4/7 : RUN apt-get update",
        "Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]",
        "Get:2 http://deb.debian.org/debian bookworm-updates InRelease [55.4 kB]",
        "Reading package lists...",
    ]
    assert [line.kind for line in build.lines] == ["step", "output", "output", "output"]


def test_status_chunks_of_a_base_image_pull_are_lines():
    build = fed([
        {"status": "Pulling from library/python", "id": "3.12-slim"},
        {"status": "Pull complete", "id": "a1b2c3d4e5f6", "progressDetail": {}},
        {"status": "Digest: sha256:0123"},
    ])

    assert texts(build) == [
        "3.12-slim Pulling from library/python",
        "a1b2c3d4e5f6 Pull complete",
        "Digest: sha256:0123",
    ]


def test_follow_a_finished_build_yields_every_line_with_its_index():
    build = fed(CACHED_BUILD)
    build.finish()

    followed = list(build.follow())

    assert followed == list(enumerate(build.lines))


def test_follow_from_a_start_index():
    build = fed(CACHED_BUILD)
    build.finish()

    followed = list(build.follow(start=5))

    assert followed == [(index, build.lines[index]) for index in range(5, len(build.lines))]
    assert list(build.follow(start=len(build.lines))) == []


def test_follow_yields_none_while_quiet_then_the_end():
    build = Build(plan=PLAN)
    follower = build.follow(wait=0.01)

    assert next(follower) is None
    build.finish(error="The build stopped unexpectedly: boom")
    assert next(follower) == (0, LogLine("The build stopped unexpectedly: boom", kind="error"))
    with pytest.raises(StopIteration):
        next(follower)


def test_follow_yields_lines_while_the_build_runs_and_ends_when_it_finishes():
    build = Build(plan=PLAN)
    first_line_seen = threading.Event()
    feeder_problems = []

    def feed():
        build.record(CACHED_BUILD[0])
        # Hold the build running until the follower has had the first line: it must not need the end.
        if not first_line_seen.wait(timeout=5):
            feeder_problems.append("the follower did not get the first line while the build ran")
        for chunk in CACHED_BUILD[1:]:
            build.record(chunk)
            time.sleep(0.001)
        build.finish()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()

    followed, running_when_seen = [], []
    deadline = time.monotonic() + 10
    for item in build.follow(wait=0.05):
        assert time.monotonic() < deadline, "follow() did not end after the build finished"
        if item is None:
            continue
        followed.append(item)
        if len(followed) == 1:
            running_when_seen.append(build.running)
            first_line_seen.set()

    feeder.join(timeout=5)
    assert not feeder.is_alive()
    assert feeder_problems == []
    assert running_when_seen == [True]
    assert build.state == "succeeded"
    assert followed == list(enumerate(build.lines))
    assert len(followed) == len(texts(fed(CACHED_BUILD)))


def test_two_followers_joining_at_different_points_see_the_same_lines():
    build = Build(plan=PLAN)
    for chunk in CACHED_BUILD[:8]:
        build.record(chunk)
    seen_at_join = len(build.lines)
    results = {}

    def follow(name, start):
        results[name] = list(item for item in build.follow(start=start, wait=0.05) if item is not None)

    followers = [threading.Thread(target=follow, args=("early", 0)),
                 threading.Thread(target=follow, args=("late", seen_at_join))]
    for thread in followers:
        thread.start()
    for chunk in CACHED_BUILD[8:]:
        build.record(chunk)
    build.finish()
    for thread in followers:
        thread.join(timeout=5)

    assert not any(thread.is_alive() for thread in followers)
    assert results["early"] == list(enumerate(build.lines))
    assert results["late"] == results["early"][seen_at_join:]


class HeldEngine:
    """An engine stand-in whose build streams nothing until released: the Builder's rule, not the engine, is tested."""

    def __init__(self):
        self.release = threading.Event()

    def version(self):
        return None

    def build(self, context, tag, build_args):
        self.release.wait(10)
        yield {"aux": {"ID": IMAGE_ID}}


def plan_for(tag, lesson):
    return BuildPlan(context=".", tag=tag, build_args={}, command=f"docker build -t {tag} .",
                     replay=f"docker build -t {tag} .", lesson=lesson)


def test_a_second_press_joins_the_build_of_its_image_and_another_lesson_s_build_is_refused():
    from dashboard.domain.builds import Builder
    from dashboard.domain.errors import BuildingAnother

    finished = []
    builder, engine = Builder(on_finish=finished.append), HeldEngine()
    first = builder.start(engine, plan_for("cowserv", "cowserv"))
    assert builder.start(engine, plan_for("cowserv", "cowserv")) is first
    with pytest.raises(BuildingAnother, match="The image cowserv is building .lesson cowserv.: one build at a time"):
        builder.start(engine, plan_for("website", "realistic"))
    engine.release.set()
    for _ in first.follow():
        pass
    assert first.state == "succeeded"
    wait_until(lambda: finished, "on_finish, called in the build's thread right after it ends")
    assert finished == [first]
    assert builder.start(engine, plan_for("website", "realistic")).plan.tag == "website"
