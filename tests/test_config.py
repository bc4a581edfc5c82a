"""Settings from DASHBOARD_* variables: strings stay strings, numbers are checked, secrets are long and agreed on,
gunicorn reads the same table and refuses what the app would refuse, with one worker only."""

import importlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dashboard
from tests.support import sign_in_by_form
from dashboard import create_app, gunicorn_conf
from dashboard.config import SETTINGS, ConfigError

DIGITS_TOKEN = "12345678901234567890"  # as JSON it would be a number


def make_app(monkeypatch, tmp_path, **environ):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})


@pytest.mark.engine  # its pages show the engine's version
def test_a_token_that_looks_like_json_stays_the_string_typed(monkeypatch, tmp_path):
    app = make_app(monkeypatch, tmp_path, DASHBOARD_INSTRUCTOR_TOKEN=DIGITS_TOKEN)
    assert app.config["INSTRUCTOR_TOKEN"] == DIGITS_TOKEN
    assert sign_in_by_form(app.test_client(instructor=False), DIGITS_TOKEN).status_code == 302


def test_a_seat_prefix_of_digits_stays_a_string(monkeypatch, tmp_path):
    app = make_app(monkeypatch, tmp_path, DASHBOARD_SEAT_PREFIX="2024")
    assert app.config["SEAT_PREFIX"] == "2024"
    assert app.extensions["room_life"].prefix == "2024"


@pytest.mark.parametrize("variable, text, reason", [
    ("DASHBOARD_INSTRUCTOR_TOKEN", "null", "4 characters long"),  # JSON would make it None: a generated token
    ("DASHBOARD_INSTRUCTOR_TOKEN", "", "0 characters long"),
    ("DASHBOARD_SECRET_KEY", "short", "5 characters long"),
    ("DASHBOARD_MAX_SEATS", "1e3", "whole number"),  # JSON would make it 1000.0
    ("DASHBOARD_MAX_SEATS", "30.5", "whole number"),
    ("DASHBOARD_MAX_SEATS", "0", "from 1 to 10000"),
    ("DASHBOARD_FIRST_SEAT_PORT", "70000", "from 1 to 65535"),
    ("DASHBOARD_REFRESH_SECONDS", "soon", "a number"),
    ("DASHBOARD_SESSION_MINUTES", "１２", "a number"),  # fullwidth digits: isdigit() says yes
])
def test_a_bad_setting_stops_the_start_naming_the_variable(monkeypatch, tmp_path, variable, text, reason):
    with pytest.raises(ConfigError) as refused:
        make_app(monkeypatch, tmp_path, **{variable: text})
    assert variable in str(refused.value) and reason in str(refused.value)


@pytest.mark.engine  # its pages show the engine's version
def test_numbers_are_read_as_numbers(monkeypatch, tmp_path):
    app = make_app(monkeypatch, tmp_path, DASHBOARD_MAX_SEATS="50", DASHBOARD_REFRESH_SECONDS="0.5")
    assert app.config["MAX_SEATS"] == 50 and app.config["REFRESH_SECONDS"] == 0.5
    assert 'data-live-every="0.5"' in app.test_client().get("/").text  # the fallback's polling period


def test_a_kept_secret_that_is_empty_stops_the_start(monkeypatch, tmp_path):
    (tmp_path / "instructor-token").write_text("")
    monkeypatch.setenv("DASHBOARD_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("DASHBOARD_INSTRUCTOR_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="instructor-token is 0 characters long"):
        create_app({"TESTING": True})


@pytest.mark.engine  # its pages show the engine's version
def test_an_empty_sign_in_never_matches(monkeypatch, tmp_path):
    client = make_app(monkeypatch, tmp_path, DASHBOARD_INSTRUCTOR_TOKEN=DIGITS_TOKEN).test_client(instructor=False)
    response = sign_in_by_form(client, "")
    assert response.status_code == 403 and "not the instructor token" in response.text
    assert "Sign out" not in client.get("/").text


STARTER = """
import os, sys, time
from dashboard import create_app
folder, number, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
for round_ in range(rounds):  # imported once (the slow part), then one app per round, all at once
    open(os.path.join(folder, f"ready{round_}-{number}"), "w").close()
    while not os.path.exists(os.path.join(folder, f"go{round_}")):
        time.sleep(0.001)
    os.environ["DASHBOARD_INSTANCE_PATH"] = os.path.join(folder, f"instance{round_}")
    app = create_app()
    print(app.config["INSTRUCTOR_TOKEN"], app.config["SECRET_KEY"], flush=True)
"""
STARTERS, ROUNDS = 4, 5


def wait_for_starters(starters, paths, deadline):
    """Wait until every path exists; a starter that has ended, or the deadline, fails the test with its stderr."""
    while not all(path.exists() for path in paths):
        ended = [starter for starter in starters if starter.poll() is not None]
        late = time.monotonic() > deadline
        if ended or late:
            for starter in starters:
                starter.kill()
            errors = [starter.communicate()[1] for starter in (ended or starters)]
            pytest.fail(("a starter ended" if ended else "the starters did not get ready") + " before its round: "
                        + "\n".join(f"exit {starter.returncode}: {error}" for starter, error in
                                     zip(ended or starters, errors)))
        time.sleep(0.01)


def test_processes_starting_together_on_a_fresh_folder_agree_on_one_secret(tmp_path):
    """STARTERS processes make their app on the same fresh folder at once, ROUNDS times (a fresh folder each)."""
    environ = {key: value for key, value in os.environ.items()
               if key not in ("DASHBOARD_INSTRUCTOR_TOKEN", "DASHBOARD_SECRET_KEY")}
    starters = [subprocess.Popen([sys.executable, "-c", STARTER, str(tmp_path), str(n), str(ROUNDS)],
                                 env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for n in range(STARTERS)]
    deadline = time.monotonic() + 120
    for round_ in range(ROUNDS):
        wait_for_starters(starters, [tmp_path / f"ready{round_}-{n}" for n in range(STARTERS)], deadline)
        (tmp_path / f"go{round_}").touch()  # all of them make their app at once
    try:
        results = [starter.communicate(timeout=max(1, deadline - time.monotonic())) for starter in starters]
    except subprocess.TimeoutExpired:
        for starter in starters:
            starter.kill()
        pytest.fail("the starters did not finish: " + "\n".join(starter.communicate()[1] for starter in starters))
    assert all(starter.returncode == 0 for starter in starters), [err for _, err in results]
    printed = [out.splitlines() for out, _ in results]
    for round_ in range(ROUNDS):
        secrets = {lines[round_].strip() for lines in printed}
        assert len(secrets) == 1, (round_, secrets)
        token, key = secrets.pop().split()
        assert len(token) >= 16 and len(key) >= 16
        instance = tmp_path / f"instance{round_}"
        assert (instance / "instructor-token").read_text() == token
        assert oct((instance / "instructor-token").stat().st_mode & 0o777) == "0o600"


def gunicorn(*arguments, **environ):
    """Start gunicorn as scripts/up does; these all stop before serving, so it returns."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("DASHBOARD_") or key == "DASHBOARD_WORKSHOP_DIR"}  # never the real ~/docker-workshop
    env.update(environ)
    return subprocess.run([sys.executable, "-m", "gunicorn", "-c", "python:dashboard.gunicorn_conf", *arguments,
                           "dashboard:create_app()"], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("arguments, environ", [
    ((), {"DASHBOARD_WORKERS": "2"}),
    (("--workers", "3"), {}),
    (("--workers", "2"), {"DASHBOARD_WORKERS": "1"}),  # -w wins in gunicorn, so it is checked whatever the variable
    ((), {"GUNICORN_CMD_ARGS": "--workers 2"}),
])
def test_more_than_one_worker_refuses_to_start_and_says_why(arguments, environ):
    result = gunicorn("--bind", "127.0.0.1:0", *arguments, **environ)
    assert result.returncode != 0
    assert "exactly 1 worker process" in result.stderr and "silently split them" in result.stderr


def test_gunicorn_refuses_a_bad_setting_before_serving():
    result = gunicorn("--bind", "127.0.0.1:0", DASHBOARD_MAX_SEATS="1e3")
    assert result.returncode != 0
    assert "Refusing to start: DASHBOARD_MAX_SEATS must be a whole number" in result.stderr


def test_the_bind_check_and_the_app_agree_that_null_is_no_token():
    result = gunicorn("--bind", "0.0.0.0:0", DASHBOARD_INSTRUCTOR_TOKEN="null")
    assert result.returncode != 0
    assert "DASHBOARD_INSTRUCTOR_TOKEN is 4 characters long" in result.stderr


def test_gunicorn_takes_its_settings_from_the_one_table(monkeypatch):
    monkeypatch.setenv("DASHBOARD_BIND", "127.0.0.1:5999")
    monkeypatch.setenv("DASHBOARD_ACCESS_LOG", "/dev/null")
    monkeypatch.setenv("DASHBOARD_WORKER_TIMEOUT", "300")
    try:
        conf = importlib.reload(gunicorn_conf)
        assert (conf.bind, conf.accesslog, conf.timeout) == ("127.0.0.1:5999", "/dev/null", 300)
    finally:
        monkeypatch.undo()
        importlib.reload(gunicorn_conf)
    assert {"BIND", "HTTPS_BIND", "WORKERS", "WORKER_TIMEOUT", "ACCESS_LOG", "INSTANCE_PATH"} <= set(SETTINGS)


def test_gunicorn_refuses_a_bad_gunicorn_setting_naming_it():
    result = gunicorn("--bind", "127.0.0.1:0", DASHBOARD_WORKER_TIMEOUT="soon")
    assert result.returncode != 0
    assert "Refusing to start: DASHBOARD_WORKER_TIMEOUT must be a whole number" in result.stderr


def test_no_dashboard_variable_is_read_outside_the_table():
    read = re.compile(r"""(environ\.get\(|environ\[|getenv\()\s*["']DASHBOARD_""")
    package = Path(dashboard.__file__).parent
    readers = [str(path.relative_to(package)) for path in package.rglob("*.py")
               if path.name != "config.py" and read.search(path.read_text())]
    assert readers == []
