"""Minutes as shown: Markdown rendered, then sanitised; residents' names masked."""

from __future__ import annotations

import html
from collections.abc import Iterable

import nh3
from markdown_it import MarkdownIt

from consult.cases.queries import mask_name

#: Raw HTML in the Markdown is shown as text, and nh3 keeps only these tags anyway.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "u", "s", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}


def render_markdown(text: str | None) -> str:
    """Return ``text`` (Markdown) as HTML that is safe to put in a page."""
    if not text:
        return ""
    return nh3.clean(
        _markdown.render(text),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def _ordered(names: Iterable[str]) -> list[str]:
    # Longest first, so that 王秀兰 is masked whole before a shorter 王秀 would be.
    return sorted({n.strip() for n in names if n and len(n.strip()) > 1}, key=len, reverse=True)


def mask_text(text: str, names: Iterable[str]) -> str:
    """Replace each of ``names`` in plain text (or Markdown) by its masked form."""
    for name in _ordered(names):
        text = text.replace(name, mask_name(name))
    return text


def mask_html(markup: str, names: Iterable[str]) -> str:
    """Replace each of ``names`` in sanitised HTML by its masked form."""
    for name in _ordered(names):
        markup = markup.replace(html.escape(name, quote=False), mask_name(name))
    return markup
