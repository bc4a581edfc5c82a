"""The docker CLI commands shown beside each button: exact, shell-quoted, and doing what the button does."""

import shlex

from .engine import CONTAINER_PORT, LESSON_FILTER


def build_command(context, tag, base_image=None):
    """`docker build -t TAG .` run in the build context, with the base image argument when one is configured."""
    words = ["docker", "build"]
    if base_image:
        words += ["--build-arg", f"BASE_IMAGE={base_image}"]
    words += ["-t", tag, "."]
    return f"cd {shlex.quote(str(context))} && {shlex.join(words)}"


def run_command(image, host_port):
    """`docker run -d -p "HOST:8000" IMAGE`, written as the tutorial writes it (the port is a validated int)."""
    return f'docker run -d -p "{int(host_port)}:{CONTAINER_PORT}" {shlex.quote(image)}'


def list_command():
    """`docker ps -a` narrowed to the lesson's containers, which is what the dashboard lists."""
    return shlex.join(["docker", "ps", "-a", "--filter", f"label={LESSON_FILTER}"])


def remove_command(container_id):
    """`docker stop ID && docker rm ID`, with the short id `docker ps` shows."""
    short_id = shlex.quote(container_id[:12])
    return f"docker stop {short_id} && docker rm {short_id}"
