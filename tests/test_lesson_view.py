"""The lesson view: the Dockerfile explained, the image's layers, the cow checked from the server, the logs."""

import shutil
import subprocess

import pytest

from tests.support import HTMX, get_cow, page_hooks, run_by_button, wait_until
from dashboard import create_app

# Both engine passes (engine_specific): image history (layers) and logs as the engine gives them.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]


def test_the_dockerfile_is_read_from_the_build_context_and_explained(tmp_path):
    context = tmp_path / "context"
    shutil.copytree(create_app().config["BUILD_CONTEXT"], context)
    dockerfile = context / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("http.server 8000", "http.server 8000  # edited"))
    page = create_app({"TESTING": True, "BUILD_CONTEXT": str(context)}).test_client().get("/").text

    assert "http.server 8000  # edited" in page
    for keyword in ("ARG", "FROM", "LABEL", "RUN", "ENV", "CMD"):
        assert f'<span class="keyword">{keyword}</span>' in page
    assert "Runs a shell command at build time" in page
    assert "The command a container runs when it starts" in page


def test_layers_are_listed_and_a_rebuild_marks_them_from_cache(client, cowserv_image):
    client.post("/images/build", headers=HTMX)
    b"".join(client.get("/images/build/events").response)
    panel = client.get("/images/build", headers=HTMX).text
    assert "docker history cowserv" in page_hooks(panel)[0]
    assert panel.count("from cache") >= 4
    assert "RUN apt-get update" in panel


def test_the_dashboard_asks_the_cow_from_the_server_side(client, cowserv_image, created, free_port):
    container_id = run_by_button(client, free_port, created)

    def answer():
        response = client.get(f"/containers/{container_id}/cow", headers=HTMX)
        assert response.status_code == 200, response.text
        return response.text if "Yes:" in response.text else None

    answer = wait_until(answer, "the cow answering (python -m http.server up)", every=0.2)
    assert f"Yes: port {free_port} answers with its cow." in answer
    assert "(oo)" in answer and '<pre class="cow"' in answer


def test_logs_show_http_servers_request_lines_as_docker_logs_does(client, cowserv_image, created, free_port):
    container_id = run_by_button(client, free_port, created)
    assert get_cow(free_port).status_code == 200  # waits for http.server, which then logs the request

    def logged():
        fragment = client.get(f"/containers/{container_id}/logs", headers=HTMX).text
        return fragment if "&#34;GET / HTTP/1.1&#34; 200" in fragment else None

    fragment = wait_until(logged, "the request line in `docker logs`", every=0.2)
    assert "&#34;GET / HTTP/1.1&#34; 200" in fragment
    [command] = page_hooks(fragment)[0]
    assert command == f"docker logs --tail 200 {container_id[:12]}"
    shell = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
    assert '"GET / HTTP/1.1" 200' in shell.stdout + shell.stderr


def test_logs_and_cow_of_a_container_not_of_the_lesson_are_404(client, docker_client, created, unique_name):
    other = docker_client.containers.run("cowserv-base:bookworm", "sleep 300", name=unique_name, detach=True)
    created(other.id)
    for view in ("logs", "cow"):
        assert client.get(f"/containers/{other.id}/{view}", headers=HTMX).status_code == 404
