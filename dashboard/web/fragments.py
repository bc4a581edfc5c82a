"""Fragments every viewer of a kind sees alike, rendered once per version of what they show.

When the container list changes, every open page asks for it within a refresh period: 300 rows rendered for each
of 50 viewers would keep the one worker busy for most of a second. A fragment kept here is rendered for the first
viewer of its kind and sent as it is to the others until its version changes. `vary` names what differs between
viewers (the host they used, whether they are the instructor): anything a fragment shows per viewer must be in it.
"""

import threading

from flask import current_app, render_template

MAX_KINDS = 16  # renderings kept per version: the Host header is the client's to choose, so the cache stays bounded


class RenderedOnce:
    """The renderings of one template for its current version, by kind of viewer."""

    def __init__(self):
        self._lock = threading.Lock()
        self._version = None
        self._pages = {}

    def get(self, version, vary, render):
        with self._lock:
            if version != self._version:
                self._version, self._pages = version, {}
            page = self._pages.get(vary)
        if page is None:
            page = render()
            with self._lock:
                if version == self._version and len(self._pages) < MAX_KINDS:
                    self._pages[vary] = page
        return page


def render_once(template, version, vary, kind=None, **context):
    """render_template(template, **context), or the text it gave for this version and kind of viewer before.
    `kind`: a cache of its own for renderings of the template whose versions move apart (each seat's board)."""
    cache = current_app.extensions.setdefault("rendered_once", {}).setdefault(kind or template, RenderedOnce())
    return cache.get(version, vary, lambda: render_template(template, **context))
