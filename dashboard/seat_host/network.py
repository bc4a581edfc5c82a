"""Each seat's network: a namespace of its own, a veth pair to the host (a /30 from layout.SUBNET), and the firewall
chains shared by all seats. Runs as root; every call is idempotent.

The walls, for every link named `csh+` (the host side of a seat's veth), whatever else the host's firewall holds:

- mangle COWSERV-SEATS (jumped to from mangle FORWARD for `-i csh+` and `-o csh+`): drops what a seat may not do.
  A seat's packets leave only through the uplink (the default route's interface), so never to another seat, the
  host engine's bridges (docker0, br-*) or any other link, nor to link-local addresses (cloud metadata); into a seat
  comes only the uplink's return traffic (ESTABLISHED,RELATED), so no new connection from outside, from another
  seat or from a host container. Mangle runs before filter, so the host engine's later insertions at the top of
  filter FORWARD (every `docker network create` adds some) cannot open a way around these drops.
- mangle COWSERV-SEATS-IN (from mangle INPUT for `-i csh+`): a seat reaches nothing on the host itself (the
  dashboard, the host engine's published ports, Postgres, whatever listens on any host address); only replies to
  connections the host opened (the port forwarder's) come back.
- filter COWSERV-SEATS (from filter FORWARD for `-i csh+` and `-o csh+`, at the top): accepts the same two flows
  (seat out of the uplink; the uplink's replies back in) and drops the rest; the FORWARD policy is left as it is.
- nat COWSERV-SEATS (from nat POSTROUTING for `-s 10.201.0.0/16`): MASQUERADE out of the uplink only, so a build
  in a seat reaches Debian's mirror as the host's own builds do.

Rules in the host's own chains (FORWARD, INPUT, POSTROUTING) are only our jumps, each added after `-C` finds it
missing and removed by its exact spec; the DOCKER* chains and the policies are never touched. The host side of each
veth drops IPv6 (no link-local way to the host's services) and checks the source address (rp_filter): a seat cannot
speak as another seat."""

import fcntl
import json
import os
import shlex
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from . import layout

CHAIN = "COWSERV-SEATS"
CHAIN_IN = "COWSERV-SEATS-IN"
LINKS = layout.HOST_LINK + "+"
LINK_LOCAL = "169.254.0.0/16"
LOCK = Path("/run/cowserv-seats-firewall.lock")
ESTABLISHED = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"]


class NetworkError(Exception):
    """A seat's network or the seats' firewall could not be set up or taken down; the message says what and why."""


# Seats

def up(place):
    """The seat's namespace and veth pair, addressed and routed, with the seats' firewall in place (idempotent)."""
    _run("ip", "route", "replace", "unreachable", layout.UNREACHABLE)
    firewall_up()
    if not place.netns_path.exists():
        _run("ip", "netns", "add", place.netns)
    _run("ip", "-n", place.netns, "link", "set", "lo", "up")
    if not _link_exists(place.seat_link, place.netns):
        if _link_exists(place.host_link):
            if not _link_exists(place.seat_link):  # half-made pair left in the host's namespace
                raise NetworkError(f"{place.host_link} already exists and belongs to another seat's namespace "
                                   f"(seat index {place.index} in use elsewhere)")
            _run("ip", "link", "delete", place.host_link)
        _run("ip", "link", "add", place.host_link, "type", "veth", "peer", "name", place.seat_link,
             "netns", place.netns)
    # The host side: no IPv6 (no link-local way to the host), strict source check (no speaking as another seat).
    _sysctl(f"net/ipv6/conf/{place.host_link}/disable_ipv6", "1")
    _sysctl(f"net/ipv4/conf/{place.host_link}/rp_filter", "1")
    _run("ip", "netns", "exec", place.netns, "sysctl", "-qw", f"net.ipv6.conf.{place.seat_link}.disable_ipv6=1")
    _run("ip", "addr", "replace", f"{place.host_address}/30", "dev", place.host_link)
    _run("ip", "link", "set", place.host_link, "up")
    _run("ip", "-n", place.netns, "addr", "replace", f"{place.seat_address}/30", "dev", place.seat_link)
    _run("ip", "-n", place.netns, "link", "set", place.seat_link, "up")
    _run("ip", "-n", place.netns, "route", "replace", "default", "via", place.host_address)


def down(place):
    """Remove the seat's namespace (and with it the veth pair), its host link if left, and any rule naming its link
    (idempotent). Its processes must be gone first, or the namespace outlives its name."""
    if place.netns_path.exists():
        _run("ip", "netns", "delete", place.netns)
    if _link_exists(place.host_link) and _peer_namespace(place.host_link) in (None, place.netns):
        _run("ip", "link", "delete", place.host_link, ok_if="Cannot find device")
    with _locked():
        for table, chain in _OWN_CHAINS:
            for spec in _rules(table, chain):
                if place.host_link in spec:
                    _iptables(table, "-D", chain, *spec)
    _run("ip", "route", "replace", "unreachable", layout.UNREACHABLE)


def seat_links():
    """The host sides of every seat link on this host (any room's, any base's)."""
    out = _run("ip", "-j", "link", "show", "type", "veth")
    return sorted(link["ifname"] for link in json.loads(out or "[]")
                  if link["ifname"].startswith(layout.HOST_LINK) and link["ifname"][len(layout.HOST_LINK):].isdigit())


# The seats' firewall

_OWN_CHAINS = (("mangle", CHAIN), ("mangle", CHAIN_IN), ("filter", CHAIN), ("nat", CHAIN))


def uplink():
    """The interface of the host's IPv4 default route: the seats' only way out."""
    out = _run("ip", "-j", "-4", "route", "show", "default")
    for route in json.loads(out or "[]"):
        if route.get("dev"):
            return route["dev"]
    raise NetworkError("this host has no IPv4 default route: seats would have no way out")


def _chain_rules(out):
    """Each own chain's rules, in order, as argument lists (what `iptables -A CHAIN` takes)."""
    subnet = str(layout.SUBNET)
    return {
        ("mangle", CHAIN): [
            ["-i", LINKS, "!", "-o", out, "-j", "DROP"],
            ["-i", LINKS, "-d", LINK_LOCAL, "-j", "DROP"],
            ["-o", LINKS, "!", "-i", out, "-j", "DROP"],
            ["-o", LINKS, "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED", "-j", "DROP"],
        ],
        ("mangle", CHAIN_IN): [
            ["-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED", "-j", "DROP"],
        ],
        ("filter", CHAIN): [
            ["-i", LINKS, "-o", out, "!", "-d", LINK_LOCAL, "-j", "ACCEPT"],
            ["-i", out, "-o", LINKS, *ESTABLISHED, "-j", "ACCEPT"],
            ["-j", "DROP"],
        ],
        ("nat", CHAIN): [
            ["-s", subnet, "-o", out, "-j", "MASQUERADE"],
        ],
    }


_JUMPS = (  # (table, host chain, match, own chain, at the top?)
    ("mangle", "FORWARD", ["-i", LINKS], CHAIN, True),
    ("mangle", "FORWARD", ["-o", LINKS], CHAIN, True),
    ("mangle", "INPUT", ["-i", LINKS], CHAIN_IN, True),
    ("filter", "FORWARD", ["-i", LINKS], CHAIN, True),
    ("filter", "FORWARD", ["-o", LINKS], CHAIN, True),
    ("nat", "POSTROUTING", ["-s", str(layout.SUBNET)], CHAIN, False),
)


def firewall_up():
    """The seats' chains, their jumps and ip_forward (idempotent). An own chain that differs from what it should be
    (the uplink changed) gets the new rules first, then loses the old, so it is never open in between."""
    out = uplink()
    if _sysctl_read("net/ipv4/ip_forward") != "1":
        _sysctl("net/ipv4/ip_forward", "1")
    with _locked():
        for (table, chain), wanted in _chain_rules(out).items():
            if not _chain_exists(table, chain):
                _iptables(table, "-N", chain)
            have = _rules(table, chain)
            if [_normal(rule) for rule in have] != [_normal(rule) for rule in wanted]:
                for number, rule in enumerate(wanted, start=1):
                    _iptables(table, "-I", chain, str(number), *rule)
                for _ in have:
                    _iptables(table, "-D", chain, str(len(wanted) + 1))
        for table, host_chain, match, chain, top in _JUMPS:
            rule = [*match, "-j", chain]
            if not _check(table, host_chain, rule):
                if top:
                    _iptables(table, "-I", host_chain, "1", *rule)
                else:
                    _iptables(table, "-A", host_chain, *rule)


def firewall_down(force=False):
    """Remove the seats' jumps and chains (idempotent); ip_forward is left as it is. While any seat link exists the
    firewall stays (returns those links), since without it a seat would reach the host; `force` removes it anyway."""
    left = seat_links()
    if left and not force:
        return left
    with _locked():
        for table, host_chain, match, chain, _top in _JUMPS:
            rule = [*match, "-j", chain]
            while _check(table, host_chain, rule):
                _iptables(table, "-D", host_chain, *rule)
        for table, chain in _OWN_CHAINS:
            if _chain_exists(table, chain):
                for spec in _rules(table, chain):
                    _iptables(table, "-D", chain, *spec)
                _iptables(table, "-X", chain)
    return []


# Plumbing

def _run(*argv, ok_if=None):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise NetworkError(f"{' '.join(argv)}: {error}") from error
    if done.returncode != 0:
        if ok_if is not None and ok_if in done.stderr:
            return ""
        raise NetworkError(f"{' '.join(argv)}: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done.stdout


def _iptables(table, *args):
    return _run("iptables", "-w", "-t", table, *args)


def _check(table, chain, rule):
    return subprocess.run(["iptables", "-w", "-t", table, "-C", chain, *rule], capture_output=True).returncode == 0


def _chain_exists(table, chain):
    return subprocess.run(["iptables", "-w", "-t", table, "-S", chain], capture_output=True).returncode == 0


def _rules(table, chain):
    """The chain's rules as `iptables -S` prints them, each split into the arguments after `-A CHAIN`."""
    if not _chain_exists(table, chain):
        return []
    rules = []
    for line in _iptables(table, "-S", chain).splitlines():
        words = shlex.split(line)
        if words[:2] == ["-A", chain]:
            rules.append(words[2:])
    return rules


def _normal(rule):
    """A rule in a form that does not depend on the order of its options (`iptables -S` prints them in its own
    order, and a lone address gains /32), to compare a wanted rule with the one in place."""
    groups, words = [], list(rule)
    for index, word in enumerate(words):
        if word in ("-d", "-s") and index + 1 < len(words) and "/" not in words[index + 1]:
            words[index + 1] += "/32"
    for index, word in enumerate(words):
        if word == "!" or (word.startswith("-") and (index == 0 or words[index - 1] != "!")):
            groups.append([word])
        else:
            groups[-1].append(word)
    return tuple(sorted(tuple(group) for group in groups))


def _link_exists(name, netns=None):
    argv = ["ip"] + (["-n", netns] if netns else []) + ["link", "show", name]
    return subprocess.run(argv, capture_output=True).returncode == 0


def _peer_namespace(link):
    """The name of the namespace holding the veth peer of `link`; None when it is in ours or has no name."""
    try:
        info = json.loads(_run("ip", "-j", "link", "show", link))[0]
    except (NetworkError, ValueError, IndexError):
        return None
    netnsid = info.get("link_netnsid")
    if netnsid is None:
        return None
    for entry in json.loads(_run("ip", "-j", "netns", "list") or "[]"):
        if entry.get("id") == netnsid:
            return entry["name"]
    return None


def _sysctl(key, value):
    try:
        Path("/proc/sys", key).write_text(value)
    except OSError as error:
        raise NetworkError(f"sysctl {key.replace('/', '.')}={value}: {error}") from error


def _sysctl_read(key):
    try:
        return Path("/proc/sys", key).read_text().strip()
    except OSError:
        return None


@contextmanager
def _locked():
    """One change to the seats' chains at a time, across threads and processes (check-then-add is not atomic)."""
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:  # never a blocking flock: under gevent it would stop every greenlet, the holder's too
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)
