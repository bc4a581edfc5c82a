"""The transcript as a bash script that replays the lesson on a clean host, written the way the tutorial teaches."""


def replay_script(entries, context):
    """A script that runs the transcript's successful actions in order.

    Containers go into variables as the tutorial does (`cid=$(docker run -d ...)`, then `docker stop $cid`), so
    the script never depends on ids from this session. Failed actions, and removals of containers the script did
    not start, stay as comments.
    """
    runs = [entry for entry in entries if entry.action == "run" and entry.ok]
    names = {entry.container_id: "cid" if len(runs) == 1 else f"cid{number}"
             for number, entry in enumerate(runs, start=1)}
    lines = [
        "#!/usr/bin/env bash",
        "# The cowserv lesson as the dashboard ran it. Run it in the cowserv build context",
        "# (the folder with the Dockerfile), or give that folder as the first argument.",
        "set -euo pipefail",
        f'cd "${{1:-{_quoted_default(context)}}}"',
        "",
    ]
    for entry in entries:
        lines.append(f"# {entry.at:%Y-%m-%d %H:%M:%S} UTC")
        if not entry.ok:
            lines.append(f"# failed then: {entry.command}")
        elif entry.action == "run":
            lines.append(f"{names[entry.container_id]}=$({entry.replay})")
        elif entry.action == "remove" and entry.container_id in names:
            name = names[entry.container_id]
            lines.append(f"docker stop ${name} && docker rm ${name}")
        elif entry.action == "remove":
            lines.append(f"# not started by this script: {entry.command}")
        else:
            lines.append(entry.replay)
    return "\n".join(lines) + "\n"


def _quoted_default(path):
    """The path, safe inside "${1:-...}": the characters special in double quotes escaped."""
    return "".join("\\" + char if char in '"$`\\' else char for char in str(path))
