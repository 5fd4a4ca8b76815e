"""Load an object by id for the caller, or answer 404: one loader per kind.

Each loader answers 404 when the object does not exist or the caller may not even see
it (so that its existence does not leak); views and API routes then ask
``permissions.require`` for what they want to do with it (403). The rules themselves
live in ``consult.permissions``.
"""

from __future__ import annotations

from functools import lru_cache

from flask import abort
from sqlalchemy import Select, bindparam, select

from consult.enums import MinutesStatus, Visibility
from consult.extensions import db
from consult.permissions import (
    case_access,
    in_scope,
    issue_access,
    may_report_action,
    may_see_meeting,
    reports_for_unit,
)

#: Ids beyond what an integer column holds name no row (and must not reach the database).
MAX_ID = 2**31 - 1


def names_a_row(object_id) -> bool:
    """Whether ``object_id`` is an id a row can have (an int from 1 to MAX_ID)."""
    return isinstance(object_id, int) and 0 < object_id <= MAX_ID


def _get(model, object_id):
    if not names_a_row(object_id):
        return None
    return db.session.get(model, object_id)


def meeting_or_404(meeting_id: int, user, *, lock: bool = False):
    """Return the session if ``user`` may see it.

    ``lock``: read it with its row locked until the transaction ends (FOR UPDATE; on
    SQLite the writing transaction holds the database's write lock already), in the one
    statement that loads it: ``attendance.operations.lock_meeting`` then has nothing
    left to read."""
    from consult.meetings.models import Meeting
    from consult.transactions import note_locked

    if not lock:
        return visible_or_404(_get(Meeting, meeting_id), user)
    if not names_a_row(meeting_id):
        abort(404)
    meeting = db.session.scalar(_locked_meeting_select(), {"meeting_id": meeting_id})
    if meeting is not None:
        note_locked(meeting)
    return visible_or_404(meeting, user)


@lru_cache(maxsize=1)
def _locked_meeting_select() -> Select:
    """The session ``meeting_id`` read afresh with its row locked, built once."""
    from consult.meetings.models import Meeting

    return (
        select(Meeting)
        .where(Meeting.id == bindparam("meeting_id"))
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def visible_or_404(meeting, user):
    """Return ``meeting`` (loaded by the caller, or None) if ``user`` may see it; 404
    otherwise (it must not leak)."""
    if meeting is None or not may_see_meeting(user, meeting):
        abort(404)
    return meeting


def series_or_404(series_id: int, user):
    """Return the series if ``user`` may see it (a private one: some occurrence of it)."""
    from consult.meetings.models import Meeting, Series
    from consult.permissions import visible_meetings_clause

    series = _get(Series, series_id)
    if series is None:
        abort(404)
    if series.visibility != Visibility.PUBLIC:
        seen = db.session.scalar(
            select(Meeting.id)
            .where(Meeting.series_id == series.id, visible_meetings_clause(user))
            .limit(1)
        )
        if seen is None:
            abort(404)
    return series


def registration_or_404(registration_id: int, user):
    """Return the registration if it is ``user``'s own, or ``user`` is staff of its
    session's community (and may see the session)."""
    from consult.meetings.models import Registration

    registration = _get(Registration, registration_id)
    if registration is None or not may_see_meeting(user, registration.meeting):
        abort(404)
    own = user is not None and registration.user_id == getattr(user, "id", None)
    if not own and not in_scope(user, registration.meeting.community_id):
        abort(404)
    return registration


def feed_or_404(feed_id: int, user):
    """Return one of ``user``'s own feeds that is not revoked."""
    from consult.calendar.models import FeedToken

    feed = _get(FeedToken, feed_id)
    if feed is None or feed.user_id != getattr(user, "id", None) or feed.revoked_at:
        abort(404)
    return feed


def agenda_item_or_404(item_id: int, user):
    """Return the agenda item if ``user`` may see its session."""
    from consult.minutes.queries import load_agenda_item

    item = load_agenda_item(item_id) if 0 < item_id <= MAX_ID else None
    if item is None or not may_see_meeting(user, item.meeting):
        abort(404)
    return item


def action_or_404(action_id: int, user):
    """Return the action item if ``user`` reports on it or is staff of its community."""
    from consult.minutes.models import ActionItem
    from consult.permissions import community_of

    action = _get(ActionItem, action_id)
    if action is None:
        abort(404)
    if reports_for_unit(user):
        if not may_report_action(user, action):
            abort(404)
    elif not in_scope(user, community_of(action)):
        abort(404)
    return action


def case_or_404(case_id: int, user):
    """Return ``(case, access)``: the case and how ``user`` reads it (FULL or MASKED)."""
    from consult.cases.queries import load_case

    case = load_case(case_id) if 0 < case_id <= MAX_ID else None
    access = case_access(user, case) if case is not None else None
    if access is None:
        abort(404)
    return case, access


def issue_or_404(issue_id: int, user):
    """Return ``(issue, access)``: the issue and how ``user`` reads it."""
    from consult.cases.queries import load_issue

    issue = load_issue(issue_id) if 0 < issue_id <= MAX_ID else None
    access = issue_access(user, issue) if issue is not None else None
    if access is None:
        abort(404)
    return issue, access


def minutes_or_404(meeting, user):
    """Return the session's minutes (None: none saved yet) if ``user`` may read them:
    the community's staff in any status, others once published."""
    from consult.minutes.queries import minutes_for
    from consult.permissions import can

    minutes = minutes_for(meeting)
    if can(user, "minutes.read_draft", meeting):
        return minutes
    if minutes is None or minutes.status != MinutesStatus.PUBLISHED:
        abort(404)
    return minutes


def community_or_404(community_id: int):
    """Return the community (communities are not secret)."""
    from consult.community.models import Community

    community = _get(Community, community_id)
    if community is None:
        abort(404)
    return community
