"""Serving a room, under gunicorn as scripts/up serves it: plain HTTP on an address of the room's network, where
the instructor may not sign in, and HTTPS beside it (a self-signed certificate made at first start), where they
may; the access log never shows a seat's link.

The room's address is one of this machine's own (its first non-loopback IPv4 address): the requests go from this
machine to itself, so they arrive from an address that is not loopback, as a laptop's would, and stay here.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "serving-a-room-token-0123456789"


def room_address():
    """This machine's first non-loopback IPv4 address, or None."""
    listed = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return next((word for word in listed if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", word)
                 and not word.startswith("127.")), None)


def free_port(host):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """gunicorn on ADDRESS:PORT (plain HTTP) and ADDRESS:PORT2 (HTTPS), its own instance folder; stopped after."""
    address = room_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to serve a room on")
    folder = tmp_path_factory.mktemp("room-instance")
    http, https = f"{address}:{free_port(address)}", f"{address}:{free_port(address)}"
    log = folder / "gunicorn.log"
    env = {**os.environ, "DASHBOARD_INSTANCE_PATH": str(folder), "DASHBOARD_INSTRUCTOR_TOKEN": TOKEN,
           "DASHBOARD_BIND": http, "DASHBOARD_HTTPS_BIND": https}
    with open(log, "wb") as output:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:dashboard.gunicorn_conf",
                                   "dashboard:create_app()"], cwd=ROOT, env=env, stdout=output,
                                  stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if client().get(f"http://{http}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        yield {"http": f"http://{http}", "https": f"https://{https}", "folder": folder, "log": log}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def client():
    """A session that asks this machine directly, trusting only what a test gives it (no proxy, no CA bundle from
    the environment)."""
    session = requests.Session()
    session.trust_env = False
    return session


def csrf_of(html):
    return re.search(r'"X-CSRF-Token": "([^"]+)"', html)[1]


def sign_in(session, base):
    form = session.get(f"{base}/signin", timeout=5)
    return session.post(f"{base}/signin", data={"token": TOKEN, "csrf_token": csrf_of(form.text)}, timeout=5)


def test_over_the_rooms_plain_http_the_instructor_cannot_sign_in(served):
    """From an address that is not loopback, over HTTP: the sign-in is refused with the reason, and nothing of the
    instructor's is granted."""
    session = client()
    answer = sign_in(session, served["http"])
    assert answer.status_code == 403
    assert "own machine" in answer.text and "over HTTPS" in answer.text
    assert "Sign out" not in session.get(f"{served['http']}/", timeout=5).text


def test_over_https_the_instructor_signs_in_and_the_cookie_stays_off_plain_http(served):
    """Over HTTPS the instructor signs in and opens a room; the session cookie is Secure, so a browser never sends
    it to the plain-HTTP address; sent there anyway, it is not the instructor's."""
    session = client()
    session.verify = str(served["folder"] / "https-cert.pem")  # trusted as the README says: this certificate
    answer = sign_in(session, served["https"])
    assert answer.status_code == 200 and "Sign out" in answer.text
    cookie = next(cookie for cookie in session.cookies if cookie.name == "session")
    assert cookie.secure
    page = session.get(f"{served['https']}/room", timeout=5)
    opened = session.post(f"{served['https']}/room", timeout=30, data={
        "csrf_token": csrf_of(page.text), "count": "1", "first_port": str(free_port("0.0.0.0")), "minutes": "5",
        "memory": "64m", "cpus": "0.5", "pids": "50"})
    assert opened.status_code == 200 and "Print the seat cards" in opened.text
    sheet = session.get(f"{served['https']}/room/sheet", timeout=5).text
    link = re.search(r'data-seat-url="([^"]+)"', sheet)[1]
    assert link.startswith(served["http"] + "/s/")  # the cards send students to the room's plain HTTP
    # The same cookie sent over plain HTTP by hand (a browser would not): refused there.
    stolen = client()
    stolen.cookies.set("session", cookie.value)
    assert "Sign out" not in stolen.get(f"{served['http']}/", timeout=5).text
    assert stolen.get(f"{served['http']}/room/sheet", timeout=5).status_code == 403

    # A student opens the card's link over plain HTTP: signed in as the seat, the token gone from the address.
    student = client()
    seat_page = student.get(link, timeout=10)
    assert seat_page.status_code == 200 and seat_page.url == f"{served['http']}/seat"
    assert "--memory 64m --cpus 0.5 --pids-limit 50" in seat_page.text
    ended = session.delete(f"{served['https']}/room", timeout=60,
                           headers={"X-CSRF-Token": csrf_of(opened.text), "HX-Request": "true"})
    assert ended.status_code == 200

    # The access log has every request, and no seat's token.
    token = link.rsplit("/", 1)[1]
    log = served["log"].read_text()
    assert "GET /s/… HTTP" in log and token not in log


def test_the_certificate_is_made_once_and_names_the_rooms_address(served):
    certificate = served["folder"] / "https-cert.pem"
    assert certificate.is_file() and oct((served["folder"] / "https-key.pem").stat().st_mode & 0o777) == "0o600"
    names = subprocess.run(["openssl", "x509", "-in", str(certificate), "-noout", "-ext", "subjectAltName"],
                           capture_output=True, text=True, check=True).stdout
    assert f"IP Address:{room_address()}" in names and "IP Address:127.0.0.1" in names
