"""The action kinds of the lesson vocabulary, one class each: the fields a lesson file gives it, its button's label,
the command shown beside the button and the button's effect on the engine (or the workshop folder).

A new kind is one class here, listed in KINDS: loading a lesson (lessons.py), a press (actions.py), the step views
and the step template all read a kind from KINDS, so the button and the command beside it cannot drift apart.
"""

import contextlib
import shlex
import tempfile
import time
from dataclasses import replace
from pathlib import PurePosixPath

import requests

from . import builds, commands, compose, files, http_answers
from . import lesson_fields as field
from .actions import Done, build_plan, run_ports
from .engine import RunSpec
from .labels import LESSON_LABEL
from .errors import EngineError, SeatFolderBlocked, WorkshopUnwritable

LIST_COLUMNS = ("CONTAINER ID", "IMAGE", "COMMAND", "STATUS", "PORTS", "NAMES")


class Kind:
    """One action kind. A subclass names it, labels its button, gives its fields (field -> (parser, required):
    anything else in the lesson file is refused) and defines `typed` (its command) and `effect` (its button's)."""

    name = ""
    label = ""  # its button's label
    fields = {}
    needs_folder = False  # its command runs in the lesson's workshop folder
    transcript = ""  # how the transcript names it, when not by its name
    background = False  # the instructor's press starts it in the background (builds.Builder), not in the request
    builds_image = False  # it builds the lesson's image from its Dockerfile (the lesson page's build panel)
    uses_base_image = False  # it builds on the base image (lessons.BASE_IMAGE), which a local image may stand in for
    shows_file = False  # the page shows the file it writes, before its command
    in_seat_network = False  # its command talks to the seat's published ports (`localhost` in its namespace)
    writes_folder = False  # its command writes a file of the lesson's folder (wherever it is run from)
    note = ""  # what the page says under its command

    def detached(self, action):
        """Whether it leaves a container running in the background, printing its id (`docker run -d`)."""
        return False

    def pulled_image(self, action):
        """The image it names to be pulled (a stand-in may take its place), or None."""
        return None

    def variables_named(self, lesson):
        """The stand-ins' variables (COMPOSE_VARIABLES) its command gives, as its file names them."""
        return ()

    def streams(self, action):
        """Whether its press is long work whose output every page follows as it comes (step_runs): its effect then
        takes `on_line`, and the instructor's press runs in the background."""
        return False

    def ready(self):
        """Refuse (a domain error) before a long press starts in the background what cannot run here."""

    def labelled_by_command(self, lesson, action):
        """Whether its command gives the lesson's label with `--label` (its image does not carry it)."""
        return False

    def button(self, action):
        return self.label

    def command(self, lesson, action, place, host_port=None):
        """The shell command that does what the button does, true from any folder: an action that needs the
        lesson's folder goes there first (`cd ~/docker-workshop/FOLDER && …`)."""
        text = self.typed(lesson, action, place, host_port)
        return commands.in_folder(place.shown_folder, text, place.home) if action.needs_folder else text

    def typed(self, lesson, action, place, host_port=None):
        """The command itself, quoted with shlex, as typed in the folder it needs (see command)."""
        raise NotImplementedError

    def replayed(self, lesson, action, place, host_port=None):
        """The line a replay script runs in the lesson's folder: the command as typed there."""
        return self.typed(lesson, action, place, host_port)

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        """Do the action as its command does; a Done with what the terminal would have printed. `listed`: gives the
        lessons' containers as listed after the press (a seat's `docker ps` reads the shared list); `on_line`: given
        each line of its output as it comes, by a kind that `streams` it (others ignore it)."""
        raise NotImplementedError

    def problem(self, lesson, action):
        """What no single field says that is wrong with the action in its lesson: (field, message), or None."""
        return None

    def takes_host_port(self, action):
        """Whether the page offers a host port for this action (a run publishing one port)."""
        return False

    def published(self, action, host_port=None):
        """The (host, container) ports the action publishes."""
        return ()

    def transcript_name(self, action):
        return self.transcript or self.name


class Build(Kind):
    """`docker build`: the instructor's starts in the background (builds.Builder); a seat's is done in its request."""

    name, label = "build", "Build"
    fields = {"tag": (field.TAG, True), "context": (field.relative, False)}
    needs_folder = background = builds_image = uses_base_image = True
    note = ("It builds from the lesson's Dockerfile in your own folder, on your seat's engine: the first build runs "
            "every instruction (a minute or two), a second build of the same Dockerfile takes seconds (its layers "
            "come from the build cache). The log shows when it ends.")

    def command(self, lesson, action, place, host_port=None):
        return build_plan(lesson, action, place).command

    def typed(self, lesson, action, place, host_port=None):
        return build_plan(lesson, action, place).replay

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        """A seat's build, on its own engine, done within its request in the seats' build turn (one at a time, a
        bounded wait); the log is its output. The instructor's build is not done here: it starts in the background."""
        if not place.seat:
            raise ValueError("the instructor's build is started in the background, not done within a request")
        plan = build_plan(lesson, action, place)
        build = builds.Build(plan=plan)
        with place.build_turns.turn(place.stint), tempfile.TemporaryFile() as context:
            try:
                # The context as the seat's student reads it in its view: never a host folder a link leads to.
                place.own_files.archive(PurePosixPath(lesson.folder) / action.context, context)
                context.seek(0)
                for chunk in engine.build(plan.context, plan.tag, plan.build_args, plan.labels, plan.force_rm,
                                          context_file=context):
                    build.record(chunk)
            except OSError as error:
                build.finish(error=f"Your folder's {PurePosixPath(lesson.folder) / action.context} cannot be read "
                                   f"({str(error)[:200]}): a symbolic link there is not followed.")
            except EngineError as error:
                build.finish(error=str(error))
            else:
                build.finish()
        return Done("\n".join(line.text for line in build.lines) + "\n", build.image_id,
                    ok=build.state == "succeeded")

    def problem(self, lesson, action):
        dockerfile = lesson.source / action.context / "Dockerfile"
        if not dockerfile.is_file():
            return "action.context", f"there is no Dockerfile in {dockerfile.parent}"
        if str(PurePosixPath(action.context) / "Dockerfile") not in {str(PurePosixPath(f)) for f in lesson.files}:
            return "action.context", ("the build's Dockerfile must be one of the lesson's files (it is built from the "
                                      "workshop folder's copy)")
        label = f'LABEL {LESSON_LABEL}="{lesson.id}"'
        if label not in dockerfile.read_text().splitlines():
            return "action.context", f"{dockerfile} must carry the line {label}, so its containers are the lesson's"
        return None


class Run(Kind):
    """`docker run`: a container from an image, detached or run to its end (`-it` shown, run without a terminal)."""

    name, label = "run", "Run"
    fields = {"image": (field.IMAGE, True), "name": (field.NAME, False), "detach": (field.boolean, False),
              "remove": (field.boolean, False), "interactive": (field.boolean, False),
              "ports": (field.ports, False), "env": (field.env, False), "volumes": (field.volumes, False),
              "command": (field.words, False)}

    def button(self, action):
        return "Run without a terminal" if action.interactive else self.label

    def typed(self, lesson, action, place, host_port=None):
        return commands.run_invocation(
            place.image(action.image), detach=action.detach, interactive=action.interactive,
            remove=action.remove, name=action.name or None,
            label=lesson.id if self.labelled(lesson, action, place) else None,
            ports=self.published(action, host_port), env=action.env,
            volumes=[(mount.source, mount.target) for mount in action.volumes], command=action.command)

    def replayed(self, lesson, action, place, host_port=None):
        """A script has no terminal to give `-it`, so an interactive run is replayed without one, as its button
        ran it."""
        return self.typed(lesson, replace(action, interactive=False), place, host_port)

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        result = engine.start(self.spec(lesson, action, place, host_port))
        if action.detach:
            return Done(result.container_id, result.container_id)  # `docker run -d` prints the new id
        return Done(result.output, result.container_id, ok=result.exit_code == 0)

    def problem(self, lesson, action):
        if action.interactive and action.detach:
            return "action.interactive", "a run is interactive (-it) or detached (-d), not both"
        return None

    def takes_host_port(self, action):
        return len(action.ports) == 1

    def detached(self, action):
        return action.detach

    def pulled_image(self, action):
        return action.image

    def labelled_by_command(self, lesson, action):
        """True when the run's image does not carry the lesson's label (an image the lesson does not build): the
        command then gives it with `--label`, so the container is the lesson's however it was started."""
        return action.image not in lesson.builds

    def labelled(self, lesson, action, place):
        """Whether this run gives the lesson's label: on the instructor's engine, where an image the lesson does not
        build leaves its containers unlabelled (labelled_by_command); never on a seat, whose command is verbatim."""
        return not place.seat and self.labelled_by_command(lesson, action)

    def published(self, action, host_port=None):
        return run_ports(action, host_port)

    def transcript_name(self, action):
        """A detached run is "run" (the replay keeps its id in a variable); one run to its end, "run-once"."""
        return "run" if action.detach else "run-once"

    def spec(self, lesson, action, place, host_port=None):
        """The container the run makes: the same options as its command (a bind of the folder as the engine that
        runs it sees it: a seat's as its own view has it)."""
        labels = ((LESSON_LABEL, lesson.id),) if self.labelled(lesson, action, place) else ()
        volumes = tuple((str(place.seen or place.folder) if mount.binds_folder else mount.source, mount.target)
                        for mount in action.volumes)
        return RunSpec(place.image(action.image), name=action.name or None, detach=action.detach,
                       remove=action.remove, ports=self.published(action, host_port), env=action.env,
                       volumes=volumes, command=action.command, labels=labels)


class Exec(Kind):
    """`docker exec`: another process in a running container of the lesson."""

    name, label = "exec", "Run it inside"
    fields = {"name": (field.NAME, True), "command": (field.words, True), "env": (field.env, False)}

    def typed(self, lesson, action, place, host_port=None):
        return commands.exec_command(action.name, action.command, action.env)

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        exit_code, output = engine.exec(action.name, action.command, lesson.id, action.env, seat=place.seat)
        return Done(output, ok=exit_code == 0)


class Logs(Kind):
    """`docker logs --tail N`: what a container of the lesson printed."""

    name, label = "logs", "Show the logs"
    fields = {"name": (field.NAME, True), "tail": (field.tail, False)}

    def typed(self, lesson, action, place, host_port=None):
        return commands.logs_command(action.name, action.tail)

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        return Done(engine.logs(action.name, action.tail, lesson.id, seat=place.seat))


class List(Kind):
    """`docker ps [-a]` of the lesson's containers (a seat's own, for a seat)."""

    name, label = "list", "List"
    fields = {"all": (field.boolean, False)}

    def typed(self, lesson, action, place, host_port=None):
        if place.seat:  # the seat's own engine: everything on it is the student's
            return commands.list_command(action.all)
        return commands.lesson_list_command(lesson.id, action.all)

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        shown = [c for c in (listed or engine.containers)() if (place.seat or c.lesson == lesson.id)
                 and (action.all or c.running) and c.seat == place.engine_seat]
        return Done(list_table(shown))


class Remove(Kind):
    """`docker rm NAME`: a stopped container of the lesson."""

    name, label, transcript = "remove", "Remove", "rm"
    fields = {"name": (field.NAME, True)}
    force = stop_first = False

    def typed(self, lesson, action, place, host_port=None):
        return commands.rm_command(action.name, force=self.force, stop_first=self.stop_first)

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        full_id = engine.remove(action.name, lesson.id, force=self.force, stop_first=self.stop_first, seat=place.seat)
        # `docker stop` and `docker rm` each echo the name they were given.
        return Done("\n".join([action.name] * (2 if self.stop_first else 1)), full_id)


class ForceRemove(Remove):
    """`docker rm -f NAME`: a container of the lesson, running or not."""

    name, label, transcript = "force_remove", "Remove it (-f)", "rm-f"
    force = True


class StopAndRemove(Remove):
    """`docker stop NAME && docker rm NAME`."""

    name, label, transcript = "stop_and_remove", "Stop & remove", "stop-rm"
    stop_first = True


class Edit(Kind):
    """Write one of the lesson's files in its workshop folder, shown as `cat > FILE <<'EOF'`."""

    name, label = "edit", "Write the file"
    shows_file = writes_folder = True
    fields = {"file": (field.relative, True), "content": (field.content, True)}

    def typed(self, lesson, action, place, host_port=None):
        return commands.write_file_command(place.shown_folder / action.file, action.content, place.home,
                                           field.HEREDOC_END)

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        path = place.folder / action.file
        if place.own_files is not None:  # a seat's folder: written as its student (a link there leads nowhere)
            shown = PurePosixPath(lesson.folder) / action.file
            try:
                place.own_files.write({str(shown): action.content}, replace=True)
            except OSError as error:
                raise SeatFolderBlocked(f"~/docker-workshop/{shown} cannot be written ({str(error)[:200]}): a "
                                        "symbolic link there is not followed; remove it and press again.") from error
            return Done("")
        try:
            files.replace(path, action.content, mode=0o644)
        except OSError as error:
            raise WorkshopUnwritable(f"{path} cannot be written ({error.strerror or error}): the workshop folder "
                                     "must be the dashboard user's to write.") from error
        return Done("")

    def problem(self, lesson, action):
        if action.file not in lesson.files:
            return "action.file", f"{action.file!r} is not one of the lesson's files"
        return None


class VolumeCreate(Kind):
    """`docker volume create` with the lesson's label (and a seat's)."""

    name, label = "volume_create", "Create the volume"
    fields = {"name": (field.VOLUME, True)}

    def typed(self, lesson, action, place, host_port=None):
        return commands.volume_create_command(action.name, None if place.seat else lesson.id)

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        return Done(engine.create_volume(action.name, None if place.seat else lesson.id) + "\n")  # prints its name


class VolumeList(Kind):
    """`docker volume ls` of the lesson's volumes (a seat's own, for a seat)."""

    name, label = "volume_list", "List volumes"

    def typed(self, lesson, action, place, host_port=None):
        return commands.volume_list_command(None if place.seat else lesson.id)

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        names = engine.volumes(lesson.id)
        return Done("DRIVER    VOLUME NAME\n" + "".join(f"local     {volume}\n" for volume in names))


class VolumeRemove(Kind):
    """`docker volume rm`: one of the lesson's volumes."""

    name, label = "volume_remove", "Remove the volume"
    fields = {"name": (field.VOLUME, True)}

    def typed(self, lesson, action, place, host_port=None):
        return commands.volume_remove_command(action.name)

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        return Done(engine.remove_volume(action.name, lesson.id, seat=place.seat) + "\n")


class Compose(Kind):
    """`docker compose WORDS…` in the lesson's folder, by its compose.yaml."""

    name, label = "compose", "Run Compose"
    fields = {"command": (field.words, True)}  # Compose's subcommand and its options: ["up", "-d"]
    needs_folder = uses_base_image = True

    def typed(self, lesson, action, place, host_port=None):
        # A compose.yaml names its images as ${BASE_IMAGE:-python:3.12-slim}, ${POSTGRES_IMAGE:-postgres:16}: the
        # stand-ins, when there are, are given as bash gives them, so the command pasted does what the button does.
        prefix = "".join(f"{name}={shlex.quote(value)} " for name, value in stand_in_variables(lesson, place).items())
        return prefix + commands.compose_command(action.command)

    def streams(self, action):
        """A Compose command that builds (`up --build`, `build`) is followed as it comes."""
        return compose.builds(action.command)

    def ready(self):
        """Refused where Compose v2 is not installed."""
        compose.require()

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        """`docker compose WORDS…` in the lesson's folder: the instructor's here, with the stand-ins' variables; a
        seat's in its view, as its student."""
        timeout = compose.BUILD_TIMEOUT if self.streams(action) else compose.TIMEOUT
        if place.seat:
            # As the student types it, in the seat's view, on its own engine: the student's compose.yaml read and
            # its build contexts packed as the student, with the student's environment only (nothing of this
            # host's files or of the dashboard's environment); a build waits for the seats' build turn.
            turn = place.build_turns.turn(place.stint) if compose.builds(action.command) else contextlib.nullcontext()
            with turn:
                exit_code, output = compose.run(place.seen, action.command, None, timeout, on_line,
                                                as_student=place.own_files)
            return Done(output, ok=exit_code == 0)
        exit_code, output = compose.run(place.folder, action.command, stand_in_variables(lesson, place), timeout,
                                        on_line)
        return Done(output, ok=exit_code == 0)

    def variables_named(self, lesson):
        return compose_variables(lesson)

    def problem(self, lesson, action):
        if "compose.yaml" not in lesson.files:
            return "action.command", "a compose step needs compose.yaml among the lesson's files"
        return None


COMPOSE_VARIABLES = ("BASE_IMAGE", "POSTGRES_IMAGE")  # the stand-ins a compose.yaml may name, as ${NAME:-image}


def compose_variables(lesson):
    """The stand-ins' variables (COMPOSE_VARIABLES) the lesson's compose.yaml names as `${VARIABLE…}`."""
    try:
        text = (lesson.source / "compose.yaml").read_text(errors="replace")
    except OSError:
        return ()
    return tuple(name for name in COMPOSE_VARIABLES if "${" + name in text)


def stand_in_variables(lesson, place):
    """{variable: image} of each stand-in in use that the lesson's compose.yaml names: what Compose needs in its
    environment (and the command shown before it) to use it."""
    images = {"BASE_IMAGE": place.base_image, "POSTGRES_IMAGE": place.postgres_image}
    return {name: images[name] for name in compose_variables(lesson) if images[name]}


class Request(Kind):
    """`curl -sS --max-time 10 --fail-with-body [-X POST] http://localhost:PORT/PATH`: an HTTP request to a port the
    lesson publishes (a seat's in its own namespace, where its terminal's `localhost` is), its answer's body printed;
    as the curl does, it gives up after 10 s and fails on an answer of 400 or more."""

    name, label = "request", "Send the request"
    in_seat_network = True
    fields = {"method": (field.method, False), "port": (field.port, True), "path": (field.PATH, True)}
    timeout = 10  # seconds: the answer of an application in a container (a proxy, an API, a database)

    def button(self, action):
        return f"{action.method} {action.path}"

    def typed(self, lesson, action, place, host_port=None):
        method = ["-X", action.method] if action.method != "GET" else []
        return shlex.join(["curl", "-sS", "--max-time", str(self.timeout), "--fail-with-body", *method,
                           f"http://localhost:{action.port}{action.path}"])

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        host = place.probe_host or engine.endpoint.published_host("127.0.0.1")
        asked = time.monotonic()
        try:
            answer = http_answers.ask(action.method, f"http://{host}:{action.port}{action.path}", self.timeout)
        except requests.Timeout as error:
            return Done(f"curl: (28) Operation timed out after {self.timeout * 1000} milliseconds with "
                        f"{getattr(error, 'received', 0)} bytes received\n", ok=False)
        except requests.ConnectionError as error:
            if "RemoteDisconnected" in str(error) or "Connection aborted" in str(error):
                return Done("curl: (52) Empty reply from server\n", ok=False)  # taken, then closed unanswered
            if "broke off" in str(error):
                return Done("curl: (56) Failure when receiving data from the peer\n", ok=False)
            return Done(f"curl: (7) Failed to connect to localhost port {action.port} after "
                        f"{int((time.monotonic() - asked) * 1000)} ms: Couldn't connect to server\n", ok=False)
        except requests.RequestException as error:
            return Done(f"curl: (56) Failure when receiving data from the peer ({type(error).__name__})\n", ok=False)
        body = answer.text
        output = body if body.endswith("\n") or not body else body + "\n"
        if answer.cut:
            output += f"(the answer goes on: only its first {http_answers.SHOWN_LIMIT} are shown)\n"
        if answer.status >= 400:  # --fail-with-body: the body, then curl's error, exit 22
            return Done(output + f"curl: (22) The requested URL returned error: {answer.status}\n", ok=False)
        return Done(output, ok=200 <= answer.status < 300)


class Top(Kind):
    """`docker top NAME`: the processes running in a container of the lesson."""

    name, label = "top", "List its processes"
    fields = {"name": (field.NAME, True)}

    def typed(self, lesson, action, place, host_port=None):
        return shlex.join(["docker", "top", action.name])

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        return Done(top_table(*engine.top(action.name, lesson.id, seat=place.seat)))


class Show(Kind):
    """`cat FILE`: one of the lesson's files as it is in the lesson's folder (a seat's, read as its student)."""

    name, label = "show", "Show the file"
    fields = {"file": (field.relative, True)}
    needs_folder = True
    SHOWN = 256 * 1024  # bytes of the file shown: its start

    def typed(self, lesson, action, place, host_port=None):
        return shlex.join(["cat", action.file])

    def effect(self, engine, lesson, action, place, host_port=None, listed=None, on_line=None):
        """The file's first SHOWN bytes, only a regular file's (a FIFO would hold the press; a link out of the
        instructor's folder leads where the lesson does not show)."""
        shown = PurePosixPath(lesson.folder) / action.file
        try:
            if place.own_files is not None:  # a seat's folder: read as its student
                text, cut = place.own_files.read(str(shown), self.SHOWN)
            else:
                text, cut = files.read_start(place.folder, action.file, self.SHOWN)
        except OSError as error:
            reason = error.strerror or str(error).rsplit(": ", 1)[-1]  # a seat's: its reader's own last words
            return Done(f"cat: {action.file}: {reason}\n", ok=False)
        if cut:
            text += ("" if text.endswith("\n") else "\n") + "(the file goes on: only its first 256 KB are shown)\n"
        return Done(text)

    def problem(self, lesson, action):
        if action.file not in lesson.files:
            return "action.file", f"{action.file!r} is not one of the lesson's files"
        return None


KINDS = {kind.name: kind for kind in (Build(), Run(), Exec(), Logs(), List(), Remove(), StopAndRemove(),
                                      ForceRemove(), Edit(), VolumeCreate(), VolumeList(), VolumeRemove(), Compose(),
                                      Request(), Top(), Show())}


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


def top_table(titles, rows):
    """Processes as `docker top` prints them: the titles, then a row each, every column but the last padded to its
    widest cell and 3 spaces more, 20 characters at least (the CLI's tabwriter)."""
    table = [titles, *rows]
    widths = [max(20, max(len(row[column]) for row in table if column < len(row)) + 3)
              for column in range(len(titles) - 1)]
    return "".join("".join(cell.ljust(width) for cell, width in zip(row, widths)) + (row[-1] if row else "") + "\n"
                   for row in table)


def _quoted_command(text, width=20):
    """The command column as `docker ps` shows it: quoted, cut with … past 20 characters."""
    return f'"{text[:width]}…"' if len(text) > width else f'"{text}"'
