"""Reads of the home and statistics pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, distinct, func, or_, select, true
from sqlalchemy.orm import joinedload

from consult.cases.grid import overdue_clause
from consult.cases.models import Case, Evaluation, Issue
from consult.community.models import AllianceMember, Community, Unit
from consult.enums import ActionStatus, IssueStatus, MinutesStatus, Role, SessionStatus, UnitKind
from consult.extensions import db
from consult.meetings.models import Meeting, Registration
from consult.minutes.models import ActionItem, Minutes
from consult.permissions import staff_communities, visible_meetings_clause
from consult.types import utcnow

#: The alliance's published groups: "agencies and organisations" are every
#: kind but owners' committees and property companies.
AGENCY_KINDS = tuple(k for k in UnitKind if k not in ("owners_committee", "property_company"))


def upcoming_sessions(user, limit: int = 10) -> list[Meeting]:
    """Return the next sessions ``user`` may see, with community and venue: those of the
    person's own communities first, then the others, each soonest first."""
    query = select(Meeting).where(
        Meeting.starts_at >= utcnow(),
        Meeting.status != SessionStatus.CANCELLED,
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
        for row in db.session.execute(select(Community.id, Community.name).order_by(Community.name))
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
    by_kind: dict[str, int] = dict.fromkeys(UnitKind, 0)
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


# -- the home page: what waits for this person -------------------------------------------


#: How many entries each list of the home page shows (the link leads to the rest).
WAITING_LIMIT = 5


@dataclass
class Waiting:
    """One list of the home page: things waiting for the reader, the soonest first."""

    key: str
    #: Meetings, minutes, cases, issues, actions or registrations, as the key says.
    items: list = field(default_factory=list)
    #: How many there are in all (``items`` holds at most WAITING_LIMIT).
    total: int = 0


def _limited(key: str, query) -> Waiting:
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(db.session.scalars(query.limit(WAITING_LIMIT))) if total else []
    return Waiting(key, items, total or 0)


def _in_communities(user, column):
    """Keep rows of the communities the reader is staff of; town-level staff see all."""
    ids = staff_communities(user)
    if ids is None:
        return true()
    return column.in_(ids)


def minutes_to_approve(user, now: datetime) -> Waiting:
    """Draft minutes of sessions that have started: the cadre's approvals."""
    query = (
        select(Minutes)
        .join(Meeting, Meeting.id == Minutes.meeting_id)
        .where(
            Minutes.status == MinutesStatus.DRAFT,
            Meeting.starts_at <= now,
            Meeting.status != SessionStatus.CANCELLED,
            _in_communities(user, Meeting.community_id),
        )
        .options(joinedload(Minutes.meeting))
        .order_by(Meeting.starts_at, Meeting.id)
    )
    return _limited("minutes_to_approve", query)


def overdue_cases(user, now: datetime) -> Waiting:
    """Cases past their level's time limit, longest overdue first."""
    query = (
        select(Case)
        .where(overdue_clause(now), _in_communities(user, Case.community_id))
        .order_by(Case.level_since, Case.id)
    )
    return _limited("overdue_cases", query)


def sessions_this_week(user, now: datetime) -> Waiting:
    """Sessions of the coming seven days: the secretary's agendas and attendance lists."""
    query = (
        select(Meeting)
        .where(
            Meeting.starts_at >= now - timedelta(hours=12),
            Meeting.starts_at < now + timedelta(days=7),
            Meeting.status != SessionStatus.CANCELLED,
            _in_communities(user, Meeting.community_id),
        )
        .options(joinedload(Meeting.community), joinedload(Meeting.venue))
        .order_by(Meeting.starts_at, Meeting.id)
    )
    return _limited("sessions_this_week", query)


def unfinished_minutes(user, now: datetime) -> Waiting:
    """Sessions that have ended without minutes, or with minutes still in draft."""
    drafted = select(Minutes.meeting_id).where(Minutes.status != MinutesStatus.DRAFT)
    query = (
        select(Meeting)
        .where(
            Meeting.ends_at <= now,
            Meeting.status != SessionStatus.CANCELLED,
            Meeting.id.not_in(drafted),
            _in_communities(user, Meeting.community_id),
            Meeting.starts_at >= now - timedelta(days=90),
        )
        .options(joinedload(Meeting.community))
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
    )
    return _limited("unfinished_minutes", query)


def issues_to_rate(user) -> Waiting:
    """Resolved issues of the communities one represents, not yet rated by one this round."""
    represented = [m.community_id for m in user.memberships if m.is_representative]
    rated = select(Evaluation.id).where(
        Evaluation.issue_id == Issue.id,
        Evaluation.user_id == user.id,
        Evaluation.round == Issue.evaluation_round,
    )
    query = (
        select(Issue)
        .where(
            Issue.status == IssueStatus.RESOLVED,
            Issue.community_id.in_(represented),
            ~rated.exists(),
        )
        .order_by(Issue.resolved_at, Issue.id)
    )
    return _limited("issues_to_rate", query)


def open_actions(user) -> Waiting:
    """Open actions assigned to one's unit or to oneself, soonest due first."""
    mine = ActionItem.assignee_id == user.id
    if user.unit_id is not None:
        mine = or_(mine, ActionItem.unit_id == user.unit_id)
    query = (
        select(ActionItem)
        .where(ActionItem.status == ActionStatus.OPEN, mine)
        .order_by(ActionItem.due_on.is_(None), ActionItem.due_on, ActionItem.id)
    )
    return _limited("open_actions", query)


def next_sign_ups(user, now: datetime) -> Waiting:
    """One's coming sign-ups (confirmed or on the waiting list), soonest first."""
    query = (
        select(Registration)
        .join(Meeting, Meeting.id == Registration.meeting_id)
        .where(
            Registration.user_id == user.id,
            Registration.status.in_(("confirmed", "waitlisted")),
            Meeting.ends_at > now,
            Meeting.status != SessionStatus.CANCELLED,
        )
        .options(joinedload(Registration.meeting).joinedload(Meeting.community))
        .order_by(Meeting.starts_at, Meeting.id)
    )
    return _limited("next_sign_ups", query)


def waiting_for(user, now: datetime | None = None) -> list[Waiting]:
    """Return what waits for ``user``, by role (and representation), in the page's order."""
    now = now or utcnow()
    lists: list[Waiting] = []
    if user.role in ("admin", "cadre"):
        lists += [minutes_to_approve(user, now), overdue_cases(user, now)]
    if user.role == Role.SECRETARY:
        lists += [sessions_this_week(user, now), unfinished_minutes(user, now)]
    if any(m.is_representative for m in user.memberships):
        lists.append(issues_to_rate(user))
    if user.role == Role.UNIT_REP:
        lists.append(open_actions(user))
    sign_ups = next_sign_ups(user, now)
    if user.role in ("resident", "unit_rep") or sign_ups.total:
        lists.append(sign_ups)
    return lists
