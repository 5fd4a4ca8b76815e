"""Reads of the home and statistics pages."""

from __future__ import annotations

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import joinedload

from consult.community.models import AllianceMember, Community, Unit
from consult.enums import UNIT_KINDS
from consult.extensions import db
from consult.meetings.models import Meeting
from consult.permissions import visible_meetings_clause
from consult.types import utcnow

#: The alliance's published groups (DESIGN.md): "agencies and organisations" are every
#: kind but owners' committees and property companies.
AGENCY_KINDS = tuple(k for k in UNIT_KINDS if k not in ("owners_committee", "property_company"))


def upcoming_sessions(user, limit: int = 10) -> list[Meeting]:
    """Return the next sessions ``user`` may see, with community and venue: those of the
    person's own communities first, then the others, each soonest first."""
    query = select(Meeting).where(
        Meeting.starts_at >= utcnow(),
        Meeting.status != "cancelled",
        visible_meetings_clause(user),
    )
    own = own_community_ids(user)
    order = [Meeting.starts_at, Meeting.id]
    if own:
        order.insert(0, case((Meeting.community_id.in_(own), 0), else_=1))
    return list(
        db.session.scalars(
            query.options(joinedload(Meeting.community), joinedload(Meeting.venue))
            .order_by(*order)
            .limit(limit)
        )
    )


def own_community_ids(user) -> list[int]:
    """Return the ids of the communities a signed-in person belongs to."""
    if not getattr(user, "is_authenticated", False):
        return []
    return [m.community_id for m in user.memberships]


def community_choices() -> list[tuple[int, str]]:
    """Return (id, name) of every community, by name."""
    return [
        (row.id, row.name)
        for row in db.session.execute(
            select(Community.id, Community.name).order_by(Community.name)
        )
    ]


def alliance_counts(community_id: int | None = None) -> dict:
    """Count the alliance's units by kind, and the communities and their brands.

    With ``community_id``, only the units in that community's alliance are counted.
    """
    units = select(Unit.kind, func.count(Unit.id)).group_by(Unit.kind)
    if community_id is not None:
        units = units.where(
            Unit.id.in_(
                select(AllianceMember.unit_id).where(AllianceMember.community_id == community_id)
            )
        )
    by_kind = dict.fromkeys(UNIT_KINDS, 0)
    by_kind.update({kind: n for kind, n in db.session.execute(units)})
    communities, brands = db.session.execute(
        select(func.count(Community.id), func.count(distinct(Community.brand)))
    ).one()
    return {
        "units": {
            "total": sum(by_kind.values()),
            "agencies_and_organisations": sum(by_kind[k] for k in AGENCY_KINDS),
            "by_kind": by_kind,
        },
        "communities": communities,
        "brands": brands,
    }
