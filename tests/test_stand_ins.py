"""The stand-ins for pulled images, found by the dashboard itself however it is started: a known local image
stands in when the named one is not on the engine, a setting wins, and the engine is asked again only when its
images change (never for each page)."""

import uuid

import pytest

from tests.support import wait_until
from dashboard import create_app
from dashboard.domain.stand_ins import StandIn, StandIns

# Both engine passes (engine_specific): the engine's image lists and filters.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]

WAIT = 30  # seconds: only so that a broken test ends


def counting_image_calls(engine):
    """Count the engine's image look-ups (`docker image inspect`)."""
    calls, real = [], engine.image

    def image(tag):
        calls.append(tag)
        return real(tag)

    engine.image = image
    return calls


@pytest.fixture
def tags(docker_client):
    """A named image and its local stand-in, tags of this test's own on the local base image, removed afterwards."""
    unique = uuid.uuid4().hex[:10]
    named, local = f"test-named-{unique}:1", f"test-local-{unique}:1"
    yield named, local
    for tag in (named, local):
        try:
            docker_client.api.remove_image(tag)
        except Exception:  # never made, or already gone
            pass


def test_a_stand_in_is_found_when_the_named_image_is_absent_and_again_when_images_change(tmp_path, docker_client,
                                                                                         tags):
    named, local = tags
    base = docker_client.images.list()[0].id  # any image here: only its tags matter
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    engine, snapshot = app.extensions["engine"], app.extensions["snapshot"]
    calls = counting_image_calls(engine)
    stand_ins = StandIns(engine, {}, lambda: snapshot.images_version, known={named: local})
    snapshot.current()  # starts following the engine's events
    wait_until(lambda: snapshot.following, "the engine's events followed", timeout=WAIT)

    assert stand_ins.current() == {}  # neither is here: the named one is pulled
    asked = len(calls)
    for _ in range(20):  # pages: no engine call while the images stay as they are
        assert stand_ins.current() == {}
    assert len(calls) == asked

    docker_client.api.tag(base, local)
    found = wait_until(stand_ins.current, "the stand-in found after it was tagged", timeout=WAIT)
    assert found == {named: StandIn(named, local, None)}

    docker_client.api.tag(base, named)  # the named image arrives (pulled): it is used itself
    wait_until(lambda: stand_ins.current() == {}, "the named image used once it is here", timeout=WAIT)


def test_a_setting_wins_over_the_stand_in_found(tmp_path, docker_client, tags):
    named, local = tags
    docker_client.api.tag(docker_client.images.list()[0].id, local)
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3"), "BASE_IMAGE": "my-python:3"})
    snapshot = app.extensions["snapshot"]
    stand_ins = StandIns(app.extensions["engine"], app.config, lambda: snapshot.images_version,
                         known={"python:3.12-slim": local})
    assert stand_ins.current() == {"python:3.12-slim": StandIn("python:3.12-slim", "my-python:3",
                                                               "DASHBOARD_BASE_IMAGE")}
