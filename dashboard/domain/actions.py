"""A lesson step's action: the exact command it shows, and the same thing done through the engine.

`command` and `perform` read the same Action, so the button and the command beside it cannot drift apart. Builds
are long work: `build_plan` gives the plan the Builder runs in the background (builds.py); every other action is
done within the request and gives back what the terminal would have printed.
"""

import os
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import commands, compose, files
from .builds import Build, BuildPlan
from .engine import RunSpec
from .errors import EngineError, NameInUse, WorkshopUnwritable
from .lessons import HEREDOC_END, LESSON_LABEL
from .seats import SEAT_LABEL

LIST_COLUMNS = ("CONTAINER ID", "IMAGE", "COMMAND", "STATUS", "PORTS", "NAMES")


@dataclass(frozen=True)
class Place:
    """Where a lesson's steps run: its workshop folder, the user's HOME (commands write `~` for it), and the
    images that stand in for the ones a lesson names (a local base image where no registry answers)."""

    folder: Path
    home: Path
    stand_ins: dict = field(default_factory=dict)  # image a lesson names -> the image used and shown here
    base_image: str | None = None  # given to builds as --build-arg BASE_IMAGE
    seat: str | None = None  # a student's seat doing the lesson (seats.py): its steps touch only its own things
    limits: object = None  # the seat's seats.Limits, given to every run
    build_turns: object = None  # a seat's: the seats' presses.BuildTurns, which its builds wait for
    stint: object = None  # a seat's: its room and link as its press began (seats.Stint), which its build must keep

    def image(self, name):
        return self.stand_ins.get(name, name)

    @property
    def labels(self):
        """The labels everything made here carries beside the lesson's: the seat's."""
        return ((SEAT_LABEL, self.seat),) if self.seat else ()

    @property
    def seat_label(self):
        """The classroom.seat label of what is made here, as engine.Container.seat has it ("" for none)."""
        return self.seat or ""


@dataclass(frozen=True)
class Done:
    """What an action did: the terminal's output, the container it made or acted on, and whether it succeeded."""

    output: str = ""
    container_id: str | None = None
    ok: bool = True


def labelled_by_command(lesson, action):
    """True when a run's image does not carry the lesson's label (an image the lesson does not build): the
    command then gives it with `--label`, so the container is the lesson's however it was started."""
    return action.kind == "run" and action.image not in lesson.builds


def build_plan(lesson, action, place):
    """The build the button starts, and the command that does the same from the lesson's folder."""
    context = os.path.normpath(place.folder / action.context)
    tag = place.image(action.tag)
    return BuildPlan(
        context=context,
        tag=tag,
        build_args={"BASE_IMAGE": place.base_image} if place.base_image else {},
        command=commands.build_command(context, tag, place.base_image, home=place.home, labels=place.labels),
        # the replay script runs in the lesson's folder
        replay=commands.build_invocation(tag, place.base_image, place.labels),
        lesson=lesson.id,
        labels=dict(place.labels),
    )


def run_ports(action, host_port=None):
    """The run's (host, container) ports; `host_port` replaces the host port of a run publishing one port."""
    ports = [(port.host, port.container) for port in action.ports]
    if host_port is not None and len(ports) == 1:
        ports = [(host_port, ports[0][1])]
    return tuple(ports)


def command(lesson, action, place, host_port=None):
    """The shell command that does what the action's button does, quoted with shlex, true from any folder: an
    action that needs the lesson's folder goes there first (`cd ~/docker-workshop/FOLDER && …`)."""
    if action.kind == "build":
        return build_plan(lesson, action, place).command
    text = invocation(lesson, action, place, host_port)
    return commands.in_folder(place.folder, text, place.home) if action.needs_folder else text


def invocation(lesson, action, place, host_port=None):
    """The command itself, as typed in the folder it needs (see command)."""
    name = action.name
    if action.kind == "build":
        return build_plan(lesson, action, place).replay
    if action.kind == "run":
        run = commands.run_invocation(
            place.image(action.image), detach=action.detach, interactive=action.interactive,
            remove=action.remove, name=name or None,
            label=lesson.id if labelled_by_command(lesson, action) else None,
            ports=run_ports(action, host_port), env=action.env,
            volumes=[(mount.source, mount.target) for mount in action.volumes], command=action.command,
            labels=place.labels, limits=place.limits.flags if place.limits else ())
        creates = [commands.volume_create_command(volume, lesson.id, place.labels)
                   for volume in seat_volumes(action, place)]
        return " && ".join([*creates, run])
    if action.kind == "exec":
        return commands.exec_command(name, action.command, action.env)
    if action.kind == "volume_create":
        return commands.volume_create_command(name, lesson.id, place.labels)
    if action.kind == "volume_list":
        return commands.volume_list_command(lesson.id, place.labels)
    if action.kind == "volume_remove":
        return commands.volume_remove_command(name)
    if action.kind == "compose":
        # A compose.yaml names its base image as ${BASE_IMAGE:-python:3.12-slim}: the stand-in, when there is one,
        # is given as bash gives it, so the command pasted does what the button does.
        prefix = f"BASE_IMAGE={shlex.quote(place.base_image)} " if place.base_image else ""
        return prefix + commands.compose_command(action.command)
    if action.kind == "logs":
        return commands.logs_command(name, action.tail)
    if action.kind == "list":
        return commands.lesson_list_command(lesson.id, action.all, place.labels)
    if action.kind in ("remove", "force_remove", "stop_and_remove"):
        return commands.rm_command(name, force=action.kind == "force_remove",
                                   stop_first=action.kind == "stop_and_remove")
    if action.kind == "edit":
        return commands.write_file_command(place.folder / action.file, action.content, place.home, HEREDOC_END)
    raise ValueError(f"unknown action {action.kind}")


def replay(lesson, action, place, host_port=None):
    """The line a replay script runs, in the lesson's folder (the script goes there first, or to the folder it is
    given): the command as typed there. A script has no terminal to give `-it`, so an interactive run is replayed
    without one, as its button ran it."""
    if action.kind == "run" and action.interactive:
        action = replace(action, interactive=False)
    return invocation(lesson, action, place, host_port)


def seat_volumes(action, place):
    """The named volumes a seat's run mounts: made, with the seat's label, before the run (and its command says
    so), as the engine would make a volume a run names with no label, which the end of the class leaves."""
    if action.kind != "run" or not place.seat:
        return ()
    return tuple(mount.source for mount in action.volumes if not mount.binds_folder)


def make_seat_volumes(engine, lesson, action, place):
    """Make the seat's run's volumes (see seat_volumes), as `docker volume create --label …` would; what the
    command prints (each one's name). A volume of that name that is not the seat's is refused, not used."""
    for volume in seat_volumes(action, place):
        engine.create_volume(volume, lesson.id, place.labels)
        labels = (engine.volume(volume, lesson.id, any_lesson=True) or {}).get("Labels") or {}
        if labels.get(SEAT_LABEL) != place.seat:
            raise NameInUse(f"A volume named {volume} is here that is not {place.seat}'s (left from before the "
                            f"room?): the instructor removes it (`docker volume rm {volume}`).")
    return "".join(f"{volume}\n" for volume in seat_volumes(action, place))


def run_spec(lesson, action, place, host_port=None):
    """The container a run action makes: the same options as its command."""
    labels = ((LESSON_LABEL, lesson.id),) if labelled_by_command(lesson, action) else ()
    volumes = tuple((str(place.folder) if mount.binds_folder else mount.source, mount.target)
                    for mount in action.volumes)
    return RunSpec(place.image(action.image), name=action.name or None, detach=action.detach,
                   remove=action.remove, ports=run_ports(action, host_port), env=action.env, volumes=volumes,
                   command=action.command, labels=labels + place.labels,
                   limits=place.limits.host_config if place.limits else None)


def perform(engine, lesson, action, place, host_port=None, listed=None):
    """Do the action (all but a build) through the engine, or on the workshop folder for an edit. `listed`: gives
    the lessons' containers as listed after the press (a seat's `docker ps` reads the shared list), else the
    engine is asked."""
    name = action.name
    if action.kind == "run":
        made = make_seat_volumes(engine, lesson, action, place)
        result = engine.start(run_spec(lesson, action, place, host_port))
        if action.detach:
            return Done(made + result.container_id, result.container_id)  # `docker run -d` prints the new id
        return Done(made + result.output, result.container_id, ok=result.exit_code == 0)
    if action.kind == "exec":
        exit_code, output = engine.exec(name, action.command, lesson.id, action.env, seat=place.seat)
        return Done(output, ok=exit_code == 0)
    if action.kind == "volume_create":
        return Done(engine.create_volume(name, lesson.id, place.labels) + "\n")  # the CLI prints the volume's name
    if action.kind == "volume_list":
        names = engine.volumes(lesson.id, place.labels)
        return Done("DRIVER    VOLUME NAME\n" + "".join(f"local     {volume}\n" for volume in names))
    if action.kind == "volume_remove":
        return Done(engine.remove_volume(name, lesson.id, seat=place.seat) + "\n")
    if action.kind == "compose":
        exit_code, output = compose.run(place.folder, action.command,
                                        {"BASE_IMAGE": place.base_image} if place.base_image else {})
        return Done(output, ok=exit_code == 0)
    if action.kind == "logs":
        return Done(engine.logs(name, action.tail, lesson.id, seat=place.seat))
    if action.kind == "list":
        shown = [c for c in (listed or engine.containers)() if c.lesson == lesson.id and (action.all or c.running)
                 and (place.seat is None or c.seat == place.seat)]
        return Done(list_table(shown))
    if action.kind in ("remove", "force_remove", "stop_and_remove"):
        full_id = engine.remove(name, lesson.id, force=action.kind == "force_remove",
                                stop_first=action.kind == "stop_and_remove", seat=place.seat)
        # `docker stop` and `docker rm` each echo the name they were given.
        return Done("\n".join([name] * (2 if action.kind == "stop_and_remove" else 1)), full_id)
    if action.kind == "edit":
        path = place.folder / action.file
        try:
            files.replace(path, action.content, mode=0o644)
        except OSError as error:
            raise WorkshopUnwritable(f"{path} cannot be written ({error.strerror or error}): the workshop folder "
                                     "must be the dashboard user's to write.") from error
        return Done("")
    if action.kind == "build" and place.seat:
        return _build_now(engine, build_plan(lesson, action, place), place)
    raise ValueError(f"{action.kind} is not done within a request")


def _build_now(engine, plan, place):
    """A seat's build, done within its request (the lesson's layers come from the cache the instructor's build
    left, so it takes seconds), in the seats' build turn (one at a time, a bounded wait); the log is its output."""
    build = Build(plan=plan)
    with place.build_turns.turn(place.stint):
        try:
            for chunk in engine.build(plan.context, plan.tag, plan.build_args, plan.labels):
                build.record(chunk)
        except EngineError as error:
            build.finish(error=str(error))
        else:
            build.finish()
    return Done("\n".join(line.text for line in build.lines) + "\n", build.image_id, ok=build.state == "succeeded")


def list_table(containers):
    """Containers as `docker ps` prints them: a header, then a row each, columns padded to line up."""
    rows = [LIST_COLUMNS] + [
        (c.short_id, c.image, _quoted_command(c.command), c.status,
         ", ".join(f"0.0.0.0:{host}->{port}/tcp" for host, port in c.ports), c.name)
        for c in containers
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(LIST_COLUMNS) - 1)]
    return "\n".join("   ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "   " + row[-1]
                     for row in rows).rstrip() + "\n"


def _quoted_command(text, width=20):
    """The command column as `docker ps` shows it: quoted, cut with … past 20 characters."""
    return f'"{text[:width]}…"' if len(text) > width else f'"{text}"'
