"""A seat's confined shell, for its terminal's pty: inside the seat engine's view and network (so `-v "$(pwd)":/site`
names the same files for the shell and the engine, and `curl localhost:8000` reaches the seat's published ports),
in a pid namespace of its own, as the seat's unprivileged student (no capabilities, no_new_privs), in the seat's
cgroups (its fork bombs and memory hogs hit the seat's limits). It is no container of the seat's engine."""

from pathlib import PurePosixPath

from . import cgroups
from .layout import FOLDER, HOME

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def folder(place, cwd):
    """The shell's working directory in the seat's view: `cwd` (a lesson's folder, relative to the seat's folder,
    or FOLDER/...) when it is a folder there, else the seat's folder itself."""
    relative = PurePosixPath(str(cwd or ""))
    if relative.is_absolute():
        try:
            relative = relative.relative_to(FOLDER)
        except ValueError:
            return FOLDER
    if ".." in relative.parts or not (place.files / relative).is_dir() or (place.files / relative).is_symlink():
        return FOLDER
    return str(PurePosixPath(FOLDER) / relative) if relative.parts else FOLDER


def command(place, engine_pid, cwd):
    """(argv, env, preexec_fn): run argv with env (nothing of the dashboard's own), preexec_fn in the child."""
    argv = ["nsenter", "-t", str(engine_pid), "-m", "-n", "-u", "--",
            "unshare", "--pid", "--fork", "--mount-proc", "--",
            "setpriv", "--reuid", str(place.uid), "--regid", str(place.gid), "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
            "env", "-C", folder(place, cwd), "/bin/bash", "-l"]
    env = {"HOME": HOME, "USER": "student", "LOGNAME": "student", "SHELL": "/bin/bash", "PATH": PATH,
           "TERM": "xterm-256color", "LANG": "C.UTF-8", "DOCKER_BUILDKIT": "0"}

    def enter_cgroups():
        cgroups.join(place.name)

    return argv, env, enter_cgroups
