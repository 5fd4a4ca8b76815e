"""The figures of /api/v1/stats and the statistics page, computed in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select

from consult.cases.models import Case, Issue
from consult.enums import CaseCategory, CaseLevel, SessionStatus
from consult.extensions import db
from consult.meetings.models import Meeting
from consult.minutes.models import AgendaItem, Resolution

DONE = ("resolved", "closed")


@dataclass(frozen=True)
class StatsFilter:
    community_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    source: str | None = None
    session_kind: str | None = None


def _resolved_by_kind(resolution_col, kind: str):
    """Select the rows whose resolution was decided at a session of ``kind``."""
    kind_of_resolution = (
        select(Resolution.id)
        .join(AgendaItem, AgendaItem.id == Resolution.agenda_item_id)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .where(Meeting.kind == kind)
    )
    return resolution_col.in_(kind_of_resolution)


def case_conditions(f: StatsFilter) -> list:
    """Return the WHERE conditions on Case that ``f`` asks for."""
    conditions = []
    if f.community_id is not None:
        conditions.append(Case.community_id == f.community_id)
    if f.start is not None:
        conditions.append(Case.created_at >= f.start)
    if f.end is not None:
        conditions.append(Case.created_at < f.end)
    if f.source is not None:
        conditions.append(Case.source == f.source)
    if f.session_kind is not None:
        conditions.append(_resolved_by_kind(Case.resolution_id, f.session_kind))
    return conditions


def issue_conditions(f: StatsFilter, by_source: bool = True) -> list:
    """Return the WHERE conditions on Issue that ``f`` asks for.

    On the dashboard issues follow the same filters as cases: ``source`` keeps the issues
    that group at least one case of that source. /api/v1/stats filters cases only by
    source (the API's rule), hence ``by_source=False`` there.
    """
    conditions = []
    if f.community_id is not None:
        conditions.append(Issue.community_id == f.community_id)
    if f.start is not None:
        conditions.append(Issue.created_at >= f.start)
    if f.end is not None:
        conditions.append(Issue.created_at < f.end)
    if f.source is not None and by_source:
        conditions.append(
            Issue.id.in_(
                select(Case.issue_id).where(Case.source == f.source, Case.issue_id.is_not(None))
            )
        )
    if f.session_kind is not None:
        conditions.append(_resolved_by_kind(Issue.resolution_id, f.session_kind))
    return conditions


def session_conditions(f: StatsFilter) -> list:
    """Return the WHERE conditions on Meeting that ``f`` asks for (cancelled ones excluded)."""
    conditions = [Meeting.status != SessionStatus.CANCELLED]
    if f.community_id is not None:
        conditions.append(Meeting.community_id == f.community_id)
    if f.start is not None:
        conditions.append(Meeting.starts_at >= f.start)
    if f.end is not None:
        conditions.append(Meeting.starts_at < f.end)
    if f.session_kind is not None:
        conditions.append(Meeting.kind == f.session_kind)
    return conditions


def case_stats(f: StatsFilter) -> dict:
    conditions = case_conditions(f)
    done = Case.status.in_(DONE)
    columns = [func.count(Case.id), func.count(case((done, 1)))]
    columns += [func.count(case((and_(done, Case.level == lv), 1))) for lv in CaseLevel]
    columns += [func.count(case((and_(done, Case.category == c), 1))) for c in CaseCategory]
    row = db.session.execute(select(*columns).where(*conditions)).one()
    total, resolved, *rest = row
    levels, categories = rest[: len(CaseLevel)], rest[len(CaseLevel) :]
    return {
        "total": total,
        "resolved": resolved,
        "by_level": {str(lv): n for lv, n in zip(CaseLevel, levels, strict=True)},
        "by_category": dict(zip(CaseCategory, categories, strict=True)),
    }


def issue_stats(f: StatsFilter, by_source: bool = True) -> dict:
    conditions = issue_conditions(f, by_source)
    total, resolved = db.session.execute(
        select(func.count(Issue.id), func.count(case((Issue.status.in_(DONE), 1)))).where(
            *conditions
        )
    ).one()
    return {"total": total, "resolved": resolved}


def session_stats(f: StatsFilter) -> dict:
    conditions = session_conditions(f)
    total, held = db.session.execute(
        select(
            func.count(Meeting.id), func.count(case((Meeting.status == SessionStatus.HELD, 1)))
        ).where(*conditions)
    ).one()
    return {"total": total, "held": held}


def programme_stats(f: StatsFilter, issues_by_source: bool = False) -> dict:
    """Return the statistics document of GET /api/v1/stats for the filter ``f``.

    ``issues_by_source``: issues follow the source filter too (the dashboard); the API
    keeps the API's rule that the source filters cases only (README, "What each person sees").
    """
    return {
        "cases": case_stats(f),
        "issues": issue_stats(f, issues_by_source),
        "sessions": session_stats(f),
    }


def cached_programme_stats(f: StatsFilter, issues_by_source: bool = False) -> dict:
    """``programme_stats``, counted once and kept in the cache until a case, an issue or
    a session of any community changes (consult.community.versions)."""
    from consult.community.versions import all_versions, cached_value, digest

    key = digest("programme-stats", f, issues_by_source, all_versions())
    return cached_value(key, lambda: programme_stats(f, issues_by_source))
