"""Serving a room, under gunicorn as scripts/up serves it: plain HTTP on an address of the room's network, where
the instructor may not sign in, and HTTPS beside it (a self-signed certificate made at first start), where they
may; the access log never shows a seat's link.

The room's network is a network namespace of this test's own (tests/support/netns.py): gunicorn listens on this
machine's end of its veth pair (and on loopback, as the instructor's own machine), and the room's browsers run in
the namespace, so their requests come from an address that is not loopback, as a laptop's would. No request goes to
this machine's own interface addresses.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support import csrf_of, free_tcp_port, stop_process
from tests.support.netns import Namespace

pytestmark = pytest.mark.engine  # gunicorn serves pages that ask the engine

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "serving-a-room-token-0123456789"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """gunicorn on the room's ADDRESS:PORT and 127.0.0.1:PORT (plain HTTP) and ADDRESS:PORT2 (HTTPS), with an
    instance folder of its own; the room's network a namespace of the test's own. Stopped, and the namespace
    deleted, after."""
    with Namespace() as room:
        address = room.host_address
        folder = tmp_path_factory.mktemp("room-instance")
        port = free_tcp_port(address, "127.0.0.1")
        http, https = f"{address}:{port}", f"{address}:{free_tcp_port(address)}"
        log = folder / "gunicorn.log"
        env = {**os.environ, "DASHBOARD_INSTANCE_PATH": str(folder), "DASHBOARD_INSTRUCTOR_TOKEN": TOKEN,
               "DASHBOARD_BIND": http, "DASHBOARD_HTTPS_BIND": https}
        with open(log, "wb") as output:
            server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:dashboard.gunicorn_conf",
                                       "--bind", http, "--bind", f"127.0.0.1:{port}", "dashboard:create_app()"],
                                      cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client().get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.3)
            yield {"http": f"http://{http}", "https": f"https://{https}", "loopback": f"http://127.0.0.1:{port}",
                   "address": address, "folder": folder, "log": log, "room": room,
                   "certificate": str(folder / "https-cert.pem")}
        finally:  # the room's clients first, then gunicorn; the namespace goes last (leaving the `with`)
            room.stop_clients()
            stop_process(server)


class LoopbackClient(requests.Session):
    """A session on this machine, asking its loopback only, trusting only what a test gives it (no proxy, no CA
    bundle from the environment), each request bounded in time."""

    def __init__(self):
        super().__init__()
        self.trust_env = False

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, **kwargs)


client = LoopbackClient


def sign_in(session, base):
    form = session.get(f"{base}/signin")
    assert 'name="token"' in form.text, form.text[:2000]
    return session.post(f"{base}/signin", data={"token": TOKEN, "csrf_token": csrf_of(form.text)})


def signed_in(session, base):
    return "Sign out" in session.get(f"{base}/").text


def session_cookie(session):
    return next(cookie for cookie in session.cookies if cookie.name == "session")


def test_over_the_rooms_plain_http_the_sign_in_page_sends_the_browser_to_https(served):
    """From the room's network over plain HTTP, /signin shows no token form: it redirects to the HTTPS listener's
    /signin on the host the browser used, and the read-only pages' sign-in link points there too."""
    laptop = served["room"].client()
    answer = laptop.get(f"{served['http']}/signin", allow_redirects=False)
    assert answer.status_code in (302, 303)
    assert answer.headers["Location"] == f"{served['https']}/signin"
    assert 'name="token"' not in answer.text
    page = laptop.get(f"{served['http']}/").text
    assert f'href="{served["https"]}/signin"' in page and "Instructor sign-in" in page
    # On this machine the form is there, and the link stays on this address.
    here = client().get(f"{served['loopback']}/signin")
    assert here.status_code == 200 and 'name="token"' in here.text
    assert 'href="/signin"' in client().get(f"{served['loopback']}/").text


def test_over_the_rooms_plain_http_the_instructor_cannot_sign_in(served):
    """A token posted over plain HTTP from the room's network anyway (by hand, with a good CSRF token): refused
    with the reason, and nothing of the instructor's granted."""
    laptop = served["room"].client()
    csrf = csrf_of(laptop.get(f"{served['http']}/").text)
    answer = laptop.post(f"{served['http']}/signin", data={"token": TOKEN, "csrf_token": csrf})
    assert answer.status_code == 403
    assert "own machine" in answer.text and "over HTTPS" in answer.text
    assert not signed_in(laptop, served["http"])


def test_over_https_the_instructor_signs_in_and_the_cookie_stays_off_plain_http(served):
    """Over HTTPS from the room's network the instructor signs in and opens a room; the session cookie is Secure,
    so a browser never sends it to the plain-HTTP address; sent there anyway, it is not the instructor's."""
    room = served["room"]
    laptop = room.client()
    laptop.session.verify = served["certificate"]  # trusted as the README says: this certificate
    answer = sign_in(laptop, served["https"])
    assert answer.status_code == 200 and "Sign out" in answer.text
    cookie = session_cookie(laptop)
    assert cookie.secure
    page = laptop.get(f"{served['https']}/room")
    opened = laptop.post(f"{served['https']}/room", timeout=60, data={
        "csrf_token": csrf_of(page.text), "count": "1", "first_port": str(free_tcp_port()), "minutes": "5",
        "memory": "64m", "cpus": "0.5", "pids": "50"})
    assert opened.status_code == 200 and "Print the seat cards" in opened.text
    sheet = laptop.get(f"{served['https']}/room/sheet").text
    link = re.search(r'data-seat-url="([^"]+)"', sheet)[1]
    assert link.startswith(served["http"] + "/s/")  # the cards send students to the room's plain HTTP
    # The same cookie sent over plain HTTP by hand (a browser would not): refused there.
    stolen = room.client()
    stolen.cookies.set("session", cookie.value)
    assert not signed_in(stolen, served["http"])
    assert stolen.get(f"{served['http']}/room/sheet").status_code == 403

    # A student opens the card's link over plain HTTP: signed in as the seat, the token gone from the address.
    student = room.client()
    seat_page = student.get(link)
    assert seat_page.status_code == 200 and seat_page.url == f"{served['http']}/seat"
    assert "0.5 CPUs and 50 processes" in seat_page.text  # the room's limits, the whole seat's
    ended = laptop.request("DELETE", f"{served['https']}/room", timeout=60,
                           headers={"X-CSRF-Token": csrf_of(opened.text), "HX-Request": "true"})
    assert ended.status_code == 200

    # The access log has every request, and no seat's token.
    token = link.rsplit("/", 1)[1]
    log = served["log"].read_text()
    assert "GET /s/… HTTP" in log and token not in log


def test_an_instructor_cookie_works_only_on_the_transport_that_issued_it(served):
    """A session signed in on this machine over plain HTTP is refused over HTTPS from the room's network, and one
    signed in over HTTPS from the room's network is refused over this machine's plain HTTP."""
    room = served["room"]
    here = client()
    assert sign_in(here, served["loopback"]).status_code == 200 and signed_in(here, served["loopback"])
    carried = room.client()
    carried.session.verify = served["certificate"]
    carried.cookies.set("session", session_cookie(here).value)
    assert not signed_in(carried, served["https"])
    assert carried.get(f"{served['https']}/room/sheet").status_code == 403

    laptop = room.client()
    laptop.session.verify = served["certificate"]
    assert sign_in(laptop, served["https"]).status_code == 200 and signed_in(laptop, served["https"])
    brought = client()
    brought.cookies.set("session", session_cookie(laptop).value)
    assert not signed_in(brought, served["loopback"])
    assert brought.get(f"{served['loopback']}/room/sheet").status_code == 403
    assert signed_in(here, served["loopback"]) and signed_in(laptop, served["https"])  # each on its own, still in


def test_the_certificate_is_made_once_and_names_the_rooms_address(served):
    certificate = served["folder"] / "https-cert.pem"
    assert certificate.is_file() and oct((served["folder"] / "https-key.pem").stat().st_mode & 0o777) == "0o600"
    names = subprocess.run(["openssl", "x509", "-in", str(certificate), "-noout", "-ext", "subjectAltName"],
                           capture_output=True, text=True, check=True).stdout
    assert f"IP Address:{served['address']}" in names and "IP Address:127.0.0.1" in names
