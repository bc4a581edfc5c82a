"""Asks a lesson container's port for its page from the server side, as a student would by opening it."""

import html
import re
from dataclasses import dataclass

import requests

PAGE_SHOWN = 600  # characters of a page without a cow
PRE = re.compile(r"<pre>(.*?)</pre>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class CowAnswer:
    port: int
    cow: str | None  # the text inside <pre>, when the page answered with one
    error: str | None = None
    page: str | None = None  # the start of a page that answered without a cow (another lesson's server)


def ask(host, port, timeout=3.0):
    """What http://HOST:PORT/ answers: the cow as text, or why there is none."""
    try:
        response = requests.get(f"http://{host}:{port}/", timeout=timeout)
    except requests.RequestException as error:
        return CowAnswer(port, None, f"no answer ({type(error).__name__})")
    found = PRE.search(response.text)
    if response.status_code == 200 and not found:
        return CowAnswer(port, None, page=response.text[:PAGE_SHOWN])
    if response.status_code != 200 or not found:
        return CowAnswer(port, None, f"HTTP {response.status_code} without a cow")
    return CowAnswer(port, html.unescape(found[1]).strip("\n"))
