"""Reads about communities, venues, alliance units and agreements, shared by pages and API."""

from __future__ import annotations

from sqlalchemy import Select, func, nulls_last, select
from sqlalchemy.orm import joinedload

from consult.community.models import Agreement, AllianceMember, Community, Unit, Venue
from consult.extensions import db


def community_named(name: str | None) -> Community | None:
    """Return the community called ``name`` (trimmed), or None when there is none."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        return None
    return db.session.scalar(select(Community).where(Community.name == name.strip()))


def community_choices() -> list[tuple[int, str]]:
    """Return (id, name) of every community, by name."""
    rows = db.session.execute(select(Community.id, Community.name).order_by(Community.name))
    return [(cid, name) for cid, name in rows]


def unit_choices(not_in_alliance_of: int | None = None) -> list[tuple[int, str]]:
    """Return (id, name) of every unit, by name; optionally only those outside an alliance."""
    query = select(Unit.id, Unit.name).order_by(Unit.name)
    if not_in_alliance_of is not None:
        members = select(AllianceMember.unit_id).where(
            AllianceMember.community_id == not_in_alliance_of
        )
        query = query.where(Unit.id.not_in(members))
    return [(uid, name) for uid, name in db.session.execute(query)]


def communities_query(search: str | None = None) -> Select:
    """Select communities by name, optionally those whose name or brand holds ``search``."""
    query = select(Community).order_by(Community.name, Community.id)
    if search:
        query = query.where(
            Community.name.icontains(search, autoescape=True)
            | Community.brand.icontains(search, autoescape=True)
        )
    return query


def community_figures(community_ids: list[int]) -> dict[int, dict[str, int]]:
    """Return {id: {"venues", "units", "agreements"}} for these communities, in one query."""
    if not community_ids:
        return {}

    def counted(model):
        return (
            select(func.count(model.id))
            .where(model.community_id == Community.id)
            .correlate(Community)
            .scalar_subquery()
        )

    rows = db.session.execute(
        select(Community.id, counted(Venue), counted(AllianceMember), counted(Agreement)).where(
            Community.id.in_(community_ids)
        )
    )
    return {cid: {"venues": v, "units": u, "agreements": a} for cid, v, u, a in rows}


def venues_query(community_id: int | None = None, search: str | None = None) -> Select:
    """Select venues with their community and unit, by community then name."""
    query = (
        select(Venue)
        .outerjoin(Community, Community.id == Venue.community_id)
        .options(joinedload(Venue.community), joinedload(Venue.unit))
        .order_by(nulls_last(Community.name.asc()), Venue.name, Venue.id)
    )
    if community_id is not None:
        query = query.where(Venue.community_id == community_id)
    if search:
        query = query.where(Venue.name.icontains(search, autoescape=True))
    return query


def units_query(search: str | None = None, kind: str | None = None) -> Select:
    """Select alliance units by name, optionally by kind and a part of the name."""
    query = select(Unit).order_by(Unit.name, Unit.id)
    if kind:
        query = query.where(Unit.kind == kind)
    if search:
        query = query.where(Unit.name.icontains(search, autoescape=True))
    return query


def unit_alliances(unit_ids: list[int]) -> dict[int, list[str]]:
    """Return {unit id: [community names]} of the alliances these units belong to."""
    if not unit_ids:
        return {}
    rows = db.session.execute(
        select(AllianceMember.unit_id, Community.name)
        .join(Community, Community.id == AllianceMember.community_id)
        .where(AllianceMember.unit_id.in_(unit_ids))
        .order_by(Community.name)
    )
    out: dict[int, list[str]] = {uid: [] for uid in unit_ids}
    for unit_id, name in rows:
        out[unit_id].append(name)
    return out


def agreements_query(community_id: int | None = None, unit_id: int | None = None) -> Select:
    """Select agreements with their parties, the most recently signed first."""
    query = select(Agreement).options(joinedload(Agreement.community), joinedload(Agreement.unit))
    if community_id is not None:
        query = query.where(Agreement.community_id == community_id)
    if unit_id is not None:
        query = query.where(Agreement.unit_id == unit_id)
    return query.order_by(Agreement.signed_on.desc(), Agreement.id.desc())


def alliance_members(community_id: int) -> list[AllianceMember]:
    """Return a community's alliance: the host rotation in order, then the other units."""
    return list(
        db.session.scalars(
            select(AllianceMember)
            .join(Unit, Unit.id == AllianceMember.unit_id)
            .options(joinedload(AllianceMember.unit))
            .where(AllianceMember.community_id == community_id)
            .order_by(nulls_last(AllianceMember.rotation_position.asc()), Unit.name)
        )
    )
