"""gunicorn settings: `gunicorn -c python:dashboard.gunicorn_conf 'dashboard:create_app()'`.

One gevent worker: build streams are long-lived connections that cost a greenlet each, not a thread, every open
page polls once a second, and one process keeps the one running build that every viewer joins and the one
container snapshot they share. Port 8000 belongs to the lesson.
"""

import os
import sys

from dashboard.security import is_loopback

bind = os.environ.get("DASHBOARD_BIND", "127.0.0.1:5000")
worker_class = "gevent"
workers = int(os.environ.get("DASHBOARD_WORKERS", "1"))
worker_connections = 1000
timeout = 120
accesslog = os.environ.get("DASHBOARD_ACCESS_LOG", "-")


def on_starting(server):
    """Refuse to serve beyond this host without a configured instructor token: its holder holds the Docker socket."""
    public = [address for address in server.cfg.bind if not is_loopback(address)]
    if public and not os.environ.get("DASHBOARD_INSTRUCTOR_TOKEN"):
        sys.exit(
            f"Refusing to listen on {', '.join(public)} without DASHBOARD_INSTRUCTOR_TOKEN: whoever can press Run "
            "holds the Docker socket, which is root on this host. Set DASHBOARD_INSTRUCTOR_TOKEN to a long random "
            "secret, or bind 127.0.0.1."
        )
