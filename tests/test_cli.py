"""dashboard/domain/commands.py: the docker commands shown beside the buttons are exact and shell-safe."""

import shlex
import subprocess
from pathlib import Path

import pytest

from dashboard.domain import commands

FULL_ID = "4f1c2b3a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8"


def test_build_command_plain_context_is_the_tutorial_command():
    # The tutorial's command, with --force-rm as the dashboard builds (a failed step leaves no container).
    assert (commands.build_command("/srv/cowserv", "cowserv")
            == "cd /srv/cowserv && docker build --force-rm -t cowserv .")


@pytest.mark.parametrize(
    "context",
    [
        "/tmp/my lessons/cowserv",
        "/tmp/it's here/cowserv",
        '/tmp/say "moo"/cowserv',
        "/tmp/$(touch pwned); rm -rf ~/`id`/cowserv",
        "/tmp/a\nb/cowserv",
    ],
)
def test_build_command_quotes_the_context_as_one_word(context):
    command = commands.build_command(context, "cowserv")

    assert shlex.split(command) == ["cd", context, "&&", "docker", "build", "--force-rm", "-t", "cowserv", "."]


def test_build_command_takes_a_path_object():
    context = Path("/tmp/my lessons") / "cowserv"

    assert shlex.split(commands.build_command(context, "cowserv")) == [
        "cd", "/tmp/my lessons/cowserv", "&&", "docker", "build", "--force-rm", "-t", "cowserv", ".",
    ]


def test_build_command_under_home_starts_from_an_unquoted_tilde():
    assert (commands.build_command("/home/ann/docker-workshop/images", "cowserv", home="/home/ann")
            == "cd ~/docker-workshop/images && docker build --force-rm -t cowserv .")
    # Not under HOME (a name that only starts the same, or outside it): the absolute path.
    assert commands.build_command("/home/anna/w", "cowserv", home="/home/ann").startswith("cd /home/anna/w && ")
    assert commands.build_command("/srv/w", "cowserv", home="/home/ann").startswith("cd /srv/w && ")


@pytest.mark.parametrize("relative", ["docker-workshop/images", "my lessons/images", "it's/$(id)/images", "."])
def test_a_folder_under_home_written_from_tilde_is_that_folder_in_bash(tmp_path, relative):
    home = tmp_path.resolve() / "home"
    folder = home / relative
    folder.mkdir(parents=True, exist_ok=True)
    word = commands.folder_word(folder, home)
    assert word.startswith("~")
    result = subprocess.run(["bash", "-c", f"cd {word} && pwd -P"], capture_output=True, text=True,
                            env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert result.stdout.strip() == str(folder), result.stderr


def test_build_command_with_base_image_passes_the_build_arg():
    command = commands.build_command("/srv/cowserv", "cowserv", "python:3.12-slim")

    assert command == "cd /srv/cowserv && docker build --force-rm --build-arg BASE_IMAGE=python:3.12-slim -t cowserv ."


def test_build_command_quotes_a_base_image_with_odd_characters():
    base = "registry.example:5000/team/python:3.12 slim"  # not a valid reference, but must stay one word

    words = shlex.split(commands.build_command("/srv/my ctx", "cowserv", base))

    assert words == [
        "cd", "/srv/my ctx", "&&",
        "docker", "build", "--force-rm", "--build-arg", f"BASE_IMAGE={base}", "-t", "cowserv", ".",
    ]


@pytest.mark.parametrize("base_image", [None, ""])
def test_build_command_without_base_image_has_no_build_arg(base_image):
    command = commands.build_command("/srv/cowserv", "cowserv", base_image)

    assert "--build-arg" not in command
    assert "BASE_IMAGE" not in command


def test_run_invocation_is_the_tutorial_command_for_8000():
    assert (commands.run_invocation("cowserv", detach=True, ports=[(8000, 8000)])
            == "docker run -d -p 8000:8000 cowserv")


def test_run_invocation_maps_the_host_port_to_the_container_port():
    command = commands.run_invocation("cowserv", detach=True, ports=[(8081, 8000)])

    assert command == "docker run -d -p 8081:8000 cowserv"
    assert shlex.split(command) == ["docker", "run", "-d", "-p", "8081:8000", "cowserv"]


@pytest.mark.parametrize("ports", [[('8000"; rm -rf / #', 8000)], [(8000, "8000 $(id)")], [("8000:8000", 8000)]])
def test_run_invocation_refuses_a_port_that_is_not_a_number(ports):
    # The ports are written into the command unquoted, so they must never be anything but ints.
    with pytest.raises(ValueError):
        commands.run_invocation("cowserv", detach=True, ports=ports)


def test_run_invocation_quotes_the_image():
    command = commands.run_invocation("cow serv:latest", detach=True, ports=[(8000, 8000)])

    assert shlex.split(command) == ["docker", "run", "-d", "-p", "8000:8000", "cow serv:latest"]


@pytest.mark.parametrize("odd", ["it's here", 'say "moo"', "$(touch pwned); rm -rf ~/`id`", "a\nb"])
def test_run_invocation_keeps_every_word_one_word(odd):
    command = commands.run_invocation(f"img {odd}", detach=True, name=f"n {odd}", label="cowserv",
                                      ports=[(8000, 8000)], env=[("GREETING", odd)], volumes=[(f"v {odd}", "/data")],
                                      command=["echo", odd])

    assert shlex.split(command) == ["docker", "run", "-d", "--name", f"n {odd}", "--label", commands.lesson_filter("cowserv"),
                                    "-p", "8000:8000", "-e", f"GREETING={odd}", "-v", f"v {odd}:/data",
                                    f"img {odd}", "echo", odd]


def test_run_invocation_bind_mounts_the_current_folder_for_bash_to_expand(tmp_path):
    folder = tmp_path / "my site"
    folder.mkdir()
    command = commands.run_invocation("nginx", remove=True, volumes=[(".", "/site")])

    assert command == 'docker run --rm -v "$(pwd)":/site nginx'
    result = subprocess.run(["bash", "-c", f"printf '%s\\n' {command.removeprefix('docker run ')}"], cwd=folder,
                            capture_output=True, text=True)
    assert result.stdout.splitlines() == ["--rm", "-v", f"{folder}:/site", "nginx"]


def test_lesson_list_command_filters_on_the_lesson_label():
    command = commands.lesson_list_command("cowserv", True)

    assert command == "docker ps -a --filter label=classroom.lesson=cowserv"
    assert shlex.split(command) == ["docker", "ps", "-a", "--filter", f"label={commands.lesson_filter('cowserv')}"]
    assert commands.lesson_list_command("running", False) == "docker ps --filter label=classroom.lesson=running"


def test_remove_command_uses_the_12_char_short_id():
    command = commands.remove_command(FULL_ID)

    assert command == f"docker stop {FULL_ID[:12]} && docker rm {FULL_ID[:12]}"
    assert shlex.split(command) == ["docker", "stop", "4f1c2b3a5d6e", "&&", "docker", "rm", "4f1c2b3a5d6e"]


def test_remove_command_with_a_short_id_keeps_it():
    assert commands.remove_command(FULL_ID[:12]) == "docker stop 4f1c2b3a5d6e && docker rm 4f1c2b3a5d6e"


def test_on_a_seats_own_engine_the_volume_and_list_commands_are_the_workshops_own():
    assert commands.volume_create_command("pgdata", None) == "docker volume create pgdata"
    assert commands.volume_list_command(None) == "docker volume ls"
    assert commands.list_command(True) == "docker ps -a" and commands.list_command(False) == "docker ps"


def test_the_volume_commands_carry_the_lesson_s_label_and_quote_the_name():
    assert commands.volume_create_command("pgdata", "state") == \
        "docker volume create --label classroom.lesson=state pgdata"
    assert commands.volume_list_command("state") == "docker volume ls --filter label=classroom.lesson=state"
    assert commands.volume_remove_command("pgdata") == "docker volume rm pgdata"


def test_an_exec_with_environment_gives_each_variable_with_e_before_the_container():
    command = commands.exec_command("db", ["psql", "-c", "SELECT 1;"], (("PGPASSWORD", "lesson pass"),))
    assert command == "docker exec -e 'PGPASSWORD=lesson pass' db psql -c 'SELECT 1;'"
    assert shlex.split(command) == ["docker", "exec", "-e", "PGPASSWORD=lesson pass", "db", "psql", "-c", "SELECT 1;"]


def test_the_compose_command_is_compose_v2_as_people_type_it():
    assert commands.compose_command(["up", "-d"]) == "docker compose up -d"
