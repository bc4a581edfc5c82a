"""Fragments rendered once per version and kind of viewer: shared by viewers alike, never across kinds."""

import pytest

from tests.support import HTMX, page_hooks
from dashboard.web.fragments import MAX_KINDS, RenderedOnce


def rendering(text, renders):
    return lambda: renders.append(text) or text


def test_one_rendering_per_version_and_kind_of_viewer():
    cache, renders = RenderedOnce(), []
    assert cache.get("v1", "viewer", rendering("v1 viewer", renders)) == "v1 viewer"
    assert cache.get("v1", "viewer", rendering("v1 viewer again", renders)) == "v1 viewer"
    assert cache.get("v1", "instructor", rendering("v1 instructor", renders)) == "v1 instructor"
    assert cache.get("v2", "viewer", rendering("v2 viewer", renders)) == "v2 viewer"
    assert cache.get("v2", "viewer", rendering("v2 viewer again", renders)) == "v2 viewer"
    assert renders == ["v1 viewer", "v1 instructor", "v2 viewer"]


def test_the_kinds_kept_are_bounded_beyond_which_each_asks_renders():
    cache, renders = RenderedOnce(), []
    for kind in range(MAX_KINDS):
        cache.get("v1", kind, rendering(str(kind), renders))
    cache.get("v1", "one more", rendering("one more", renders))
    cache.get("v1", "one more", rendering("one more, again", renders))
    assert renders[-2:] == ["one more", "one more, again"]


@pytest.mark.engine
def test_the_instructor_and_a_viewer_each_get_their_own_list(app, cowserv_image, created, free_port):
    instructor = app.test_client()
    response = instructor.post("/containers", data={"host_port": str(free_port)}, headers=HTMX)
    created(response.text.split("data-run-output>")[1].split("<")[0])

    theirs = instructor.get("/containers", headers=HTMX).text
    viewers = app.test_client(instructor=False).get("/containers", headers=HTMX).text
    assert "hx-delete" in theirs and "hx-delete" not in viewers
    assert page_hooks(theirs)[1] == page_hooks(viewers)[1]
    assert instructor.get("/containers", headers=HTMX).text == theirs
