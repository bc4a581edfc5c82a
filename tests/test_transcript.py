"""The transcript: every action as a terminal shows it, kept on disk, and replayable as a bash script."""

import re
import socket
import subprocess

import pytest
import requests

from tests.support import HTMX, free_ports, run_by_button
from dashboard import create_app
from dashboard.domain.commands import lesson_filter
from tests.support.lessons import DEFAULT_LESSON
from dashboard.domain.replay import replay_script
from dashboard.domain.transcript import Entry

# Both engine passes (engine_specific): the replay script runs through the docker CLI.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]


def build(client):
    client.post("/images/build", headers=HTMX)
    b"".join(client.get("/images/build/events").response)


def transcript(client):
    return client.get("/transcript", headers=HTMX).text


def test_actions_are_written_down_with_command_output_and_time(client, cowserv_image, created, free_port):
    build(client)
    container_id = run_by_button(client, free_port, created)
    client.delete(f"/containers/{container_id}", headers=HTMX)

    text = transcript(client)
    assert text.index("docker build") < text.index("docker run") < text.index("docker stop")
    assert re.search(r"Successfully built [0-9a-f]{12}\s+Successfully tagged cowserv:latest", text)
    assert f"<span class=\"prompt\">$ </span>docker run -d -p {free_port}:8000 cowserv</code>" in text
    assert container_id in text  # what `docker run -d` prints
    assert f"{container_id[:12]}\n{container_id[:12]}" in text  # what `docker stop` then `docker rm` print
    assert re.search(r"<time datetime=\"[^\"]+\">\d\d:\d\d:\d\d</time>", text)


def test_a_refused_action_is_written_down_as_failed(client, cowserv_image, free_port):
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", free_port))
        client.post("/containers", data={"host_port": str(free_port)}, headers=HTMX)
    text = transcript(client)
    assert 'class="failed" data-action="run"' in text
    assert f"Error: Host port {free_port} is already in use" in text


def test_the_transcript_survives_a_restart_and_can_be_cleared(tmp_path, cowserv_image, created, free_port):
    path = str(tmp_path / "kept.sqlite3")
    first = create_app({"TESTING": True, "TRANSCRIPT_PATH": path}).test_client()
    container_id = run_by_button(first, free_port, created)

    restarted = create_app({"TESTING": True, "TRANSCRIPT_PATH": path}).test_client()
    [entry] = restarted.application.extensions["transcript"].entries()
    assert (entry.action, entry.ok, entry.output) == ("run", True, container_id)
    text = transcript(restarted)  # the transcript alone: the page's container list would show the id anyway
    assert f"<span class=\"prompt\">$ </span>docker run -d -p {free_port}:8000 cowserv</code>" in text and container_id in text

    cleared = restarted.post("/transcript/clear", headers=HTMX)
    assert cleared.status_code == 200 and container_id not in cleared.text
    assert container_id not in transcript(create_app({"TESTING": True, "TRANSCRIPT_PATH": path}).test_client())


def test_an_open_transcript_polls_cheaply(client, cowserv_image, created, free_port):
    since = transcript(client).split("since=")[1].split('"')[0]
    assert client.get(f"/transcript?since={since}", headers=HTMX).status_code == 204
    run_by_button(client, free_port, created)
    assert client.get(f"/transcript?since={since}", headers=HTMX).status_code == 200


def test_the_script_replays_the_lesson_on_the_engine(client, app, cowserv_image, created, free_port, tmp_path):
    build(client)
    container_id = run_by_button(client, free_port, created)
    client.delete(f"/containers/{container_id}", headers=HTMX)
    response = client.get("/transcript/script")
    assert response.headers["Content-Disposition"] == 'attachment; filename="cowserv-lesson.sh"'
    script = response.text
    assert f"\ncid=$(docker run -d -p {free_port}:8000 cowserv)\n" in script
    assert "docker stop $cid && docker rm $cid" in script
    assert container_id not in script  # no hard-coded ids

    path = tmp_path / "lesson.sh"
    path.write_text(script)
    syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr

    # Replay it for real, with a look at the cow (and a note of the id) between its run and its stop.
    cow_file, id_file = tmp_path / "cow.html", tmp_path / "cid"
    look = (f'echo "$cid" > {id_file}; curl -sf --retry 30 --retry-all-errors --retry-delay 1 '
            f'http://127.0.0.1:{free_port}/ > {cow_file}')
    with_look = re.sub(r"^(cid=\$\(.*\))$", lambda m: m[1] + "\n" + look, script, flags=re.M)
    path.write_text(with_look)
    replay = subprocess.run(["bash", str(path), app.config["BUILD_CONTEXT"]], capture_output=True, text=True,
                            timeout=600)
    replayed_id = id_file.read_text().strip() if id_file.exists() else None
    if replayed_id:
        created(replayed_id)
    assert replay.returncode == 0, replay.stderr
    assert "(oo)" in cow_file.read_text()  # it produced a running cow...
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{free_port}/", timeout=2)  # ...and then removed it
    assert replayed_id not in subprocess.run(["docker", "ps", "-aq", "--no-trunc"], capture_output=True,
                                             text=True).stdout


def test_removing_a_container_the_script_did_not_start_stays_a_comment(client, cowserv_image, created, free_port):
    started = subprocess.run(["docker", "run", "-d", "-p", f"{free_port}:8000", "cowserv:latest"],
                             capture_output=True, text=True, check=True).stdout.strip()
    created(started)
    client.delete(f"/containers/{started}", headers=HTMX)
    script = client.get("/transcript/script").text
    assert f"# not started by this script: docker stop {started[:12]} && docker rm {started[:12]}" in script


def ours(docker_client, ports, prefix):
    """The lesson containers publishing one of `ports` or named with the seat prefix: this test's, not another's."""
    for container in docker_client.containers.list(all=True, filters={"label": lesson_filter(DEFAULT_LESSON)}):
        bindings = (container.attrs["HostConfig"]["PortBindings"] or {}).get("8000/tcp") or []
        if container.name.startswith(prefix) or any(int(binding["HostPort"]) in ports for binding in bindings):
            yield container, int(bindings[0]["HostPort"])


def lesson_containers(docker_client, ports, prefix):
    """{(seat name, or "" for a name the engine chose, host port)} of this test's containers, all running."""
    found = set()
    for container, port in ours(docker_client, ports, prefix):
        assert container.status == "running", container.name
        found.add((container.name if container.name.startswith(prefix) else "", port))
    return found


def test_a_script_of_every_kind_of_entry_replays_to_the_containers_the_dashboard_left(
    tmp_path, cowserv_image, docker_client, created, unique_name
):
    prefix = f"{unique_name}-seat-"
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3"), "SEAT_PREFIX": prefix})
    client, ports = app.test_client(), free_ports(3)
    try:
        build(client)
        run_by_button(client, ports[0], created)  # kept
        removed = run_by_button(client, ports[1], created)
        assert client.delete(f"/containers/{removed}", headers=HTMX).status_code == 200
        with socket.socket() as squatter:
            squatter.bind(("0.0.0.0", ports[2]))
            squatter.listen()
            assert client.post("/containers", data={"host_port": str(ports[2])}, headers=HTMX).status_code == 409
        transcript = app.extensions["transcript"]
        kinds = [(entry.action, entry.ok) for entry in transcript.entries()]
        assert kinds == [("build", True), ("run", True), ("run", True), ("remove", True), ("run", False)]

        left = lesson_containers(docker_client, ports, prefix)
        assert left == {("", ports[0])}
        script = tmp_path / "lesson.sh"
        script.write_text(client.get("/transcript/script").text)
        for container, _ in ours(docker_client, ports, prefix):
            container.remove(force=True)  # a clean host for these ports, as the script expects
        assert lesson_containers(docker_client, ports, prefix) == set()

        replay = subprocess.run(["bash", str(script), app.config["BUILD_CONTEXT"]], capture_output=True, text=True,
                                timeout=600)
        assert replay.returncode == 0, replay.stderr
        assert lesson_containers(docker_client, ports, prefix) == left
    finally:
        for container, _ in ours(docker_client, ports, prefix):
            created(container.id)  # the script's containers too, for the fixture to remove
