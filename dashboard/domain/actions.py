"""A lesson step's action: the exact command it shows, and the same thing done through the engine.

Each kind is one class in action_kinds.py; `command` and `perform` read the same Action through its kind, so the
button and the command beside it cannot drift apart. The instructor's build is long work: the Builder runs its
plan in the background (builds.py); every other action is done within the request and gives back what the
terminal would have printed.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import commands
from .builds import BuildPlan


@dataclass(frozen=True)
class Place:
    """Where a lesson's steps run: its workshop folder, the user's HOME (commands write `~` for it), and the
    images that stand in for the ones a lesson names (a local base image where no registry answers)."""

    folder: Path
    home: Path
    stand_ins: dict = field(default_factory=dict)  # image a lesson names -> the image used and shown here
    base_image: str | None = None  # given to builds as --build-arg BASE_IMAGE
    postgres_image: str | None = None  # given to Compose as POSTGRES_IMAGE, when its compose.yaml names it
    seat: str | None = None  # a student's seat doing the lesson on its own engine (seats.py), verbatim
    build_turns: object = None  # a seat's: the seats' presses.BuildTurns, which its builds wait for
    stint: object = None  # a seat's: its room and link as its press began (seats.Stint), which its build must keep
    seen: PurePosixPath | None = None  # a seat's: `folder` as its shell and its engine see it (bind sources)
    # Where its engine's published ports answer: a seat's namespace's address; the instructor's DASHBOARD_COW_HOST
    # when set (else the engine's host: 127.0.0.1 when it is local).
    probe_host: str | None = None
    own_files: object = None  # a seat's: its folder as written and read as its student (seat_host.shell.StudentFiles)

    def image(self, name):
        return self.stand_ins.get(name, name)

    @property
    def labels(self):
        """The labels a command gives beside the lesson's: none (a seat's things are told apart by its engine)."""
        return ()

    @property
    def engine_seat(self):
        """The seat whose engine what is made here is on, as engine.Container.seat has it ("" for the host's)."""
        return self.seat or ""

    @property
    def shown_folder(self):
        """The folder as commands name it: a seat's as its terminal sees it (~/docker-workshop/…)."""
        return self.seen or self.folder


@dataclass(frozen=True)
class Done:
    """What an action did: the terminal's output, the container it made or acted on, and whether it succeeded."""

    output: str = ""
    container_id: str | None = None
    ok: bool = True


def build_plan(lesson, action, place):
    """The build the button starts, and the command that does the same from the lesson's folder."""
    context = os.path.normpath(place.folder / action.context)
    tag = place.image(action.tag)
    force_rm = not place.seat  # a seat's build is the workshop's own command, as typed on the seat's engine
    return BuildPlan(
        context=context,
        tag=tag,
        build_args={"BASE_IMAGE": place.base_image} if place.base_image else {},
        command=commands.build_command(os.path.normpath(place.shown_folder / action.context), tag, place.base_image,
                                       home=place.home, labels=place.labels, force_rm=force_rm),
        # the replay script runs in the lesson's folder
        replay=commands.build_invocation(tag, place.base_image, place.labels, force_rm),
        lesson=lesson.id,
        labels=dict(place.labels),
        force_rm=force_rm,
    )


def run_ports(action, host_port=None):
    """The run's (host, container) ports; `host_port` replaces the host port of a run publishing one port."""
    ports = [(port.host, port.container) for port in action.ports]
    if host_port is not None and len(ports) == 1:
        ports = [(host_port, ports[0][1])]
    return tuple(ports)


def command(lesson, action, place, host_port=None):
    """The shell command that does what the action's button does, quoted with shlex, true from any folder."""
    return action.definition.command(lesson, action, place, host_port)


def replay(lesson, action, place, host_port=None):
    """The line a replay script runs, in the lesson's folder (the script goes there first, or to the folder it is
    given): the command as typed there, as its button ran it."""
    return action.definition.replayed(lesson, action, place, host_port)


def perform(engine, lesson, action, place, host_port=None, listed=None, on_line=None):
    """Do the action through the engine (on the workshop folder for an edit); all but the instructor's build,
    which starts in the background. `listed`: gives the lessons' containers as listed after the press (a seat's
    `docker ps` reads the shared list), else the engine is asked. `on_line`: given each line of a long action's
    output as it comes (one whose kind `streams` it)."""
    return action.definition.effect(engine, lesson, action, place, host_port, listed, on_line=on_line)
