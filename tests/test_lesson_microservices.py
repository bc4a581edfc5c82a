"""Part 8 of the workshop, microservices: the wallet as four Compose services (webserver, api, ui, postgres on the
volume pgdata), on the real engine with the real Compose v2. By its buttons (each check fails before its step and
passes after), by its shown commands pasted in order into bash, and the failures a student meets: the API held
until Postgres is healthy (and what happens without the health check), the port 8200 already taken, `up` run twice,
a service that crashes (its logs), and `down -v` taking the balance with it.

The lesson's project is `microservices`: its containers microservices-SERVICE-N, its network
microservices_default, its volume microservices_pgdata, and the webserver publishes the host's port 8200, as the
shipped compose.yaml says (each test asserts the port is free first). Before and after each test the project is
taken down with its volume, every container and volume labelled classroom.lesson=microservices is removed, and the
lesson's files are restored as shipped. The three images the project builds are built once for the module (later
`up --build`s take them from the build cache) and removed at its end when they were not here before.
"""

import json
import os
import re
import socket
import subprocess
from datetime import datetime

import docker
import pytest
import requests

from tests.support import image_in_use, wait_until
from tests.support.engine import LESSON_LABEL
from tests.test_lessons_by_button import assert_fails, assert_passes, done, output, ran
from tests.test_lessons_by_command import ByCommand
from dashboard.domain.compose import CONTROL_SEQUENCE
from dashboard.domain.ports import host_port_free
from dashboard.web.views import place_for

# Both engine passes (engine_specific): Compose v2 builds, health checks and scale against the engine.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]

LESSON = "microservices"
LABEL = f"{LESSON_LABEL}={LESSON}"
PORT = 8200  # compose.yaml's webserver `ports: ["8200:80"]`
SERVICES = ("webserver", "api", "ui", "postgres")
CONTAINERS = {f"microservices-{service}-1" for service in SERVICES}
BUILT = {f"microservices-{service}" for service in ("webserver", "api", "ui")}  # Compose's PROJECT-SERVICE tags
VOLUME = "microservices_pgdata"
NETWORK = "microservices_default"
SHIPPED = os.path.join(os.path.dirname(__file__), os.pardir, "dashboard", "lessons", "08-microservices")
STARTS = 120  # seconds: generous, never the assertion (a first start of Postgres runs initdb)


def stand_ins(app):
    """The variables the shown commands set where local images stand in (BASE_IMAGE, POSTGRES_IMAGE): the images the
    app uses for python:3.12-slim and postgres:16."""
    return {"BASE_IMAGE": image_in_use(app, "python:3.12-slim"), "POSTGRES_IMAGE": image_in_use(app, "postgres:16")}


def compose(folder, app, *words, timeout=300):
    """`docker compose WORDS…` in the folder, with the stand-ins: (exit code, output)."""
    ran = subprocess.run(["docker", "compose", *words], cwd=folder, env={**os.environ, **stand_ins(app)},
                         capture_output=True, text=True, timeout=timeout)
    return ran.returncode, ran.stdout + ran.stderr


def lesson_rows(docker_client):
    return docker_client.api.containers(all=True, filters={"label": LABEL})


def names(docker_client, running=False):
    return {name.lstrip("/") for row in lesson_rows(docker_client) for name in row["Names"]
            if not running or row["State"] == "running"}


def volume_there(docker_client):
    return bool(docker_client.api.volumes(filters={"name": f"^{VOLUME}$"}).get("Volumes"))


def network_there(docker_client):
    return any(network["Name"] == NETWORK for network in docker_client.api.networks(names=[NETWORK]))


def get(path):
    return requests.get(f"http://127.0.0.1:{PORT}{path}", timeout=10)


def post(path):
    return requests.post(f"http://127.0.0.1:{PORT}{path}", timeout=10)


def balance():
    """The balance the API answers through the webserver, waited for while the API starts."""
    def answered():
        try:
            answer = get("/api/balance")
        except requests.RequestException:
            return None
        return [answer.json()["balance"]] if answer.status_code == 200 else None  # a list: 0 is an answer too
    return wait_until(answered, "the API answering through the webserver", timeout=STARTS, every=0.5)[0]


@pytest.fixture(scope="module")
def built(docker_client):
    """The three images the project builds are removed at the module's end, unless they were here before it."""
    before = {tag.split(":")[0] for image in docker_client.images.list() for tag in image.tags} & BUILT
    yield
    for tag in BUILT - before:
        try:
            docker_client.images.remove(tag, force=True)
        except docker.errors.NotFound:
            pass


@pytest.fixture
def micro_lesson(app, docker_client, built):
    """The lesson's workshop folder, holding the shipped files, its project down with its volume, and the port
    its webserver publishes free; the same again afterwards."""
    lesson = app.extensions["catalog"].get(LESSON)
    assert lesson is not None, app.extensions["catalog"].errors
    with app.app_context():
        folder = place_for(lesson).folder

    def clean():
        app.extensions["workshop"].restore(lesson)
        exit_code, printed = compose(folder, app, "-p", LESSON, "down", "-v", "--remove-orphans", timeout=120)
        assert exit_code == 0, printed
        for row in lesson_rows(docker_client):
            try:
                docker_client.api.remove_container(row["Id"], force=True, v=True)
            except docker.errors.NotFound:
                pass
        for volume in docker_client.api.volumes(filters={"label": LABEL}).get("Volumes") or []:
            docker_client.api.remove_volume(volume["Name"], force=True)

    clean()
    assert names(docker_client) == set() and not volume_there(docker_client) and not network_there(docker_client)
    assert host_port_free(PORT), f"the lesson's port {PORT} is in use here: free it to run these tests"
    yield folder
    clean()
    assert names(docker_client) == set() and not volume_there(docker_client)


def test_part_8_microservices_by_buttons(app, client, docker_client, micro_lesson):
    reason = assert_fails(client, LESSON, "up")
    assert reason == "Container microservices-webserver-1 is not running with a published port.", reason
    started = done(client, LESSON, "up")
    # Compose holds the API until Postgres is healthy, and says so.
    assert started.index("microservices-postgres-1  Healthy") < started.index("microservices-api-1  Starting"), started
    assert "http://127.0.0.1:8200/ answers with 'Wallet'" in assert_passes(client, LESSON, "up", timeout=STARTS)
    assert names(docker_client) == CONTAINERS
    rows = lesson_rows(docker_client)
    assert all(row["Labels"]["com.docker.compose.project"] == LESSON for row in rows)
    assert docker_client.api.inspect_volume(VOLUME)["Labels"][LESSON_LABEL] == LESSON
    # Only the webserver publishes a port.
    assert {row["Names"][0].lstrip("/") for row in rows if any(p.get("PublicPort") for p in row["Ports"])} == \
        {"microservices-webserver-1"}

    listed = done(client, LESSON, "ps")
    assert re.search(r"^microservices-webserver-1\s.*0\.0\.0\.0:8200->80/tcp", listed, re.M), listed
    assert re.search(r"^microservices-postgres-1\s.*\(healthy\)", listed, re.M), listed
    assert "are running" in assert_passes(client, LESSON, "ps")

    get("/api/balance")  # a request for the API's log
    logged = done(client, LESSON, "logs")
    assert re.search(r"^api-1\s+\| .*Listening at: http://0\.0\.0\.0:8000", logged, re.M), logged
    assert re.search(r"^api-1\s+\| .*\"GET /balance HTTP/1\.1\" 200", logged, re.M), logged
    assert "postgres-1" not in logged and "webserver-1" not in logged  # the API's log alone

    assert_fails(client, LESSON, "buy")  # the balance is 0
    bought = json.loads(done(client, LESSON, "buy"))
    assert bought == {"balance": 1, "served_by": "microservices-api-1"}
    assert_passes(client, LESSON, "buy")
    assert json.loads(done(client, LESSON, "sell")) == {"balance": 0, "served_by": "microservices-api-1"}

    ui_started = docker_client.api.inspect_container("microservices-ui-1")["State"]["StartedAt"]
    restarted = done(client, LESSON, "restart")
    assert re.search(r"Container microservices-api-1\s+Started", restarted), restarted
    assert "ui-1" not in restarted and "postgres-1" not in restarted
    assert docker_client.api.inspect_container("microservices-ui-1")["State"]["StartedAt"] == ui_started
    assert_passes(client, LESSON, "restart")

    assert_fails(client, LESSON, "scale")
    scaled = done(client, LESSON, "scale")
    assert re.search(r"Container microservices-api-3\s+Started", scaled), scaled
    spread = assert_passes(client, LESSON, "scale", timeout=STARTS)
    assert "microservices-api-1" in spread and "microservices-api-3" in spread, spread
    assert {f"microservices-api-{n}" for n in (1, 2, 3)} <= names(docker_client, running=True)

    assert_fails(client, LESSON, "buy-again")  # the balance is 0 again
    assert json.loads(done(client, LESSON, "buy-again"))["balance"] == 1
    assert_passes(client, LESSON, "buy-again")

    removed = done(client, LESSON, "down")
    assert re.search(r"Network microservices_default\s+Removed", removed), removed
    assert "Volume" not in removed
    assert_passes(client, LESSON, "down")
    assert names(docker_client) == set() and volume_there(docker_client)

    assert_fails(client, LESSON, "up-again")
    done(client, LESSON, "up-again")
    assert_passes(client, LESSON, "up-again", timeout=STARTS)
    assert balance() == 1  # kept in the volume
    assert names(docker_client) == CONTAINERS  # one API again

    page = client.get(f"/lessons/{LESSON}")
    assert "This deletes the wallet&#39;s data" in page.text or "This deletes the wallet's data" in page.text
    assert_fails(client, LESSON, "down-volumes")
    removed = done(client, LESSON, "down-volumes")
    assert re.search(r"Volume microservices_pgdata\s+Removed", removed), removed
    assert_passes(client, LESSON, "down-volumes")
    assert names(docker_client) == set() and not volume_there(docker_client) and not network_there(docker_client)
    assert host_port_free(PORT)


def test_part_8_microservices_by_commands(app, docker_client, micro_lesson):
    lesson = ByCommand(app, LESSON)
    shown = lesson.shown("up")
    prefix = " ".join(f"{name}={image}" for name, image in stand_ins(app).items()
                      if image not in ("python:3.12-slim", "postgres:16"))
    assert shown == f"cd {micro_lesson} && " + (prefix + " " if prefix else "") + "docker compose up -d --build"

    started = lesson.run("up")
    assert re.search(r"Container microservices-webserver-1\s+Started", started), started
    assert names(docker_client) == CONTAINERS
    assert "Wallet" in get("/").text
    listed = lesson.run("ps", before=False)  # all four already run after `up`
    assert re.search(r"^microservices-api-1\s", listed, re.M), listed
    assert re.search(r"^api-1\s+\| ", CONTROL_SEQUENCE.sub("", lesson.run("logs")), re.M)
    assert json.loads(lesson.run("buy"))["balance"] == 1
    assert json.loads(lesson.run("sell"))["balance"] == 0
    lesson.run("restart", before=False)  # the page answers before and after: only the API restarts
    lesson.run("scale")
    assert {get("/api/balance").json()["served_by"] for _ in range(6)} == {f"microservices-api-{n}" for n in (1, 2, 3)}
    assert json.loads(lesson.run("buy-again"))["balance"] == 1
    lesson.run("down")
    assert volume_there(docker_client)
    lesson.run("up-again")
    assert balance() == 1
    lesson.run("down-volumes")
    assert names(docker_client) == set() and not volume_there(docker_client) and not network_there(docker_client)
    lesson.finished()


def test_the_api_is_held_until_postgres_is_healthy(app, client, docker_client, micro_lesson):
    """With the shipped `condition: service_healthy`, the API's container starts only after Postgres's first
    passing health check (on a fresh volume, initdb runs first, and the check fails until it is done)."""
    done(client, LESSON, "up")
    balance()
    postgres = docker_client.api.inspect_container("microservices-postgres-1")["State"]
    healthy = [probe["End"] for probe in postgres["Health"]["Log"] if probe["ExitCode"] == 0]
    assert healthy, postgres["Health"]
    api_started = docker_client.api.inspect_container("microservices-api-1")["State"]["StartedAt"]
    assert _instant(api_started) >= _instant(min(healthy)), (api_started, postgres["Health"]["Log"])


def test_without_the_health_check_the_api_starts_too_early_and_crashes(app, client, docker_client, micro_lesson):
    """What the health check prevents: with a plain `depends_on: [postgres]` in the folder's compose.yaml, Compose
    starts the API as soon as Postgres's container runs, while initdb is still busy; the API cannot connect, exits,
    and `docker compose logs api` (the logs step) shows why."""
    path = micro_lesson / "compose.yaml"
    text = path.read_text()
    held = "    depends_on:\n      postgres:\n        condition: service_healthy\n"
    assert held in text
    path.write_text(text.replace(held, "    depends_on: [postgres]\n"))
    started = output(ran(client, LESSON, "up"))
    assert "Healthy" not in started, started
    wait_until(lambda: docker_client.api.inspect_container("microservices-api-1")["State"]["Status"] == "exited",
               "the API exiting", timeout=STARTS, every=0.5)
    logged = done(client, LESSON, "logs")
    assert re.search(r"^api-1\s+\| .*psycopg2\.OperationalError", logged, re.M), logged
    assert re.search(r"Connection refused|the database system is starting up", logged), logged
    assert get("/api/balance").status_code in (502, 503)  # the page is up; its API is not (Caddy has no upstream)


def test_a_crashing_service_s_logs_show_why(app, client, docker_client, micro_lesson):
    """A typo in the folder's compose.yaml (the API's password): `up` starts all four, the API exits at once, the
    page says the API did not answer, and the logs step shows Postgres's refusal."""
    path = micro_lesson / "compose.yaml"
    text = path.read_text()
    assert text.count("DB_PASSWORD: lesson-password") == 1
    path.write_text(text.replace("DB_PASSWORD: lesson-password", "DB_PASSWORD: lesson-pasword"))
    done(client, LESSON, "up")
    wait_until(lambda: docker_client.api.inspect_container("microservices-api-1")["State"]["Status"] == "exited",
               "the API exiting", timeout=STARTS, every=0.5)
    listed = done(client, LESSON, "ps")
    assert "microservices-api-1" not in listed  # `ps` lists running containers: the API is not
    reason = assert_fails(client, LESSON, "ps")
    assert "microservices-api-1" in reason, reason
    logged = done(client, LESSON, "logs")
    assert re.search(r'^api-1\s+\| .*password authentication failed for user "crypto"', logged, re.M), logged
    assert "Wallet" in get("/").text and get("/api/balance").status_code in (502, 503)


def test_the_port_already_taken(app, client, docker_client, micro_lesson):
    """Something else holds 8200: `up` fails with the engine's reason on the step, the webserver is left created
    but not started, and once the port is free the same `up` brings everything up, the others untouched."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("0.0.0.0", PORT))
        holder.listen()
        response = ran(client, LESSON, "up")
        assert 'data-done="true"' not in response.text and "It failed:" in response.text, response.text
        failed = output(response)
        assert "0.0.0.0:8200" in failed and "address already in use" in failed, failed
        assert "microservices-webserver-1" not in names(docker_client, running=True)
        reason = assert_fails(client, LESSON, "up")
        assert reason == "Container microservices-webserver-1 is not running with a published port.", reason
    finally:
        holder.close()
    others = {name: docker_client.api.inspect_container(name)["Id"]
              for name in CONTAINERS - {"microservices-webserver-1"}}
    again = done(client, LESSON, "up")
    assert re.search(r"Container microservices-webserver-1\s+Started", again), again
    assert_passes(client, LESSON, "up", timeout=STARTS)
    assert names(docker_client, running=True) == CONTAINERS
    assert {name: docker_client.api.inspect_container(name)["Id"] for name in others} == others
    assert balance() == 0


def test_up_twice_changes_nothing(app, client, docker_client, micro_lesson):
    done(client, LESSON, "up")
    assert_passes(client, LESSON, "up", timeout=STARTS)
    first = {row["Id"] for row in lesson_rows(docker_client)}
    again = done(client, LESSON, "up")
    assert "Recreate" not in again and "Created" not in again, again
    assert re.search(r"Container microservices-api-1\s+Running", again), again
    assert {row["Id"] for row in lesson_rows(docker_client)} == first and len(first) == 4
    assert_passes(client, LESSON, "up")


def test_down_v_removes_the_data(app, client, docker_client, micro_lesson):
    done(client, LESSON, "up")
    balance()
    for _ in range(2):
        done(client, LESSON, "buy")
    assert balance() == 2
    done(client, LESSON, "down")
    done(client, LESSON, "up-again")
    assert balance() == 2  # `down` keeps the volume
    done(client, LESSON, "down-volumes")
    assert not volume_there(docker_client)
    done(client, LESSON, "up-again")
    assert balance() == 0  # a new, empty database
    reason = assert_fails(client, LESSON, "up-again")
    assert "0" in reason, reason


def test_the_shipped_compose_file(app):
    """As Compose reads it: four services, only the webserver publishes a port, the API waits for a healthy
    Postgres, the images come from BASE_IMAGE and POSTGRES_IMAGE, and everything carries the lesson's label."""
    def config(**env):
        environment = {k: v for k, v in os.environ.items() if k not in ("BASE_IMAGE", "POSTGRES_IMAGE")} | env
        ran = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=SHIPPED, env=environment,
                             capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
        return json.loads(ran.stdout)

    for env, base, postgres in (({}, "python:3.12-slim", "postgres:16"),
                                ({"BASE_IMAGE": "cowserv-base:bookworm", "POSTGRES_IMAGE": "cowserv-postgres:bookworm"},
                                 "cowserv-base:bookworm", "cowserv-postgres:bookworm")):
        project = config(**env)
        assert project["name"] == LESSON
        services = project["services"]
        assert set(services) == set(SERVICES)
        for name, service in services.items():
            assert service["labels"] == {LESSON_LABEL: LESSON}
            assert ("ports" in service) == (name == "webserver")
            if name != "postgres":
                assert service["build"]["args"] == {"BASE_IMAGE": base}
        assert [(p["published"], p["target"]) for p in services["webserver"]["ports"]] == [(str(PORT), 80)]
        assert services["postgres"]["image"] == postgres
        assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services["api"]["environment"]["DB_HOST"] == "postgres"
        assert project["volumes"]["pgdata"]["labels"] == {LESSON_LABEL: LESSON}


def _instant(stamp):
    """An engine's RFC 3339 time (nanoseconds, a zone) as a datetime, to microseconds."""
    head, dot, rest = stamp.partition(".")
    if not dot:
        return datetime.fromisoformat(stamp)
    digits = re.match(r"\d*", rest)[0]
    return datetime.fromisoformat(f"{head}.{digits[:6]:0<6}{rest[len(digits):]}")
