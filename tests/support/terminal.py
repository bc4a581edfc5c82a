"""The app as gunicorn serves it, with each seat's shell a plain local bash (tests/test_terminal.py): a real pty
and process, in a folder per seat under $TERMINAL_TEST_HOME, where the seat host's confined shell would run.

Serve it as `gunicorn -c python:dashboard.gunicorn_conf 'tests.support.terminal:app_with_local_shell()'`.
"""

import os
from pathlib import Path

from dashboard import create_app


def local_shell(home):
    """A spawner for Terminals: bash without profiles in home/SEAT, its environment bare (and SEAT_CWD, the
    folder the seat's own shell would start in, to check)."""

    def spawn(seat, cwd):
        folder = Path(home) / seat
        folder.mkdir(parents=True, exist_ok=True)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "TERM": "xterm-256color", "PS1": "$ ",
               "SEAT_CWD": cwd}
        return ["/bin/bash", "--noprofile", "--norc"], env, lambda: os.chdir(folder)

    return spawn


def app_with_local_shell():
    app = create_app()
    app.extensions["terminal_spawn"] = local_shell(os.environ["TERMINAL_TEST_HOME"])
    return app
