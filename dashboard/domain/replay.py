"""A lesson's transcript as a bash script that replays it on a clean host, written the way the tutorial teaches."""


def replay_script(entries, folder, title):
    """A script that runs the transcript's successful actions in order, in the lesson's folder (when it has one).

    Containers go into variables as the tutorial does (`cid=$(docker run -d ...)`, then `docker stop $cid`), so
    the script never depends on ids from this session. Failed actions, and
    removals of containers the script did not start, stay as comments.
    """
    runs = [entry for entry in entries if entry.action == "run" and entry.ok]
    variables = {entry.container_id: "cid" if len(runs) == 1 else f"cid{number}"
                 for number, entry in enumerate(runs, start=1)}
    known = {container_id: f"${name}" for container_id, name in variables.items()}
    lines = ["#!/usr/bin/env bash", f"# The lesson {_one_line(title)} as the dashboard ran it."]
    if folder is not None:
        lines += ["# It runs in the lesson's folder (the one with its files), or the folder given as first argument."]
    lines += ["set -euo pipefail"]
    if folder is not None:
        lines += [f'cd "${{1:-{_quoted_default(folder)}}}"']
    lines += [""]
    for entry in entries:
        lines += [f"# {entry.at:%Y-%m-%d %H:%M:%S} UTC", _line(entry, variables, known)]
    return "\n".join(lines) + "\n"


def _line(entry, variables, known):
    """The script's line for one entry; `known` is how the script names each container it starts ($cid)."""
    if not entry.ok:
        return "\n".join(f"# failed then: {line}" for line in entry.command.splitlines())
    if entry.action == "run":
        return f"{variables[entry.container_id]}=$({entry.replay})"
    if entry.action == "remove" and entry.container_id in known:
        name = known[entry.container_id]
        return f"docker stop {name} && docker rm {name}"
    if entry.action == "remove":
        return f"# not started by this script: {entry.command}"
    return entry.replay


def _quoted_default(path):
    """The path, safe inside "${1:-...}": the characters special in double quotes escaped."""
    return "".join("\\" + char if char in '"$`\\' else char for char in str(path))


def _one_line(text):
    return " ".join(str(text).split())
