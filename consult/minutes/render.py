"""Minutes as shown: Markdown rendered, then sanitised; residents' names masked."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import nh3
from markdown_it import MarkdownIt

from consult.cases.queries import mask_name

#: Raw HTML in the Markdown is shown as text, and nh3 keeps only these tags anyway.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "s",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
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


#: What Markdown (or a careless hand) may put between the characters of a name without
#: changing what a reader sees: emphasis marks, escapes, link brackets and targets, tags
#: (shown as text), spaces and invisible characters.
_GAP = r"(?:\]\([^)]*\)|[\s*_~`\\\[\]]|<[^>\n]*>|[\u00ad\u200b-\u200f\u2060\ufeff])*"


def _name_pattern(name: str) -> re.Pattern:
    return re.compile(_GAP.join(re.escape(c) for c in name))


def mask_text(text: str, names: Iterable[str], markdown: bool = False) -> str:
    """Replace each of ``names`` in plain text by its masked form, also when markup or
    invisible characters are put between its characters (王**秀**兰)."""
    for name in _ordered(names):
        masked = mask_name(name)
        if markdown:
            # A letter-like stand-in, so that emphasis around the name renders as it would
            # have around the name; render_masked puts the stars back.
            masked = masked.replace("*", _STAR)
        text = _name_pattern(name).sub(lambda _m, masked=masked: masked, text)
    return text


#: A private-use character standing for a mask's star while Markdown is rendered.
_STAR = "\ue000"


def render_masked(text: str, names: Iterable[str]) -> str:
    """Return Markdown as safe HTML with ``names`` masked before rendering."""
    names = list(names)
    markup = render_markdown(mask_markdown(text, names)).replace(_STAR, "*")
    return mask_html(markup, names)


def mask_markdown(text: str, names: Iterable[str], escape: bool = True) -> str:
    """Return Markdown with ``names`` masked before it is rendered: character references
    (&#31168;) are resolved first, so that no spelling of a name survives rendering.

    ``escape``: write the mask's stars as a stand-in that render_masked turns back into
    stars (False: the Markdown as text for people to read, e.g. the API's ``notes``)."""
    names = list(names)
    if not names:
        return text
    return mask_text(html.unescape(text), names, markdown=escape)


def mask_html(markup: str, names: Iterable[str]) -> str:
    """Replace each of ``names`` in sanitised HTML by its masked form."""
    for name in _ordered(names):
        markup = markup.replace(html.escape(name, quote=False), mask_name(name))
    return markup
