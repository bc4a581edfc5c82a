"""The docker CLI commands shown beside each button: exact, shell-quoted, and doing what the button does."""

import os
import shlex

from .labels import LESSON_LABEL

FOLDER_MOUNT = '"$(pwd)"'  # a bind mount of the folder the command runs in, as the tutorials write it


def build_invocation(tag, base_image=None, labels=(), force_rm=True):
    """`docker build --force-rm -t TAG .` (with the base image argument when one is configured, and `--label K=V`
    for each of `labels`), in the build context.

    --force-rm as the instructor's builds: a failed step's container is removed, not left in the lesson's list. A
    seat's build is the workshop's `docker build -t TAG .` (its engine is the seat's own: whatever it leaves is too).
    """
    words = ["docker", "build", *(["--force-rm"] if force_rm else [])]
    if base_image:
        words += ["--build-arg", f"BASE_IMAGE={base_image}"]
    words += label_words(labels)
    return shlex.join([*words, "-t", tag, "."])


def label_words(labels):
    """`--label K=V` for each (K, V)."""
    return [word for key, value in labels for word in ("--label", f"{key}={value}")]


def build_command(context, tag, base_image=None, home=None, labels=(), force_rm=True):
    """The build as the page shows it: true from any folder, since it goes to the build context first.

    A context under `home` (the dashboard user's HOME) is written from `~`, left unquoted so bash expands it:
    `cd ~/docker-workshop/images && docker build …`, true when that user pastes it.
    """
    return f"cd {folder_word(context, home)} && {build_invocation(tag, base_image, labels, force_rm)}"


def folder_word(folder, home=None):
    """`folder` as one shell word: `~/REST` (REST quoted) when it is under `home`, else the quoted path."""
    folder = str(folder)
    if home and os.path.isabs(folder):
        relative = os.path.relpath(os.path.normpath(folder), os.path.normpath(str(home)))
        if relative == ".":
            return "~"
        if relative != ".." and not relative.startswith("../"):
            return f"~/{shlex.quote(relative)}"
    return shlex.quote(folder)


def history_command(image):
    """`docker history IMAGE`: the image's layers and the instructions that made them."""
    return shlex.join(["docker", "history", image])


def logs_command(container, tail):
    """`docker logs --tail N CONTAINER`: what the container printed (http.server's request lines)."""
    return shlex.join(["docker", "logs", "--tail", str(tail), container])


def remove_command(container_id):
    """`docker stop ID && docker rm ID`, with the short id `docker ps` shows."""
    short_id = shlex.quote(container_id[:12])
    return f"docker stop {short_id} && docker rm {short_id}"


def lesson_filter(lesson):
    """`classroom.lesson=ID`: what `--label` gives and `--filter label=` selects."""
    return f"{LESSON_LABEL}={lesson}"


def in_folder(folder, command, home=None):
    """`cd FOLDER && COMMAND`: true from any folder, for a command that needs the lesson's folder."""
    return f"cd {folder_word(folder, home)} && {command}"


def run_invocation(image, *, detach=False, interactive=False, remove=False, name=None, label=None, ports=(),
                   env=(), volumes=(), command=(), labels=(), limits=()):
    """`docker run …` with the options in the order the tutorials write them; every word quoted with shlex, except
    a bind mount of the current folder, written `"$(pwd)":/path` for bash to expand. `labels`: more `--label`s
    (a seat's); `limits`: the words of a seat's limits (`--memory 256m …`)."""
    words = ["docker", "run"]
    words += ["-d"] if detach else []
    words += ["-it"] if interactive else []
    words += ["--rm"] if remove else []
    words += ["--name", name] if name else []
    words += ["--label", lesson_filter(label)] if label else []
    words += label_words(labels) + list(limits)
    head = shlex.join(words)
    for host, container in ports:
        head += f" -p {int(host)}:{int(container)}"
    for key, value in env:
        head += " -e " + shlex.quote(f"{key}={value}")
    for source, target in volumes:
        mount = FOLDER_MOUNT if source == "." else shlex.quote(source)
        head += f" -v {mount}:{shlex.quote(target)}"
    return " ".join([head, shlex.quote(image), *(shlex.quote(word) for word in command)])


def exec_command(container, command, env=()):
    """`docker exec [-e K=V]… NAME COMMAND…`: another process in a running container."""
    return shlex.join(["docker", "exec", *[word for key, value in env for word in ("-e", f"{key}={value}")],
                       container, *command])


def volume_create_command(name, lesson, labels=()):
    """`docker volume create --label classroom.lesson=ID NAME`: the label makes it the lesson's; with no lesson (a
    seat's own engine), `docker volume create NAME`."""
    label = ["--label", lesson_filter(lesson)] if lesson else []
    return shlex.join(["docker", "volume", "create", *label, *label_words(labels), name])


def label_filters(labels):
    """`--filter label=K=V` for each (K, V)."""
    return [word for key, value in labels for word in ("--filter", f"label={key}={value}")]


def volume_list_command(lesson, labels=()):
    """`docker volume ls` of the lesson's volumes (and of those with `labels`); with no lesson, every volume (a
    seat's own engine)."""
    selector = ["--filter", f"label={lesson_filter(lesson)}"] if lesson else []
    return shlex.join(["docker", "volume", "ls", *selector, *label_filters(labels)])


def volume_remove_command(name):
    return shlex.join(["docker", "volume", "rm", name])


def compose_command(words):
    """`docker compose WORDS…`: Compose v2, as the CLI plugin people type today."""
    return shlex.join(["docker", "compose", *words])


def lesson_list_command(lesson, all_containers, labels=()):
    """`docker ps [-a]` of one lesson's containers (and of those with `labels`: a seat's)."""
    return shlex.join(["docker", "ps", *(["-a"] if all_containers else []), "--filter",
                       f"label={lesson_filter(lesson)}", *label_filters(labels)])


def list_command(all_containers):
    """`docker ps [-a]`: every container of the engine (a seat's own)."""
    return shlex.join(["docker", "ps", *(["-a"] if all_containers else [])])


def rm_command(container, force=False, stop_first=False):
    """`docker rm NAME`, `docker rm -f NAME`, or `docker stop NAME && docker rm NAME`."""
    name = shlex.quote(container)
    if stop_first:
        return f"docker stop {name} && docker rm {name}"
    return f"docker rm {'-f ' if force else ''}{name}"


def write_file_command(path, content, home=None, end="EOF"):
    """`cat > FILE <<'EOF'` with the content and the end line: the file written whole, nothing in it expanded."""
    return f"cat > {folder_word(path, home)} <<'{end}'\n{content}{end}"
