"""Reads about sessions that pages and the API share: lists, calendars, clashes."""

from __future__ import annotations

import calendar as pycalendar
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import contains_eager, joinedload

from consult.community.models import Community
from consult.enums import RegistrationStatus, SeriesStatus, SessionStatus
from consult.extensions import db
from consult.lists import paginate
from consult.meetings import recurrence
from consult.meetings.models import Meeting, Registration, Series
from consult.permissions import visible_meetings_clause


def list_options():
    """Loader options for lists: community and venue in the same query."""
    return (joinedload(Meeting.community), joinedload(Meeting.venue))


@dataclass(frozen=True)
class MeetingFilter:
    """What a list of sessions is narrowed to; None: not narrowed."""

    community_id: int | None = None
    kind: str | None = None
    series_id: int | None = None
    #: Sessions starting at or after ``start`` and before ``end``.
    start: datetime | None = None
    end: datetime | None = None
    status: str | None = None
    newest_first: bool = False


def meetings_select(user, f: MeetingFilter, visible=None):
    """Return the SELECT of the sessions ``user`` may see that match ``f``, in order.

    ``visible``: ``visible_meetings_clause(user)`` when the caller has it already
    (building it costs more than running a small query)."""
    if visible is None:
        visible = visible_meetings_clause(user)
    query = select(Meeting).where(visible)
    if f.community_id is not None:
        query = query.where(Meeting.community_id == f.community_id)
    if f.kind is not None:
        query = query.where(Meeting.kind == f.kind)
    if f.series_id is not None:
        query = query.where(Meeting.series_id == f.series_id)
    if f.start is not None:
        query = query.where(Meeting.starts_at >= f.start)
    if f.end is not None:
        query = query.where(Meeting.starts_at < f.end)
    if f.status is not None:
        query = query.where(Meeting.status == f.status)
    if f.newest_first:
        return query.order_by(Meeting.starts_at.desc(), Meeting.id.desc())
    return query.order_by(Meeting.starts_at, Meeting.id)


def visibility_key(user) -> tuple:
    """What decides which sessions ``user`` sees, and the counters that change it: the
    communities' versions, and for those who see their own private sessions, their
    sign-ups and invitations (consult.calendar.cache.owner_versions)."""
    return _visibility(user, activity=False)[0]


def visibility_key_and_activity(user) -> tuple[tuple, int]:
    """``visibility_key(user)``, and every community's activity version summed (raised by
    sign-ups, invitations and the like: consult.community.versions), read in the same one
    statement: for what shows the sessions with their waiting lists."""
    key, activity = _visibility(user, activity=True)
    assert activity is not None
    return key, activity


def _visibility(user, activity: bool) -> tuple[tuple, int | None]:
    from consult.calendar.cache import owner_versions, owner_versions_and_activity
    from consult.community.versions import all_versions, read_with_activity, versions_part
    from consult.permissions import staff_communities

    def everyone(kind: str) -> tuple[tuple, int | None]:
        if not activity:
            return (kind, all_versions()), None
        rows, total = read_with_activity(versions_part())
        return (kind, rows[0]), total

    if not (user is not None and getattr(user, "is_authenticated", False) and user.active):
        return everyone("public")
    scope = staff_communities(user)
    if scope is None:
        return everyone("all")
    if not activity:
        return ("user", user.id, sorted(scope), owner_versions(user)), None
    rows, total = owner_versions_and_activity(user)
    return ("user", user.id, sorted(scope), rows), total


def _count(user, f: MeetingFilter, visible) -> int:
    query = meetings_select(user, f, visible).order_by(None)
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def count_meetings(user, f: MeetingFilter, visible=None, visibility: tuple | None = None) -> int:
    """Return how many sessions ``user`` may see match ``f``.

    The count is kept in the cache until a session (or the user's sign-ups and
    invitations) changes (consult.community.versions). A list that starts now (the
    coming sessions) would be a new count each time: the count from the start of the
    hour is kept, and the sessions of that hour that began before ``f.start`` (a few,
    found by the index of start times) are counted each time and taken off.

    ``visibility``: ``visibility_key(user)`` when the caller has read it already (it
    costs a statement)."""
    from consult.community.versions import cached_value, digest

    if visible is None:
        visible = visible_meetings_clause(user)
    if visibility is None:
        visibility = visibility_key(user)

    def kept(g: MeetingFilter) -> int:
        key = digest("meetings-count", visibility, g)
        return cached_value(key, lambda: _count(user, g, visible))

    if f.start is None:
        return kept(f)
    hour = f.start.replace(minute=0, second=0, microsecond=0)
    if hour == f.start:
        return kept(f)
    before = f.start if f.end is None else min(f.end, f.start)
    return kept(replace(f, start=hour)) - _count(user, replace(f, start=hour, end=before), visible)


def list_meetings(
    user,
    f: MeetingFilter,
    page: int = 1,
    per_page: int = 20,
    visible=None,
    visibility: tuple | None = None,
):
    """Return one page (Flask-SQLAlchemy Pagination) of the sessions ``user`` may see.

    ``visible``: ``visible_meetings_clause(user)``, and ``visibility``:
    ``visibility_key(user)``, when the caller has them already."""
    if visible is None:
        visible = visible_meetings_clause(user)
    query = meetings_select(user, f, visible).options(*list_options())
    return paginate(
        query, page, per_page, total=lambda: count_meetings(user, f, visible, visibility)
    )


@lru_cache(maxsize=1)
def _waitlisted_select() -> Select:
    """How many are on the waiting list of each of the sessions ``ids`` (built once: a
    statement is dearer to build than to run)."""
    return (
        select(Registration.meeting_id, func.count(Registration.id))
        .where(
            Registration.meeting_id.in_(bindparam("ids", expanding=True)),
            Registration.status == RegistrationStatus.WAITLISTED,
        )
        .group_by(Registration.meeting_id)
    )


def first_start(user, f: MeetingFilter, visible=None) -> datetime | None:
    """Return when the first session of ``f``'s list starts (the latest start for a list
    newest first), or None for an empty list: one row, read in the list's order by the
    index of start times.

    The sessions from now on are the sessions from that start on (and those before now,
    the sessions up to that start): no session the list could show lies between. So
    the start names the list where now would name a new one each time; it changes when
    a session the list shows (for the past: would show) begins."""
    query = meetings_select(user, f, visible).with_only_columns(Meeting.starts_at).limit(1)
    return db.session.scalar(query)


def waitlisted_counts(meeting_ids) -> dict[int, int]:
    """Return {meeting id: number of waitlisted registrations} in one query."""
    ids = list(meeting_ids)
    if not ids:
        return {}
    rows = db.session.execute(_waitlisted_select(), {"ids": ids})
    return dict(rows.all())


def get_meeting(meeting_id: int) -> Meeting | None:
    """Return the session with everything its page shows, or None."""
    return db.session.scalar(
        select(Meeting)
        .where(Meeting.id == meeting_id)
        .options(
            joinedload(Meeting.community),
            joinedload(Meeting.venue),
            joinedload(Meeting.organiser),
            joinedload(Meeting.host_unit),
            joinedload(Meeting.series),
        )
    )


def get_series(series_id: int) -> Series | None:
    return db.session.get(Series, series_id)


def series_occurrences(series_id: int, user) -> list[Meeting]:
    """Return the occurrences of a series that ``user`` may see, cancelled ones included."""
    return list(
        db.session.scalars(
            select(Meeting)
            .where(Meeting.series_id == series_id, visible_meetings_clause(user))
            .options(joinedload(Meeting.venue))
            .order_by(Meeting.recurrence_id)
        )
    )


@dataclass(frozen=True)
class SessionPageHead:
    """A session as its page shows it (community, venue, organiser, host unit and
    series loaded with it), and its community's change counters read in the same row:
    (calendar, statistics, activity) versions."""

    meeting: Meeting
    versions: tuple[int, int, int]


def session_page_head(meeting_id: int) -> SessionPageHead | None:
    """Return the session with what its page shows of it and its community's counters,
    in one statement; None when there is no such session.

    The counters are columns of the row, not attributes of a community the session may
    already hold: they are as the database has them now, before anything is rendered."""
    from consult.loaders import names_a_row

    if not names_a_row(meeting_id):
        return None
    row = db.session.execute(
        select(
            Meeting,
            Community.calendar_version,
            Community.stats_version,
            Community.activity_version,
        )
        .join(Community, Community.id == Meeting.community_id)
        .where(Meeting.id == meeting_id)
        .options(
            contains_eager(Meeting.community),
            joinedload(Meeting.venue),
            joinedload(Meeting.organiser),
            joinedload(Meeting.host_unit),
            joinedload(Meeting.series),
        )
    ).first()
    if row is None:
        return None
    meeting, calendar_version, stats_version, activity_version = row
    return SessionPageHead(
        meeting, (int(calendar_version), int(stats_version), int(activity_version))
    )


def community_choices() -> list[tuple[int, str]]:
    """Return (id, name) of every community, by name."""
    return [
        tuple(row)
        for row in db.session.execute(select(Community.id, Community.name).order_by(Community.name))
    ]


# -- month and week calendars ------------------------------------------------------------


@dataclass
class CalendarDay:
    day: date
    #: False for the days of the neighbouring months that fill the month's first and last week.
    in_period: bool
    meetings: list[Meeting] = field(default_factory=list)
    #: Sessions of the day not shown (beyond the calendar's sessions per day).
    more: int = 0


def month_days(year: int, month: int) -> list[list[date]]:
    """Return the weeks (Monday first) that show the month, as lists of 7 dates."""
    return pycalendar.Calendar(firstweekday=0).monthdatescalendar(year, month)


def week_days(day: date) -> list[date]:
    """Return the Monday-to-Sunday week holding ``day``."""
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=i) for i in range(7)]


def calendar_weeks(
    user,
    weeks: list[list[date]],
    in_period,
    community_id: int | None = None,
    kind: str | None = None,
    per_day: int | None = None,
) -> list[list[CalendarDay]]:
    """Fill the given weeks with the sessions ``user`` may see, on their local day.

    A session lies on the day its own time zone gives it; ``in_period(day)`` says whether
    a day belongs to the month or week shown. With ``per_day``, a day shows its first
    ``per_day`` sessions and counts the others (``more``): the sessions of the period are
    first read as (id, start, zone) alone, and only those shown are loaded.
    """
    first, last = weeks[0][0], weeks[-1][-1]
    # A day wider on both sides: any zone's local day lies within that window.
    start = datetime.combine(first - timedelta(days=1), time(), UTC)
    end = datetime.combine(last + timedelta(days=2), time(), UTC)
    f = MeetingFilter(community_id=community_id, kind=kind, start=start, end=end)
    query = meetings_select(user, f)
    days = {day for week in weeks for day in week}
    by_day: dict[date, list[int]] = {}
    for meeting_id, starts_at, zone in db.session.execute(
        query.with_only_columns(Meeting.id, Meeting.starts_at, Meeting.timezone)
    ):
        local_day = starts_at.astimezone(ZoneInfo(zone)).date()
        if local_day in days:
            by_day.setdefault(local_day, []).append(meeting_id)
    shown = {d: ids[:per_day] if per_day is not None else ids for d, ids in by_day.items()}
    wanted = [i for ids in shown.values() for i in ids]
    loaded = {}
    if wanted:
        loaded = {
            m.id: m
            for m in db.session.scalars(
                select(Meeting).where(Meeting.id.in_(wanted)).options(joinedload(Meeting.venue))
            )
        }
    return [
        [
            CalendarDay(
                day,
                in_period(day),
                [loaded[i] for i in shown.get(day, []) if i in loaded],
                len(by_day.get(day, [])) - len(shown.get(day, [])),
            )
            for day in week
        ]
        for week in weeks
    ]


# -- venue clashes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Clash:
    """A booking that overlaps the requested time at the same venue."""

    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    #: The clashing session; None for an occurrence of a series not yet made a row.
    meeting_id: int | None
    series_id: int | None

    def local_start(self) -> str:
        return self.starts_at.astimezone(ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M")

    def local_end(self) -> str:
        local = self.ends_at.astimezone(ZoneInfo(self.timezone))
        start = self.starts_at.astimezone(ZoneInfo(self.timezone))
        text = local.strftime("%H:%M" if local.date() == start.date() else "%Y-%m-%d %H:%M")
        return f"{text} ({self.timezone})"

    def as_dict(self) -> dict:
        tz = ZoneInfo(self.timezone)
        return {
            "session": self.meeting_id,
            "series": self.series_id,
            "title": self.title,
            "starts_at": self.starts_at.astimezone(tz).isoformat(),
            "ends_at": self.ends_at.astimezone(tz).isoformat(),
        }


def _bookings(venue_id: int, lo: datetime, hi: datetime, exclude_meeting_id: int | None):
    """Yield (start, end, Clash) of every live booking of the venue overlapping [lo, hi)."""
    rows = db.session.scalars(
        select(Meeting).where(
            Meeting.venue_id == venue_id,
            Meeting.status != SessionStatus.CANCELLED,
            Meeting.starts_at < hi,
            Meeting.ends_at > lo,
            Meeting.id != (exclude_meeting_id or 0),
        )
    ).all()
    for m in rows:
        yield (
            m.starts_at,
            m.ends_at,
            Clash(m.title, m.starts_at, m.ends_at, m.timezone, m.id, m.series_id),
        )
    # Occurrences after a series' last row exist only in its rule: expand them.
    series_rows = db.session.scalars(
        select(Series).where(
            Series.venue_id == venue_id, Series.status == SeriesStatus.ACTIVE, Series.dtstart < hi
        )
    ).all()
    for s in series_rows:
        after = lo - s.duration
        if s.materialised_until is not None:
            after = max(after, s.materialised_until)
        for start in recurrence.occurrences(s.rrule, s.dtstart, s.timezone, after, hi):
            end = start + s.duration
            yield start, end, Clash(s.title, start, end, s.timezone, None, s.id)


def find_clash(venue_id: int, intervals, exclude_meeting_id: int | None = None) -> Clash | None:
    """Return a booking of the venue that overlaps one of ``intervals`` [start, end), or None.

    Touching intervals (one ends when the other starts) do not clash; cancelled sessions
    never do; occurrences of series count, also those beyond the rows made so far.
    """
    if not intervals:
        return None
    lo = min(s for s, _ in intervals)
    hi = max(e for _, e in intervals)
    events = [(s, e, None) for s, e in intervals]
    events += list(_bookings(venue_id, lo, hi, exclude_meeting_id))
    # Sweep by start: an interval overlaps an earlier one exactly when it starts before
    # the latest end seen so far on the other side.
    events.sort(key=lambda item: (item[0], item[1]))
    new_end: datetime | None = None
    other: tuple[datetime, Clash] | None = None
    for start, end, clash in events:
        if clash is None:
            if other is not None and other[0] > start:
                return other[1]
            new_end = end if new_end is None else max(new_end, end)
        else:
            if new_end is not None and new_end > start:
                return clash
            if other is None or end > other[0]:
                other = (end, clash)
    return None
