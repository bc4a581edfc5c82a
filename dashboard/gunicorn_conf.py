"""gunicorn settings: `gunicorn -c python:dashboard.gunicorn_conf 'dashboard:create_app()'`.

One gevent worker: the live stream (one per browser) and build streams are long-lived connections that cost a
greenlet each, not a thread, and one process keeps the one running build that every viewer joins and the one
container snapshot they share. The values come from config.py's table (DASHBOARD_BIND, …), as the app's do. Port
8000 belongs to the lesson.
"""

import os
import sys

# Every module-level name here is read as a gunicorn setting: import functions, never a module called `config`.

from dashboard import open_lessons, open_workshop
from dashboard.config import ConfigError, check_workers, defaults, from_environment
from dashboard.web.security import is_loopback

try:
    _settings, _refused = {**defaults(), **from_environment(os.environ)}, None
except ConfigError as error:  # said in on_starting, as gunicorn's own refusal, not as a traceback here
    _settings, _refused = defaults(), error

bind = _settings["BIND"]
worker_class = "gevent"  # not a setting: the dashboard's streams and shared state are made for one gevent worker
workers = 1  # checked in on_starting: DASHBOARD_WORKERS (or -w) above 1 is refused with the reason
worker_connections = 1000
timeout = _settings["WORKER_TIMEOUT"]
accesslog = _settings["ACCESS_LOG"]
logger_class = "dashboard.redacted_log.RedactedLogger"  # seat links and join codes left out of the access log


def on_starting(server):
    """Refuse to start with settings the app would refuse, with more than one worker, or serving beyond this host
    without a configured instructor token (its holder holds the Docker socket); each with the reason."""
    try:
        if _refused is not None:
            raise _refused
        check_workers(str(server.cfg.workers))  # -w or GUNICORN_CMD_ARGS, which win over this file's 1
        check_workers(str(_settings["WORKERS"]))
        catalog = open_lessons(_settings)  # every refused lesson is logged with its file, step and field
        open_workshop(_settings, catalog)  # a folder it cannot make: said here, not as a worker's traceback
    except ConfigError as error:
        sys.exit(f"Refusing to start: {error}")
    https_bind = _settings["HTTPS_BIND"]
    public = [address for address in [*server.cfg.bind, *([https_bind] if https_bind else [])]
              if not is_loopback(address)]
    if public and _settings["INSTRUCTOR_TOKEN"] is None:
        sys.exit(
            f"Refusing to listen on {', '.join(public)} without DASHBOARD_INSTRUCTOR_TOKEN: whoever can press Run "
            "holds the Docker socket, which is root on this host. Set DASHBOARD_INSTRUCTOR_TOKEN to a long random "
            "secret, or bind 127.0.0.1."
        )


def post_worker_init(worker):
    """With DASHBOARD_HTTPS_BIND, serve the app over HTTPS there too, from this worker: the instructor's way in
    from another machine (self-signed certificate made at first start, in the instance folder). Terminals close
    as the worker is told to stop."""
    from dashboard.web.blueprints.terminal import close_on_stop

    close_on_stop(worker)
    https_bind = _settings["HTTPS_BIND"]
    if https_bind:
        from dashboard.web import tls

        tls.serve(worker.wsgi, https_bind)
        worker.log.info("Instructor's HTTPS on https://%s/ (certificate: %s)", https_bind,
                        os.path.join(worker.wsgi.instance_path, tls.CERTIFICATE))


def worker_exit(server, worker):
    """Close the engine's event streams as the worker ends."""
    from dashboard.domain.snapshot import stop_watchers

    stop_watchers()
