"""Reads behind the public pages, open data, noticeboard and posters.

Everything here is what an anonymous visitor may see: public sessions only (never a
private one, cancelled or not), resolutions only once their minutes are published,
and residents' names masked by ``consult.minutes.queries.public_masker``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload, selectinload

from consult.cases.models import Case, CaseEvent, Issue
from consult.cases.queries import mask_name
from consult.community.models import Community
from consult.enums import MinutesStatus, Outcome, SessionStatus, Visibility
from consult.extensions import db
from consult.meetings.models import Meeting
from consult.minutes.models import (
    ActionItem,
    AgendaItem,
    Minutes,
    Resolution,
    resolution_cases,
)
from consult.minutes.queries import public_masker, public_maskers
from consult.types import utcnow

PER_PAGE = 20
#: Entries of the Atom feed: the newest published resolutions.
FEED_ENTRIES = 50
#: What the noticeboard shows at once.
BOARD_SESSIONS = 5
BOARD_RESOLUTIONS = 5
#: Coming weeks listed on a series' poster.
POSTER_WEEKS = 8
#: Agenda items listed on a poster (one A4 page).
POSTER_ITEMS = 8


def public_meeting_clause():
    """Return a WHERE clause for Meeting keeping what anyone may see without signing in."""
    return Meeting.visibility == Visibility.PUBLIC


def load_community(community_id: int) -> Community | None:
    # The URL converter bounds the id to what a row can have.
    return db.session.get(Community, community_id)


def published_resolution_counts() -> dict[int, int]:
    """Return {community id: number of resolutions published on its public page}."""
    rows = db.session.execute(
        _published(select(Meeting.community_id, func.count(Resolution.id))).group_by(
            Meeting.community_id
        )
    )
    return dict(rows.all())


def town_index() -> list[tuple[Community, int]]:
    """Return every community, by town and name, with its number of published resolutions."""
    counts = published_resolution_counts()
    communities = db.session.scalars(
        select(Community).options(joinedload(Community.town)).order_by(Community.name)
    )
    return [(c, counts.get(c.id, 0)) for c in communities]


@dataclass(frozen=True)
class ResolutionFilter:
    """A period of session days (both ends included) and a case category."""

    start: date | None = None
    end: date | None = None
    category: str | None = None


def _published(query: Select) -> Select:
    """Join a query on Resolution down to published minutes of public sessions."""
    return (
        query.select_from(Resolution)
        .join(AgendaItem, AgendaItem.id == Resolution.agenda_item_id)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .join(Minutes, Minutes.meeting_id == Meeting.id)
        .where(
            Minutes.status == MinutesStatus.PUBLISHED,
            Minutes.published_at.is_not(None),
            public_meeting_clause(),
            Meeting.status != SessionStatus.CANCELLED,
        )
    )


def resolutions_select(community_id: int, f: ResolutionFilter = ResolutionFilter()) -> Select:
    """Select the community's published resolutions, newest publication first."""
    query = _published(select(Resolution)).where(Meeting.community_id == community_id)
    zone = ZoneInfo(current_app.config["CONSULT_TIMEZONE"])
    if f.start is not None:
        query = query.where(Meeting.starts_at >= datetime.combine(f.start, time(0), zone))
    if f.end is not None:
        query = query.where(
            Meeting.starts_at < datetime.combine(f.end + timedelta(days=1), time(0), zone)
        )
    if f.category:
        of_category = (
            select(resolution_cases.c.resolution_id)
            .join(Case, Case.id == resolution_cases.c.case_id)
            .where(Case.category == f.category)
        )
        query = query.where(Resolution.id.in_(of_category))
    return query.order_by(
        Minutes.published_at.desc(), Meeting.starts_at.desc(), AgendaItem.position, Resolution.id
    )


def _with_everything(query: Select) -> Select:
    return query.options(
        joinedload(Resolution.agenda_item).joinedload(AgendaItem.meeting),
        joinedload(Resolution.referred_unit),
        selectinload(Resolution.cases),
        selectinload(Resolution.actions).options(
            joinedload(ActionItem.unit), joinedload(ActionItem.assignee)
        ),
        joinedload(Resolution.agenda_item)
        .joinedload(AgendaItem.issue)
        .selectinload(Issue.evaluations),
    )


def resolution_page(community_id: int, f: ResolutionFilter, page: int = 1):
    """Return one page of the community's published resolutions (a Pagination)."""
    return db.paginate(
        _with_everything(resolutions_select(community_id, f)),
        page=page,
        per_page=PER_PAGE,
        max_per_page=PER_PAGE,
        error_out=False,
    )


def all_resolutions(
    community_id: int, f: ResolutionFilter = ResolutionFilter(), limit: int | None = None
) -> list[Resolution]:
    query = _with_everything(resolutions_select(community_id, f))
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query).unique())


# -- the records: one dictionary per resolution, the same for every format ------------


def level_days_of(case: Case, events: list[CaseEvent], until: datetime) -> tuple[int, dict]:
    """Return (the level the case was at when ``until`` came, {level: days spent there}).

    Level 1 starts when the case was opened; each escalation (a "level" event) ends a
    level and starts the next; ``until`` (the resolution) ends the last one.
    """
    moves = sorted(
        (e for e in events if e.kind == "level" and e.at <= until), key=lambda e: (e.at, e.id or 0)
    )
    all_moves = [e for e in events if e.kind == "level"]
    level = int(all_moves[0].from_value) if all_moves and all_moves[0].from_value else case.level
    since = case.created_at
    spent: dict[int, float] = defaultdict(float)
    for move in moves:
        spent[level] += max((move.at - since).total_seconds(), 0)
        level, since = int(move.to_value), move.at
    spent[level] += max((until - since).total_seconds(), 0)
    return level, {str(k): round(v / 86400, 1) for k, v in sorted(spent.items())}


def _case_events(case_ids: list[int]) -> dict[int, list[CaseEvent]]:
    out: dict[int, list[CaseEvent]] = defaultdict(list)
    if case_ids:
        for event in db.session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id.in_(case_ids))
            .order_by(CaseEvent.at, CaseEvent.id)
        ):
            out[event.case_id].append(event)
    return out


def _private_meeting_ids(meeting_ids: set[int]) -> set[int]:
    if not meeting_ids:
        return set()
    return set(
        db.session.scalars(
            select(Meeting.id).where(Meeting.id.in_(meeting_ids), ~public_meeting_clause())
        )
    )


def _published_at(meeting_ids: set[int]) -> dict[int, datetime]:
    if not meeting_ids:
        return {}
    return dict(
        db.session.execute(
            select(Minutes.meeting_id, Minutes.published_at).where(
                Minutes.meeting_id.in_(meeting_ids)
            )
        ).all()
    )


def _evaluation(resolution: Resolution) -> dict | None:
    """Return the representatives' evaluation of what the resolution resolved, if any."""
    issue = resolution.agenda_item.issue
    if issue is None or resolution.outcome != Outcome.RESOLVED:
        return None
    after = [e for e in issue.evaluations if e.created_at >= resolution.created_at]
    round_ = min((e.round for e in after), default=None)
    counts = {"satisfied": 0, "basically_satisfied": 0, "unsatisfied": 0}
    for e in after:
        if e.round == round_:
            counts[e.rating] += 1
    if issue.resolution_id == resolution.id:
        result = {"closed": "accepted", "resolved": "pending"}.get(issue.status, "pending")
    else:
        result = "rejected" if round_ is not None else "pending"
    return {"round": round_, **counts, "result": result}


def _local(value: datetime | None, zone: str) -> str | None:
    return value.astimezone(ZoneInfo(zone)).isoformat() if value is not None else None


def records(resolutions: list[Resolution], page_url) -> list[dict]:
    """Return the open-data record of each resolution (README: "Open data").

    ``page_url(meeting)`` gives the absolute URL of a session's page.
    """
    meetings = {r.agenda_item.meeting_id: r.agenda_item.meeting for r in resolutions}
    published = _published_at(set(meetings))
    cases = {c.id: c for r in resolutions for c in r.cases}
    hidden = _private_meeting_ids({c.meeting_id for c in cases.values() if c.meeting_id})
    events = _case_events(list(cases))
    maskers = public_maskers(meetings.values())
    zone = current_app.config["CONSULT_TIMEZONE"]
    out = []
    for r in resolutions:
        item = r.agenda_item
        meeting = item.meeting
        mask = maskers[meeting.id]
        record_cases = []
        for case in r.cases:
            if case.meeting_id in hidden:
                continue  # raised at a private session: never shown
            level, days = level_days_of(case, events[case.id], _resolved_at(case, r, events))
            record_cases.append(
                {
                    "id": case.id,
                    "category": case.category,
                    "title": mask(case.title),
                    "reporter": mask_name(case.reporter_name),
                    "level": level,
                    "days_at_level": days,
                    "status": case.status if case.resolution_id == r.id else "reopened",
                }
            )
        issue = item.issue
        out.append(
            {
                "id": r.id,
                "published_at": _local(published.get(meeting.id), meeting.timezone),
                "session": {
                    "id": meeting.id,
                    "title": mask(meeting.title),
                    "kind": meeting.kind,
                    "starts_at": _local(meeting.starts_at, meeting.timezone),
                    "url": page_url(meeting),
                },
                "agenda_item": {"position": item.position, "title": mask(item.title)},
                "issue": None
                if issue is None
                else {
                    "id": issue.id,
                    "title": mask(issue.title),
                    "status": issue.status,
                },
                "outcome": r.outcome,
                "text": mask(r.text),
                "referred_unit": r.referred_unit.name if r.referred_unit is not None else None,
                "cases": record_cases,
                "evaluation": _evaluation(r),
                "actions": [
                    {
                        "description": mask(a.description),
                        "unit": a.unit.name if a.unit is not None else None,
                        "assignee": mask_name(a.assignee.name) if a.assignee is not None else None,
                        "due_on": a.due_on.isoformat() if a.due_on else None,
                        "status": a.status,
                        "done_at": _local(a.done_at, zone),
                    }
                    for a in sorted(r.actions, key=lambda a: a.id)
                ],
                # A vote on the agenda item, once votes are recorded, belongs here.
            }
        )
    return out


def _resolved_at(case: Case, resolution: Resolution, events) -> datetime:
    for event in events[case.id]:
        if (
            event.kind == "status"
            and event.to_value == "resolved"
            and event.resolution_id == resolution.id
        ):
            return event.at
    return resolution.created_at


# -- noticeboard and posters ----------------------------------------------------------


def coming_sessions(community_id: int, limit: int = BOARD_SESSIONS) -> list[Meeting]:
    """Return the community's public sessions not over yet, soonest first."""
    return list(
        db.session.scalars(
            select(Meeting)
            .where(
                Meeting.community_id == community_id,
                public_meeting_clause(),
                Meeting.status != SessionStatus.CANCELLED,
                Meeting.ends_at > utcnow(),
            )
            .options(joinedload(Meeting.venue))
            .order_by(Meeting.starts_at, Meeting.id)
            .limit(limit)
        )
    )


def coming_weeks(meeting: Meeting, limit: int = POSTER_WEEKS) -> list[Meeting]:
    """Return the coming occurrences of the session's series (cancelled ones too)."""
    if meeting.series_id is None:
        return []
    return list(
        db.session.scalars(
            select(Meeting)
            .where(
                Meeting.series_id == meeting.series_id,
                public_meeting_clause(),
                Meeting.ends_at > min(utcnow(), meeting.starts_at),
            )
            .options(joinedload(Meeting.venue))
            .order_by(Meeting.starts_at, Meeting.id)
            .limit(limit)
        )
    )


def poster_agenda(meeting: Meeting) -> list[str]:
    """Return the session's agenda titles as the public may read them."""
    mask = public_masker(meeting)
    titles = db.session.scalars(
        select(AgendaItem.title)
        .where(AgendaItem.meeting_id == meeting.id)
        .order_by(AgendaItem.position, AgendaItem.id)
    )
    return [mask(t) for t in titles]
