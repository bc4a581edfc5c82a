"""Browser end-to-end fixtures: the real app under gunicorn, Debian's Chromium, and pages that fail on JS errors.

Run with the same environment as the app: on a machine without a registry that means
DASHBOARD_BASE_IMAGE=cowserv-base:bookworm (made by scripts/make-base-image), which the server inherits.
Nothing here installs browsers: Chromium is the system one at /usr/bin/chromium.
"""

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import docker
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.support import free_tcp_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_SECONDS = 30


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: drives the dashboard in a real browser against a live server")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (item.e2e_report_setup / _call) for the page fixture's teardown."""
    report = yield
    setattr(item, f"e2e_report_{report.when}", report)
    return report


def _failed(item):
    return any(
        getattr(getattr(item, f"e2e_report_{when}", None), "failed", False) for when in ("setup", "call")
    )


# --- the server -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server_log(tmp_path_factory):
    return tmp_path_factory.mktemp("live-server") / "gunicorn.log"


@pytest.fixture(scope="session")
def instructor_token():
    """The secret the instructor signs in with: the environment's, or a new one."""
    return os.environ.get("DASHBOARD_INSTRUCTOR_TOKEN") or secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def live_server(server_log, instructor_token):
    """The dashboard under gunicorn (gevent worker), as in class, on a free 127.0.0.1 port; yields its base URL."""
    with _serve(server_log, {"DASHBOARD_INSTRUCTOR_TOKEN": instructor_token}) as url:
        yield url


@pytest.fixture
def fresh_build_server(tmp_path, server_log, instructor_token):
    """A second dashboard whose build context is a copy of cowserv's with a new `RUN echo RANDOM && sleep 1`
    before its last RUN: its build cannot come from the cache from there on, and runs for a second or more
    however fast the machine, long enough to be watched streaming."""
    context = tmp_path / "cowserv"
    shutil.copytree(ROOT / "dashboard" / "lessons" / "03-images", context, ignore=shutil.ignore_patterns("*.toml"))
    dockerfile = context / "Dockerfile"
    lines = dockerfile.read_text().splitlines()
    last_run = max(index for index, line in enumerate(lines) if line.startswith("RUN "))
    lines.insert(last_run, f"RUN echo 'cache buster {secrets.token_hex(8)}' && sleep 1")
    dockerfile.write_text("\n".join(lines) + "\n")
    env = {"DASHBOARD_INSTRUCTOR_TOKEN": instructor_token, "DASHBOARD_BUILD_CONTEXT": str(context),
           "DASHBOARD_INSTANCE_PATH": str(tmp_path / "instance")}
    with _serve(server_log.with_name("fresh-build.log"), env) as url:
        yield url


@contextlib.contextmanager
def _serve(log_path, env, app="dashboard:create_app()"):
    """Run gunicorn serving `app` with `env` over this environment until the block ends; yields the base URL."""
    port = free_tcp_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "gunicorn",
        "-c", "python:dashboard.gunicorn_conf",
        "--bind", f"127.0.0.1:{port}",
        app,
    ]
    with open(log_path, "wb") as log:
        # The environment is inherited whole, so DASHBOARD_BASE_IMAGE, DASHBOARD_INSTANCE_PATH (the run's own,
        # see tests/conftest.py) and DOCKER_HOST, if any, reach the app.
        server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(server, url, log_path)
        yield url
    finally:
        stop_process(server)


def _wait_healthy(server, url, log_path):
    deadline = time.monotonic() + SERVER_START_SECONDS
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
                last = f"HTTP {answer.status}"
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}: {error.read()[:300]!r}"
        except OSError as error:
            last = str(error)
        time.sleep(0.2)
    pytest.fail(f"{url}/healthz did not answer 200 within {SERVER_START_SECONDS} s ({last}):\n{_tail(log_path)}")


def _tail(path, lines=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


# --- the browser (pytest-playwright's fixtures, pointed at Debian's Chromium) --------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, live_server):
    return {
        **browser_context_args,
        "base_url": live_server,
        # The copy buttons write with navigator.clipboard; the tests read it back.
        "permissions": ["clipboard-read", "clipboard-write"],
    }


class WatchedPage:
    """A page and what went wrong in it: console errors and uncaught exceptions."""

    def __init__(self, page, name):
        self.page, self.name, self.errors = page, name, []
        page.on("console", self._console)
        page.on("pageerror", self._page_error)

    def _console(self, message):
        if message.type == "error":
            url = (message.location or {}).get("url", "?")
            text = f"console.error: {message.text} ({url}:{(message.location or {}).get('lineNumber', '?')})"
            self.errors.append(text)

    def _page_error(self, error):
        self.errors.append(f"uncaught {error.name}: {error.message}\n{error.stack or ''}".rstrip())


@pytest.fixture(scope="session")
def watch():
    """WatchedPage itself, for a test that watches a page it opened in a browser of its own."""
    return WatchedPage


@pytest.fixture(scope="session")
def sign_in(instructor_token):
    """`sign_in(page)`: sign the page's context in as the instructor, by the sign-in form."""

    def _sign_in(page):
        page.goto("/signin")
        page.get_by_label("Instructor token").fill(instructor_token)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=10_000)

    return _sign_in


@pytest.fixture
def allowed_console_errors():
    """Console errors a test provokes on purpose (an error page's 404, a poll answered 503): append a regex."""
    return []


@pytest.fixture
def open_page(browser, browser_context_args, request, server_log, sign_in, allowed_console_errors):
    """Open a dashboard page in a browser context of its own (a separate person): `open_page(viewport=...)`.

    The page is the instructor's, signed in, unless `instructor=False` (a student's read-only screen); any
    context option may be given, `base_url` (another server) included.
    Every page opened here fails the test if its console logs an error (other than those the test allowed) or
    an exception goes uncaught, and when the test fails its screenshot and HTML are kept under
    test-artifacts/<test>/, with the server log.
    """
    watched, contexts = [], []

    def _open(path="/", instructor=True, **context_args):
        # Not pytest-playwright's new_context: it cannot override an option browser_context_args sets.
        context = browser.new_context(**{**browser_context_args, **context_args})
        contexts.append(context)
        page = context.new_page()
        watched.append(WatchedPage(page, f"page{len(watched) + 1}"))
        if instructor:
            sign_in(page)
        if path is not None:
            page.goto(path)
        return page

    def close_pages():
        """Close every page opened so far, each first leaving for about:blank once loaded (bounded waits): its
        pagehide lets the live stream's SharedWorker go with the last tab. A fixture that ends the class (which
        reloads a seat's open page by itself) closes them first: closing a page in the middle of that reload can
        wait for good."""
        for w in watched:
            if w.page.is_closed():
                continue
            with contextlib.suppress(PlaywrightError):
                w.page.wait_for_load_state("load", timeout=5_000)
                w.page.goto("about:blank", timeout=10_000)
            w.page.close()

    _open.close_pages = close_pages
    yield _open

    errors = [f"[{w.name} {w.page.url}] {e}" for w in watched for e in w.errors
              if not any(re.search(allowed, e) for allowed in allowed_console_errors)]
    if errors or _failed(request.node):
        _keep_artifacts(request.node, watched, server_log)
    close_pages()
    for context in contexts:
        context.close()
    if errors:
        pytest.fail("the browser reported errors:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def page(open_page):
    """The dashboard's main page, opened and watched."""
    return open_page()


def _keep_artifacts(item, watched, server_log):
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid).strip("_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for w in watched:
        if w.page.is_closed():
            continue
        try:
            w.page.screenshot(path=folder / f"{w.name}.png", full_page=True)
            (folder / f"{w.name}.html").write_text(w.page.content())
        except Exception as error:  # a crashed page must not hide the test's own failure
            (folder / f"{w.name}.error.txt").write_text(repr(error))
        if w.errors:
            (folder / f"{w.name}.console.txt").write_text("\n".join(w.errors) + "\n")
    for log in Path(server_log).parent.glob("*.log"):  # the live server's, and a fresh-build server's if any
        shutil.copyfile(log, folder / log.name)


# --- what the tests leave on the engine ------------------------------------------------------------------------


class EngineTrack:
    """What a test started on the engine: container ids, and the host ports it asked containers to publish."""

    def __init__(self):
        self.containers, self.host_ports = [], []

    def container(self, container_id):
        self.containers.append(container_id)

    def host_port(self, port):
        self.host_ports.append(port)


@pytest.fixture
def engine_cleanup(docker_client):
    """Record what a test starts (`.container(id)`, `.host_port(port)`); teardown force-removes it, pass or fail.

    A host port is recorded before pressing Run, so a container whose id the test never got to read (it failed
    in between) is found by its published port and removed all the same.
    """
    track = EngineTrack()
    yield track
    found = list(track.containers)
    for port in track.host_ports:
        found += [c["Id"] for c in docker_client.api.containers(all=True, filters={"publish": str(port)})]
    for container_id in dict.fromkeys(found):
        try:
            docker_client.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass
