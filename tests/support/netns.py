"""A network namespace of the test's own, for requests that must come from an address that is not loopback (the
room's network) without ever reaching this machine's own interface addresses.

The namespace is joined to this machine by a veth pair on a /24 of TEST_SUBNET: this machine's end is .1 (where a
test binds the dashboard), the namespace's end .2 (where its clients' requests come from). An `unreachable` route
over the whole TEST_SUBNET is put in first and left there, so an address of it whose namespace is gone leads
nowhere. Clients run in a thread that entered the namespace (its sockets are the namespace's), and are stopped
before the namespace is deleted, which takes the veth pair with it.
"""

import concurrent.futures
import contextlib
import ctypes
import os
import random
import shutil
import subprocess
import uuid

import requests

TEST_SUBNET = "10.200.0.0/13"  # 10.200.0.0 to 10.207.255.255: the /24s the runs' namespaces take
CLONE_NEWNET = 0x40000000


def ip(*args, check=True):
    """Run `ip ARGS`; a missing iproute2 fails the test saying so (never a silent skip)."""
    if shutil.which("ip") is None:
        raise AssertionError("these tests need iproute2's `ip` (apt-get install iproute2) and root, to make a "
                             "network namespace of their own")
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()} "
                             "(these tests make a network namespace of their own, which needs root)")
    return result


def _free_subnet():
    """A 10.(200..207).X.0/24 no interface of this machine has an address in (another run's namespace, say)."""
    taken = ip("-o", "-4", "addr", "show").stdout
    for _ in range(100):
        prefix = f"10.{random.randrange(200, 208)}.{random.randrange(256)}"
        if f" {prefix}." not in taken:
            return prefix
    raise AssertionError(f"no free /24 left in {TEST_SUBNET}")


class Namespace:
    """`with Namespace() as room:` a namespace NAME with the address room.address, reaching this machine at
    room.host_address; room.client() is a requests session whose requests leave from room.address."""

    def __init__(self):
        tag = uuid.uuid4().hex[:8]
        self.name, self._host_link, self._room_link = f"dashtest-{tag}", f"vdh{tag}", f"vdr{tag}"
        prefix = _free_subnet()
        self.host_address, self.address = f"{prefix}.1", f"{prefix}.2"
        self._clients = []

    def __enter__(self):
        ip("route", "replace", "unreachable", TEST_SUBNET)  # kept: addresses of gone namespaces lead nowhere
        ip("netns", "add", self.name)
        try:
            ip("link", "add", self._host_link, "type", "veth", "peer", "name", self._room_link, "netns", self.name)
            ip("addr", "add", f"{self.host_address}/24", "dev", self._host_link)
            ip("link", "set", self._host_link, "up")
            ip("-n", self.name, "addr", "add", f"{self.address}/24", "dev", self._room_link)
            ip("-n", self.name, "link", "set", self._room_link, "up")
            ip("-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def client(self):
        """A requests session (no proxy, no CA bundle from the environment) whose every call runs in a thread of
        this namespace: its requests come from self.address."""
        client = NamespaceClient(f"/var/run/netns/{self.name}")
        self._clients.append(client)
        return client

    def stop_clients(self):
        """Close every client's connections and stop its thread."""
        for client in self._clients:
            client.close()
        self._clients.clear()

    def close(self):
        """Stop every client, then delete the namespace (its veth pair goes with it); the unreachable route stays."""
        self.stop_clients()
        ip("netns", "delete", self.name, check=False)
        assert self.name not in ip("netns", "list").stdout, f"namespace {self.name} is still there"


def _enter(path):
    """Move the calling thread into the network namespace at `path` (setns(2): a thread's own, not the process's)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns({path}): {os.strerror(error)}")
    finally:
        os.close(fd)


class NamespaceClient:
    """A requests.Session whose get/post/request run in one thread that entered the namespace first."""

    def __init__(self, netns_path):
        self._thread = concurrent.futures.ThreadPoolExecutor(1, "netns-client", initializer=_enter,
                                                             initargs=(netns_path,))
        self.session = requests.Session()
        self.session.trust_env = False

    @property
    def cookies(self):
        return self.session.cookies

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", 30)
        return self._thread.submit(self.session.request, method, url, **kwargs).result()

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)

    def close(self):
        with contextlib.suppress(Exception):
            self._thread.submit(self.session.close).result(timeout=30)
        self._thread.shutdown(wait=True)
