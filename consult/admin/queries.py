"""Reads of the administration pages: accounts and an overview."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload, selectinload

from consult.accounts.models import Membership, User
from consult.community.models import Agreement, Community, Unit, Venue
from consult.extensions import db


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
