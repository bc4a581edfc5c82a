"""The seats' network on the real kernel (root; real namespaces, veths and firewall): a seat's published port answers
through the port forwarder; a seat reaches neither another seat, nor the host's own services, nor a host bridge, and
nothing from outside opens a connection into it; the class end leaves no namespace, link, rule or chain behind.
Seats here have a random name, a random index from 4000 up and a BASE of their own; traffic goes only to loopback and
to addresses inside the namespaces the test made."""

import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from dashboard.seat_host import daemons, forwarder, layout, network
from tests.support import free_tcp_port
from tests.support.netns import Namespace

SEAT_PORT = 8000
# The host engine's own rules (its chains, bridges, and its containers' on its address pools), which other tests
# change meanwhile.
HOST_ENGINES = re.compile(r"DOCKER|docker0| br-|-[sd] (172\.(1[6-9]|2[0-9]|3[01])|192\.168)\.")
REFUSED_WITHIN = 1.5  # seconds a connect from a namespace is given: a dropped SYN is never answered


@pytest.fixture
def seats(tmp_path):
    """Two seats, A and B, with their network up; everything they made is gone afterwards, even on failure."""
    token = uuid.uuid4().hex[:6]
    index = random.randrange(4000, layout.MAX_SEATS - 2, 2)
    base = tmp_path / f"seats-{token}"
    a, b = (layout.SeatPlace(base, f"h2{token}{letter}", index + number) for number, letter in enumerate("ab"))
    with contextlib.ExitStack() as cleanup:  # every step runs, in reverse, even when one before it failed
        cleanup.callback(network.firewall_down)
        for place in (a, b):
            cleanup.callback(network.down, place)
            network.up(place)
        cleanup.callback(forwarder.stop, base)
        yield SimpleNamespace(base=base, a=a, b=b)


def _state(place, ports, bind_host="127.0.0.1"):
    layout.write_state(place, layout.SeatState(
        name=place.name, index=place.index, first_port=place.first_port, room="test-seat-network",
        ports=tuple(ports), bind_host=bind_host, memory=256 << 20, cpus=1.0, pids=100, disk=1 << 30))


@contextlib.contextmanager
def _serving(netns, address, port, directory):
    """An HTTP server in the namespace, at address:port, serving `directory`; stopped (by its pid) afterwards."""
    server = subprocess.Popen(["nsenter", f"--net=/var/run/netns/{netns}", sys.executable, "-m", "http.server",
                               "--bind", address, "--directory", str(directory), str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not _connects(address, port):  # from the host: OUTPUT, which the seats' walls leave alone
            assert server.poll() is None and time.monotonic() < deadline, f"no server at {address}:{port}"
            time.sleep(0.05)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=10)


def _connects(address, port, timeout=REFUSED_WITHIN):
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def _reaches(netns, address, port):
    """Whether a TCP connect from inside the namespace to address:port succeeds."""
    probe = (f"import socket; socket.create_connection(({address!r}, {port}), timeout={REFUSED_WITHIN})")
    done = subprocess.run(["nsenter", f"--net=/var/run/netns/{netns}", sys.executable, "-c", probe],
                          capture_output=True, timeout=30)
    return done.returncode == 0


@contextlib.contextmanager
def _listening(address, port):
    with socket.create_server((address, port)) as listener:
        yield listener


def _get(port, path):
    session = requests.Session()
    session.trust_env = False
    return session.get(f"http://127.0.0.1:{port}{path}", timeout=10)


def _rules(netns=None):
    """Every rule and chain of the three tables, but the host engine's own (other tests' networks change those)."""
    lines = []
    enter = ["nsenter", f"--net=/var/run/netns/{netns}"] if netns else []
    for table in ("filter", "nat", "mangle"):
        out = subprocess.run([*enter, "iptables", "-w", "-t", table, "-S"], capture_output=True, text=True,
                             check=True).stdout
        lines += [f"{table} {line}" for line in out.splitlines() if not HOST_ENGINES.search(line)]
    return lines


def test_a_seats_published_port_answers_through_the_forwarder_until_the_seat_is_gone(seats, tmp_path):
    (tmp_path / "hello.txt").write_text("hello from seat A\n")
    host_port = free_tcp_port()
    _state(seats.a, [(host_port, SEAT_PORT)])
    with _serving(seats.a.netns, seats.a.seat_address, SEAT_PORT, tmp_path):
        pid = forwarder.ensure_running(seats.base)
        assert _get(host_port, "/hello.txt").text == "hello from seat A\n"
        assert forwarder.ensure_running(seats.base) == pid  # one process for all seats, found again

        held = socket.create_connection(("127.0.0.1", host_port), timeout=10)
        held.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: seat\r\n")  # the request is not finished: the server waits
        seats.a.state.unlink()
        forwarder.ensure_running(seats.base)
        held.settimeout(10)
        with held, contextlib.suppress(ConnectionResetError):
            assert held.recv(100) == b""  # the gone seat's connection is dropped
        assert not _connects("127.0.0.1", host_port)  # and its port closed
        assert daemons.pid_of(forwarder.pidfile(seats.base)) == pid

        _state(seats.a, [(host_port, SEAT_PORT)])
        os.kill(pid, signal.SIGKILL)  # as a host's crash would
        assert forwarder.ensure_running(seats.base) != pid
        assert _get(host_port, "/hello.txt").text == "hello from seat A\n"


def test_a_port_in_use_is_reported_and_every_other_port_still_forwards(seats, tmp_path):
    (tmp_path / "hello.txt").write_text("still here\n")
    free, taken = free_tcp_port(), free_tcp_port()
    _state(seats.a, [(free, SEAT_PORT), (taken, 8080)])
    with _serving(seats.a.netns, seats.a.seat_address, SEAT_PORT, tmp_path):
        with _listening("127.0.0.1", taken):
            with pytest.raises(forwarder.ForwarderError) as refused:
                forwarder.ensure_running(seats.base)
            assert f"host port {taken} on 127.0.0.1 (seat {seats.a.name}'s port 8080) is in use by another " \
                   "program" in str(refused.value)
            assert str(free) not in str(refused.value)
            assert _get(free, "/hello.txt").text == "still here\n"
        forwarder.ensure_running(seats.base)  # once the port is free, it is taken up
        assert _connects("127.0.0.1", taken)


def test_two_seats_claiming_one_host_port_are_both_told(seats):
    port = free_tcp_port()
    _state(seats.a, [(port, SEAT_PORT)])
    _state(seats.b, [(port, SEAT_PORT)])
    with pytest.raises(forwarder.ForwarderError, match=f"127.0.0.1:{port} is claimed by seats "
                                                       f"{seats.a.name} and {seats.b.name}"):
        forwarder.ensure_running(seats.base)
    assert not _connects("127.0.0.1", port)  # neither seat gets the other's visitors


def test_a_client_that_does_not_read_holds_no_more_than_bounded_buffers_and_stalls_nobody(seats, tmp_path):
    size = 64 << 20
    with open(tmp_path / "big", "wb") as big:
        big.truncate(size)
    (tmp_path / "hello.txt").write_text("meanwhile\n")
    host_port = free_tcp_port()
    _state(seats.a, [(host_port, SEAT_PORT)])
    with _serving(seats.a.netns, seats.a.seat_address, SEAT_PORT, tmp_path):
        pid = forwarder.ensure_running(seats.base)
        before = _resident(pid)
        with socket.create_connection(("127.0.0.1", host_port), timeout=10) as slow:
            slow.sendall(b"GET /big HTTP/1.0\r\n\r\n")  # and reads nothing for now
            peak = max(_resident(pid) for _ in range(30) if time.sleep(0.1) is None)
            assert _get(host_port, "/hello.txt").text == "meanwhile\n"
            assert peak - before < 16 << 20, f"the forwarder grew by {(peak - before) >> 20} MB for one slow client"
            received = 0
            while chunk := slow.recv(1 << 20):
                received += len(chunk)
        assert received > size  # the whole file came through, headers first


def test_a_client_that_half_closes_and_reads_late_gets_every_byte(seats):
    """A client that sends its request, half-closes, and reads while the seat has already sent all and closed, gets
    the whole answer (the forwarder sends what it still holds before it closes)."""
    size = 8 << 20
    host_port = free_tcp_port()
    _state(seats.a, [(host_port, SEAT_PORT)])
    sender = ("import socket, sys\n"
              "with socket.create_server((sys.argv[1], int(sys.argv[2]))) as server:\n"
              "    while True:\n"
              "        connection, _peer = server.accept()\n"
              f"        connection.sendall(bytes({size}))\n"
              "        connection.close()\n")
    server = subprocess.Popen(["nsenter", f"--net=/var/run/netns/{seats.a.netns}", sys.executable, "-c", sender,
                               seats.a.seat_address, str(SEAT_PORT)])
    try:
        forwarder.ensure_running(seats.base)
        with socket.socket() as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # what is not read stays in the forwarder
            client.settimeout(10)
            client.connect(("127.0.0.1", host_port))
            client.shutdown(socket.SHUT_WR)
            received = 0
            while chunk := client.recv(1 << 16):
                received += len(chunk)
        assert received == size
    finally:
        server.terminate()
        server.wait(timeout=10)


def _resident(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_a_seat_reaches_no_other_seat(seats, tmp_path):
    with _serving(seats.b.netns, seats.b.seat_address, SEAT_PORT, tmp_path):
        assert _reaches(seats.b.netns, seats.b.seat_address, SEAT_PORT)
        assert not _reaches(seats.a.netns, seats.b.seat_address, SEAT_PORT)


def test_a_seat_reaches_nothing_listening_on_the_host(seats):
    port = free_tcp_port()
    other = free_tcp_port()
    with _listening("0.0.0.0", port), _listening(seats.a.host_address, other):
        assert _connects(seats.a.host_address, port) and _connects(seats.a.host_address, other)
        assert not _reaches(seats.a.netns, seats.a.host_address, port)
        assert not _reaches(seats.a.netns, seats.a.host_address, other)
        assert not _reaches(seats.a.netns, seats.b.host_address, port)
    for netns, link in ((None, seats.a.host_link), (seats.a.netns, seats.a.seat_link)):  # no IPv6 way around
        addresses = subprocess.run(["ip", *(["-n", netns] if netns else []), "-6", "-o", "addr", "show", "dev", link],
                                   capture_output=True, text=True, check=True).stdout
        assert addresses == "", addresses


def test_nothing_outside_opens_a_connection_into_a_seat_nor_does_a_seat_reach_a_host_bridge(seats, tmp_path):
    """`outside` stands for a host bridge (the host engine's docker0, a compose network, engine26's namespace). Even
    with ACCEPT rules for it above the seats' jump in filter FORWARD, as `docker network create` inserts, the walls
    hold."""
    with Namespace() as outside:
        subprocess.run(["ip", "-n", outside.name, "route", "replace", str(layout.SUBNET), "via",
                        outside.host_address], check=True)
        link = _link_with_address(outside.host_address)
        accepts = [["-i", link, "-j", "ACCEPT"], ["-o", link, "-j", "ACCEPT"]]
        with _serving(seats.a.netns, seats.a.seat_address, SEAT_PORT, tmp_path), \
                _serving(outside.name, outside.address, SEAT_PORT, tmp_path):
            assert not _reaches(outside.name, seats.a.seat_address, SEAT_PORT)
            assert not _reaches(seats.a.netns, outside.address, SEAT_PORT)
            try:
                for rule in accepts:
                    subprocess.run(["iptables", "-w", "-I", "FORWARD", "1", *rule], check=True)
                assert not _reaches(outside.name, seats.a.seat_address, SEAT_PORT)
                assert not _reaches(seats.a.netns, outside.address, SEAT_PORT)
            finally:
                for rule in accepts:
                    subprocess.run(["iptables", "-w", "-D", "FORWARD", *rule], capture_output=True)


def test_a_seat_index_in_use_elsewhere_is_refused_and_left_alone(seats, tmp_path):
    """Another base's seat with A's index (another room, another run) would take A's link names: up() says so, and
    its down() removes nothing of A's."""
    twin = layout.SeatPlace(tmp_path / "elsewhere", seats.a.name + "x", seats.a.index)
    try:
        with pytest.raises(network.NetworkError, match=f"{seats.a.host_link} already exists"):
            network.up(twin)
    finally:
        network.down(twin)
    with _serving(seats.a.netns, seats.a.seat_address, SEAT_PORT, tmp_path):
        assert _connects(seats.a.seat_address, SEAT_PORT)


def _netns_of(pid):
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def _link_with_address(address):
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "to", address], capture_output=True, text=True,
                         check=True).stdout
    return out.split()[1]


def test_up_twice_changes_nothing_and_down_leaves_nothing(tmp_path):
    token = uuid.uuid4().hex[:6]
    place = layout.SeatPlace(tmp_path / f"seats-{token}", f"h2{token}", random.randrange(4000, layout.MAX_SEATS))
    others = network.seat_links()  # another run's seats (if any) keep the seats' firewall up
    before = _rules()
    holder = None
    try:
        network.up(place)
        once = _rules()
        network.up(place)
        assert _rules() == once
        assert place.host_link in network.firewall_down()  # the firewall stays while a seat is up
        assert _rules() == once
        # A process left in the namespace keeps it alive past its name: the host link still goes.
        holder = subprocess.Popen(["nsenter", f"--net={place.netns_path}", "sleep", "60"])
        while _netns_of(holder.pid) != place.netns_path.stat().st_ino:
            assert holder.poll() is None, "nsenter failed"
            time.sleep(0.02)
        network.down(place)
        assert subprocess.run(["ip", "link", "show", place.host_link], capture_output=True).returncode != 0
    finally:
        network.down(place)
        if holder is not None:
            holder.kill()
            holder.wait()
        network.down(place)
        left = network.firewall_down()
        network.firewall_down()
    assert place.netns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert subprocess.run(["ip", "link", "show", place.host_link], capture_output=True).returncode != 0
    assert not any(place.host_link in rule for rule in _rules())
    assert place.host_link not in left
    if left or others or any("COWSERV" in rule for rule in before):  # another run's seats share the firewall now
        assert _not_ours(_rules()) == _not_ours(before)
    else:
        assert not any("COWSERV" in rule or layout.HOST_LINK + "+" in rule for rule in _rules())
        assert _rules() == before


def _not_ours(rules):
    return [rule for rule in rules if "COWSERV" not in rule and layout.HOST_LINK + "+" not in rule]


ROOT = str(Path(__file__).resolve().parents[1])  # the worktree whose `dashboard` these tests import
ECHO_PEER = ("import socket, sys\n"
             "with socket.create_server((sys.argv[1], int(sys.argv[2]))) as server:\n"
             "    while True:\n"
             "        connection, (peer, _port) = server.accept()\n"
             "        with connection:\n"
             "            connection.sendall(peer.encode())\n")


def test_a_seat_goes_out_of_the_uplink_masqueraded_and_nothing_comes_in(tmp_path):
    """On a stand-in host (a namespace of its own, with its own firewall, whose uplink leads to a stand-in internet
    namespace; FORWARD dropped by default, as the host engine sets it): a seat reaches a server out there, which
    sees the host's uplink address; the link-local metadata address is dropped; the internet opens no connection
    into the seat."""
    tag = uuid.uuid4().hex[:6]
    fake_host, internet = f"h2host-{tag}", f"h2net-{tag}"
    octet = random.randrange(256)
    uplink, far = f"10.205.{octet}.1", f"10.205.{octet}.2"  # the stand-in host's uplink address, its gateway
    mirror, metadata = "198.51.100.9", "169.254.169.254"  # beyond the unreachable /13, as a mirror is
    place = layout.SeatPlace(tmp_path / f"seats-{tag}", f"h2{tag}", random.randrange(4000, layout.MAX_SEATS))
    servers = []
    subprocess.run(["ip", "route", "replace", "unreachable", layout.UNREACHABLE], check=True)
    try:
        for netns in (fake_host, internet):
            subprocess.run(["ip", "netns", "add", netns], check=True)
        for command in (
                ["ip", "-n", fake_host, "link", "add", f"up{tag}", "type", "veth", "peer", "name", f"gw{tag}",
                 "netns", internet],
                ["ip", "-n", fake_host, "addr", "add", f"{uplink}/30", "dev", f"up{tag}"],
                ["ip", "-n", fake_host, "link", "set", f"up{tag}", "up"],
                ["ip", "-n", fake_host, "route", "add", "default", "via", far],
                ["ip", "-n", internet, "addr", "add", f"{far}/30", "dev", f"gw{tag}"],
                ["ip", "-n", internet, "link", "set", f"gw{tag}", "up"],
                ["ip", "-n", internet, "link", "set", "lo", "up"],
                ["ip", "-n", internet, "addr", "add", f"{mirror}/32", "dev", "lo"],
                ["ip", "-n", internet, "addr", "add", f"{metadata}/32", "dev", "lo"],
                ["ip", "-n", internet, "route", "add", str(layout.SUBNET), "via", uplink],
                ["nsenter", f"--net=/var/run/netns/{fake_host}", "iptables", "-w", "-P", "FORWARD", "DROP"]):
            subprocess.run(command, check=True)
        for address in (mirror, metadata):
            servers.append(subprocess.Popen(["nsenter", f"--net=/var/run/netns/{internet}", sys.executable, "-c",
                                             ECHO_PEER, address, str(SEAT_PORT)]))
        _on(fake_host, f"network.up({_place_code(place)})")
        for address in (mirror, metadata):
            deadline = time.monotonic() + 10
            while not _reaches(internet, address, SEAT_PORT):
                assert time.monotonic() < deadline, f"no echo server at {address}"
        assert _peer_seen(place.netns, mirror) == uplink  # out, masqueraded as the host
        assert _peer_seen(place.netns, metadata) is None
        seat_server = subprocess.Popen(["nsenter", f"--net=/var/run/netns/{place.netns}", sys.executable, "-c",
                                        ECHO_PEER, place.seat_address, str(SEAT_PORT)])
        servers.append(seat_server)
        deadline = time.monotonic() + 10
        while not _reaches(place.netns, place.seat_address, SEAT_PORT):
            assert time.monotonic() < deadline, "no echo server in the seat"
        assert not _reaches(internet, place.seat_address, SEAT_PORT)

        # The default route moves to another link: the chains follow it, and nothing names the old uplink.
        before = _rules(fake_host)
        for command in (["link", "add", f"dm{tag}", "type", "veth", "peer", "name", f"dn{tag}", "netns", internet],
                        ["link", "set", f"dm{tag}", "up"],
                        ["route", "replace", "default", "dev", f"dm{tag}"]):
            subprocess.run(["ip", "-n", fake_host, *command], check=True)
        _on(fake_host, "network.firewall_up()")
        assert _rules(fake_host) == [rule.replace(f"up{tag}", f"dm{tag}") for rule in before]
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        _on(fake_host, f"network.down({_place_code(place)}); network.firewall_down()", check=False)
        for netns in (place.netns, fake_host, internet):
            subprocess.run(["ip", "netns", "delete", netns], capture_output=True)
    assert not {place.netns, fake_host, internet} & set(
        subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())


def _place_code(place):
    return f"layout.SeatPlace({str(place.base)!r}, {place.name!r}, {place.index})"


def _on(netns, code, check=True):
    """Run `code` (with layout and network imported) in the namespace: the seat plumbing of a stand-in host."""
    done = subprocess.run(["nsenter", f"--net=/var/run/netns/{netns}", sys.executable, "-c",
                           f"from dashboard.seat_host import layout, network; {code}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 or not check, done.stderr
    return done.stdout


def _peer_seen(netns, address):
    """The source address a server at address:SEAT_PORT saw for a connection from the namespace; None if none."""
    probe = (f"import socket; s = socket.create_connection(({address!r}, {SEAT_PORT}), timeout={REFUSED_WITHIN}); "
             "print(s.recv(100).decode())")
    done = subprocess.run(["nsenter", f"--net=/var/run/netns/{netns}", sys.executable, "-c", probe],
                          capture_output=True, text=True, timeout=30)
    return done.stdout.strip() if done.returncode == 0 else None
