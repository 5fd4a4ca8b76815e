"""Reads of the administration pages: accounts, paging and search arguments, an overview."""

from __future__ import annotations

from flask import request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload, selectinload

from consult.accounts.models import Membership, User
from consult.community.models import Agreement, Community, Unit, Venue
from consult.extensions import db

PER_PAGE = 20
#: Further pages than this are typing mistakes; they would only overflow OFFSET.
MAX_PAGE = 100_000
MAX_SEARCH = 100


def page_arg() -> int:
    """Return ?page= as a page number from 1 to MAX_PAGE (1 when it is not a number)."""
    page = request.args.get("page", 1, type=int)
    return min(max(page or 1, 1), MAX_PAGE)


def search_arg(name: str = "q") -> str:
    """Return a search argument, trimmed, without characters a database cannot store."""
    value = request.args.get(name, "")
    return "".join(c for c in value if c >= " " and c != "\x7f").strip()[:MAX_SEARCH]


def id_arg(name: str) -> int | None:
    """Return an integer query argument, or None when it is absent or not a number."""
    value = request.args.get(name, type=int)
    return value if value is not None and 0 < value < 2**31 else None


def paginate(query: Select, page: int):
    """Return one page of ``query`` (a count and a select: two statements)."""
    return db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)


def users_query(search: str | None = None, role: str | None = None) -> Select:
    """Select accounts by name, with their communities and unit, optionally filtered."""
    query = (
        select(User)
        .options(
            selectinload(User.memberships).joinedload(Membership.community),
            joinedload(User.unit),
        )
        .order_by(User.name, User.id)
    )
    if role:
        query = query.where(User.role == role)
    if search:
        query = query.where(
            User.name.icontains(search, autoescape=True)
            | User.email.icontains(search, autoescape=True)
        )
    return query


def overview() -> dict[str, int]:
    """Count what the administration manages, in one statement."""

    def count(model):
        return select(func.count(model.id)).scalar_subquery()

    users, communities, venues, units, agreements = db.session.execute(
        select(count(User), count(Community), count(Venue), count(Unit), count(Agreement))
    ).one()
    return {
        "users": users,
        "communities": communities,
        "venues": venues,
        "units": units,
        "agreements": agreements,
    }
