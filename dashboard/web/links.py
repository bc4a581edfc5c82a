"""The links handed to students (the sheet's cards, the projected join code, a seat's own link): all on the one
address students reach, shared by the room's and the seat's blueprints."""

from urllib.parse import urlsplit

from flask import current_app, request, url_for


def room_url():
    """Where students reach the dashboard: DASHBOARD_ROOM_URL, else this request's host over plain HTTP (on the
    HTTP port, when this page came over HTTPS)."""
    configured = current_app.config["ROOM_URL"]
    if configured:
        return configured.rstrip("/")
    if not request.is_secure:
        return request.host_url.rstrip("/")
    port = urlsplit("//" + current_app.config["BIND"]).port
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return f"http://{host}:{port}" if port else f"http://{host}"


def seat_link(seat):
    """The seat's link, as its card on the sheet shows it."""
    return room_url() + url_for("seat.sign_in", token=seat.token)


def room_host():
    """The room's host name, as students reach the dashboard (DASHBOARD_ROOM_URL, or the address this page used)."""
    url = urlsplit(room_url())
    return url.hostname if url.hostname and ":" not in url.hostname else url.netloc.rsplit(":", 1)[0] or "ROOM-HOST"


def port_links(ports):
    """[(the address a browser opens, the seat engine's port)] of a seat's (host port, lesson port) pairs:
    `http://ROOM-HOST:8001/` is the seat's port 8000."""
    host = room_host()
    return [(f"http://{host}:{host_port}/", port) for host_port, port in ports]
