"""Small readers of the shell's HTML for the web tests."""

from __future__ import annotations

import re
from html import unescape

NAV_RE = re.compile(r'<ul class="navbar-nav[^"]*" data-nav="main">(.*?)</ul>', re.S)
ENDPOINT_RE = re.compile(r'data-endpoint="([^"]+)"')
FIGURE_RE = re.compile(r'data-figure="([^"]+)">\s*(\d+)\s*<')
LANG_RE = re.compile(r'<html lang="([^"]+)">')


def html_of(response) -> str:
    return response.get_data(as_text=True)


def nav_endpoints(response) -> set[str]:
    """Return the endpoints linked from the main navigation bar."""
    match = NAV_RE.search(html_of(response))
    assert match, "no main navigation in the page"
    return set(ENDPOINT_RE.findall(match.group(1)))


def figures(response) -> dict[str, int]:
    """Return the statistics page's figures by key ("cases.total": 5, ...)."""
    return {key: int(value) for key, value in FIGURE_RE.findall(html_of(response))}


def page_lang(response) -> str:
    match = LANG_RE.search(html_of(response))
    assert match, "no <html lang> in the page"
    return match.group(1)


def text_of(response) -> str:
    """Return the page's text without tags (entities decoded), whitespace collapsed."""
    body = re.sub(r"<script.*?</script>", " ", html_of(response), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def as_new_request() -> None:
    """Forget what the tests' application context keeps between requests (the signed-in
    user, loaded objects), so that a request counts its queries as it would when served."""
    from flask import g

    from consult.extensions import db

    g.pop("_login_user", None)
    db.session.expire_all()
