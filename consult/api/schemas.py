"""Shared marshmallow pieces for the API: strict types, aware datetimes."""

from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields


class StrictSchema(Schema):
    """A request body: unknown fields are refused (422), so typos do not pass silently."""

    class Meta:
        unknown = RAISE


class QuerySchema(Schema):
    """Query-string arguments: other parameters (e.g. ?lang=) are ignored."""

    class Meta:
        unknown = EXCLUDE


def StrictInt(**kwargs) -> fields.Integer:  # noqa: N802  (reads like a field class)
    """An integer that refuses 1.5 and "10"."""
    return fields.Integer(strict=True, **kwargs)


def AwareDateTime(**kwargs) -> fields.AwareDateTime:  # noqa: N802
    """An ISO 8601 datetime that must carry an offset."""
    return fields.AwareDateTime(format="iso", **kwargs)
