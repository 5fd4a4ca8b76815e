"""Who may do what: the one place that says it.

Views, API routes and the CLI ask ``can(user, action, obj)`` or call ``require``; they
never look at roles themselves. Objects that may not even be seen are answered with
404 by the loaders (``visible_or_404``), objects that may be seen but not changed
with 403 (``require``).
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import or_, select, true

from consult.enums import STAFF_ROLES

ADMIN = frozenset({"admin"})
ORGANISERS = frozenset({"admin", "cadre"})
STAFF = frozenset(STAFF_ROLES)
EVERYONE = frozenset({"admin", "cadre", "secretary", "resident", "unit_rep"})

#: action -> roles allowed to perform it (object-level rules are added below).
RULES: dict[str, frozenset[str]] = {
    "admin.manage": ADMIN,
    "user.create": ADMIN,
    "community.manage": ADMIN,
    "unit.manage": ORGANISERS,
    "meeting.create": ORGANISERS,
    "meeting.edit": ORGANISERS,
    "meeting.cancel": ORGANISERS,
    "meeting.invite": ORGANISERS,
    "meeting.view": EVERYONE,
    "registration.create": EVERYONE,
    "registration.proxy": ORGANISERS,
    "registration.list": STAFF,
    "invitation.list": STAFF,
    "registration.cancel_any": ORGANISERS,
    # Object rule in can(): one's own registration, or any for organisers.
    "registration.cancel": EVERYONE,
    "rotation.view": EVERYONE,
    "rotation.manage": ORGANISERS,
    "attendance.record": STAFF,
    "case.create": frozenset({"admin", "cadre", "unit_rep"}),
    "case.create_at_session": STAFF,
    "case.view": EVERYONE,
    "case.list": frozenset({"admin", "cadre", "secretary", "unit_rep"}),
    "case.escalate": ORGANISERS,
    # Object rule in can(): secretaries import into their own communities only.
    "case.import": STAFF,
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
    # Naming a community that does not exist yet creates it (API.md: sessions, cases).
    "community.create_by_name": ORGANISERS,
    # Entries of the navigation bar that no other rule covers.
    "nav.issues": STAFF,
    "nav.actions": frozenset({"admin", "cadre", "unit_rep"}),
}


def can(user, action: str, obj=None) -> bool:
    """Return whether ``user`` may perform ``action`` (on ``obj``, where that matters)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return False
    roles = RULES.get(action)
    if roles is None:
        raise KeyError(f"unknown action {action!r}")
    if user.role not in roles:
        return False
    if action == "registration.cancel" and obj is not None:
        return obj.user_id == user.id or user.role in ORGANISERS
    if action == "action.report" and obj is not None and user.role == "unit_rep":
        return obj.unit_id is not None and obj.unit_id == user.unit_id
    if action == "case.import" and obj is not None and user.role == "secretary":
        return any(m.community_id == obj.id for m in user.memberships)
    if action == "evaluation.create" and obj is not None:
        return is_representative(user, obj.community_id)
    return True


def require(user, action: str, obj=None) -> None:
    """Abort with 403 unless ``user`` may perform ``action``."""
    if not can(user, action, obj):
        abort(403)


def is_representative(user, community_id: int) -> bool:
    return any(
        m.community_id == community_id and m.is_representative for m in user.memberships
    )


def may_see_meeting(user, meeting) -> bool:
    """Public sessions are seen by all; private ones by staff, registrants and invitees."""
    if meeting.visibility == "public":
        return True
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.role in STAFF:
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
        Registration.user_id == user.id, Registration.status != "cancelled"
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

    signed_in = user is not None and getattr(user, "is_authenticated", False)
    if signed_in and user.role in STAFF:
        return true()
    public = Meeting.visibility == "public"
    if not signed_in:
        return public
    return or_(public, _theirs_clause(user))


def visible_or_404(meeting, user):
    """Return ``meeting`` if ``user`` may see it; 404 otherwise (it must not leak)."""
    if meeting is None or not may_see_meeting(user, meeting):
        abort(404)
    return meeting
