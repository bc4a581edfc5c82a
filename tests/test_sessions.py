"""Sessions end on the server: signing out ends the instructor's sessions on every device, copied cookies
included, and a new instructor token ends all of them, across restarts too."""

import pytest

from tests.support import HTMX, sign_in_by_form
from dashboard import create_app

pytestmark = pytest.mark.engine  # its pages show the engine's version

TOKEN = "correct horse battery staple"


@pytest.fixture
def make_app(tmp_path):
    """An app on the test run's instance folder (its secret key and session generations), with a token."""
    def make(token=TOKEN):
        return create_app({"TESTING": True, "INSTRUCTOR_TOKEN": token,
                           "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3")})
    return make


def signed_in(app):
    """A browser signed in through the real form; returns it and its CSRF token."""
    client = app.test_client(instructor=False)
    assert sign_in_by_form(client, TOKEN).status_code == 302
    with client.session_transaction() as session:
        return client, session["csrf"]


def copy_of(client, app):
    """Another browser holding a copy of `client`'s session cookie."""
    copy = app.test_client(instructor=False)
    copy.set_cookie("session", client.get_cookie("session").value)
    return copy


def is_instructor(client, csrf):
    """Whether the instructor's action is accepted: clearing the transcript, with the session's CSRF token."""
    answer = client.post("/transcript/clear", headers={**HTMX, "X-CSRF-Token": csrf})
    assert answer.status_code in (200, 403), answer.text
    return answer.status_code == 200


def test_signing_out_ends_the_instructors_sessions_on_every_device(make_app):
    app = make_app()
    laptop, laptop_csrf = signed_in(app)
    phone, phone_csrf = signed_in(app)
    stolen = copy_of(laptop, app)
    assert is_instructor(stolen, laptop_csrf) and is_instructor(phone, phone_csrf)

    assert laptop.post("/signout", data={"csrf_token": laptop_csrf}).status_code == 302

    for client, csrf in ((laptop, laptop_csrf), (phone, phone_csrf), (stolen, laptop_csrf)):
        assert not is_instructor(client, csrf)
        assert "Sign out" not in client.get("/").text
    again, csrf = signed_in(app)  # signing in again works, with a new session
    assert is_instructor(again, csrf)


def test_a_sign_out_outlives_a_restart(make_app):
    app = make_app()
    laptop, csrf = signed_in(app)
    stolen = copy_of(laptop, app)
    laptop.post("/signout", data={"csrf_token": csrf})
    restarted = make_app()
    assert not is_instructor(copy_of(stolen, restarted), csrf)


def test_a_new_instructor_token_ends_every_session(make_app):
    laptop, csrf = signed_in(make_app())
    assert is_instructor(copy_of(laptop, make_app()), csrf)  # a restart with the same token keeps it
    assert not is_instructor(copy_of(laptop, make_app("a different token, long enough")), csrf)
