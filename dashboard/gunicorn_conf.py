"""gunicorn settings: `gunicorn -c python:dashboard.gunicorn_conf 'dashboard:create_app()'`.

One gevent worker: build streams and the live list are long-lived connections that cost a greenlet each, not a
thread, and one process keeps one running build that every viewer joins. Port 8000 belongs to the lesson.
"""

import os

bind = os.environ.get("DASHBOARD_BIND", "127.0.0.1:5000")
worker_class = "gevent"
workers = int(os.environ.get("DASHBOARD_WORKERS", "1"))
worker_connections = 1000
timeout = 120
accesslog = os.environ.get("DASHBOARD_ACCESS_LOG", "-")
