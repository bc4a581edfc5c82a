"""The transcript: every action as a terminal shows it, kept on disk, and replayable as a bash script."""

import re
import socket
import subprocess

import pytest
import requests

from tests.support import HTMX, run_by_button
from dashboard import create_app

pytestmark = pytest.mark.engine


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
    assert f'docker run -d -p &#34;{free_port}:8000&#34; cowserv:latest' in text
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
    assert container_id in restarted.get("/").text

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
    assert f'cid=$(docker run -d -p "{free_port}:8000" cowserv:latest)' in script
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
