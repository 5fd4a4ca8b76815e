"""Reads about cases and issues that the pages and the API share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload, selectinload

from consult.audit.models import AuditEntry
from consult.cases.grid import due_at, is_overdue, level_days, overdue_clause
from consult.cases.models import Case, CaseEvent, Evaluation, Issue
from consult.community.models import Community
from consult.enums import ActionStatus, IssueStatus
from consult.extensions import db
from consult.lists import paginate
from consult.minutes.models import ActionItem, AgendaItem, Resolution
from consult.permissions import (
    FULL,
    can,
    case_access,
    issue_access,
    visible_cases_clause,
    visible_issues_clause,
)
from consult.types import utcnow

PER_PAGE = 25


def local_iso(value: datetime | None, zone: str | None = None) -> str | None:
    """Return an aware UTC datetime as ISO 8601 in ``zone`` (default CONSULT_TIMEZONE)."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(zone or current_app.config["CONSULT_TIMEZONE"])).isoformat()


@dataclass(frozen=True)
class CaseFilter:
    community_id: int | None = None
    status: str | None = None
    level: int | None = None
    category: str | None = None
    source: str | None = None
    #: True: only overdue cases; False: only those not overdue; None: both.
    overdue: bool | None = None
    issue_id: int | None = None


def case_select(
    f: CaseFilter, now: datetime | None = None, user=None, with_resolution: bool = False
) -> Select:
    """Select the cases matching ``f`` that ``user`` reads in full, newest first, with
    what a list shows (``with_resolution``: also the resolution that closed each case and
    its agenda item, loaded together for the whole page)."""
    now = now or utcnow()
    query = select(Case).options(joinedload(Case.community), joinedload(Case.issue))
    if with_resolution:
        query = query.options(selectinload(Case.resolution).joinedload(Resolution.agenda_item))
    query = query.where(visible_cases_clause(user))
    if f.community_id is not None:
        query = query.where(Case.community_id == f.community_id)
    if f.status:
        query = query.where(Case.status == f.status)
    if f.level:
        query = query.where(Case.level == f.level)
    if f.category:
        query = query.where(Case.category == f.category)
    if f.source:
        query = query.where(Case.source == f.source)
    if f.issue_id is not None:
        query = query.where(Case.issue_id == f.issue_id)
    if f.overdue is True:
        query = query.where(overdue_clause(now))
    elif f.overdue is False:
        query = query.where(~overdue_clause(now))
    return query.order_by(Case.created_at.desc(), Case.id.desc())


def case_page(f: CaseFilter, page: int = 1, per_page: int = PER_PAGE, user=None):
    """Return one page of the cases matching ``f`` (a Flask-SQLAlchemy Pagination)."""
    return paginate(case_select(f, user=user), page, per_page)


def overdue_select(
    community_id: int | None = None, now: datetime | None = None, user=None
) -> Select:
    """Select the cases past their level's time limit that ``user`` reads in full,
    longest overdue first."""
    now = now or utcnow()
    query = (
        select(Case)
        .options(joinedload(Case.community), joinedload(Case.issue))
        .where(overdue_clause(now), visible_cases_clause(user))
        .order_by(Case.level_since, Case.id)
    )
    if community_id is not None:
        query = query.where(Case.community_id == community_id)
    return query


def my_concerns_select(user) -> Select:
    """The cases ``user`` raised, newest first, with their community."""
    return (
        select(Case)
        .where(Case.created_by_id == user.id)
        .options(joinedload(Case.community))
        .order_by(Case.created_at.desc(), Case.id.desc())
    )


def own_communities_first(user, communities: list[Community]) -> list[Community]:
    """Return ``communities`` with those ``user`` belongs to first (their order kept)."""
    mine = user.community_ids
    return sorted(communities, key=lambda c: c.id not in mine)


def communities(user=None, action: str | None = None) -> list[Community]:
    """Return the communities by name; with ``action``, those ``user`` may do it in."""
    found = db.session.scalars(select(Community).order_by(Community.name))
    if action is None:
        return list(found)
    return [c for c in found if can(user, action, c)]


def load_case(case_id: int) -> Case | None:
    """Load a case with its community, issue, session and closing resolution."""
    return db.session.scalar(
        select(Case)
        .where(Case.id == case_id)
        .options(
            joinedload(Case.community),
            joinedload(Case.issue),
            joinedload(Case.meeting),
            joinedload(Case.resolution)
            .joinedload(Resolution.agenda_item)
            .joinedload(AgendaItem.meeting),
        )
    )


def case_timeline(case: Case) -> list[CaseEvent]:
    """Return every change of the case, oldest first, with who made it."""
    return list(
        db.session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case.id)
            .options(joinedload(CaseEvent.actor))
            .order_by(CaseEvent.at, CaseEvent.id)
        )
    )


def case_resolutions(case: Case) -> list[Resolution]:
    """Return every resolution that has resolved the case (a reopened case may have several)."""
    from consult.minutes.models import resolution_cases

    return list(
        db.session.scalars(
            select(Resolution)
            .join(resolution_cases, resolution_cases.c.resolution_id == Resolution.id)
            .where(resolution_cases.c.case_id == case.id)
            .options(joinedload(Resolution.agenda_item).joinedload(AgendaItem.meeting))
            .order_by(Resolution.created_at)
        )
    )


def audit_trail(obj) -> list[AuditEntry]:
    """Return the audit entries of ``obj``, oldest first, with their actors."""
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.object_type == type(obj).__tablename__, AuditEntry.object_id == obj.id
            )
            .options(joinedload(AuditEntry.actor))
            .order_by(AuditEntry.at, AuditEntry.id)
        )
    )


def mask_name(name: str | None) -> str | None:
    """Keep the first character of a name and hide the rest: 王秀兰 -> 王**."""
    if not name:
        return name
    name = name.strip()
    return name[:1] + "*" * (len(name) - 1)


def resolution_ref(case: Case) -> dict | None:
    """Return {"id", "session", "agenda_item"} of the resolution that closed ``case``."""
    resolution = case.resolution
    if resolution is None:
        return None
    return {
        "id": resolution.id,
        "session": resolution.agenda_item.meeting_id,
        "agenda_item": resolution.agenda_item_id,
    }


def names_in_case(case: Case) -> set[str]:
    """Return the residents' names to hide in the published form of a case: its
    reporter's, and those hidden in the minutes of the session that resolved it."""
    from consult.minutes.queries import names_to_mask

    names = {case.reporter_name} if case.reporter_name else set()
    if case.resolution is not None:
        names |= names_to_mask(case.resolution.agenda_item.meeting)
    return names


def masker(names: set[str]):
    """Return a function that hides ``names`` in a text (the identity when none)."""
    from consult.minutes.render import mask_text

    return (lambda text: mask_text(text, names)) if names else (lambda text: text)


def case_title(case: Case, user) -> str:
    """Return the case's title as ``user`` reads it (residents' names masked)."""
    from consult.minutes.render import mask_text

    if can(user, "names.read", case):
        return case.title
    return mask_text(case.title, names_in_case(case))


def issue_title(issue: Issue, user) -> str:
    """Return the issue's title as ``user`` reads it (residents' names masked)."""
    from consult.minutes.render import mask_text

    if can(user, "names.read", issue):
        return issue.title
    return mask_text(issue.title, names_in_issue(issue))


def issue_titles(issues: list[Issue], user) -> dict[int, str]:
    """Return {issue id: ``issue_title``} for a list of issues, the names to hide read
    together for all of them (a fixed number of queries however long the list)."""
    from consult.minutes.queries import names_to_mask_of
    from consult.minutes.render import mask_text

    masked = [i.id for i in issues if not can(user, "names.read", i)]
    names: dict[int, set[str]] = {issue_id: set() for issue_id in masked}
    if masked:
        for issue_id, name in db.session.execute(
            select(Case.issue_id, Case.reporter_name).where(
                Case.issue_id.in_(masked), Case.reporter_name.is_not(None)
            )
        ):
            if issue_id is not None and name is not None:
                names[issue_id].add(name)
        meeting_of = dict(
            db.session.execute(
                select(Issue.id, AgendaItem.meeting_id)
                .join(Resolution, Resolution.id == Issue.resolution_id)
                .join(AgendaItem, AgendaItem.id == Resolution.agenda_item_id)
                .where(Issue.id.in_(masked))
            ).all()
        )
        in_minutes = names_to_mask_of(sorted(set(meeting_of.values())))
        for issue_id, meeting_id in meeting_of.items():
            names[issue_id] |= in_minutes[meeting_id]
    titles = {}
    for issue in issues:
        if issue.id in names:
            found = names[issue.id] - {""}
            titles[issue.id] = mask_text(issue.title, found)
        else:
            titles[issue.id] = issue.title
    return titles


def names_in_issue(issue: Issue) -> set[str]:
    """Return the residents' names to hide in the published form of an issue."""
    from consult.minutes.queries import names_to_mask

    names = {c.reporter_name for c in issue.cases if c.reporter_name}
    if issue.resolution is not None:
        names |= names_to_mask(issue.resolution.agenda_item.meeting)
    return names


def readable_cases(issue: Issue, user) -> list[tuple[Case, str]]:
    """Return (case, title as ``user`` reads it) for the issue's cases ``user`` may read."""
    return [(c, case_title(c, user)) for c in issue.cases if case_access(user, c)]


def case_document(case: Case, user, now: datetime | None = None, access: str | None = None) -> dict:
    """Return the case object of the API (its OpenAPI document describes it); in the
    published (masked) form, without the description, grid cell and reporter."""
    now = now or utcnow()
    days = level_days()
    full = (access or case_access(user, case)) == FULL
    return {
        "id": case.id,
        "reference": case.reference if full else None,
        "title": case.title if full else case_title(case, user),
        "description": case.description if full else None,
        "status": case.status,
        "level": case.level,
        "category": case.category,
        "source": case.source,
        "community": case.community.name,
        "grid": case.grid if full else None,
        "reporter": case.reporter_name if full else None,
        "reported_at": local_iso(case.reported_at),
        "created_at": local_iso(case.created_at),
        "level_since": local_iso(case.level_since),
        "due_at": local_iso(due_at(case, days)) if case.active else None,
        "overdue": is_overdue(case, now, days),
        "issue": case.issue_id,
        "session": case.meeting_id,
        "resolution": resolution_ref(case),
    }


# -- issues ---------------------------------------------------------------------------


def issue_select(status: str | None = None, community_id: int | None = None, user=None) -> Select:
    """Select the issues ``user`` may read, newest first, with their community."""
    query = select(Issue).options(joinedload(Issue.community)).where(visible_issues_clause(user))
    if status == "active":
        query = query.where(Issue.active)
    elif status:
        query = query.where(Issue.status == status)
    if community_id is not None:
        query = query.where(Issue.community_id == community_id)
    return query.order_by(Issue.created_at.desc(), Issue.id.desc())


def issue_page(status=None, community_id=None, page: int = 1, per_page: int = PER_PAGE, user=None):
    return paginate(issue_select(status, community_id, user), page, per_page)


def case_counts(issue_ids: list[int]) -> dict[int, int]:
    """Return {issue id: number of cases} in one query."""
    if not issue_ids:
        return {}
    rows = db.session.execute(
        select(Case.issue_id, func.count(Case.id))
        .where(Case.issue_id.in_(issue_ids))
        .group_by(Case.issue_id)
    )
    return dict(rows.all())


def load_issue(issue_id: int) -> Issue | None:
    """Load an issue with its community, cases, resolution and evaluations."""
    return db.session.scalar(
        select(Issue)
        .where(Issue.id == issue_id)
        .options(
            joinedload(Issue.community),
            selectinload(Issue.cases),
            joinedload(Issue.resolution)
            .joinedload(Resolution.agenda_item)
            .joinedload(AgendaItem.meeting),
            selectinload(Issue.evaluations).joinedload(Evaluation.user),
        )
    )


def issue_agenda_items(issue: Issue) -> list[AgendaItem]:
    """Return the agenda items that put the issue to sessions, with their resolutions."""
    return list(
        db.session.scalars(
            select(AgendaItem)
            .where(AgendaItem.issue_id == issue.id)
            .options(joinedload(AgendaItem.meeting), joinedload(AgendaItem.resolution))
            .order_by(AgendaItem.created_at)
        )
    )


def issue_document(issue: Issue, user=None) -> dict:
    """Return the issue object of the API, as ``user`` reads it."""
    return {
        "id": issue.id,
        "title": issue_title(issue, user),
        "status": issue.status,
        "community": issue.community.name,
        "cases": [
            c.id
            for c in issue.cases
            if user is None or issue_access(user, issue) == FULL or case_access(user, c)
        ],
        "resolution": issue.resolution_id,
        "evaluation_round": issue.evaluation_round,
    }


def evaluation_summary(issue: Issue) -> dict[str, int]:
    """Count the ratings of the issue's current round."""
    counts = {"satisfied": 0, "basically_satisfied": 0, "unsatisfied": 0}
    for evaluation in issue.evaluations:
        if evaluation.round == issue.evaluation_round:
            counts[evaluation.rating] += 1
    return counts


def has_rated(issue: Issue, user) -> bool:
    return any(
        e.user_id == getattr(user, "id", None) and e.round == issue.evaluation_round
        for e in issue.evaluations
    )


def candidate_cases(community_id: int) -> list[Case]:
    """Return the cases of a community that may join a new issue (still being handled, in
    no open issue)."""
    busy = select(Issue.id).where(Issue.active)
    return list(
        db.session.scalars(
            select(Case)
            .where(
                Case.community_id == community_id,
                Case.active,
                (Case.issue_id.is_(None)) | (Case.issue_id.not_in(busy)),
            )
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(200)
        )
    )


def open_actions_for(meeting) -> list[ActionItem]:
    """Return open action items decided at earlier sessions of the meeting's community."""
    from consult.meetings.models import Meeting

    carried = select(AgendaItem.carried_action_id).where(
        AgendaItem.meeting_id == meeting.id, AgendaItem.carried_action_id.is_not(None)
    )
    return list(
        db.session.scalars(
            select(ActionItem)
            .join(Resolution, Resolution.id == ActionItem.resolution_id)
            .join(AgendaItem, AgendaItem.id == Resolution.agenda_item_id)
            .join(Meeting, Meeting.id == AgendaItem.meeting_id)
            .where(
                ActionItem.status == ActionStatus.OPEN,
                Meeting.community_id == meeting.community_id,
                Meeting.id != meeting.id,
                Meeting.starts_at < meeting.starts_at,
                ActionItem.id.not_in(carried),
            )
            .options(
                joinedload(ActionItem.unit),
                joinedload(ActionItem.assignee),
                joinedload(ActionItem.resolution)
                .joinedload(Resolution.agenda_item)
                .joinedload(AgendaItem.meeting),
            )
            .order_by(ActionItem.due_on, ActionItem.id)
        )
    )


def backlog_issues(meeting) -> list[Issue]:
    """Return the open or reopened issues of the meeting's community not on its agenda yet."""
    on_agenda = select(AgendaItem.issue_id).where(
        AgendaItem.meeting_id == meeting.id, AgendaItem.issue_id.is_not(None)
    )
    return list(
        db.session.scalars(
            select(Issue)
            .where(
                Issue.community_id == meeting.community_id,
                Issue.active,
                Issue.id.not_in(on_agenda),
            )
            .order_by(Issue.created_at, Issue.id)
        )
    )


def issues_to_rate(user) -> list[Issue]:
    """Return the resolved issues that wait for ``user``'s rating as a residents'
    representative (of the issue's community, none given in the current round)."""
    from consult.accounts.models import Membership

    communities = select(Membership.community_id).where(
        Membership.user_id == user.id, Membership.is_representative.is_(True)
    )
    rated = select(Evaluation.issue_id).where(
        Evaluation.user_id == user.id,
        Evaluation.issue_id == Issue.id,
        Evaluation.round == Issue.evaluation_round,
    )
    return list(
        db.session.scalars(
            select(Issue)
            .where(
                Issue.status == IssueStatus.RESOLVED,
                Issue.community_id.in_(communities),
                ~rated.exists(),
            )
            .options(joinedload(Issue.community))
            .order_by(Issue.resolved_at, Issue.id)
        )
    )
