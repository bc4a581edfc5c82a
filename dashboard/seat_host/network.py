"""A seat's network namespace (a minimal stand-in until the seat-network lane's module replaces it: the namespace
with its loopback up, no link out yet)."""

import subprocess

from .layout import UNREACHABLE


def up(place):
    """The seat's network namespace, made if missing, its loopback up."""
    subprocess.run(["ip", "route", "replace", "unreachable", UNREACHABLE], check=True)
    if not place.netns_path.exists():
        subprocess.run(["ip", "netns", "add", place.netns], check=True)
    subprocess.run(["ip", "-n", place.netns, "link", "set", "lo", "up"], check=True)


def down(place):
    """Remove the seat's network namespace (its links go with it)."""
    if place.netns_path.exists():
        subprocess.run(["ip", "netns", "del", place.netns], check=True)
    subprocess.run(["ip", "route", "replace", "unreachable", UNREACHABLE], check=True)
