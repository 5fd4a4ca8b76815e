"""Reads for calendar files and feeds, shared by the pages, the API and the mail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, union
from sqlalchemy.orm import aliased, joinedload, selectinload

from consult.accounts.models import User, hash_token
from consult.calendar.models import FeedToken
from consult.community.models import AllianceMember, Community, Unit
from consult.enums import STAFF_ROLES
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
    return db.session.scalar(select(Series).where(Series.id == series_id).options(*_series_loads()))


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


@dataclass(frozen=True)
class FeedHead:
    """What a feed's token says before anything is loaded: which feed, its scope and,
    for a community's feed, all its fingerprint needs (consult.calendar.cache)."""

    id: int
    scope: str
    community_id: int | None
    community_name: str | None
    calendar_version: int | None
    owner_locale: str | None


def feed_head(token: str) -> FeedHead | None:
    """Return the head of the live feed whose secret is ``token`` (None: unknown,
    revoked, or the owner's account is disabled), in one row without loading objects:
    a revalidation needs no more."""
    if not token or len(token) > 200:
        return None
    row = db.session.execute(
        select(
            FeedToken.id,
            FeedToken.scope,
            FeedToken.community_id,
            Community.name,
            Community.calendar_version,
            User.locale,
        )
        .join(User, User.id == FeedToken.user_id)
        .outerjoin(Community, Community.id == FeedToken.community_id)
        .where(
            FeedToken.token_hash == hash_token(token),
            FeedToken.revoked_at.is_(None),
            User.active.is_(True),
        )
    ).first()
    return FeedHead(*row) if row is not None else None


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
    """Return the [start, end) interval of session starts a feed carries: from
    FEED_DAYS_BACK days before today to the end of the day FEED_DAYS_AHEAD days after it
    (whole UTC days, so that a feed and its ETag stay the same all day long)."""
    config = current_app.config
    back = int(config.get("FEED_DAYS_BACK", FEED_DAYS_BACK))
    ahead = int(config.get("FEED_DAYS_AHEAD", FEED_DAYS_AHEAD))
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=back), today + timedelta(days=ahead + 1)


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
    organised = aliased(Meeting)
    # One IN over the owner's few sessions (found by the indexes of sign-ups, invitations
    # and organisers), not an OR the database can only check on every session.
    theirs = union(
        registered, invited, select(organised.id).where(organised.organiser_id == owner.id)
    )
    # Private sessions only while the owner may see them (visible_meetings_clause).
    visible = visible_meetings_clause(owner) & _in_window(window)
    single = (
        Meeting.id.in_(theirs)
        & visible
        & or_(Meeting.series_id.is_(None), Meeting.series_id.not_in(whole_series))
    )
    series_ids = select(Meeting.series_id).where(visible, Meeting.series_id.in_(whole_series))
    return FeedScope(meeting_clause=single, series_clause=Series.id.in_(series_ids))


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


def week_only(user, meeting: Meeting) -> bool:
    """Return whether ``user`` follows only this week of a series: signed up for it (a
    live registration), not staff, and not invited to the whole series. Such a person's
    calendar holds that week as an event of its own, so the file they download is that
    week alone; everyone else gets the whole series."""
    if meeting.series_id is None or user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.role in STAFF_ROLES:
        return False
    registered = db.session.scalar(
        select(Registration.id).where(
            Registration.meeting_id == meeting.id,
            Registration.user_id == user.id,
            Registration.status != "cancelled",
        )
    )
    if registered is None:
        return False
    whole = db.session.scalar(
        select(Invitation.id)
        .join(Meeting, Meeting.id == Invitation.meeting_id)
        .where(
            Meeting.series_id == meeting.series_id,
            Invitation.whole_series.is_(True),
            Invitation.partstat != "DECLINED",
            or_(Invitation.user_id == user.id, Invitation.email == user.email),
        )
        .limit(1)
    )
    return whole is None


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
            .order_by(
                AllianceMember.rotation_position.is_(None),
                AllianceMember.rotation_position,
                Unit.name,
            )
        )
    )


def has_alliance(community_id: int) -> bool:
    """Return whether a community's alliance has any unit."""
    found = select(AllianceMember.id).where(AllianceMember.community_id == community_id)
    return db.session.scalar(found.limit(1)) is not None


def alliance_units_among(community_id: int, unit_ids) -> dict[int, Unit]:
    """Return {id: unit} of the given units that belong to the community's alliance."""
    ids = {i for i in unit_ids if isinstance(i, int)}
    if not ids:
        return {}
    found = db.session.scalars(
        select(Unit)
        .join(AllianceMember, AllianceMember.unit_id == Unit.id)
        .where(AllianceMember.community_id == community_id, Unit.id.in_(ids))
    )
    return {unit.id: unit for unit in found}


def all_communities() -> list[Community]:
    """Return every community, by name (the feed form's choices)."""
    return list(db.session.scalars(select(Community).order_by(Community.name)))


#: How many units one search of the invitation picker shows (refine to see others).
UNIT_SEARCH_LIMIT = 30


@dataclass
class UnitSearch:
    """Alliance units matching a search, grouped by kind in the vocabulary's order."""

    groups: list[tuple[str, list[Unit]]]
    #: How many units match in all (more than shown when the search is too broad).
    total: int
    shown: int
    #: Whether a name or a kind was asked for (without one, only the chosen are shown).
    searched: bool = False


def search_alliance_units(
    community_id: int,
    text: str = "",
    kind: str | None = None,
    chosen: tuple[int, ...] = (),
    limit: int = UNIT_SEARCH_LIMIT,
) -> UnitSearch:
    """Return the alliance units of a community whose name contains ``text`` (and of
    ``kind``), plus the ``chosen`` ones, grouped by unit kind; at most ``limit`` found."""
    from sqlalchemy import func

    from consult.enums import UnitKind

    members = select(AllianceMember.unit_id).where(AllianceMember.community_id == community_id)
    conditions = [Unit.id.in_(members)]
    text = (text or "").strip()[:100]
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Unit.name.ilike(f"%{escaped}%", escape="\\"))
    if kind in UnitKind:
        conditions.append(Unit.kind == kind)
    searched = bool(text or kind in UnitKind)
    total = db.session.scalar(select(func.count(Unit.id)).where(*conditions)) if searched else 0
    found = (
        list(
            db.session.scalars(
                select(Unit).where(*conditions).order_by(Unit.kind, Unit.name).limit(limit)
            )
        )
        if searched
        else []
    )
    ids = {u.id for u in found}
    extra = [i for i in chosen if i not in ids]
    if extra:
        found += db.session.scalars(select(Unit).where(Unit.id.in_(extra), Unit.id.in_(members)))
    groups = [
        (k, sorted((u for u in found if u.kind == k), key=lambda u: u.name)) for k in UnitKind
    ]
    return UnitSearch(
        [(k, units) for k, units in groups if units], total, min(total, limit), searched
    )
