"""Reads for calendar files and feeds, shared by the pages, the API and the mail."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from consult.accounts.models import User, hash_token
from consult.calendar.models import FeedToken
from consult.community.models import AllianceMember, Community, Unit
from consult.extensions import db
from consult.meetings.models import Invitation, Meeting, Registration, Series
from consult.permissions import visible_meetings_clause

#: Defaults of the feed window; FEED_DAYS_BACK / FEED_DAYS_AHEAD override them.
FEED_DAYS_BACK = 90
FEED_DAYS_AHEAD = 365


def _meeting_loads():
    return (
        joinedload(Meeting.venue),
        joinedload(Meeting.organiser),
    )


def _series_loads():
    return (
        joinedload(Series.venue),
        joinedload(Series.organiser),
        selectinload(Series.occurrences).options(*_meeting_loads()),
    )


def series_with_occurrences(series_id: int) -> Series | None:
    """Return a series with its venue, organiser and every occurrence loaded."""
    return db.session.scalar(
        select(Series).where(Series.id == series_id).options(*_series_loads())
    )


def feed_for_token(token: str) -> FeedToken | None:
    """Return the live feed whose secret is ``token`` (None: unknown, revoked, or the
    owner's account is disabled)."""
    if not token or len(token) > 200:
        return None
    feed = db.session.scalar(
        select(FeedToken)
        .where(FeedToken.token_hash == hash_token(token), FeedToken.revoked_at.is_(None))
        .options(joinedload(FeedToken.user), joinedload(FeedToken.community))
    )
    if feed is None or not feed.user.active:
        return None
    return feed


def user_feeds(user: User) -> list[FeedToken]:
    """Return the user's live feeds, newest first."""
    return list(
        db.session.scalars(
            select(FeedToken)
            .where(FeedToken.user_id == user.id, FeedToken.revoked_at.is_(None))
            .options(joinedload(FeedToken.community))
            .order_by(FeedToken.created_at.desc(), FeedToken.id.desc())
        )
    )


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    """Return the [start, end) interval of session starts a feed carries."""
    config = current_app.config
    back = int(config.get("FEED_DAYS_BACK", FEED_DAYS_BACK))
    ahead = int(config.get("FEED_DAYS_AHEAD", FEED_DAYS_AHEAD))
    return now - timedelta(days=back), now + timedelta(days=ahead)


@dataclass
class FeedScope:
    """Which sessions a feed shows: single sessions (one-offs, and occurrences the
    owner signed up for one at a time) and whole series."""

    meeting_clause: object
    series_clause: object


def _in_window(window):
    start, end = window
    return (Meeting.starts_at >= start) & (Meeting.starts_at < end)


def feed_scope(feed: FeedToken, window: tuple[datetime, datetime]) -> FeedScope:
    """Return the WHERE clauses selecting the feed's sessions and series: a community's
    public ones, or the owner's: signed up for, invited to, or organised by them."""
    if feed.scope == "community":
        # Community feeds carry public sessions only, whoever subscribes.
        base = (
            (Meeting.community_id == feed.community_id)
            & (Meeting.visibility == "public")
            & _in_window(window)
        )
        series_ids = select(Meeting.series_id).where(base, Meeting.series_id.is_not(None))
        return FeedScope(
            meeting_clause=base & Meeting.series_id.is_(None),
            series_clause=Series.id.in_(series_ids),
        )
    owner = feed.user
    mine = or_(Invitation.user_id == owner.id, Invitation.email == owner.email)
    answered = Invitation.partstat != "DECLINED"
    # The series the owner organises, whole, and those they are invited to, whole.
    whole_series = (
        select(Meeting.series_id)
        .join(Invitation, Invitation.meeting_id == Meeting.id)
        .where(mine, answered, Invitation.whole_series.is_(True), Meeting.series_id.is_not(None))
    ).union(select(Series.id).where(Series.organiser_id == owner.id))
    registered = select(Registration.meeting_id).where(
        Registration.user_id == owner.id, Registration.status != "cancelled"
    )
    invited = select(Invitation.meeting_id).where(mine, answered)
    # Private sessions only while the owner may see them (visible_meetings_clause).
    visible = visible_meetings_clause(owner) & _in_window(window)
    single = (
        visible
        & or_(Meeting.id.in_(registered), Meeting.id.in_(invited),
              Meeting.organiser_id == owner.id)
        & or_(Meeting.series_id.is_(None), Meeting.series_id.not_in(whole_series))
    )
    series_ids = select(Meeting.series_id).where(visible, Meeting.series_id.in_(whole_series))
    return FeedScope(meeting_clause=single, series_clause=Series.id.in_(series_ids))


def feed_etag(feed: FeedToken, scope: FeedScope) -> str:
    """Return the feed's entity tag from what it would show, without building it:
    the ids, versions and change times of its sessions and series."""
    digest = hashlib.sha256()
    digest.update(f"{feed.id}:{feed.scope}:{feed.community_id}:".encode())
    digest.update(current_app.config["BASE_URL"].encode())
    rows = db.session.execute(
        select(Meeting.id, Meeting.updated_at, Meeting.sequence, Meeting.status)
        .where(scope.meeting_clause)
        .order_by(Meeting.id)
    )
    for row in rows:
        digest.update(
            f"|m{row.id}:{row.updated_at.isoformat()}:{row.sequence}:{row.status}".encode()
        )
    rows = db.session.execute(
        select(
            Series.id,
            Series.updated_at,
            Meeting.id.label("occurrence"),
            Meeting.updated_at.label("changed"),
        )
        .join(Meeting, Meeting.series_id == Series.id)
        .where(scope.series_clause)
        .order_by(Series.id, Meeting.id)
    )
    for row in rows:
        digest.update(
            f"|s{row.id}:{row.updated_at.isoformat()}:{row.occurrence}:{row.changed.isoformat()}".encode()
        )
    return digest.hexdigest()[:40]


@dataclass
class FeedContent:
    meetings: list[Meeting] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)


def feed_content(scope: FeedScope) -> FeedContent:
    """Load the sessions and series a feed shows, with what their VEVENTs need."""
    meetings = list(
        db.session.scalars(
            select(Meeting)
            .where(scope.meeting_clause)
            .options(
                *_meeting_loads(),
                joinedload(Meeting.series).options(joinedload(Series.organiser)),
            )
            .order_by(Meeting.starts_at, Meeting.id)
        ).unique()
    )
    series = list(
        db.session.scalars(
            select(Series).where(scope.series_clause).options(*_series_loads()).order_by(Series.id)
        ).unique()
    )
    return FeedContent(meetings=meetings, series=series)


def meeting_invitations(meeting: Meeting) -> list[Invitation]:
    """Return the invitations to a session, whole-series invitations included."""
    clause = Invitation.meeting_id == meeting.id
    if meeting.series_id is not None:
        occurrences = select(Meeting.id).where(Meeting.series_id == meeting.series_id)
        clause = or_(
            clause, Invitation.whole_series.is_(True) & Invitation.meeting_id.in_(occurrences)
        )
    return list(
        db.session.scalars(
            select(Invitation)
            .where(clause)
            .options(joinedload(Invitation.unit))
            .order_by(Invitation.created_at, Invitation.id)
        )
    )


def alliance_units(community_id: int) -> list[Unit]:
    """Return the units of a community's alliance, by rotation order then name."""
    return list(
        db.session.scalars(
            select(Unit)
            .join(AllianceMember, AllianceMember.unit_id == Unit.id)
            .where(AllianceMember.community_id == community_id)
            .order_by(AllianceMember.rotation_position.is_(None), AllianceMember.rotation_position,
                      Unit.name)
        )
    )


def all_communities() -> list[Community]:
    """Return every community, by name (the feed form's choices)."""
    return list(db.session.scalars(select(Community).order_by(Community.name)))
