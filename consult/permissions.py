"""Who may do what: the one place that says it.

Views, API routes and the CLI ask ``can(user, action, obj)`` or call ``require``; they
never look at roles themselves. Objects that may not even be seen are answered with
404 by the loaders (``consult.loaders``), objects that may be seen but not changed
with 403 (``require``).
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import and_, false, or_, select, true

from consult.enums import STAFF_ROLES, MinutesStatus, RegistrationStatus, Role, Visibility

ADMIN = frozenset({"admin"})
ORGANISERS = frozenset({"admin", "cadre"})
STAFF = frozenset(STAFF_ROLES)
EVERYONE = frozenset({"admin", "cadre", "secretary", "resident", "unit_rep"})

#: action -> roles allowed to perform it (object-level rules are added below).
RULES: dict[str, frozenset[str]] = {
    # The administration (accounts, communities, units, venues, alliances) is the
    # town's: town-level administrators only.
    "admin.manage": ADMIN,
    "meeting.create": ORGANISERS,
    "meeting.edit": ORGANISERS,
    "meeting.cancel": ORGANISERS,
    "meeting.invite": ORGANISERS,
    "registration.create": EVERYONE,
    # Desk sign-up (someone without an account) is the secretary's job too.
    "registration.proxy": STAFF,
    "registration.list": STAFF,
    "invitation.list": STAFF,
    # Object rule in can(): one's own registration, or any for organisers.
    "registration.cancel": EVERYONE,
    "rotation.view": EVERYONE,
    "rotation.manage": ORGANISERS,
    "attendance.record": STAFF,
    "case.create": frozenset({"admin", "cadre", "unit_rep"}),
    "case.create_at_session": STAFF,
    "case.list": frozenset({"admin", "cadre", "secretary", "unit_rep"}),
    # A resident raises a concern of their own, in any community (not a staff action).
    "case.raise": EVERYONE,
    "case.escalate": ORGANISERS,
    # Secretaries import too, into their own communities (the community scope).
    "case.import": STAFF,
    "case.comment": STAFF,
    "issue.create": STAFF,
    "agenda.edit": STAFF,
    "resolution.create": STAFF,
    "vote.record": STAFF,
    "action.report": frozenset({"admin", "cadre", "unit_rep"}),
    "minutes.read_draft": STAFF,
    "minutes.edit": STAFF,
    "minutes.approve": ORGANISERS,
    "minutes.publish": ORGANISERS,
    "evaluation.create": frozenset({"resident", "admin", "cadre", "secretary", "unit_rep"}),
    "stats.view": EVERYONE,
    "feed.create": EVERYONE,
    "audit.view": STAFF,
    # Residents' names in published minutes and cases are shown in full.
    "names.read": STAFF,
    # Naming a community that does not exist yet creates it (sessions, cases).
    "community.create_by_name": ORGANISERS,
    # Entries of the navigation bar that no other rule covers.
    "nav.issues": STAFF,
    "nav.actions": frozenset({"admin", "cadre", "unit_rep"}),
    "nav.concerns": frozenset({"resident"}),
}

#: Staff actions that, asked about an object, hold only in the object's community.
SCOPED = frozenset(
    {
        "meeting.create",
        "meeting.edit",
        "meeting.cancel",
        "meeting.invite",
        "registration.proxy",
        "registration.list",
        "rotation.manage",
        "attendance.record",
        "case.create",
        "case.create_at_session",
        "case.escalate",
        "case.import",
        "case.comment",
        "issue.create",
        "agenda.edit",
        "resolution.create",
        "action.report",
        "minutes.read_draft",
        "minutes.edit",
        "minutes.approve",
        "minutes.publish",
        "audit.view",
        "names.read",
        "community.create_by_name",
        "vote.record",
        "invitation.list",
    }
)

#: Actions of town-level staff only: the administration, and naming a community that
#: does not exist yet (it would be no one's).
TOWN_ONLY = frozenset({"admin.manage", "community.create_by_name"})

#: The roles an administrator may give an account (the CLI and the admin pages).
ASSIGNABLE_ROLES = Role


def _signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.active


def is_town_level(user) -> bool:
    """Staff who belong to no community act for the whole town (every community)."""
    return _signed_in(user) and user.role in STAFF and not user.memberships


def staff_communities(user) -> set[int] | None:
    """Return the ids of the communities ``user`` acts on as staff; None: every one."""
    if not _signed_in(user) or user.role not in STAFF:
        return set()
    if not user.memberships:
        return None
    return {m.community_id for m in user.memberships}


def in_scope(user, community_id: int | None) -> bool:
    """Return whether ``user`` is staff of ``community_id`` (town-level staff: of all)."""
    scope = staff_communities(user)
    if scope is None:
        return True
    return community_id is not None and community_id in scope


def community_of(obj) -> int | None:
    """Return the id of the community an object belongs to (None for town-wide objects)."""
    from consult.community.models import Community

    if isinstance(obj, Community):
        return obj.id
    if hasattr(obj, "community_id"):
        return obj.community_id
    for parent in ("meeting", "agenda_item", "resolution"):
        inner = getattr(obj, parent, None)
        if inner is not None:
            return community_of(inner)
    raise TypeError(f"no community for {obj!r}")


def can(user, action: str, obj=None) -> bool:
    """Return whether ``user`` may perform ``action`` (on ``obj``, where that matters).

    Without ``obj`` the answer is whether the role ever may (menus, buttons); with one,
    staff actions also need the object's community to be one of the user's.
    """
    roles = RULES.get(action)
    if roles is None:
        raise KeyError(f"unknown action {action!r}")
    if not _signed_in(user) or user.role not in roles:
        return False
    if action in TOWN_ONLY:
        return staff_communities(user) is None
    if obj is None:
        return True
    if action == "registration.cancel":
        return obj.user_id == user.id or (
            user.role in ORGANISERS and in_scope(user, community_of(obj))
        )
    if action == "action.report" and reports_for_unit(user):
        return may_report_action(user, obj)
    if action == "evaluation.create":
        return is_representative(user, obj.community_id)
    if action == "case.create" and reports_for_unit(user):
        return True
    if action in SCOPED:
        return in_scope(user, community_of(obj))
    return True


def require(user, action: str, obj=None) -> None:
    """Abort with 403 unless ``user`` may perform ``action``."""
    if not can(user, action, obj):
        abort(403)


def is_representative(user, community_id: int) -> bool:
    return any(m.community_id == community_id and m.is_representative for m in user.memberships)


def reports_for_unit(user) -> bool:
    """Whether ``user`` speaks for an alliance unit (its actions are the unit's)."""
    return _signed_in(user) and user.role == Role.UNIT_REP


def may_report_action(user, action) -> bool:
    """A unit representative reports on its unit's actions and on those assigned to it."""
    return action.assignee_id == user.id or (
        user.unit_id is not None and action.unit_id == user.unit_id
    )


def actions_clause(user):
    """Return a WHERE clause for ActionItem (joined to Meeting) that keeps what ``user``
    reports on: staff their communities' actions, a unit representative its own."""
    from consult.meetings.models import Meeting
    from consult.minutes.models import ActionItem

    if reports_for_unit(user):
        mine = ActionItem.assignee_id == user.id
        if user.unit_id is not None:
            mine = or_(mine, ActionItem.unit_id == user.unit_id)
        return mine
    scope = staff_communities(user)
    if scope is None:
        return true()
    return Meeting.community_id.in_(scope)


def named_in_minutes(person) -> bool:
    """Whether a person's name may appear in published minutes: everyone's but that of a
    resident who has not agreed to be named (and of people without an account)."""
    if person is None:
        return False
    return person.role != Role.RESIDENT or bool(person.named_in_minutes)


def may_see_meeting(user, meeting) -> bool:
    """Public sessions are seen by all; private ones by their community's staff (and
    town-level staff), their registrants and their invitees."""
    if meeting.visibility == Visibility.PUBLIC:
        return True
    if not _signed_in(user):
        return False
    if in_scope(user, meeting.community_id):
        return True
    return meeting_is_theirs(user, meeting)


def _invited_meeting_ids(user):
    """Select the ids of meetings ``user`` is invited to (whole-series invitations too)."""
    from consult.meetings.models import Invitation, Meeting

    mine = or_(Invitation.user_id == user.id, Invitation.email == user.email)
    direct = select(Invitation.meeting_id).where(mine)
    invited_series = (
        select(Meeting.series_id)
        .join(Invitation, Invitation.meeting_id == Meeting.id)
        .where(mine, Invitation.whole_series.is_(True), Meeting.series_id.is_not(None))
    )
    via_series = select(Meeting.id).where(Meeting.series_id.in_(invited_series))
    return direct.union(via_series)


def _registered_meeting_ids(user):
    from consult.meetings.models import Registration

    return select(Registration.meeting_id).where(
        Registration.user_id == user.id, Registration.status != RegistrationStatus.CANCELLED
    )


def _theirs_clause(user):
    from consult.meetings.models import Meeting

    return or_(
        Meeting.id.in_(_registered_meeting_ids(user)),
        Meeting.id.in_(_invited_meeting_ids(user)),
    )


def meeting_is_theirs(user, meeting) -> bool:
    """Return whether ``user`` is registered for, or invited to, ``meeting``."""
    from consult.extensions import db
    from consult.meetings.models import Meeting

    found = select(Meeting.id).where(Meeting.id == meeting.id, _theirs_clause(user))
    return db.session.scalar(found) is not None


def visible_meetings_clause(user):
    """Return a WHERE clause for Meeting that keeps what ``user`` may see."""
    from consult.meetings.models import Meeting

    public = Meeting.visibility == Visibility.PUBLIC
    if not _signed_in(user):
        return public
    scope = staff_communities(user)
    if scope is None:
        return true()
    clauses = [public, _theirs_clause(user)]
    if scope:
        clauses.append(Meeting.community_id.in_(scope))
    return or_(*clauses)


# -- cases and issues -------------------------------------------------------------------------

FULL = "full"
MASKED = "masked"


def _published_resolution_ids(user):
    """Select the ids of resolutions recorded in published minutes of sessions ``user`` may
    see."""
    from consult.meetings.models import Meeting
    from consult.minutes.models import AgendaItem, Minutes, Resolution

    return (
        select(Resolution.id)
        .join(AgendaItem, AgendaItem.id == Resolution.agenda_item_id)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .join(Minutes, Minutes.meeting_id == Meeting.id)
        .where(Minutes.status == MinutesStatus.PUBLISHED, visible_meetings_clause(user))
    )


def _published(user, resolution_id: int | None) -> bool:
    if resolution_id is None:
        return False
    from consult.extensions import db
    from consult.minutes.models import Resolution

    found = _published_resolution_ids(user).where(Resolution.id == resolution_id)
    return db.session.scalar(found) is not None


def case_access(user, case) -> str | None:
    """Return how ``user`` may read ``case``: FULL (its community's staff, town-level
    staff, the account that reported it), MASKED (anyone, once the resolution that
    closed it is in published minutes they may read) or None (not at all). A case
    raised at a private session is never read by anyone who may not see that session."""
    if case.meeting_id is not None and not may_see_meeting(user, case.meeting):
        return None
    if _signed_in(user) and (in_scope(user, case.community_id) or case.created_by_id == user.id):
        return FULL
    if _published(user, case.resolution_id):
        return MASKED
    return None


def visible_cases_clause(user):
    """Return a WHERE clause for Case that keeps the cases ``user`` reads in full (the
    lists, exports and counts behind them)."""
    from consult.cases.models import Case
    from consult.meetings.models import Meeting

    if not _signed_in(user):
        return false()
    scope = staff_communities(user)
    mine = Case.created_by_id == user.id
    if scope is None:
        return true()
    own = or_(Case.community_id.in_(scope), mine) if scope else mine
    seen = select(Meeting.id).where(visible_meetings_clause(user))
    return and_(own, or_(Case.meeting_id.is_(None), Case.meeting_id.in_(seen)))


def issue_access(user, issue) -> str | None:
    """Return how ``user`` may read ``issue``: FULL (its community's staff, town-level
    staff, its author), MASKED (the community's residents' representatives, who evaluate
    it, and anyone once its resolution is in published minutes they may read) or None."""
    if _signed_in(user) and (in_scope(user, issue.community_id) or issue.created_by_id == user.id):
        return FULL
    if any(c.meeting_id is not None and not may_see_meeting(user, c.meeting) for c in issue.cases):
        return None
    if _signed_in(user) and is_representative(user, issue.community_id):
        return MASKED
    if _published(user, issue.resolution_id):
        return MASKED
    return None


def visible_issues_clause(user):
    """Return a WHERE clause for Issue that keeps what ``user`` may read (in any form)."""
    from consult.cases.models import Issue

    if not _signed_in(user):
        return false()
    scope = staff_communities(user)
    if scope is None:
        return true()
    from consult.cases.models import Case
    from consult.meetings.models import Meeting

    seen = select(Meeting.id).where(visible_meetings_clause(user))
    # Issues holding a case raised at a private session the user may not see.
    hidden = select(Case.issue_id).where(
        Case.issue_id.is_not(None), Case.meeting_id.is_not(None), Case.meeting_id.not_in(seen)
    )
    masked = [Issue.resolution_id.in_(_published_resolution_ids(user))]
    represented = [m.community_id for m in user.memberships if m.is_representative]
    if represented:
        masked.append(Issue.community_id.in_(represented))
    clauses = [Issue.created_by_id == user.id, and_(or_(*masked), Issue.id.not_in(hidden))]
    if scope:
        clauses.append(Issue.community_id.in_(scope))
    return or_(*clauses)
