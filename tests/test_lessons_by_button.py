"""Parts 2, 3 and 4 of the workshop end to end by their buttons, on the real engine: before each step its check
fails, the button does the step (with the output a terminal would show), and then the check passes; and the
buttons' refusals (a container absent or stopped, a name taken, an unknown step, a stray field, a viewer).

The lessons' containers have fixed names (hello, ticker, once, website, website-live): every container of the
dashboard's test lessons `running` and `realistic` is force-removed before and after each test. The cowserv test
builds its image under a tag of its own (DASHBOARD_IMAGE stands in for cowserv) and removes what it made only.
"""

import html
import re

import pytest
import requests

from tests.support.lessons import (
    assert_fails_unless_another_answers,
    clean_lessons,  # noqa: F401  (a fixture)
    cowserv_app,  # noqa: F401  (a fixture)
    lesson_containers,
    names,
)
from tests.support import HTMX, free_tcp_port, get_cow, image_in_use, wait_until
from tests.support.engine import LESSON_LABEL, reaping
from dashboard.web.security import CSRF_HEADER

# Both engine passes (engine_specific): builds, exec, mounts and the engine's error texts.
pytestmark = [pytest.mark.engine, pytest.mark.engine_specific]

def press(client, lesson_id, step_id, **form):
    return client.post(f"/lessons/{lesson_id}/steps/{step_id}", data=form, headers=HTMX)


def check(client, lesson_id, step_id):
    """(state, reason) of the step's check, asked now through the check route."""
    response = client.post(f"/lessons/{lesson_id}/steps/{step_id}/check", headers=HTMX)
    assert response.status_code == 200, response.text
    state = re.search(r'data-check="(\w+)"', response.text)[1]
    reason = html.unescape(re.search(r'<span class="reason">(.*?)</span>', response.text, re.S)[1]).strip()
    return state, reason


def assert_fails(client, lesson_id, step_id):
    state, reason = check(client, lesson_id, step_id)
    assert state == "failed", (step_id, state, reason)
    assert reason
    return reason


def assert_passes(client, lesson_id, step_id, timeout=30):
    """The check passes (asked again for a while: a server just started may not answer yet)."""
    def passed():
        state, reason = check(client, lesson_id, step_id)
        return reason if state == "passed" else None
    return wait_until(passed, f"the check of {lesson_id}/{step_id} passing", timeout=timeout, every=0.5)


def output(response):
    """What the step printed, as the status fragment shows it."""
    found = re.search(r'<pre class="output" data-(?:step|run)-output[^>]*>(.*?)</pre>', response.text, re.S)
    assert found, response.text
    return html.unescape(found[1])


def ran(client, lesson_id, step_id, timeout=600, **form):
    """Press the step and wait for it to end, succeeded or not; the response showing its run. A long step (Compose
    building) answers at once and runs in the background: its status is asked until its run ended, and the run is
    then waited for to be noted as ended too (a press before that would join it)."""
    response = press(client, lesson_id, step_id, **form)
    assert response.status_code == 200, response.text
    if 'data-running="true"' in response.text:
        def ended():
            status = client.get(f"/lessons/{lesson_id}/steps/{step_id}", headers=HTMX)
            assert status.status_code == 200, status.text
            return None if 'data-running="true"' in status.text else status
        response = wait_until(ended, f"the run of {lesson_id}/{step_id} to end", timeout=timeout, every=0.5)
        runner = client.application.extensions["step_runner"]
        wait_until(lambda: not runner.running, "the run noted as ended (just after its run went on the board)")
    return response


def done(client, lesson_id, step_id, timeout=600, **form):
    """Press the step and expect it done; its output (a long step's once it ended: see ran)."""
    response = ran(client, lesson_id, step_id, timeout, **form)
    assert "Done:" in response.text or 'data-done="true"' in response.text, response.text
    return output(response) if "-output" in response.text else ""


def build_by_button(app, client, lesson_id, step_id="build"):
    response = press(client, lesson_id, step_id)
    assert response.status_code == 200, response.text
    assert "Build started." in response.text
    build = app.extensions["builder"].current
    wait_until(lambda: not build.running, f"the build of {lesson_id}", timeout=600, every=0.5)
    assert build.state == "succeeded", build.error
    return build


def test_part_2_running_containers_by_buttons(app, client, docker_client, clean_lessons):
    lesson = "running"

    assert "There is no container hello" in assert_fails(client, lesson, "hello")
    assert done(client, lesson, "hello").strip() == "Hello from a container"
    assert_passes(client, lesson, "hello")

    listed = done(client, lesson, "ps")
    assert listed.startswith("CONTAINER ID") and "hello" not in listed  # exited: not in `docker ps`
    listed = done(client, lesson, "ps-all")
    assert re.search(r"Exited \(0\).*\bhello$", listed, re.M), listed

    assert_fails(client, lesson, "detached")
    ticker_id = done(client, lesson, "detached").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", ticker_id)
    assert_passes(client, lesson, "detached")

    wait_until(lambda: docker_client.api.logs(ticker_id).strip(), "the ticker's first date")
    assert re.search(r"\d\d:\d\d:\d\d", done(client, lesson, "logs"))

    assert "still there" in assert_fails(client, lesson, "stop")
    assert done(client, lesson, "stop").split() == ["ticker", "ticker"]
    assert_passes(client, lesson, "stop")

    assert_fails(client, lesson, "rm")
    assert done(client, lesson, "rm").strip() == "hello"
    assert_passes(client, lesson, "rm")
    assert names(docker_client, lesson) == set()

    assert done(client, lesson, "rm-flag").strip() == "Gone when done"
    assert names(docker_client, lesson) == set()  # --rm: nothing left

    printed = done(client, lesson, "interactive")
    assert "inside " in printed and "NAME=" in printed
    assert names(docker_client, lesson) == set()


def test_part_3_cowserv_by_buttons(cowserv_app, docker_client, created, free_port):
    app, client, lesson = cowserv_app, cowserv_app.test_client(), "cowserv"

    assert f"There is no image {app.tag}" in assert_fails(client, lesson, "build")
    build_by_button(app, client, lesson)
    assert app.tag in assert_passes(client, lesson, "build")

    # The check asks any running cowserv container: before the run it fails, unless another test's container (or a
    # person's) answers, which its reason then names.
    state, reason = check(client, lesson, "run")
    assert_fails_unless_another_answers(docker_client, state, reason)
    response = press(client, lesson, "run", host_port=str(free_port))
    assert response.status_code == 200, response.text
    container_id = output(response).strip()
    created(container_id)
    assert f'href="http://localhost:{free_port}/"' in response.text
    assert docker_client.api.inspect_container(container_id)["Config"]["Image"] == app.tag
    assert docker_client.api.port(container_id, 8000)[0]["HostPort"] == str(free_port)
    assert "^__^" in get_cow(free_port).text
    assert_passes(client, lesson, "run")


def test_part_4_realistic_dockerfile_by_buttons(app, client, docker_client, clean_lessons, free_port):
    lesson, live_port = "realistic", free_tcp_port()

    assert "There is no image website" in assert_fails(client, lesson, "build")
    build_by_button(app, client, lesson)
    assert_passes(client, lesson, "build")

    assert "website is not running" in assert_fails(client, lesson, "run")
    done(client, lesson, "run", host_port=str(free_port))
    assert_passes(client, lesson, "run")
    assert docker_client.api.port("website", 8000)[0]["HostPort"] == str(free_port)
    assert "Hello from the image" in get_cow(free_port).text

    assert_fails(client, lesson, "exec")
    assert re.search(r"\bindex\.html$", done(client, lesson, "exec"), re.M)
    assert_passes(client, lesson, "exec")

    requests.get(f"http://127.0.0.1:{free_port}/", timeout=5)
    assert '"GET / HTTP/1.1" 200' in done(client, lesson, "logs")

    assert_fails(client, lesson, "remove")
    assert done(client, lesson, "remove").strip() == "website"
    assert_passes(client, lesson, "remove")

    assert_fails(client, lesson, "live")
    done(client, lesson, "live", host_port=str(live_port))
    assert_passes(client, lesson, "live")
    assert "Hello from the image" in get_cow(live_port).text

    assert "without 'Edited live'" in assert_fails(client, lesson, "edit")
    done(client, lesson, "edit")
    served = requests.get(f"http://127.0.0.1:{live_port}/", timeout=5).text
    assert "Edited live, no rebuild" in served and "Hello from the image" not in served
    assert_passes(client, lesson, "edit")

    assert_fails(client, lesson, "clean")
    assert done(client, lesson, "clean").strip() == "website-live"
    assert_passes(client, lesson, "clean")
    assert names(docker_client, lesson) == set()


def test_a_class_after_one_that_edited_the_page_serves_it_and_the_check_passes(app, client, clean_lessons, free_port):
    """The edit step of an earlier class left index.html changed in the workshop folder (kept, as every edit is):
    the page lists it beside Restore, and after a rebuild "Serve it" passes, its check saying what it served."""
    lesson = "realistic"
    done(client, lesson, "edit")  # as the earlier class left it
    page = client.get(f"/lessons/{lesson}").text
    assert 'data-changed-files="index.html"' in page and "Restore this lesson" in page

    build_by_button(app, client, lesson)
    done(client, lesson, "run", host_port=str(free_port))
    reason = assert_passes(client, lesson, "run")
    assert "Edited live, no rebuild" in get_cow(free_port).text
    folder = app.extensions["workshop"].folder(app.extensions["catalog"].get(lesson))
    assert reason == (f"http://127.0.0.1:{free_port}/ answers with index.html as it is in {folder} now, changed "
                      "from the lesson's own ('Restore this lesson's files' brings back 'Hello from the image').")

    # Changed again after the build: the container serves neither, and the check says what to do.
    (folder / "index.html").write_text("<h1>A third page</h1>\n")
    assert assert_fails(client, lesson, "run") == (
        f"http://127.0.0.1:{free_port}/ answers, without 'Hello from the image' or index.html as it is in {folder} "
        f"now. index.html in {folder} differs from the lesson's own (an earlier edit is kept): build again to serve "
        "it as it is, or press 'Restore this lesson's files' and build again to serve the lesson's own.")

    # Restored, but not built again: the container still serves the edited copy, and the check says so.
    assert client.post("/workshop/website/restore", headers=HTMX).status_code == 200
    assert 'data-changed-files=""' in client.get(f"/lessons/{lesson}").text
    assert assert_fails(client, lesson, "run") == f"http://127.0.0.1:{free_port}/ answers, without 'Hello from the image'."


def test_exec_in_an_absent_container_is_404_with_a_message(client, clean_lessons):
    response = press(client, "realistic", "exec")
    assert response.status_code == 404
    assert "No lesson container website" in response.text


def test_exec_in_a_stopped_container_is_409_with_a_message(client, docker_client, clean_lessons):
    base = image_in_use(client.application, "python:3.12-slim")
    docker_client.api.create_container(base, command=["true"], name="website", labels={LESSON_LABEL: "realistic"})
    response = press(client, "realistic", "exec")
    assert response.status_code == 409
    assert "Container website is not running" in response.text


@pytest.mark.parametrize("lesson_id, step_id, container", [
    ("running", "logs", "ticker"), ("running", "stop", "ticker"), ("running", "rm", "hello"),
    ("realistic", "logs", "website"), ("realistic", "remove", "website"), ("realistic", "clean", "website-live"),
])
def test_a_step_on_an_absent_container_is_404_with_a_message(client, clean_lessons, lesson_id, step_id, container):
    response = press(client, lesson_id, step_id)
    assert response.status_code == 404
    assert f"No lesson container {container}" in response.text
    state = client.get(f"/lessons/{lesson_id}/steps/{step_id}", headers=HTMX).text
    assert f"Error: No lesson container {container}" in html.unescape(state)  # every page sees what failed


def test_a_plain_rm_of_a_running_container_is_409_with_a_message(client, docker_client, clean_lessons):
    base = image_in_use(client.application, "python:3.12-slim")
    made = docker_client.api.create_container(base, command=["sleep", "300"], name="hello",
                                              labels={LESSON_LABEL: "running"})
    docker_client.api.start(made["Id"])
    response = press(client, "running", "rm")
    assert response.status_code == 409
    assert "Container hello is running: stop it first" in response.text
    assert docker_client.api.inspect_container(made["Id"])["State"]["Running"]


def test_a_container_of_another_lesson_is_not_this_lesson_s(client, docker_client, clean_lessons):
    """A `website` of the running lesson is not the realistic lesson's: its exec finds none (404)."""
    base = image_in_use(client.application, "python:3.12-slim")
    made = docker_client.api.create_container(base, command=["sleep", "300"], name="website",
                                              labels={LESSON_LABEL: "running"})
    docker_client.api.start(made["Id"])
    assert press(client, "realistic", "exec").status_code == 404
    assert press(client, "realistic", "remove").status_code == 404
    assert docker_client.api.inspect_container(made["Id"])["State"]["Running"]


def test_running_a_named_container_twice_is_409_already_exists(client, docker_client, clean_lessons):
    done(client, "running", "detached")
    response = press(client, "running", "detached")
    assert response.status_code == 409
    assert "A container named ticker already exists" in response.text
    assert names(docker_client, "running") == {"ticker"}


def test_an_unknown_step_is_404(client):
    for path in ("/lessons/running/steps/nope", "/lessons/running/steps/nope/check"):
        response = client.post(path, headers=HTMX)
        assert response.status_code == 404
        assert "The lesson running has no step 'nope'" in html.unescape(response.text)
    assert client.post("/lessons/running/steps/ps/check", headers=HTMX).status_code == 404  # no check


def test_a_host_port_for_a_step_that_takes_none_is_400(client, docker_client, clean_lessons, free_port):
    for lesson_id, step_id in (("running", "hello"), ("running", "detached"), ("realistic", "build")):
        response = press(client, lesson_id, step_id, host_port=str(free_port))
        assert response.status_code == 400, (step_id, response.status_code)
        assert "Unknown field(s): host_port" in response.text
    assert names(docker_client, "running") == set()
    assert not client.application.extensions["builder"].running


def test_a_bad_host_port_is_400(client, docker_client, clean_lessons):
    for value in ("", "0", "70000", "x"):
        response = press(client, "realistic", "run", host_port=value)
        assert response.status_code == 400, value
    assert names(docker_client, "realistic") == set()


def test_a_viewer_pressing_a_step_is_403_and_nothing_changes(app, docker_client, clean_lessons):
    signed_out = app.test_client(instructor=False)  # no CSRF token at all
    with_token = app.test_client(instructor=False)  # a viewer's session, with the CSRF token its page carries
    with with_token.session_transaction() as session:
        session["csrf"] = "a-viewer-s-own-csrf-token"
    token = {CSRF_HEADER: "a-viewer-s-own-csrf-token"}
    for viewer, headers, says in ((signed_out, HTMX, "CSRF token does not match"),
                                  (with_token, HTMX | token, "Only the instructor can do that")):
        for path in ("/lessons/running/steps/hello", "/lessons/running/steps/detached",
                     "/lessons/running/steps/hello/check", "/lessons/realistic/steps/build"):
            response = viewer.post(path, headers=headers)
            assert response.status_code == 403, (path, response.status_code)
            assert says in response.text
    assert names(docker_client, "running") == set()
    assert app.extensions["board"].last_run("running", "hello") is None
    assert app.extensions["board"].result("running", "hello") is None
    assert app.extensions["builder"].current is None


def test_an_edit_that_cannot_be_written_is_a_503_with_the_reason_and_is_written_down(app, client):
    """The workshop file is a folder now (or not the dashboard user's to write): the edit step says so, as its
    output and in the transcript, and nothing else changes."""
    lesson = app.extensions["catalog"].get("realistic")
    page = app.extensions["workshop"].folder(lesson) / "index.html"
    page.unlink()
    page.mkdir()
    try:
        response = press(client, "realistic", "edit")
        assert response.status_code == 503, response.text
        assert f"{page} cannot be written" in html.unescape(response.text)
        [entry] = app.extensions["transcript"].entries("realistic")
        assert (entry.action, entry.ok) == ("edit", False) and entry.output.startswith("Error: ")
    finally:
        page.rmdir()
        app.extensions["workshop"].restore(lesson)


def test_a_replayed_step_runs_in_the_script_s_folder(app):
    """The downloaded script goes to the lesson's folder (or the one it is given) first: a step that needs the
    folder is replayed without its own `cd`, so the folder given to the script is the one used."""
    from dashboard.domain import actions
    from dashboard.web.views import place_for

    lesson = app.extensions["catalog"].get("realistic")
    live = lesson.step("live").action
    with app.test_request_context():
        place = place_for(lesson)
        replayed = actions.replay(lesson, live, place, 18080)
        assert replayed == 'docker run -d --name website-live -p 18080:8000 -v "$(pwd)":/site website'
        assert actions.command(lesson, live, place, 18080).endswith(" && " + replayed)


RUNNING_STEPS = ("hello", "ps", "ps-all", "detached", "logs", "stop", "rm", "rm-flag", "interactive")


def test_the_running_lessons_steps_pressed_back_to_back_never_lose_a_race(client, docker_client, clean_lessons):
    """A quick student: the running lesson's steps pressed one after another, 20 rounds, no pause, on an engine
    that removes each ended container at once (all but hello, which the rm step removes): no press answers an
    error. A `--rm` run's output is read however soon its container ends and goes, and Stop & remove that finds
    the ticker already gone has done its work."""
    with reaping(f"{LESSON_LABEL}=running", spare={"hello"}):
        for round_ in range(20):
            for step in RUNNING_STEPS:
                response = press(client, "running", step)
                assert response.status_code == 200, (round_, step, response.status_code, response.text)
                assert "Done:" in response.text, (round_, step, response.text)
                if step == "rm-flag":
                    assert output(response).strip() == "Gone when done", (round_, output(response))
            left = [row["Names"] for row in lesson_containers(docker_client, "running")]
            assert left == [], (round_, left)
