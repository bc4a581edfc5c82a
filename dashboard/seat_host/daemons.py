"""Helper processes that outlive the dashboard (the walls' server, the port forwarder, each seat's engine): started
detached in a session of their own with a pid file, found again after a restart (even a kill -9 of the dashboard)
by that pid file and their command line, stopped by pid, never by a process name."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def pid_of(pidfile, marker=None):
    """The live process the pid file names (and whose command line holds `marker`, when given); None otherwise."""
    try:
        pid = int(Path(pidfile).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError):
        return None
    if marker is not None and marker not in cmdline:
        return None
    return None if exited(pid) else pid


def exited(pid):
    """Whether the process is gone or a zombie (its command line unchecked: just spawned, it may not have exec'd)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def spawn(argv, pidfile, log, env=None, marker=None):
    """Start `argv` detached (its own session, stdin from /dev/null, output to `log`) unless the pid file already
    names a live one; write its pid to `pidfile`. The pid."""
    running = pid_of(pidfile, marker)
    if running is not None:
        return running
    Path(pidfile).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=env, close_fds=True)
    Path(pidfile).write_text(f"{process.pid}\n")
    return process.pid


def module_marker(module, base):
    """What the command line of `python -m MODULE BASE` holds: that helper for that seats' folder, no other."""
    return f"{module} {Path(base)}"


def spawn_module(module, base, pidfile, log):
    """spawn `python -m MODULE BASE` (one helper for all the seats in BASE: the walls' server, the port forwarder),
    importing this very `dashboard` package whatever its working folder; its marker is module_marker()."""
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    return spawn([sys.executable, "-m", module, str(base)], pidfile, log, env=env, marker=module_marker(module, base))


def stop(pidfile, marker=None, grace=10.0):
    """Stop the process the pid file names (TERM, then KILL after `grace` seconds) and remove the pid file."""
    pid = pid_of(pidfile, marker)
    if pid is not None:
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and pid_of(pidfile, marker) == pid:
            time.sleep(0.05)
        if pid_of(pidfile, marker) == pid:
            _signal(pid, signal.SIGKILL)
            for _ in range(100):
                if pid_of(pidfile, marker) != pid:
                    break
                time.sleep(0.02)
    Path(pidfile).unlink(missing_ok=True)


def nudge(pidfile, marker=None):
    """Tell a running helper to read its seats again (SIGHUP); False when none runs."""
    pid = pid_of(pidfile, marker)
    return pid is not None and _signal(pid, signal.SIGHUP)


def _signal(pid, number):
    try:
        os.kill(pid, number)
        return True
    except ProcessLookupError:
        return False
