"""Classroom mode on the real engine: a seat per student started at once, the room sheet, the class stopped at once.

Each test's seats carry a prefix of their own (SEAT_PREFIX), so stop-all in one test never reaches another's,
and teardown force-removes every container named with it, pass or fail.
"""

import contextlib
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import template_rendered

from tests.support import HTMX, free_ports, get_cow, page_hooks, shell, start_class
from dashboard import create_app
from dashboard.domain import classroom
from dashboard.domain.ports import host_port_free

pytestmark = pytest.mark.engine


@pytest.fixture
def prefix(unique_name):
    return f"{unique_name}-seat-"


@pytest.fixture
def app(tmp_path, prefix, docker_client):
    yield create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "transcript.sqlite3"), "SEAT_PREFIX": prefix})
    for container in docker_client.containers.list(all=True, filters={"name": f"^{prefix}"}):
        container.remove(force=True)


def seats_on_engine(docker_client, prefix):
    """{name: (host port, status)} of the containers named with the prefix."""
    seats = {}
    for container in docker_client.containers.list(all=True, filters={"name": f"^{prefix}"}):
        assert container.labels["classroom.lesson"] == "cowserv"
        [binding] = container.attrs["HostConfig"]["PortBindings"]["8000/tcp"]
        seats[container.name] = (int(binding["HostPort"]), container.status)
    return seats


def class_fragment(client, host="localhost"):
    response = client.get("/classroom", headers={**HTMX, "Host": host})
    assert response.status_code == 200
    return response.text


def test_class_start_runs_a_named_seat_per_port_and_skips_a_port_in_use(app, client, cowserv_image, docker_client,
                                                                         prefix):
    first, taken, *rest = free_ports(4)
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", taken))
        squatter.listen()
        preview = client.get(f"/classroom/new?count=3&first_port={first}", headers=HTMX)
        [command] = page_hooks(preview.text)[0]
        response, start = start_class(client, app, 3, first)

    loop = (f'for port in {first} $(seq {rest[0]} {rest[1]}); do docker run -d --name "{prefix}$port" '
            f'-p "$port:8000" cowserv; done')
    assert command == loop
    assert page_hooks(response.text)[0] == [loop]  # the message says what the start does, as the same loop
    assert not start.failed
    expected = {f"{prefix}{port}": (port, "running") for port in (first, *rest)}
    assert seats_on_engine(docker_client, prefix) == expected
    assert "(oo)" in get_cow(rest[1]).text

    fragment = class_fragment(client)
    assert 'data-class-start="finished"' in fragment and 'data-done="3" data-total="3"' in fragment
    for name, (port, _) in expected.items():
        assert f'data-seat="{name}"' in fragment
        assert f"http://localhost:{port}/" in fragment
    assert set(page_hooks(fragment)[1]) == {seat.container_id for seat in start.seats}


def test_shown_class_loop_pasted_into_bash_starts_the_seats_the_dashboard_lists(app, client, cowserv_image,
                                                                                docker_client, prefix):
    ports = free_ports(3)
    [command] = page_hooks(client.get(f"/classroom/new?count=3&first_port={ports[0]}", headers=HTMX).text)[0]
    assert command == (f'for port in $(seq {ports[0]} {ports[2]}); do docker run -d --name "{prefix}$port" '
                       f'-p "$port:8000" cowserv; done')

    result = shell(command)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 3  # `docker run -d` prints each new container's id

    assert seats_on_engine(docker_client, prefix) == {f"{prefix}{port}": (port, "running") for port in ports}
    app.extensions["snapshot"].invalidate()  # the engine's events would, within a moment
    sheet = client.get("/classroom/sheet").text
    for port in ports:
        assert f'data-seat="{prefix}{port}"' in sheet
        assert f"http://localhost:{port}/" in sheet


def test_stop_all_removes_the_class_and_leaves_other_containers_alone(app, client, cowserv_image, docker_client,
                                                                     created, prefix, unique_name):
    unrelated = docker_client.containers.run("cowserv-base:bookworm", "sleep 300", detach=True,
                                             name=f"{unique_name}-other")
    created(unrelated.id)
    [lone_port, *seat_ports] = free_ports(3)
    lone = docker_client.containers.run("cowserv:latest", detach=True, ports={"8000/tcp": lone_port},
                                        name=f"{unique_name}-not-a-seat")
    created(lone.id)
    start_class(client, app, 2, seat_ports[0])
    assert len(seats_on_engine(docker_client, prefix)) == 2

    fragment = class_fragment(client)
    assert (f"Stop and remove all 2 seats of the class, the tutorial containers named {prefix}…? "
            "Other containers, tutorial ones included, are left alone.") in fragment
    assert lone.id not in page_hooks(fragment)[1]

    response = client.delete("/classroom", headers=HTMX)
    assert response.status_code == 200, response.text
    assert "Stopped and removed 2 seats." in response.text
    assert page_hooks(response.text)[0] == [
        f"docker ps -aq --filter label=classroom.lesson=cowserv --filter 'name=^{prefix}[0-9]+$' | xargs -r docker rm -f"
    ]
    assert "containers-changed" in response.headers["HX-Trigger"]
    assert seats_on_engine(docker_client, prefix) == {}
    for other in (unrelated, lone):
        other.reload()
        assert other.status == "running"
    assert 'data-seat="' not in class_fragment(client)


def test_shown_stop_all_command_pasted_into_bash_removes_the_class_only(app, client, cowserv_image, docker_client,
                                                                       created, prefix, unique_name):
    [lone_port, *seat_ports] = free_ports(3)
    lone = docker_client.containers.run("cowserv:latest", detach=True, ports={"8000/tcp": lone_port},
                                        name=f"{unique_name}-not-a-seat")
    created(lone.id)
    _, start = start_class(client, app, 2, seat_ports[0])
    fragment = class_fragment(client)
    [remove] = [command for command in page_hooks(fragment)[0] if command.endswith("| xargs -r docker rm -f")]

    result = shell(remove)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {seat.container_id[:12] for seat in start.seats}
    assert seats_on_engine(docker_client, prefix) == {}
    lone.reload()
    assert lone.status == "running"


def test_stop_all_without_seats_and_its_command_do_nothing_and_succeed(app, client, docker_client, prefix):
    response = client.delete("/classroom", headers=HTMX)
    assert response.status_code == 200 and "Stopped and removed 0 seats." in response.text
    [command] = page_hooks(response.text)[0]
    result = shell(f"set -euo pipefail; {command}; echo still running")  # as a replayed transcript runs it
    assert (result.returncode, result.stdout) == (0, "still running\n"), result.stderr


@pytest.mark.parametrize("count, first_port, message", [
    ("0", "20001", "from 1 to 300"),
    ("301", "20001", "from 1 to 300"),
    ("3", "65535", "would go past port 65535"),
    ("three", "20001", "whole number"),
    ("", "20001", "whole number"),
    ("3", "port", "host port must be a number"),
    ("3", "", "Give a host port"),
])
def test_bad_class_input_is_a_400_with_a_message_and_starts_nothing(app, client, docker_client, prefix, count,
                                                                    first_port, message):
    response = client.post("/classroom", data={"count": count, "first_port": first_port}, headers=HTMX)
    assert response.status_code == 400
    assert message in response.text
    assert "Traceback" not in response.text
    assert app.extensions["classroom"].current is None
    assert seats_on_engine(docker_client, prefix) == {}


def test_room_sheet_gives_every_seat_its_url_on_the_browsers_host_and_a_qr_code(app, client, cowserv_image, prefix):
    ports = free_ports(3)
    _, start = start_class(client, app, 3, ports[0])
    sheet = client.get("/classroom/sheet", headers={"Host": "classroom.example:5000"})
    assert sheet.status_code == 200
    for port in ports:
        url = f"http://classroom.example:{port}/"
        assert f'<a class="seat-url" href="{url}">{url}</a>' in sheet.text
    assert sheet.text.count('<svg viewBox="0 0 ') == 3  # one QR code a seat, inline
    assert set(page_hooks(sheet.text)[1]) == {seat.container_id for seat in start.seats}


def test_many_viewers_of_the_class_share_one_engine_list_call(app, cowserv_image):
    snapshot = app.extensions["snapshot"]
    since = app.test_client().get("/classroom", headers=HTMX).text.split("since=")[1].split('"')[0]
    reads = snapshot.reads
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: app.test_client().get(f"/classroom?since={since}", headers=HTMX).status_code,
                                 range(200)))
    assert statuses == [204] * 200
    assert snapshot.reads - reads <= 1


def test_while_a_class_starts_its_viewers_cost_one_engine_list_call_a_refresh_period(app, client, cowserv_image):
    snapshot = app.extensions["snapshot"]
    client.get("/classroom", headers=HTMX)
    reads, began = snapshot.reads, time.monotonic()
    response = client.post("/classroom", data={"count": "6", "first_port": str(free_ports(6)[0])}, headers=HTMX)
    assert response.status_code == 200, response.text
    start = app.extensions["classroom"].current

    def watch(_):
        viewer = app.test_client(instructor=False)
        while start.running:  # as fast as they can: every seat's create and start events mark the list changed
            assert viewer.get("/containers", headers=HTMX).status_code == 200
            assert viewer.get("/classroom", headers=HTMX).status_code == 200

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(watch, range(10)))
    assert not start.failed
    periods = (time.monotonic() - began) / app.config["REFRESH_SECONDS"]
    assert snapshot.reads - reads <= periods + 1  # a read for the first change, then one a period at most


def shown_loop(response):
    [loop] = [command for command in page_hooks(response.text)[0] if command.startswith("for port in")]
    return loop


@contextlib.contextmanager
def rendered():
    """The context of every template rendered in the block, by template name."""
    contexts = {}

    def note(sender, template, context, **extra):
        contexts[template.name] = context

    with template_rendered.connected_to(note):
        yield contexts


def test_a_signed_out_screen_shows_the_class_loop_without_binding_a_port(app, prefix, monkeypatch):
    first, held, *rest = free_ports(4)
    app.config.update(DEFAULT_SEATS=3, FIRST_SEAT_PORT=first)
    probes = []
    monkeypatch.setattr(classroom, "host_port_free", lambda port: probes.append(port) or host_port_free(port))
    viewer = app.test_client(instructor=False)
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", held))
        squatter.listen()
        with rendered() as contexts:
            page = viewer.get("/classroom")
        preview = viewer.get(f"/classroom/new?count=3&first_port={first}", headers=HTMX)
        assert probes == []  # the viewer's requests bound no port
        instructor_page = app.test_client().get("/classroom")
        assert probes  # the instructor's page did, to skip the one in use

    loop = 'do docker run -d --name "{}$port" -p "$port:8000" cowserv; done'.format(prefix)
    assert shown_loop(page) == f"for port in $(seq {first} {rest[0]}); {loop}"  # the plain seq, port held or not
    assert contexts["classroom.html"]["class_cli_note"] == ("The loop for these numbers; a start skips any port "
                                                            "already in use.")
    assert shown_loop(instructor_page) == f"for port in {first} $(seq {rest[0]} {rest[1]}); {loop}"
    assert preview.status_code == 403
    assert "Only the instructor can preview which ports a class would take: sign in first." in preview.text


def test_a_signed_out_viewer_sees_the_class_but_cannot_start_or_stop_it(app, client, cowserv_image, docker_client,
                                                                        prefix):
    [port] = free_ports(1)
    start_class(client, app, 1, port)
    viewer = app.test_client(instructor=False)
    with rendered() as contexts:
        response = viewer.get("/classroom")
    page = response.text
    assert f'data-seat="{prefix}{port}"' in page
    assert shown_loop(response) == app.extensions["classroom"].current.command  # the latest start's, unprobed
    assert contexts["classroom.html"]["class_cli_note"] == "The loop the latest start ran, one seat at a time."
    assert 'hx-post="/classroom"' not in page and 'hx-delete="/classroom"' not in page
    page = client.get("/classroom").text
    assert 'hx-post="/classroom"' in page and 'hx-delete="/classroom"' in page

    assert viewer.post("/classroom", data={"count": "1", "first_port": str(port)}, headers=HTMX).status_code == 403
    assert viewer.delete("/classroom", headers=HTMX).status_code == 403
    assert seats_on_engine(docker_client, prefix) == {f"{prefix}{port}": (port, "running")}


def test_while_a_class_starts_another_start_or_a_stop_all_is_refused(app, client, cowserv_image, docker_client,
                                                                     prefix):
    ports = free_ports(10)
    assert client.post("/classroom", data={"count": "5", "first_port": str(ports[0])}, headers=HTMX).status_code == 200
    again = client.post("/classroom", data={"count": "5", "first_port": str(ports[5])}, headers=HTMX)
    stop = client.delete("/classroom", headers=HTMX)
    start = app.extensions["classroom"].current
    assert start.running, "the first start ended before it could be tested against"
    assert (again.status_code, stop.status_code) == (409, 409)
    assert "A class is starting" in again.text and "A class is starting" in stop.text
    while start.running:
        time.sleep(0.1)
    assert sorted(port for port, _ in seats_on_engine(docker_client, prefix).values()) == ports[:5]


def test_a_class_start_and_stop_are_written_down_and_replayed_verbatim(app, client, cowserv_image, prefix):
    first = free_ports(2)[0]
    response, start = start_class(client, app, 2, first)
    client.delete("/classroom", headers=HTMX)
    transcript = app.extensions["transcript"]
    deadline = time.monotonic() + 10  # the start is written down by its own thread as it ends
    while not any(entry.action == "class-start" for entry in transcript.entries()):
        assert time.monotonic() < deadline, "the class start never reached the transcript"
        time.sleep(0.05)

    entries = {entry.action: entry for entry in transcript.entries()}
    started_ids = sorted(seat.container_id for seat in start.seats)
    assert entries["class-start"].command == start.command
    assert sorted(entries["class-start"].output.split()) == started_ids  # the loop prints an id per seat
    # `docker ps -aq … | xargs -r docker rm -f` prints each id it removed, as docker ps -q gives them: short.
    assert sorted(entries["class-stop"].output.split()) == sorted(full_id[:12] for full_id in started_ids)
    script = client.get("/transcript/script").text
    assert start.command in script and entries["class-stop"].command in script
