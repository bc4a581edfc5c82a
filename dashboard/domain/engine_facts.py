"""What the dashboard knows about the engine it talks to: its release and what that implies (a warning, the
builder a typed `docker build` uses), and where it is reached (the endpoint, and where its published ports answer)."""

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

OLDEST_TESTED = (20, 10)  # the oldest Docker Engine the test suite runs on (Debian bookworm's docker.io)
BUILDKIT_CLI_SINCE = 23  # from Docker Engine 23 on, the `docker build` a person types is BuildKit's (buildx)
RELEASE = re.compile(r"(\d+)\.(\d+)")


def release_of(version):
    """(major, minor) of a Docker Engine version ("20.10.24+dfsg1" is (20, 10)); None when it does not begin with
    them ("dev", a source build; "")."""
    found = RELEASE.match(version or "")
    return (int(found[1]), int(found[2])) if found else None


@dataclass(frozen=True)
class EngineAbout:
    """What the engine says of itself (as `docker version` prints the server) and the endpoint it is reached at."""

    name: str  # "Docker Engine"; another engine speaking Docker's API names itself ("Podman Engine")
    version: str
    api_version: str
    os: str
    arch: str
    endpoint: str

    @property
    def is_docker(self):
        return self.name == "Docker Engine"

    @property
    def release(self):
        """(major, minor), or None when the version does not say."""
        return release_of(self.version)

    @property
    def release_text(self):
        """The release as the version writes it: "19.03" of "19.03.15"."""
        found = RELEASE.match(self.version)  # as written: "19.03", where release is (19, 3)
        return found[0] if found else self.version

    @property
    def older_than_tested(self):
        """True for a Docker Engine older than 20.10, the oldest the dashboard is tested on: the page warns. A
        version that names no release ("dev") is not taken for an old one."""
        return self.is_docker and self.release is not None and self.release < OLDEST_TESTED

    @property
    def cli_builds_with_buildkit(self):
        """True from Docker Engine 23 on, where `docker build` typed in a terminal is BuildKit's, not the classic
        builder the dashboard drives through the SDK: the build panel shows how their logs differ."""
        return self.is_docker and self.release is not None and self.release[0] >= BUILDKIT_CLI_SINCE


def is_build_step(command):
    """True for the classic builder's containers: each instruction runs in one, and those after the Dockerfile's
    LABEL carry the lesson's label while they exist. Metadata steps (ENV, CMD, LABEL) run `/bin/sh -c #(nop) …`,
    which no container a person starts runs."""
    return "#(nop)" in (command or "")


@dataclass(frozen=True)
class Endpoint:
    """Where the engine is reached, as DOCKER_HOST writes it (unix:///var/run/docker.sock, tcp://10.0.0.5:2375,
    ssh://user@host), with its TLS settings; `error` when the docker context naming it cannot be read."""

    url: str
    tls: object = None
    error: str | None = None

    @property
    def is_tcp(self):
        """True when the engine is reached over the network (tcp://, http(s)://, ssh://), not a socket of this
        machine: whoever reads such an address may try it, so only the instructor is shown it."""
        scheme, separator, _ = self.url.partition("://")
        return bool(separator) and scheme not in ("unix", "npipe", "fd")

    @property
    def remote_address(self):
        """The address of the machine the engine runs on, where its published ports answer, when that is another
        machine (tcp:// or ssh:// to a host that is not loopback), bracketed when IPv6; None for this machine."""
        scheme, _, rest = self.url.partition("://")
        if scheme not in ("tcp", "ssh", "http", "https"):
            return None  # unix://, npipe://, fd://: a socket of this machine
        try:
            host = urlsplit(f"//{rest}").hostname
        except ValueError:
            return None
        if not host or host == "localhost" or host.endswith(".localhost"):
            return None  # an empty host is the SDK's 127.0.0.1
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host  # a name: the engine's host, as this machine reaches it
        if address.is_loopback or address.is_unspecified:
            return None
        return f"[{host}]" if address.version == 6 else host

    @property
    def ports_are_local(self):
        """True when the engine publishes its ports on this machine, so binding a port here says whether a
        container can publish it; for a remote engine only the engine itself can say."""
        return self.remote_address is None

    def published_host(self, here):
        """Where a published port answers: the engine's address when it is another machine, else `here` (the
        host the browser used, or 127.0.0.1 for the server's own look at a cow)."""
        return self.remote_address or here
