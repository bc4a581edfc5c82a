"""Part 5 of the workshop, state: Postgres with its data in a named volume, on the real engine. End to end by the
buttons (each check fails, or says starting, before its step, with a reason, and passes after), and by the shown
commands pasted in order into bash; the row outlives its container; and the refusals (a volume name with odd
characters in a lesson file, an exec in a stopped container, a volume in use, Postgres not ready yet).

Where no registry answers, cowserv-postgres:bookworm (scripts/make-postgres-image) stands in for postgres:16: named by
DASHBOARD_POSTGRES_IMAGE, or found by the dashboard itself (domain/stand_ins.py). The lesson's names are fixed (the
container db, the volume pgdata): every container and volume labelled classroom.lesson=state is force-removed before
and after each test.
"""

import html
import os
import re
import subprocess
import sys

import docker
import pytest

from tests.support import HTMX, image_in_use, shell, wait_until
from tests.support.engine import LESSON_LABEL
from tests.test_lessons_by_command import ByCommand
from dashboard import create_app
from dashboard.domain.checks import FAILED, PASSED, STARTING
from dashboard.domain.lessons import LESSON_FILE, LessonError, load_catalog, load_lesson
from dashboard.web.views import evaluate_check

# Both engine passes (engine_specific): named volumes and exec.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]

LESSON = "state"
LABEL = f"{LESSON_LABEL}={LESSON}"
SHIPPED = os.path.join(os.path.dirname(__file__), "..", "dashboard", "lessons", "05-state")
POSTGRES_STARTS = 120  # seconds: generous, never the assertion (a first start runs initdb)


def remove_state_objects(docker_client):
    """Every container of the lesson (with its anonymous volumes), then every volume of it."""
    for row in docker_client.api.containers(all=True, filters={"label": LABEL}):
        try:
            docker_client.api.remove_container(row["Id"], force=True, v=True)
        except docker.errors.NotFound:
            pass
    for volume in docker_client.api.volumes(filters={"label": LABEL}).get("Volumes") or []:
        try:
            docker_client.api.remove_volume(volume["Name"], force=True)
        except docker.errors.NotFound:
            pass


@pytest.fixture
def clean_state(docker_client):
    remove_state_objects(docker_client)
    yield
    remove_state_objects(docker_client)


def press(client, step_id):
    return client.post(f"/lessons/{LESSON}/steps/{step_id}", headers=HTMX)


def printed(app, step_id):
    """What the step's latest press printed, as the page shows it."""
    return app.extensions["board"].last_run(LESSON, step_id).output


def check(client, step_id):
    """(state, reason) of the step's check, asked now through its Check again route."""
    response = client.post(f"/lessons/{LESSON}/steps/{step_id}/check", headers=HTMX)
    assert response.status_code == 200, response.text
    state = re.search(r'data-check="(\w+)"', response.text)[1]
    reason = html.unescape(re.search(r'<span class="reason">(.*?)</span>', response.text, re.S)[1]).strip()
    return state, reason


def assert_not_yet(client, step_id, *reasons):
    """The step's check fails before the step (or says starting), with a reason holding one of `reasons`."""
    state, reason = check(client, step_id)
    assert state in (FAILED, STARTING), (step_id, state, reason)
    assert any(text in reason for text in reasons), (step_id, reason)
    return reason


def passes(client, step_id, what):
    """The step's check passing, asked again (as Check again does) while Postgres starts."""
    def passed():
        state, reason = check(client, step_id)
        return reason if state == PASSED else None
    return wait_until(passed, what, timeout=POSTGRES_STARTS, every=0.5)


def volume_names(docker_client):
    return {volume["Name"] for volume in docker_client.api.volumes(filters={"label": LABEL}).get("Volumes") or []}


def test_part_5_state_by_buttons(app, client, docker_client, clean_state):
    assert_not_yet(client, "volume", "There is no volume pgdata")
    assert press(client, "volume").status_code == 200
    assert printed(app, "volume") == "pgdata\n"
    assert docker_client.api.inspect_volume("pgdata")["Labels"] == {"classroom.lesson": "state"}
    assert check(client, "volume")[0] == PASSED

    assert_not_yet(client, "run", "No container db is running")
    assert_not_yet(client, "ready", "There is no container db")  # the wait's check, before there is anything to wait for
    assert press(client, "run").status_code == 200
    first_id = printed(app, "run").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", first_id)
    attrs = docker_client.api.inspect_container("db")
    assert attrs["Config"]["Labels"]["classroom.lesson"] == "state"
    assert [(m["Type"], m["Name"], m["Destination"]) for m in attrs["Mounts"]] == \
        [("volume", "pgdata", "/var/lib/postgresql/data")]
    assert "POSTGRES_PASSWORD=lesson-password" in attrs["Config"]["Env"]
    assert check(client, "run")[0] == PASSED

    # The wait: its button runs pg_isready, its check says "starting" while Postgres sets up, then passes.
    assert press(client, "ready").status_code == 200
    assert "127.0.0.1:5432 - " in printed(app, "ready")
    assert "accepting connections" in passes(client, "ready", "Postgres accepting connections")

    assert_not_yet(client, "write", 'relation "kept" does not exist')
    assert press(client, "write").status_code == 200
    assert printed(app, "write") == "CREATE TABLE\nINSERT 0 1\n"
    assert "printed '42'" in passes(client, "write", "the row written")

    assert_not_yet(client, "remove", "The container db is still there")
    assert press(client, "remove").status_code == 200
    assert printed(app, "remove") == "db"
    assert check(client, "remove")[0] == PASSED
    assert volume_names(docker_client) == {"pgdata"}  # the container went; its volume did not

    assert_not_yet(client, "run-again", "There is no container db")
    assert press(client, "run-again").status_code == 200
    second_id = printed(app, "run-again").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", second_id) and second_id != first_id
    # The new container finds the row the first one wrote: it lives in the volume.
    assert "printed '42'" in passes(client, "run-again", "the row read through the new container")
    assert "Skipping initialization" in docker_client.api.logs("db").decode()

    assert press(client, "read").status_code == 200
    assert re.search(r"answer\s*\n-+\n\s*42\n\(1 row\)", printed(app, "read")), printed(app, "read")
    assert press(client, "volumes").status_code == 200
    assert re.search(r"^local\s+pgdata$", printed(app, "volumes"), re.M), printed(app, "volumes")

    assert_not_yet(client, "clean", "Still there: db")
    assert press(client, "clean").status_code == 200
    assert check(client, "clean")[0] == PASSED

    assert_not_yet(client, "remove-volume", "The volume pgdata is still there")
    assert press(client, "remove-volume").status_code == 200
    assert printed(app, "remove-volume") == "pgdata\n"
    assert check(client, "remove-volume")[0] == PASSED
    assert volume_names(docker_client) == set()
    assert docker_client.api.containers(all=True, filters={"label": LABEL}) == []


def test_part_5_state_by_commands(app, docker_client, clean_state):
    """Each step's shown command pasted into bash, in order, from an engine with nothing of the lesson's."""
    lesson = ByCommand(app, LESSON)

    assert lesson.run("volume") == "pgdata\n"
    assert docker_client.api.inspect_volume("pgdata")["Labels"] == {"classroom.lesson": "state"}

    with app.app_context():
        before = evaluate_check(lesson.lesson, lesson.lesson.step("ready").check)
    assert before.state == FAILED and "There is no container db" in before.reason
    first_id = lesson.run("run").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", first_id)

    # The wait, as a person does it: type pg_isready again until Postgres accepts connections.
    command = lesson.shown("ready")
    assert command == "docker exec db pg_isready -h 127.0.0.1 -U postgres -d lesson"
    lesson.done.append("ready")
    ran = wait_until(lambda: (done := shell(command)).returncode == 0 and done,
                     "pg_isready answering 0", timeout=POSTGRES_STARTS, every=0.5)
    assert ran.stdout == "127.0.0.1:5432 - accepting connections\n"
    assert lesson.check("ready").state == PASSED

    assert lesson.shown("write").startswith("docker exec -e PGPASSWORD=lesson-password db psql -U postgres -d lesson -c '")
    assert lesson.run("write") == "CREATE TABLE\nINSERT 0 1\n"
    assert lesson.run("remove").strip() == "db"
    assert volume_names(docker_client) == {"pgdata"}

    second_id = lesson.run("run-again").strip()  # its check (the row, through the new container) waited for Postgres
    assert second_id != first_id
    assert "42" in lesson.run("read")
    assert re.search(r"^local\s+pgdata$", lesson.run("volumes"), re.M)
    assert lesson.run("clean").strip() == "db"
    assert lesson.run("remove-volume").strip() == "pgdata"
    assert volume_names(docker_client) == set()
    lesson.finished()


def postgres_in_use(app):
    """The image the state lesson runs here: postgres:16, or the stand-in the dashboard uses for it."""
    return image_in_use(app, "postgres:16")


def test_the_page_says_the_password_is_the_lesson_s_and_which_image_is_in_use(app, client):
    page = html.unescape(client.get(f"/lessons/{LESSON}").text)
    assert "is a lesson password" in page
    image = postgres_in_use(app)
    if image != "postgres:16":
        assert f'data-stand-in="postgres:16" data-stand-in-used="{image}"' in page
    assert f"-v pgdata:/var/lib/postgresql/data {image}" in page


def test_served_without_a_setting_the_dashboard_finds_the_stand_in_and_runs_it(tmp_path, docker_client, clean_state):
    """Served by gunicorn alone or from compose.yaml, no DASHBOARD_POSTGRES_IMAGE is set: where postgres:16 is not
    here and cowserv-postgres:bookworm is, the page names the stand-in, says so, and the run step runs it."""
    stand_in = "cowserv-postgres:bookworm"
    have = {tag for image in docker_client.images.list() for tag in image.tags}
    if "postgres:16" in have or stand_in not in have:
        pytest.skip(f"this engine has postgres:16, or not {stand_in}: nothing stands in for it here")
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3"),
                      "BASE_IMAGE": None, "POSTGRES_IMAGE": None})
    client = app.test_client()
    page = html.unescape(client.get(f"/lessons/{LESSON}").text)
    assert f'data-stand-in="postgres:16" data-stand-in-used="{stand_in}"' in page
    assert "postgres:16</code> is not on this engine" in page
    assert f"-v pgdata:/var/lib/postgresql/data {stand_in}" in page
    assert press(client, "volume").status_code == 200
    response = press(client, "run")
    assert response.status_code == 200, response.text
    assert docker_client.api.inspect_container("db")["Config"]["Image"] == stand_in


def lesson_with(tmp_path, old, new, count=1):
    """A copy of the shipped state lesson with `old` replaced by `new` in its lesson file."""
    text = open(os.path.join(SHIPPED, LESSON_FILE)).read()
    assert text.count(old) == count, old
    folder = tmp_path / "05-state"
    folder.mkdir()
    (folder / LESSON_FILE).write_text(text.replace(old, new))
    return folder


def test_a_volume_name_with_odd_characters_is_refused_naming_file_step_and_field(tmp_path):
    folder = lesson_with(tmp_path, 'kind = "volume_create", name = "pgdata"', 'kind = "volume_create", name = "pg data!"')
    with pytest.raises(LessonError) as refused:
        load_lesson(folder)
    message = str(refused.value)
    assert message.startswith(f"{folder / LESSON_FILE}, step 'volume', field 'action.name': ")
    assert "'pg data!' is not a volume name" in message

    catalog = load_catalog(tmp_path)  # left out, with its message, as at a start
    assert catalog.ids == [] and catalog.errors == [message]
    checked = subprocess.run([sys.executable, "-m", "dashboard.lessons", "check", str(folder)],
                             capture_output=True, text=True)
    assert checked.returncode == 1 and "step 'volume', field 'action.name'" in checked.stdout + checked.stderr


def test_a_run_mounting_a_volume_with_odd_characters_is_refused(tmp_path):
    folder = lesson_with(tmp_path, '"pgdata:/var/lib/postgresql/data"', '"pg data!:/var/lib/postgresql/data"', count=2)
    with pytest.raises(LessonError, match=r"step 'run', field 'action.volumes': 'pg data!': a source is"):
        load_lesson(folder)


def start_postgres(client, app):
    """The lesson's first steps by their buttons: the volume, Postgres on it, and the wait for it."""
    for step_id in ("volume", "run"):
        assert press(client, step_id).status_code == 200, step_id
    passes(client, "ready", "Postgres accepting connections")


def test_an_exec_in_a_stopped_container_is_a_409_with_a_message(app, client, docker_client, clean_state):
    start_postgres(client, app)
    docker_client.api.stop("db", timeout=30)

    response = press(client, "write")
    assert response.status_code == 409
    assert "Container db is not running: `docker exec` needs a running container." in html.unescape(response.text)
    assert printed(app, "write").startswith("Error: Container db is not running")
    state, reason = check(client, "write")
    assert state == FAILED and "Container db is not running" in reason


def test_a_volume_in_use_is_a_409_and_is_kept(app, client, docker_client, clean_state):
    start_postgres(client, app)

    response = press(client, "remove-volume")
    assert response.status_code == 409
    assert "Volume pgdata is in use by a container: remove the container first." in html.unescape(response.text)
    assert volume_names(docker_client) == {"pgdata"}
    assert check(client, "remove-volume")[0] == FAILED
    # Postgres still has its data directory: the refusal touched nothing.
    assert check(client, "ready")[0] == PASSED


def test_postgres_not_ready_yet_is_starting_not_failed(app, client, docker_client, clean_state, tmp_path):
    """A first start that takes long (an init script that sleeps, as the official image runs them): pg_isready
    says "no response" all that time, and the check says starting; then it passes by itself."""
    scripts = tmp_path / "initdb.d"
    scripts.mkdir()
    (scripts / "slow.sh").write_text("sleep 8\n")
    scripts.chmod(0o755)
    (scripts / "slow.sh").chmod(0o644)
    assert press(client, "volume").status_code == 200
    with app.app_context():
        image = postgres_in_use(app)
    container = docker_client.api.create_container(
        image, name="db", labels={"classroom.lesson": LESSON},
        environment={"POSTGRES_PASSWORD": "lesson-password", "POSTGRES_DB": "lesson"},
        host_config=docker_client.api.create_host_config(binds={
            "pgdata": {"bind": "/var/lib/postgresql/data", "mode": "rw"},
            str(scripts): {"bind": "/docker-entrypoint-initdb.d", "mode": "ro"}}))
    docker_client.api.start(container["Id"])
    wait_until(lambda: "slow.sh" in docker_client.api.logs(container["Id"]).decode(), "the init script running",
               timeout=POSTGRES_STARTS)

    state, reason = check(client, "ready")
    assert state == STARTING, (state, reason)
    assert "still starting" in reason and "no response" in reason
    assert press(client, "ready").status_code == 200  # the press itself: pg_isready ran, and said no
    ran = app.extensions["board"].last_run(LESSON, "ready")
    assert not ran.ok and ran.output == "127.0.0.1:5432 - no response\n"
    assert app.extensions["board"].result(LESSON, "ready").state in (STARTING, PASSED)  # asked for 5 s after

    assert "accepting connections" in passes(client, "ready", "Postgres up after its init script")


def test_the_stand_in_honours_the_official_image_s_variables(app, docker_client, clean_state):
    """POSTGRES_USER and the database named after it, a password asked over the network, none missing on a first
    start, and a clean stop."""
    image = postgres_in_use(app)
    if image == "postgres:16":
        pytest.skip("postgres:16 itself is in use here, not the stand-in")
    api = docker_client.api

    def start(name, env):
        made = api.create_container(image, name=name, labels={"classroom.lesson": LESSON}, environment=env)
        api.start(made["Id"])
        return made["Id"]

    refused = start("db-nopassword", {})
    assert api.wait(refused, timeout=60)["StatusCode"] == 1
    assert "superuser password is not specified" in api.logs(refused).decode()

    server = start("db-teacher", {"POSTGRES_USER": "teacher", "POSTGRES_PASSWORD": "lesson-password"})
    def answers():
        made = api.exec_create(server, ["pg_isready", "-h", "127.0.0.1"])
        return b"accepting connections" in api.exec_start(made["Id"])
    wait_until(answers, "the server up", timeout=POSTGRES_STARTS, every=0.5)
    address = api.inspect_container(server)["NetworkSettings"]["IPAddress"]
    query = ["psql", "-h", address, "-U", "teacher", "-w", "-tAc", "SELECT current_database()"]

    def client_run(env):
        made = api.create_container(image, command=query, labels={"classroom.lesson": LESSON}, environment=env)
        api.start(made["Id"])
        code = api.wait(made["Id"], timeout=60)["StatusCode"]
        return code, api.logs(made["Id"]).decode()

    assert client_run({"PGPASSWORD": "lesson-password"}) == (0, "teacher\n")
    code, output = client_run({})
    assert code != 0 and "no password supplied" in output
    code, output = client_run({"PGPASSWORD": "wrong"})
    assert code != 0 and "password authentication failed" in output

    api.stop(server, timeout=30)
    state = api.inspect_container(server)["State"]
    assert state["ExitCode"] == 0, state
    assert "database system is shut down" in api.logs(server).decode()
