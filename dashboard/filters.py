"""Small formatting helpers for the templates: ages, sizes and the host a browser used."""

from datetime import datetime, timezone
from urllib.parse import urlsplit

from . import cli


def ago(moment):
    """'5 minutes ago', as the CREATED column of `docker ps` says it."""
    seconds = max(0, int((datetime.now(timezone.utc) - moment).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return f"{seconds} second{'' if seconds == 1 else 's'} ago"


def size(count):
    """Bytes as `docker history` shows them: 0B, 263B, 137MB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.3g}{unit}"
    return f"{count}B"


def browser_host(host_header):
    """The host name (no port) the browser used to reach the dashboard, bracketed when it is IPv6."""
    try:
        host = urlsplit(f"//{host_header}").hostname or "localhost"
    except ValueError:  # a bracketed host that is not an IPv6 address
        host = "localhost"
    return f"[{host}]" if ":" in host else host


def register(app):
    app.add_template_filter(cli.remove_command, "remove_cli")
    app.add_template_filter(ago)
    app.add_template_filter(size)
    app.add_template_filter(browser_host)
