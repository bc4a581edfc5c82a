"""The real Compose (v2, the docker CLI plugin): a compose step runs `docker compose …` in the lesson's folder,
as the command beside its button does. Compose has no SDK, and is never re-implemented on the engine's."""

import os
import re
import subprocess

from .errors import EngineError, ToolMissing

TIMEOUT = 300  # seconds: `up` may build or pull; the step waits for it
# A terminal's control sequences (ESC [ … letter): Compose 2.26 starts every `logs` line with "erase the line"
# (ESC [2K) even when its output is no terminal. A terminal shows nothing for them, and neither does the page.
CONTROL_SEQUENCE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run(folder, words, env=None, timeout=TIMEOUT):
    """Run `docker compose WORDS…` in `folder`: (exit code, what it printed, stdout and stderr together).

    It inherits the dashboard's environment, so it reaches the engine the dashboard drives (DOCKER_HOST, or the
    docker context), as the command pasted into the dashboard user's shell does; `env` adds to it.
    """
    try:
        done = subprocess.run(["docker", "compose", *words], cwd=folder, env={**os.environ, **(env or {})},
                              capture_output=True,
                              text=True, timeout=timeout)
    except FileNotFoundError as error:
        raise ToolMissing("The docker CLI is not installed here, so Compose cannot run.") from error
    except subprocess.TimeoutExpired as error:
        raise EngineError(f"`docker compose {' '.join(words)}` did not end within {timeout} s.") from error
    output = CONTROL_SEQUENCE.sub("", done.stdout + done.stderr)
    if done.returncode != 0 and "is not a docker command" in output:
        raise ToolMissing("Compose v2 (`docker compose`) is not installed here: scripts/up installs it as the "
                          "docker CLI's plugin.")
    return done.returncode, output


def version():
    """`docker compose version --short`, or None when Compose v2 is not installed."""
    try:
        done = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
