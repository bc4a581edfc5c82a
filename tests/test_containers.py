"""Run, list, stop and remove lesson containers on the real engine, and the CLI beside each is true."""

import socket
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest

from tests.support import HTMX, container_ids, get_cow, page_hooks, run_by_button, shell, wait_until
from dashboard.domain.engine import Engine, RunSpec
from dashboard.domain.labels import LESSON_LABEL

# Both engine passes (engine_specific): run, list, remove, the engine's error texts, the CLI's output.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]


def listed_ids(client):
    response = client.get("/containers", headers=HTMX)
    assert response.status_code == 200
    return page_hooks(response.text)[1]


def test_run_serves_the_cow_lists_it_and_remove_makes_it_go(client, cowserv_image, created, free_port):
    container_id = run_by_button(client, free_port, created)
    assert len(container_id) == 64 and int(container_id, 16) >= 0

    page = get_cow(free_port)
    assert page.status_code == 200
    assert "<pre>" in page.text and "</pre>" in page.text
    assert "(oo)" in page.text  # the cow's eyes

    assert container_id in listed_ids(client)
    fragment = client.get("/containers", headers=HTMX).text
    assert f"http://localhost:{free_port}/" in fragment  # the port as a link, on the host the browser used
    assert container_id[:12] in fragment

    response = client.delete(f"/containers/{container_id}", headers=HTMX)
    assert response.status_code == 200
    assert "containers-changed" in response.headers["HX-Trigger"]
    assert container_id not in listed_ids(client)


def test_port_link_uses_the_host_the_browser_used(client, cowserv_image, created, free_port):
    container_id = run_by_button(client, free_port, created)
    fragment = client.get("/containers", headers={**HTMX, "Host": "classroom.example:5000"}).text
    assert f'href="http://classroom.example:{free_port}/"' in fragment
    assert container_id in page_hooks(fragment)[1]


def test_shown_run_command_pasted_into_a_shell_starts_a_listed_container(client, cowserv_image, created, free_port):
    preview = client.get(f"/containers/new?host_port={free_port}", headers=HTMX)
    [command] = page_hooks(preview.text)[0]
    assert command == f"docker run -d -p {free_port}:8000 cowserv"

    result = shell(command)
    assert result.returncode == 0, result.stderr
    container_id = result.stdout.strip()
    created(container_id)

    assert container_id in listed_ids(client)
    assert "(oo)" in get_cow(free_port).text


def test_shown_remove_command_pasted_into_a_shell_removes_a_button_started_container(
    client, cowserv_image, created, free_port
):
    container_id = run_by_button(client, free_port, created)
    fragment = client.get("/containers", headers=HTMX).text
    [remove] = [c for c in page_hooks(fragment)[0] if container_id[:12] in c]
    assert remove == f"docker stop {container_id[:12]} && docker rm {container_id[:12]}"

    result = shell(remove)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [container_id[:12], container_id[:12]]
    assert container_id not in listed_ids(client)


def test_shown_list_command_lists_what_the_dashboard_lists(client, cowserv_image, created, free_port):
    container_id = run_by_button(client, free_port, created)
    [command] = [c for c in page_hooks(client.get("/").text)[0] if c.startswith("docker ps")]
    result = shell(command + " --no-trunc --format '{{.ID}}'")
    assert set(result.stdout.split()) == set(listed_ids(client))
    assert container_id in result.stdout


def test_unrelated_container_is_never_listed_or_touched(client, docker_client, created, unique_name, cowserv_image):
    other = docker_client.containers.run("cowserv-base:bookworm", "sleep 300", name=unique_name, detach=True)
    created(other.id)

    assert other.id not in listed_ids(client)
    response = client.delete(f"/containers/{other.id}", headers=HTMX)
    assert response.status_code == 404
    other.reload()
    assert other.status == "running"


def test_port_in_use_is_a_clear_message_and_leaves_nothing_behind(client, docker_client, cowserv_image, free_port):
    before = container_ids(docker_client)
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", free_port))
        squatter.listen()
        response = client.post("/containers", data={"host_port": str(free_port)}, headers=HTMX)
    assert response.status_code == 409
    assert f"Host port {free_port} is already in use" in response.text
    assert container_ids(docker_client) == before


def test_port_taken_by_another_container_is_refused_and_the_first_keeps_running(
    client, docker_client, cowserv_image, created, free_port
):
    first = run_by_button(client, free_port, created)
    before = container_ids(docker_client)
    response = client.post("/containers", data={"host_port": str(free_port)}, headers=HTMX)
    assert response.status_code == 409
    assert container_ids(docker_client) == before
    assert docker_client.containers.get(first).status == "running"


@pytest.mark.parametrize("port", ["", "0", "65536", "-1", "eighty", "80.5"])
def test_bad_port_is_a_400_with_a_message_and_starts_nothing(client, docker_client, port):
    before = container_ids(docker_client)
    response = client.post("/containers", data={"host_port": port}, headers=HTMX)
    assert response.status_code == 400
    assert "host port" in response.text.lower()
    assert "Traceback" not in response.text
    assert container_ids(docker_client) == before


def test_removing_a_container_already_gone_says_so_and_refreshes_the_list(client, docker_client, cowserv_image,
                                                                           created, free_port):
    container_id = run_by_button(client, free_port, created)
    docker_client.api.remove_container(container_id, force=True)
    response = client.delete(f"/containers/{container_id}", headers=HTMX)
    assert response.status_code == 404
    assert "already gone" in response.text
    assert "containers-changed" in response.headers["HX-Trigger"]


def test_a_removal_already_under_way_is_over_when_the_dashboard_s_removal_returns(docker_client, cowserv_image,
                                                                                  created, unique_name):
    """Another removal (a --rm run's own end, a `docker rm` typed in a terminal) has the container in hand, slowly (a
    big writable layer to delete): the dashboard's `docker rm -f` of it returns once it is gone, so a `docker run
    --name` of the same name right after finds the name free (not "already in use")."""
    labels = {LESSON_LABEL: "running"}
    fill = "mkdir /many && cd /many && seq 50000 | xargs touch"
    many = docker_client.containers.run(cowserv_image, ["sh", "-c", fill], name=unique_name, labels=labels, detach=True)
    created(unique_name)
    assert many.wait(timeout=120)["StatusCode"] == 0
    elsewhere = docker.from_env()  # another client, as a terminal's `docker rm` is
    with ThreadPoolExecutor(max_workers=1) as pool:
        removal = pool.submit(elsewhere.api.remove_container, unique_name)
        wait_until(lambda: docker_client.api.inspect_container(unique_name)["State"]["Status"] == "removing",
                   f"{unique_name} being removed", every=0.001)

        Engine().remove(unique_name, "running", force=True)
        again = Engine().start(RunSpec(cowserv_image, name=unique_name, labels=tuple(labels.items())))
        removal.result()
    elsewhere.close()
    assert docker_client.api.inspect_container(unique_name)["Id"] == again.container_id


def test_run_without_htmx_renders_the_whole_page_with_the_id(client, cowserv_image, created, free_port):
    response = client.post("/containers", data={"host_port": str(free_port)})
    assert response.status_code == 200
    assert "<html" in response.text
    container_id = response.text.split('data-run-output>')[1].split("<")[0]
    created(container_id)
    assert container_id in page_hooks(response.text)[1]


@pytest.mark.parametrize("typed", ["", "eighty", "70000"])
def test_the_command_preview_shows_what_is_wrong_while_typing(client, typed):
    response = client.get(f"/containers/new?host_port={typed}", headers=HTMX)
    assert response.status_code == 200  # typing is not a failed request: no error in the browser's console
    assert "host port" in response.text.lower() and "data-cli" not in response.text
