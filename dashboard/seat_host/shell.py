"""A seat's confined shell, for its terminal's pty: inside the seat engine's view and network (so `-v "$(pwd)":/site`
names the same files for the shell and the engine, and `curl localhost:8000` reaches the seat's published ports),
in a pid namespace of its own, as the seat's unprivileged student (no capabilities, no_new_privs), in the seat's
cgroups (its fork bombs and memory hogs hit the seat's limits). It is no container of the seat's engine."""

import shlex
from pathlib import PurePosixPath

from . import cgroups
from .layout import FILES, FOLDER, HOME

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The student's environment for what the dashboard runs as the student (nothing of the dashboard's own): the
# classic builder, as the seat's shell has it (BuildKit is refused by the seat's walls).
STUDENT_ENV = {"PATH": PATH, "LANG": "C.UTF-8", "HOME": HOME, "DOCKER_BUILDKIT": "0"}
UNPRIVILEGED = ["--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]  # setpriv's, after the ids


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
            "setpriv", "--reuid", str(place.uid), "--regid", str(place.gid), *UNPRIVILEGED, "--",
            "env", "-C", folder(place, cwd), "/bin/bash", "-l"]
    env = {"HOME": HOME, "USER": "student", "LOGNAME": "student", "SHELL": "/bin/bash", "PATH": PATH,
           "TERM": "xterm-256color", "LANG": "C.UTF-8", "DOCKER_BUILDKIT": "0"}

    def enter_cgroups():
        cgroups.join(place.name)

    return argv, env, enter_cgroups


def as_student(place, engine_pid, argv):
    """`argv` run inside the seat's view as its student, with no capabilities: how the dashboard writes or reads a
    seat's folder, so a symbolic link the student made there leads nowhere (the folder follows none) and nothing is
    done there with root's rights."""
    return ["nsenter", "-t", str(engine_pid), "-m", "--",
            "setpriv", "--reuid", str(place.uid), "--regid", str(place.gid), *UNPRIVILEGED, "--", *argv]


def as_student_in_bash(seat_dir, cwd, command):
    """Bash lines that run the bash `command` in `cwd` inside the seat's view as its student, with the student's
    environment (STUDENT_ENV) only, from a root shell on this host, as the student would type it: `seat_dir` is a
    bash word naming the seat's folder here ("$seat"). The view's pid 1 is the child of the process its engine.pid
    names; the student's ids are its folder's."""
    environment = " ".join(f"{name}={shlex.quote(value)}" for name, value in STUDENT_ENV.items())
    pid = f"$(cat {seat_dir}/engine.pid)"
    return (f'view=$(cut -d" " -f1 "/proc/{pid}/task/{pid}/children")\n'
            f"student=$(stat -c %u:%g {seat_dir}/{FILES})\n"
            f'nsenter -t "$view" -m -- setpriv --reuid "${{student%:*}}" --regid "${{student#*:}}" '
            f"{' '.join(UNPRIVILEGED)} -- env -i -C {shlex.quote(str(cwd))} {environment} bash -c "
            f"{shlex.quote(command)}")


class StudentFiles:
    """A seat's folder as the dashboard writes and reads it: through tar run as the seat's student in the seat's
    view (`argv_of` wraps a command so). Paths are relative to the seat's folder (FOLDER in the view)."""

    ENV = STUDENT_ENV

    def __init__(self, argv_of):
        self._argv_of = argv_of

    def command(self, argv, cwd):
        """`argv` as run in `cwd` (a folder in the seat's view) as the student, with ENV only: how the dashboard runs
        a seat's Compose, which reads the student's compose.yaml and packs its build contexts as the student."""
        return self._argv_of(["env", "-C", str(cwd), *argv])

    def write(self, files, replace=False):
        """Write {relative path: text}: every one (`replace`), or only those missing. OSError with tar's reason
        (a link in the way, a full disk) when it cannot."""
        import io
        import tarfile
        import time

        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for name, text in files.items():
                data = text.encode()
                member = tarfile.TarInfo(str(PurePosixPath(name)))
                member.size, member.mode, member.mtime = len(data), 0o644, int(time.time())
                tar.addfile(member, io.BytesIO(data))
        self._run(["tar", "-x", "-C", FOLDER, "--no-same-owner", "--overwrite" if replace else "--skip-old-files",
                   "-f", "-"], archive.getvalue())

    def archive(self, relative, into):
        """Write a tar of the folder `relative` (a build's context) into the open file `into`, read as the student."""
        self._run(["tar", "-c", "-C", str(PurePosixPath(FOLDER) / relative), "-f", "-", "."], None, into)

    # A regular file's start, or the reason why not: a FIFO (which would hold the reader) is refused before `head`.
    READ = ('if [ -e "$2" ] && [ ! -f "$2" ]; then echo "$2: Not a regular file" >&2; exit 1; fi; '
            'exec head -c "$1" -- "$2"')

    def read(self, relative, limit):
        """(the text of the file `relative`'s first `limit` bytes, whether it goes on past them), read as the student:
        only a regular file (`test -f`), with `head -c`; OSError with the reason when it cannot be."""
        data = self._run(["sh", "-c", self.READ, "read", str(limit + 1), str(PurePosixPath(FOLDER) / relative)],
                         None, timeout=30)
        return data[:limit].decode(errors="replace"), len(data) > limit

    def _run(self, argv, given, into=None, timeout=120):
        import subprocess

        try:
            ran = subprocess.run(self._argv_of(argv), input=given,
                                 stdout=into if into is not None else subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=self.ENV, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise OSError(f"reading it did not end within {timeout} s") from error
        if ran.returncode != 0:
            said = ran.stderr.decode(errors="replace").strip().splitlines()
            raise OSError(said[-1] if said else f"{argv[0]} ended with {ran.returncode}")
        return ran.stdout
