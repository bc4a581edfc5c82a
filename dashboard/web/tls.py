"""HTTPS for the instructor off this machine: a self-signed certificate made at first start, and the listener that
serves the app with it beside gunicorn's plain-HTTP one (the room's).

The instructor's session holds the Docker socket, so it is accepted only from loopback or over HTTPS
(security.instructor_transport); students' seats use the room's plain HTTP. The listener runs in gunicorn's one
worker (gunicorn_conf.post_worker_init), so both addresses share the one build, class and room.
"""

import ipaddress
import os
import socket
import subprocess
from pathlib import Path

CERTIFICATE, KEY = "https-cert.pem", "https-key.pem"


def split_bind(bind):
    """(host, port) of HOST:PORT or [V6]:PORT."""
    host, _, port = bind.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def certificate(folder, host):
    """(certificate, key) in `folder`, made once (kept across restarts, so a browser trusts it once): self-signed
    for this host's name, localhost, 127.0.0.1 and `host` when it is an address."""
    folder = Path(folder)
    cert, key = folder / CERTIFICATE, folder / KEY
    if cert.exists() and key.exists():
        return cert, key
    names = {"DNS:localhost", "IP:127.0.0.1", f"DNS:{socket.gethostname()}"}
    try:
        address = ipaddress.ip_address(host)
        if address.is_unspecified:  # every address of this machine: the browser checks the one it used
            names |= {f"IP:{other}" for other in _addresses()}
        else:
            names.add(f"IP:{address}")
    except ValueError:
        names.add(f"DNS:{host}")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825", "-keyout", str(key),
         "-out", str(cert), "-subj", "/CN=Docker workshop dashboard", "-addext", "subjectAltName=" + ",".join(sorted(names))],
        check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def _addresses():
    """This machine's addresses, as `hostname -I` lists them (none where it cannot)."""
    try:
        listed = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return set()
    addresses = set()
    for word in listed:
        try:
            addresses.add(ipaddress.ip_address(word))
        except ValueError:
            pass
    return addresses


def serve(app, bind):
    """Serve `app` over HTTPS on `bind` from this gevent worker, in the background; returns the server."""
    from gevent.pywsgi import WSGIServer

    host, port = split_bind(bind)
    cert, key = certificate(app.instance_path, host)
    server = WSGIServer((host, port), app, certfile=str(cert), keyfile=str(key), log=None)
    server.start()
    return server
