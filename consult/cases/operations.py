"""Every write about cases, issues and evaluations. Operations flush; the caller commits.

Status and level changes go through ``transition`` and ``escalate_case``, which check
the table of allowed moves, stamp the time, add a timeline entry and an audit entry.
"""

from __future__ import annotations

from collections import Counter

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from consult import audit
from consult.cases.grid import evaluation_quorum
from consult.cases.labels import case_label, stored_text
from consult.cases.models import Case, CaseEvent, Evaluation, Issue
from consult.community.models import Community
from consult.enums import (
    CaseCategory,
    CaseEventKind,
    CaseLevel,
    CaseSource,
    CaseStatus,
    IssueStatus,
    Rating,
)
from consult.errors import RefusedInput, clean_description, clean_text
from consult.extensions import db
from consult.i18n import Choices
from consult.permissions import can
from consult.types import utcnow

MAX_DESCRIPTION = 20_000
MAX_REASON = 2_000
MAX_LEVEL = 4


class CaseError(RefusedInput):
    """Refused input about cases, issues or evaluations."""


# -- communities by name ---------------------------------------------------------------


def community_by_name(name, user, field: str = "community") -> Community:
    """Return the community called ``name``; organisers (and the CLI) create it on first use."""
    from consult.community.operations import community_by_name as by_name

    return by_name(name, user, create=True, field=field)


def refuse_outside(user, action: str, community: Community, field: str = "community") -> None:
    """Refuse (403) to act in a community the user is not staff of (the CLI has no user)."""
    if user is not None and not can(user, action, community):
        raise CaseError(_l("You do not act for %(name)s.", name=community.name), field, status=403)


# -- cases ----------------------------------------------------------------------------


def case_event(
    case: Case, kind: str, user, reason: str = "", from_value=None, to_value=None, resolution=None
) -> CaseEvent:
    """Add an event to a case's timeline (flushed with the caller's transaction)."""
    event = CaseEvent(
        case=case,
        kind=kind,
        actor_id=getattr(user, "id", None),
        from_value=None if from_value is None else str(from_value),
        to_value=None if to_value is None else str(to_value),
        reason=reason or "",
        resolution_id=getattr(resolution, "id", None),
        at=utcnow(),
    )
    db.session.add(event)
    return event


def case_values(data: dict, user) -> dict:
    """Check the fields of a new case; return the column values."""
    category = data.get("category")
    if category not in CaseCategory:
        raise CaseError(
            _l("Choose a category: %(values)s.", values=Choices(CaseCategory, "category")),
            "category",
        )
    source = data.get("source") or "grid"
    if source not in CaseSource:
        raise CaseError(
            _l("Choose a source: %(values)s.", values=Choices(CaseSource, "source")), "source"
        )
    values = {
        "title": clean_text(data.get("title"), "title", 200, label=_l("title")),
        "description": clean_description(data.get("description"), MAX_DESCRIPTION),
        "category": category,
        "source": source,
        "reporter_name": clean_text(
            data.get("reporter"), "reporter", 120, required=False, label=_l("reporter")
        ),
        "reporter_phone": clean_text(
            data.get("phone"), "phone", 32, required=False, label=_l("phone")
        ),
        "grid": clean_text(data.get("grid"), "grid", 120, required=False, label=_l("grid")),
        "reference": clean_text(
            data.get("reference"), "reference", 64, required=False, label=_l("reference")
        ),
        "reported_at": data.get("reported_at"),
    }
    return values


def create_case(data: dict, user, meeting=None) -> Case:
    """Open a case at grid level 1 from {title, description, community, category, ...}.

    With ``meeting`` the case was raised at that session: its community and the source
    "session" come from there.
    """
    values = case_values(data, user)
    if meeting is not None:
        community_id = meeting.community_id
        values["source"] = "session"
    else:
        community = community_by_name(data.get("community"), user)
        refuse_outside(user, "case.create", community)
        community_id = community.id
    return _open_case(values, community_id, user, meeting, data.get("note") or "")


def _open_case(values: dict, community_id: int, user, meeting, note: str) -> Case:
    if values["reference"] and db.session.scalar(
        select(func.count(Case.id)).where(Case.reference == values["reference"])
    ):
        raise CaseError(
            _l("A case with reference %(ref)s exists already.", ref=values["reference"]),
            "reference",
            status=409,
        )
    now = utcnow()
    case = Case(
        community_id=community_id,
        created_by_id=getattr(user, "id", None),
        meeting_id=getattr(meeting, "id", None),
        level=CaseLevel.GRID_MEMBER,
        level_since=now,
        status=CaseStatus.OPEN,
        created_at=now,
        **values,
    )
    db.session.add(case)
    db.session.flush()
    case_event(case, CaseEventKind.CREATED, user, note, to_value=CaseStatus.OPEN)
    audit.record(
        "case.create",
        case,
        user,
        source=case.source,
        category=case.category,
        meeting=case.meeting_id,
    )
    return case


def raise_concern(data: dict, user) -> Case:
    """Open a case a resident raises for themselves, online, in any community: their
    name is the reporter's, and the community's cadres are told by mail."""
    from consult.community.operations import community_by_name as existing
    from consult.mail.notices import concern_raised

    community = existing(data.get("community"), user)
    values = case_values(
        {
            "title": data.get("title"),
            "description": data.get("description"),
            "category": data.get("category"),
            "phone": data.get("phone"),
            "source": CaseSource.ONLINE,
            "reporter": user.name,
        },
        user,
    )
    case = _open_case(values, community.id, user, None, "")
    concern_raised(case, user)
    return case


def transition(case: Case, to_status: str, user, reason: str = "", resolution=None) -> Case:
    """Move ``case`` to ``to_status`` if the table allows it; stamp, log and audit it."""
    from_status = case.status
    if not case.may_become(to_status):
        raise CaseError(
            _l(
                "Case %(id)s has the status “%(from)s” and cannot become “%(to)s”.",
                id=case.id,
                **{
                    "from": case_label(from_status, "case_status"),
                    "to": case_label(to_status, "case_status"),
                },
            ),
            "status",
        )
    stamp = Case.MOVES[(from_status, to_status)]
    if to_status == CaseStatus.RESOLVED and resolution is None:
        raise CaseError(_l("Only a resolution resolves a case."), "status")
    # Status and resolution change together (a CHECK constraint ties them): resolved and
    # closed cases point to their resolution, others do not. The resolution keeps a
    # reopened case in its list (resolution_cases) all the same.
    if to_status == CaseStatus.RESOLVED:
        case.resolution_id = resolution.id
    elif to_status == CaseStatus.REOPENED:
        case.resolution_id = None
    case.status = to_status
    setattr(case, stamp, utcnow())
    if to_status == CaseStatus.RESOLVED:
        with db.session.no_autoflush:
            resolution.cases.append(case)
    case_event(case, CaseEventKind.STATUS, user, reason, from_status, to_status, resolution)
    db.session.flush()
    audit.record(
        "case.status",
        case,
        user,
        status=[from_status, to_status],
        reason=reason,
        resolution=getattr(resolution, "id", None),
    )
    return case


def escalate_case(case: Case, user, reason: str = "") -> Case:
    """Hand a case still being handled to the next grid level (at most level 4)."""
    reason = (
        clean_text(reason, "reason", MAX_REASON, required=False, label=_l("reason"), multiline=True)
        or ""
    )
    if not case.active:
        raise CaseError(
            _l(
                "A case with the status “%(status)s” cannot be escalated.",
                status=case_label(case.status, "case_status"),
            ),
            "status",
        )
    if case.level >= MAX_LEVEL:
        raise CaseError(
            _l("The case is at level %(n)d already, the highest.", n=MAX_LEVEL), "level"
        )
    old = case.level
    case.level = old + 1
    case.level_since = utcnow()
    case_event(case, CaseEventKind.LEVEL, user, reason, old, case.level)
    db.session.flush()
    audit.record("case.escalate", case, user, level=[old, case.level], reason=reason)
    return case


def comment_case(case: Case, data: dict, user) -> CaseEvent:
    """Add a comment to a case's timeline."""
    text = clean_text(
        data.get("comment"), "comment", MAX_REASON, label=_l("comment"), multiline=True
    )
    event = case_event(case, CaseEventKind.COMMENT, user, text)
    db.session.flush()
    audit.record("case.comment", case, user)
    return event


# -- issues ---------------------------------------------------------------------------


def _issue_transition(
    issue: Issue, to_status: str, user, reason: str = "", resolution=None
) -> Issue:
    from_status = issue.status
    if not issue.may_become(to_status):
        raise CaseError(
            _l(
                "Issue %(id)s has the status “%(from)s” and cannot become “%(to)s”.",
                id=issue.id,
                **{
                    "from": case_label(from_status, "issue_status"),
                    "to": case_label(to_status, "issue_status"),
                },
            ),
            "status",
        )
    stamp = Issue.MOVES[(from_status, to_status)]
    issue.status = to_status
    if stamp:
        setattr(issue, stamp, utcnow())
    if to_status == IssueStatus.RESOLVED:
        issue.resolution_id = resolution.id
    elif to_status == IssueStatus.REOPENED:
        issue.resolution_id = None
        issue.resolved_at = None
        issue.evaluation_round += 1
    db.session.flush()
    audit.record(
        "issue.status",
        issue,
        user,
        status=[from_status, to_status],
        reason=reason,
        resolution=getattr(resolution, "id", None),
    )
    return issue


def resolve_issue(issue: Issue, resolution, user) -> Issue:
    """Mark ``issue`` resolved by ``resolution`` (outcome "resolved")."""
    return _issue_transition(issue, IssueStatus.RESOLVED, user, resolution=resolution)


def _case_ids(value, field: str = "cases") -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or any(
        isinstance(v, bool) or not isinstance(v, int) for v in value
    ):
        raise CaseError(_l("Give a list of case numbers."), field)
    ids = list(dict.fromkeys(value))
    return ids


def create_issue(data: dict, user) -> Issue:
    """Group cases of one community into an issue from {title, community, cases, description?}."""
    title = clean_text(data.get("title"), "title", 200, label=_l("title"))
    description = clean_description(data.get("description"), MAX_DESCRIPTION)
    community = data.get("community_obj") or community_by_name(data.get("community"), user)
    refuse_outside(user, "issue.create", community)
    ids = _case_ids(data.get("cases"))
    cases = _cases_for_issue(ids, community)
    issue = Issue(
        community_id=community.id,
        title=title,
        description=description,
        status=IssueStatus.OPEN,
        evaluation_round=1,
        created_by_id=getattr(user, "id", None),
        created_at=utcnow(),
    )
    db.session.add(issue)
    db.session.flush()
    for case in cases:
        _put_in_issue(case, issue, user)
    audit.record("issue.create", issue, user, title=title, cases=[c.id for c in cases])
    return issue


def _cases_for_issue(ids: list[int], community: Community) -> list[Case]:
    """Load and check cases that are to join an issue of ``community``."""
    if not ids:
        return []
    found = {
        c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(ids)).with_for_update())
    }
    busy_issue_ids = {c.issue_id for c in found.values() if c.issue_id is not None}
    busy = {}
    if busy_issue_ids:
        busy = {
            i.id: i
            for i in db.session.scalars(
                select(Issue).where(Issue.id.in_(busy_issue_ids), Issue.active)
            )
        }
    cases = []
    for case_id in ids:
        case = found.get(case_id)
        if case is None:
            raise CaseError(_l("There is no case %(id)s.", id=case_id), "cases")
        if case.community_id != community.id:
            raise CaseError(_l("Case %(id)s belongs to another community.", id=case_id), "cases")
        if not case.active:
            raise CaseError(
                _l(
                    "Case %(id)s has the status “%(status)s” already.",
                    id=case_id,
                    status=case_label(case.status, "case_status"),
                ),
                "cases",
            )
        if case.issue_id in busy:
            raise CaseError(
                _l(
                    "Case %(id)s is already part of open issue %(issue)s.",
                    id=case_id,
                    issue=case.issue_id,
                ),
                "cases",
            )
        cases.append(case)
    return cases


def _put_in_issue(case: Case, issue: Issue, user) -> None:
    old = case.issue_id
    case.issue_id = issue.id
    case_event(case, CaseEventKind.ISSUE, user, issue.title, old, issue.id)
    audit.record("case.issue", case, user, issue=[old, issue.id])


def issue_for_case(case: Case, user) -> Issue:
    """Return the open issue a case is part of, or a new issue holding just that case."""
    if case.issue is not None and case.issue.active:
        return case.issue
    return create_issue(
        {"title": case.title, "community_obj": case.community, "cases": [case.id]}, user
    )


# -- evaluation -----------------------------------------------------------------------


def evaluate_issue(issue: Issue, data: dict, user) -> Evaluation:
    """Record a representative's rating of a resolved issue; decide the round at quorum.

    Once EVALUATION_QUORUM ratings of the round are in, a majority of "unsatisfied"
    reopens the issue and its resolved cases; a majority of the other ratings closes
    them. A tie waits for more ratings.
    """
    rating = data.get("rating")
    if rating not in Rating:
        raise CaseError(
            _l("Choose a rating: %(values)s.", values=Choices(Rating, "rating")), "rating"
        )
    comment = (
        clean_text(
            data.get("comment"),
            "comment",
            MAX_REASON,
            required=False,
            label=_l("comment"),
            multiline=True,
        )
        or ""
    )
    if issue.status != IssueStatus.RESOLVED:
        raise CaseError(_l("Only a resolved issue can be evaluated."), "issue", status=409)
    already = db.session.scalar(
        select(func.count(Evaluation.id)).where(
            Evaluation.issue_id == issue.id,
            Evaluation.user_id == user.id,
            Evaluation.round == issue.evaluation_round,
        )
    )
    if already:
        raise CaseError(
            _l("You have rated this issue in this round already."), "rating", status=409
        )
    evaluation = Evaluation(
        issue_id=issue.id,
        user_id=user.id,
        round=issue.evaluation_round,
        rating=rating,
        comment=comment,
        created_at=utcnow(),
    )
    db.session.add(evaluation)
    db.session.flush()
    audit.record("evaluation.create", issue, user, rating=rating, round=evaluation.round)
    _decide_round(issue, user)
    return evaluation


def _decide_round(issue: Issue, user) -> None:
    counts = Counter(
        db.session.scalars(
            select(Evaluation.rating).where(
                Evaluation.issue_id == issue.id, Evaluation.round == issue.evaluation_round
            )
        )
    )
    total = sum(counts.values())
    if total < evaluation_quorum():
        return
    unsatisfied = counts["unsatisfied"]
    satisfied = total - unsatisfied
    if unsatisfied * 2 > total:
        reason = stored_text(
            _l(
                "Residents' representatives rated the result unsatisfied "
                "(%(n)d of %(total)d ratings, round %(round)d).",
                n=unsatisfied,
                total=total,
                round=issue.evaluation_round,
            )
        )
        to_status = CaseStatus.REOPENED
    elif satisfied * 2 > total:
        reason = stored_text(
            _l(
                "Residents' representatives accepted the result "
                "(%(n)d of %(total)d ratings satisfied or basically satisfied, round %(round)d).",
                n=satisfied,
                total=total,
                round=issue.evaluation_round,
            )
        )
        to_status = CaseStatus.CLOSED
    else:
        return
    for case in db.session.scalars(
        select(Case)
        .where(Case.issue_id == issue.id, Case.status == CaseStatus.RESOLVED)
        .order_by(Case.id)
    ):
        transition(case, to_status, user, reason)
    _issue_transition(issue, to_status, user, reason)
