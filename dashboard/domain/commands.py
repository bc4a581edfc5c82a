"""The docker CLI commands shown beside each button: exact, shell-quoted, and doing what the button does."""

import os
import shlex

from .engine import CONTAINER_PORT, LESSON_FILTER


def build_invocation(tag, base_image=None):
    """`docker build --force-rm -t TAG .` (with the base image argument when one is configured), in the build context.

    --force-rm as the dashboard builds: a failed step's container is removed, not left in the lesson's list.
    """
    words = ["docker", "build", "--force-rm"]
    if base_image:
        words += ["--build-arg", f"BASE_IMAGE={base_image}"]
    return shlex.join([*words, "-t", tag, "."])


def build_command(context, tag, base_image=None, home=None):
    """The build as the page shows it: true from any folder, since it goes to the build context first.

    A context under `home` (the dashboard user's HOME) is written from `~`, left unquoted so bash expands it:
    `cd ~/docker-workshop/images && docker build …`, true when that user pastes it.
    """
    return f"cd {folder_word(context, home)} && {build_invocation(tag, base_image)}"


def folder_word(folder, home=None):
    """`folder` as one shell word: `~/REST` (REST quoted) when it is under `home`, else the quoted path."""
    folder = str(folder)
    if home and os.path.isabs(folder):
        relative = os.path.relpath(os.path.normpath(folder), os.path.normpath(str(home)))
        if relative == ".":
            return "~"
        if relative != ".." and not relative.startswith("../"):
            return f"~/{shlex.quote(relative)}"
    return shlex.quote(folder)


def run_command(image, host_port):
    """`docker run -d -p "HOST:8000" IMAGE`, written as the tutorial writes it (the port is a validated int)."""
    return f'docker run -d -p "{int(host_port)}:{CONTAINER_PORT}" {shlex.quote(image)}'


def list_command():
    """`docker ps -a` narrowed to the lesson's containers, which is what the dashboard lists."""
    return shlex.join(["docker", "ps", "-a", "--filter", f"label={LESSON_FILTER}"])


def history_command(image):
    """`docker history IMAGE`: the image's layers and the instructions that made them."""
    return shlex.join(["docker", "history", image])


def logs_command(container_id, tail):
    """`docker logs --tail N ID`: what the container printed, the request lines of http.server."""
    return shlex.join(["docker", "logs", "--tail", str(tail), container_id[:12]])


def remove_command(container_id):
    """`docker stop ID && docker rm ID`, with the short id `docker ps` shows."""
    short_id = shlex.quote(container_id[:12])
    return f"docker stop {short_id} && docker rm {short_id}"


def class_command(image, ports, name_prefix):
    """The loop that starts the class one seat at a time: a container per port, named after its seat.

    Ports run in `$(seq FIRST LAST)` stretches; a port skipped because it was in use splits the stretch.
    The prefix is letters, digits, `_` and `-` only (classroom.SEAT_PREFIX), so it is safe inside the quotes.
    """
    stretches = []
    for port in sorted(ports):
        if stretches and port == stretches[-1][1] + 1:
            stretches[-1][1] = port
        else:
            stretches.append([port, port])
    words = " ".join(str(first) if first == last else f"$(seq {first} {last})" for first, last in stretches)
    return (f'for port in {words}; do docker run -d --name "{name_prefix}$port" -p "$port:{CONTAINER_PORT}" '
            f"{shlex.quote(image)}; done")


def class_remove_command(name_prefix):
    """`docker rm -f` of every container with the lesson label and a seat's name: the whole class, nothing else.

    Piped through `xargs -r`, so that with no seats it does nothing and succeeds: `docker rm -f $(…)` of an
    empty list fails, which stops a script under `set -e`.
    """
    listing = ["docker", "ps", "-aq", "--filter", f"label={LESSON_FILTER}", "--filter", f"name=^{name_prefix}"]
    return f"{shlex.join(listing)} | xargs -r docker rm -f"
