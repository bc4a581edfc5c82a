"""Small helpers for the templates: ages, sizes, the host a browser used, where published ports answer, and the
engine every page names."""

import re
import time
from functools import lru_cache
from datetime import datetime, timezone
from urllib.parse import urlsplit

import segno
from markupsafe import Markup, escape

from ..domain import commands
from .extensions import get_engine
from .security import is_instructor


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


def port_link_host(host_header):
    """The host the links to published ports name: the engine's address when DOCKER_HOST is another machine
    (its ports are there), else the host the browser used to reach the dashboard."""
    return get_engine().endpoint.published_host(browser_host(host_header))


def engine_about():
    """What the engine says of itself for the line every page shows (kept up to 30 s), or None while it does not
    answer."""
    return get_engine().about()


def engine_endpoint():
    """Where the dashboard reaches the engine (DOCKER_HOST, the docker context's endpoint, or the local socket);
    None for a signed-out viewer when it is a TCP address (named on the projector, it invites anyone to drive the
    engine): the instructor's only."""
    endpoint = get_engine().endpoint
    return endpoint.url if is_instructor() or not endpoint.is_tcp else None


def engine_text(text):
    """An engine error's text as this viewer may see it: without the engine's TCP address (the SDK's messages
    name its host and port) unless the viewer is the instructor."""
    endpoint = get_engine().endpoint
    if not text or engine_endpoint() is not None:
        return text
    parts = urlsplit(endpoint.url)
    try:
        port = parts.port
    except ValueError:
        port = None
    text = str(text).replace(endpoint.url, "the engine's address")
    text = re.sub(r"host='[^']*', port=\d+", "host=…, port=…", text)
    for secret in filter(None, (parts.netloc, parts.hostname, port and str(port))):
        text = re.sub(rf"(?<![\w.]){re.escape(secret)}(?![\w.])", "…", text)  # whole words: never "10 s"
    return text


def engine_remote_address():
    """The engine's machine when it is another one (its published ports answer there), else None."""
    return get_engine().remote_address


INLINE_CODE = re.compile(r"`([^`\n]+)`")


def lesson_text(text):
    """A lesson file's text as HTML: escaped first, so nothing in the file is markup; then `code` spans, and a
    paragraph per blank-line-separated block."""
    paragraphs = [" ".join(block.split()) for block in re.split(r"\n\s*\n", text or "") if block.strip()]
    return Markup("".join(f"<p>{inline_code(paragraph)}</p>" for paragraph in paragraphs))


def inline_code(text):
    """Escaped text with its `code` spans as <code>: the Dockerfile's explanations."""
    return Markup(INLINE_CODE.sub(r"<code>\1</code>", str(escape(text))))


def clock(epoch):
    """A moment as this host's clock shows it, to the minute: when a class ends."""
    return time.strftime("%H:%M %Z", time.localtime(epoch))


@lru_cache(maxsize=1024)
def qr_svg(text):
    """`text` as a QR code in inline SVG, sized by CSS; segno draws modules only, so none of `text` is markup."""
    return Markup(segno.make(text, micro=False).svg_inline(omitsize=True, border=2))


def register(app):
    app.add_template_filter(qr_svg)
    app.add_template_filter(clock)
    app.add_template_filter(lesson_text)
    app.add_template_filter(inline_code)
    app.add_template_filter(commands.remove_command, "remove_cli")
    app.add_template_filter(ago)
    app.add_template_filter(size)
    app.add_template_filter(browser_host)
    app.add_template_filter(port_link_host)
    app.add_template_filter(engine_text)
    app.add_template_global(engine_about)
    app.add_template_global(engine_endpoint)
    app.add_template_global(engine_remote_address)
