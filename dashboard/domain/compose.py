"""The real Compose (v2, the docker CLI plugin): a compose step runs `docker compose …` in the lesson's folder,
as the command beside its button does. Compose has no SDK, and is never re-implemented on the engine's."""

import os
import re
import signal
import subprocess
import threading

from .errors import EngineError, EngineUnavailable, ToolMissing

TIMEOUT = 300  # seconds: `up` may pull; the step waits for it
BUILD_TIMEOUT = 1200  # seconds: a command that builds (builds()), whose output the page shows as it comes
# A terminal's control sequences (ESC [ … letter): Compose 2.26 starts every `logs` line with "erase the line"
# (ESC [2K) even when its output is no terminal. A terminal shows nothing for them, and neither does the page.
CONTROL_SEQUENCE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run(folder, words, env=None, timeout=TIMEOUT, on_line=None, as_student=None):
    """Run `docker compose WORDS…` in `folder`: (exit code, what it printed, stdout and stderr together, as a
    terminal shows them); `on_line(text)` is given each line as it comes (a long `up --build` is followed live).

    It inherits the dashboard's environment, so it reaches the engine the dashboard drives (DOCKER_HOST, or the
    docker context), as the command pasted into the dashboard user's shell does; `env` adds to it. With
    `as_student` (a seat's seat_host.shell.StudentFiles), it runs in the seat's view as its student instead, in
    `folder` as the view names it, with the student's environment (its ENV) and `env` only.
    """
    argv, cwd, given = ["docker", "compose", *words], folder, env or {}
    env = {**os.environ, **given}
    if as_student is not None:
        try:
            argv, cwd, env = as_student.command(argv, folder), None, {**as_student.ENV, **given}
        except OSError as error:  # the seat's engine, and so its view, is not there
            raise EngineUnavailable(str(error)) from error
    try:
        process = subprocess.Popen(argv, cwd=cwd, env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # its own process group: ended whole (kill below)
    except FileNotFoundError as error:
        raise ToolMissing("The docker CLI is not installed here, so Compose cannot run.") from error
    timed_out = threading.Event()

    def kill():
        """End Compose and every process it started: a child still holding the pipe would keep the reading on."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def end():  # a run past its time is ended, and said so below
        timed_out.set()
        kill()

    timer = threading.Timer(timeout, end)
    timer.start()
    lines = []
    try:
        with process:
            try:
                for raw in process.stdout:
                    lines.append(shown(raw))
                    if on_line is not None:
                        on_line(lines[-1])
            except BaseException:
                kill()
                raise
    finally:
        timer.cancel()
    if timed_out.is_set():
        raise EngineError(f"`docker compose {' '.join(words)}` did not end within {timeout} s.")
    output = "".join(line + "\n" for line in lines)
    if process.returncode != 0 and "is not a docker command" in output:
        raise ToolMissing("Compose v2 (`docker compose`) is not installed here: scripts/up installs it as the "
                          "docker CLI's plugin.")
    return process.returncode, output


def shown(raw):
    """One line (bytes) of Compose's output as a terminal leaves it: control sequences shown as nothing, and of a line
    redrawn in place (carriage returns: "Sending build context …"), its last drawing."""
    text = raw.decode(errors="replace").rstrip("\n")
    drawings = [part for part in CONTROL_SEQUENCE.sub("", text).split("\r") if part]
    return drawings[-1] if drawings else ""


def builds(words):
    """Whether Compose's subcommand `words` builds images (`build`, or `up` with `--build`): long work whose
    output a page follows as it comes."""
    subcommand = next((word for word in words if not word.startswith("-")), None)
    return subcommand == "build" or (subcommand == "up" and "--build" in words)


def require():
    """Refuse (ToolMissing, saying what to install) where Compose v2 cannot run: before a long run starts in the
    background, rather than after."""
    run(None, ["version", "--short"], timeout=30)


def version():
    """`docker compose version --short`, or None when Compose v2 is not installed."""
    try:
        done = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
