"""Whether a host port can still be published, checked before a container is created rather than after it fails."""

import socket


def host_port_free(port):
    """True when nothing on this host listens on `port` (on all interfaces, as `docker run -p` publishes it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As a server binds: a connection that just closed (TIME_WAIT) does not hold the port, a listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True
