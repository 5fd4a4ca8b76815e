"""List arguments and pagination, for pages and the API alike.

Every list reads its page, page size, ids and search text here, so that one maximum
holds everywhere and no number a database cannot hold reaches a query:

- pages read ``page_arg()``, ``id_arg()``, ``search_arg()``: a value that is not a
  number, or out of range, reads as absent (page 1, no filter), and the page answers 200;
- the API declares ``PageQuery`` (and ``Id``/``IdArg`` fields) in its schemas: such a
  value is refused with 422, and answers carry one envelope (``page_envelope``);
- ids in URLs go through ``IdConverter`` (``<int:...>`` and ``<id:...>``): an id no row
  can have (0, negative, beyond the id column) answers 404 before any query runs.
"""

from __future__ import annotations

from flask import request
from marshmallow import Schema, fields, validate
from sqlalchemy import Select
from werkzeug.routing import IntegerConverter

from consult.api.schemas import QuerySchema
from consult.extensions import db

#: The largest id a row can have: ids are INTEGER columns (32 bits on PostgreSQL).
MAX_ID = 2**31 - 1
#: Further pages than this are typing mistakes; they would only overflow OFFSET.
MAX_PAGE = 100_000
PER_PAGE = 20
#: The one maximum of a page's size, for pages and the API.
MAX_PER_PAGE = 100
MAX_SEARCH = 100


def valid_id(value) -> int | None:
    """Return ``value`` as an id a row can have, or None (not a number, 0, out of range)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isascii() or not value.isdigit() or len(value) > 10:
            return None
        value = int(value)
    if not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_ID else None


def _bounded(raw: str | None, default: int, maximum: int) -> int:
    value = valid_id(raw) if raw is not None else None
    return min(value, maximum) if value is not None else default


def page_arg(name: str = "page") -> int:
    """Return ?page= as a page number from 1 to MAX_PAGE (1 when it is not one)."""
    return _bounded(request.args.get(name), 1, MAX_PAGE)


def id_arg(name: str) -> int | None:
    """Return an id in the query string, or None when it is absent or no row can have it."""
    return valid_id(request.args.get(name))


def int_arg(name: str, choices) -> int | None:
    """Return an integer query argument that is one of ``choices``, or None."""
    value = valid_id(request.args.get(name))
    return value if value in choices else None


def search_arg(name: str = "q") -> str:
    """Return a search argument, trimmed, without characters a database cannot store."""
    value = request.args.get(name, "")
    return "".join(c for c in value if c >= " " and c != "\x7f").strip()[:MAX_SEARCH]


def paginate(query: Select, page: int = 1, per_page: int = PER_PAGE, total=None):
    """Return one page of ``query`` (a count and a select), within the maxima.

    ``total``: a function that returns the number of rows instead of counting them
    (one kept in a cache)."""
    pagination = db.paginate(
        query,
        page=min(max(page, 1), MAX_PAGE),
        per_page=min(max(per_page, 1), MAX_PER_PAGE),
        max_per_page=MAX_PER_PAGE,
        error_out=False,
        count=total is None,
    )
    if total is not None:
        pagination.total = total()
    return pagination


# -- the API -----------------------------------------------------------------------------


def Id(**kwargs) -> fields.Integer:  # noqa: N802  (reads like a field class)
    """A reference in a JSON body: an integer (not 1.5, not "10") that a row can have."""
    return fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=MAX_ID, error="Not a valid id."),
        **kwargs,
    )


def IdArg(**kwargs) -> fields.Integer:  # noqa: N802
    """An id in the query string (text, so not strict)."""
    return fields.Integer(
        validate=validate.Range(min=1, max=MAX_ID, error="Not a valid id."), **kwargs
    )


class PageQuery(QuerySchema):
    """?page= and ?per_page= of an API list; per_page above the maximum is capped."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(
        load_default=PER_PAGE,
        validate=validate.Range(min=1),
        metadata={"description": f"At most {MAX_PER_PAGE} (larger values are capped)"},
    )


class PageSchema(Schema):
    """The envelope of every API list that pages: items, page, pages, total."""

    page = fields.Integer()
    pages = fields.Integer()
    total = fields.Integer()


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """Return the page envelope of ``item_schema`` (named ``name`` in the OpenAPI document)."""
    return type(name, (PageSchema,), {"items": fields.List(fields.Nested(item_schema))})


def api_page(query: Select, args: dict):
    """Return the page of ``query`` that PageQuery's ``args`` ask for."""
    return paginate(query, args["page"], min(args["per_page"], MAX_PER_PAGE))


def page_envelope(page, items: list) -> dict:
    """Return the API's answer for one page: its items and where it stands."""
    return {"items": items, "page": page.page, "pages": page.pages, "total": page.total}


class IdConverter(IntegerConverter):
    """A row id in a URL: 1 to MAX_ID, so that 0 or a huge number is 404, not an overflow."""

    #: No leading zero, at most 10 digits: other text matches no route at all (404).
    regex = r"[1-9]\d{0,9}"

    def __init__(self, url_map, *args, **kwargs):
        kwargs.update(min=1, max=MAX_ID)
        super().__init__(url_map, *args, **kwargs)
