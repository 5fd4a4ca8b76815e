"""The API's validation messages in the requester's language.

marshmallow and webargs write their messages in English, already formatted. Each one
the API can give is listed here once, as its English form (with ``{name}`` where
marshmallow puts a value) beside the catalog's message; ``translate`` finds which one a
message is and answers it in the language of the request. A message not listed stays
as it is.
"""

from __future__ import annotations

import functools
import re

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

#: (marshmallow's English, the catalog's message with %(name)s for each {name}).
TEMPLATES = [
    ("Missing data for required field.", _l("Missing data for required field.")),
    ("Field may not be null.", _l("Field may not be null.")),
    ("Unknown field.", _l("Unknown field.")),
    ("Invalid input type.", _l("Invalid input type.")),
    ("Invalid input.", _l("Invalid input.")),
    ("Invalid type.", _l("Invalid type.")),
    ("Invalid value.", _l("Invalid value.")),
    ("Not a valid integer.", _l("Not a valid integer.")),
    ("Number too large.", _l("Number too large.")),
    ("Not a valid number.", _l("Not a valid number.")),
    ("Not a valid string.", _l("Not a valid string.")),
    ("Not a valid utf-8 string.", _l("Not a valid UTF-8 string.")),
    ("Not a valid boolean.", _l("Not a valid boolean.")),
    ("Not a valid date.", _l("Not a valid date.")),
    ("Not a valid datetime.", _l("Not a valid datetime.")),
    ("Not a valid aware datetime.", _l("Not a valid datetime with a UTC offset.")),
    ("Not a valid list.", _l("Not a valid list.")),
    ("Not a valid mapping type.", _l("Not a valid object.")),
    ("Length must be between {min} and {max}.", _l("Length must be between %(min)s and %(max)s.")),
    ("Longer than maximum length {max}.", _l("Longer than maximum length %(max)s.")),
    ("Shorter than minimum length {min}.", _l("Shorter than minimum length %(min)s.")),
    ("Must be one of: {choices}.", _l("Must be one of: %(choices)s.")),
    (
        "Must be greater than or equal to {min} and less than or equal to {max}.",
        _l("Must be between %(min)s and %(max)s."),
    ),
    ("Must be greater than or equal to {min}.", _l("Must be at least %(min)s.")),
    ("Must be less than or equal to {max}.", _l("Must be at most %(max)s.")),
    # The API's own checks (consult.api.schemas, consult.api.sessions, consult.lists).
    ("Must not be empty.", _l("Must not be empty.")),
    ("Must not contain a NUL character.", _l("Must not contain a NUL character.")),
    (
        "Contains a character that cannot be stored (NUL).",
        _l("Contains a character that cannot be stored (NUL)."),
    ),
    ("Give a date between {min} and {max}.", _l("Give a date between %(min)s and %(max)s.")),
    ("Not a date or datetime.", _l("Not a date or datetime.")),
    ("Not a date or an ISO 8601 datetime.", _l("Not a date or an ISO 8601 datetime.")),
    ("The datetime needs a UTC offset.", _l("The datetime needs a UTC offset.")),
    ("Not a valid id.", _l("Not a valid id.")),
]


@functools.cache
def _patterns() -> list[tuple[re.Pattern, str]]:
    out = []
    for english, message in TEMPLATES:
        pattern = re.escape(english)
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", pattern)
        out.append((re.compile(pattern + r"\Z", re.DOTALL), message._args[0]))
    return out


def translate(text: str) -> str:
    """Return marshmallow's English ``text`` in the language of the request."""
    for pattern, msgid in _patterns():
        match = pattern.match(text)
        if match:
            return gettext(msgid, **match.groupdict())
    return text
