"""Shared marshmallow pieces for the API: strict types, aware datetimes, safe text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate

#: Datetimes outside these years are refused: they are typing mistakes, and the far
#: ends of Python's range overflow when converted to UTC.
MIN_YEAR, MAX_YEAR = 1900, 2999


def _unstorable(value) -> bool:
    """Return whether ``value`` holds text no database can store (NUL, lone surrogates)."""
    if isinstance(value, str):
        return "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, Mapping):
        return any(_unstorable(k) or _unstorable(value.get(k)) for k in value)
    if isinstance(value, list | tuple):
        return any(_unstorable(v) for v in value)
    return False


class _SafeTextSchema(Schema):
    @pre_load
    def _refuse_unstorable_text(self, data, **kwargs):
        if isinstance(data, Mapping):
            bad = [str(k) for k in data if _unstorable(k) or _unstorable(data.get(k))]
            if bad:
                raise ValidationError(
                    {key: ["Contains a character that cannot be stored (NUL)."] for key in bad}
                )
        return data


class StrictSchema(_SafeTextSchema):
    """A request body: unknown fields are refused (422), so typos do not pass silently."""

    class Meta:
        unknown = RAISE


class QuerySchema(_SafeTextSchema):
    """Query-string arguments: other parameters (e.g. ?lang=) are ignored."""

    class Meta:
        unknown = EXCLUDE


def StrictInt(**kwargs) -> fields.Integer:  # noqa: N802  (reads like a field class)
    """An integer that refuses 1.5 and "10"."""
    return fields.Integer(strict=True, **kwargs)


class _StrictBoolean(fields.Boolean):
    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def StrictBool(**kwargs) -> fields.Boolean:  # noqa: N802
    """A boolean that is true or false, and refuses 1, "yes" and "true"."""
    return _StrictBoolean(**kwargs)


class _AwareDateTimeField(fields.AwareDateTime):
    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_utc = result.astimezone(UTC)
        except OverflowError:
            in_utc = None
        if in_utc is None or not MIN_YEAR <= in_utc.year <= MAX_YEAR:
            raise ValidationError(f"Give a date between {MIN_YEAR} and {MAX_YEAR}.")
        return result


def AwareDateTime(**kwargs) -> fields.AwareDateTime:  # noqa: N802
    """An ISO 8601 datetime that must carry an offset (and lie between 1900 and 2999)."""
    return _AwareDateTimeField(format="iso", **kwargs)


class _OneOfNamed(validate.OneOf):
    """``validate.OneOf`` whose message names each value in the reader's language, with
    the code a client sends ("民生诉求（concern）、矛盾纠纷（conflict）和急难愁盼（urgent）")."""

    def __init__(self, choices, vocabulary: str | None):
        super().__init__([str(c) for c in choices])
        self.vocabulary = vocabulary

    def _format_error(self, value) -> str:
        from flask_babel import gettext

        from consult.i18n import Choices

        return gettext(
            "Must be one of: %(choices)s.", choices=str(Choices(self.choices, self.vocabulary))
        )


def one_of(choices, vocabulary: str | None = None) -> validate.OneOf:
    """Accept only ``choices``; ``vocabulary`` names them for readers (consult.i18n labels)."""
    return _OneOfNamed(choices, vocabulary)
