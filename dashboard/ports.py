"""Whether a host port can still be published, checked before a container is created rather than after it fails."""

import socket


def host_port_free(port):
    """True when nothing on this host listens on `port` (on all interfaces, as `docker run -p` publishes it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True
