"""Which characters free text may hold, and text made safe for a mail header.

Free text entered anywhere (pages, API, command line) goes through
``consult.errors.clean_text``, which applies these rules:

- multi-line text (descriptions, notes): CRLF, CR and the Unicode line breaks
  U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR and U+0085 NEXT LINE become "\\n";
- single-line text (titles, names): every line break, these included, is refused;
- everywhere: other control characters (C0 but tab and line feed, DEL, C1) and the
  bidirectional embedding, override and isolate controls (which can disguise text)
  are refused.

Mail headers never take text as it is stored: ``header_text`` flattens it to one line,
so that no title written before these rules (or by any other way) can break a message.
"""

from __future__ import annotations

import re
import unicodedata

#: Characters that end a line for Python's str.splitlines() besides CR and LF.
UNICODE_LINE_BREAKS = "\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e"
#: Bidirectional embedding, override and isolate controls.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029\x85]")
_WHITESPACE = re.compile(r"\s+")


def normalise_line_breaks(text: str) -> str:
    """Return ``text`` with CRLF, CR, U+2028, U+2029 and U+0085 as "\\n"."""
    return _BREAKS.sub("\n", text)


def is_forbidden(char: str, allowed: str = "") -> bool:
    """Whether ``char`` may not appear in free text (unless in ``allowed``)."""
    if char in allowed:
        return False
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in BIDI_CONTROLS


def has_forbidden(text: str, allowed: str = "") -> bool:
    return any(is_forbidden(c, allowed) for c in text)


def header_text(value: object) -> str:
    """Return ``value`` as one line fit for a mail header: every control character, line
    or paragraph separator becomes a space, and runs of white space one space."""
    text = "" if value is None else str(value)
    text = "".join(" " if is_forbidden(c) or c in UNICODE_LINE_BREAKS else c for c in text)
    return _WHITESPACE.sub(" ", text).strip()
