"""Small factories that fill in defaults: make_user(role="cadre"), make_case(level=3)."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

from consult.accounts.operations import create_user, get_or_create_community
from consult.cases.models import Case, Issue
from consult.community.models import Unit, Venue
from consult.extensions import db
from consult.meetings.models import Meeting
from consult.types import utcnow

_counter = itertools.count(1)
PASSWORD = "secret-pw"


def make_community(name: str = "Hehe", brand: str | None = None):
    community = get_or_create_community(name)
    if brand:
        community.brand = brand
    db.session.commit()
    return community


#: make_user's default community: administrators are town-level (no community), the
#: other roles belong to Hehe.
TOWN = object()


def make_user(
    role: str = "resident",
    email: str | None = None,
    community: str | None = TOWN,
    representative: bool = False,
    password: str = PASSWORD,
    name: str | None = None,
):
    n = next(_counter)
    if community is TOWN:
        community = None if role == "admin" else "Hehe"
    user = create_user(
        {
            "email": email or f"{role}{n}@example.org",
            "name": name or f"{role.title()} {n}",
            "role": role,
            "password": password,
            "community": community,
            "representative": representative,
        }
    )
    db.session.commit()
    return user


def make_unit(name: str | None = None, kind: str = "enterprise"):
    unit = Unit(name=name or f"Unit {next(_counter)}", kind=kind)
    db.session.add(unit)
    db.session.commit()
    return unit


def make_venue(community, name: str = "Community hall", kind: str = "hall", capacity=None):
    venue = Venue(community_id=community.id, name=name, kind=kind, capacity=capacity)
    db.session.add(venue)
    db.session.commit()
    return venue


def make_meeting(
    community=None,
    kind: str = "roundtable",
    starts_in=timedelta(days=7),
    hours: int = 2,
    capacity=None,
    visibility: str | None = None,
    venue=None,
    title: str | None = None,
    status: str = "scheduled",
    organiser=None,
):
    """A one-off session, scheduled through the operation that pages and the API use.

    ``status`` other than scheduled and ``organiser`` are set afterwards, as the later
    steps of a session's life would (the organiser need not have the right to create)."""
    from zoneinfo import ZoneInfo

    from consult.meetings.operations import create_meeting

    community = community or make_community()
    starts = (utcnow() + starts_in).replace(microsecond=0)
    zone = ZoneInfo("Asia/Shanghai")
    meeting = create_meeting(
        {
            "kind": kind,
            "title": title or f"{kind} {next(_counter)}",
            "community": community.name,
            "venue": venue.name if venue else None,
            "starts_at": starts.astimezone(zone),
            "ends_at": (starts + timedelta(hours=hours)).astimezone(zone),
            "timezone": "Asia/Shanghai",
            "capacity": capacity,
            "visibility": visibility,
        },
        None,
    )
    meeting.status = status
    meeting.organiser_id = organiser.id if organiser else None
    db.session.commit()
    return meeting


def make_case(
    community=None,
    category: str = "concern",
    level: int = 1,
    source: str = "grid",
    title: str | None = None,
    issue=None,
):
    community = community or make_community()
    case = Case(
        community_id=community.id,
        category=category,
        source=source,
        level=level,
        title=title or f"Case {next(_counter)}",
        description="",
        issue_id=issue.id if issue else None,
    )
    db.session.add(case)
    db.session.commit()
    return case


def make_issue(community=None, title: str | None = None, cases=()):
    community = community or make_community()
    issue = Issue(community_id=community.id, title=title or f"Issue {next(_counter)}")
    db.session.add(issue)
    db.session.flush()
    for case in cases:
        case.issue_id = issue.id
    db.session.commit()
    return issue


def make_series(
    community=None,
    kind: str = "friday_talk",
    count: int = 3,
    starts_in=timedelta(days=2),
    capacity=None,
    visibility: str = "public",
    title: str | None = None,
):
    """A weekly series of ``count`` weeks, scheduled through the operation that pages and
    the API use (its occurrences, audit entry and notices included); returns (series,
    its sessions in order)."""
    from zoneinfo import ZoneInfo

    from consult.meetings.models import Series
    from consult.meetings.operations import create_meeting

    community = community or make_community()
    start = (utcnow() + starts_in).replace(microsecond=0)
    first = create_meeting(
        {
            "kind": kind,
            "title": title or f"{kind} series",
            "community": community.name,
            "starts_at": start.astimezone(ZoneInfo("Asia/Shanghai")),
            "ends_at": (start + timedelta(hours=2)).astimezone(ZoneInfo("Asia/Shanghai")),
            "timezone": "Asia/Shanghai",
            "capacity": capacity,
            "visibility": visibility,
            "recurrence": f"FREQ=WEEKLY;COUNT={count}",
        },
        None,
    )
    db.session.commit()
    series = db.session.get(Series, first.series_id)
    meetings = sorted(series.occurrences, key=lambda m: m.recurrence_id)
    return series, meetings


def make_invitation(
    meeting,
    email: str | None = None,
    name: str | None = None,
    unit=None,
    partstat: str = "NEEDS-ACTION",
):
    from consult.meetings.models import Invitation

    invitation = Invitation(
        meeting_id=meeting.id,
        email=email or f"guest{next(_counter)}@example.org",
        name=name,
        unit_id=unit.id if unit else None,
        partstat=partstat,
    )
    db.session.add(invitation)
    db.session.commit()
    return invitation


def make_alliance_member(community, unit=None, position: int | None = None):
    from consult.community.models import AllianceMember

    unit = unit or make_unit()
    member = AllianceMember(community_id=community.id, unit_id=unit.id, rotation_position=position)
    db.session.add(member)
    db.session.commit()
    return member


def make_api_token(user) -> str:
    from consult.accounts.operations import create_api_token

    token = create_api_token(user)
    db.session.commit()
    return token


# -- calendars: series expanded by dateutil in local time, sign-ups, skipped and moved weeks --


def next_weekday_at(weekday: int, hour: int, zone: str = "Asia/Shanghai", weeks_ahead: int = 1):
    """Return a naive local datetime: the given weekday (0 = Monday) at ``hour``, at least
    ``weeks_ahead`` weeks from now in ``zone``."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo(zone)).replace(tzinfo=None).date()
    day = today + timedelta(days=(weekday - today.weekday()) % 7 + 7 * weeks_ahead)
    return datetime(day.year, day.month, day.day, hour)


def make_calendar_series(
    community=None,
    first_local=None,
    zone: str = "Asia/Shanghai",
    rrule: str = "FREQ=WEEKLY;BYDAY=FR;COUNT=12",
    minutes: int = 120,
    title: str = "Friday Talk Day",
    kind: str = "friday_talk",
    venue=None,
    organiser=None,
    visibility: str = "public",
    description: str = "",
    capacity=None,
):
    """A series whose occurrences are the rule's expansion (dateutil) in local wall-clock
    time, made into UTC rows; returns (series, occurrences)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from dateutil.rrule import rrulestr

    from consult.meetings.models import Series

    community = community or make_community()
    tz = ZoneInfo(zone)
    first_local = first_local or next_weekday_at(4, 15, zone)
    # dateutil expands on naive wall-clock times: a UTC bound becomes local for it.
    parts = []
    for part in rrule.split(";"):
        name, _, value = part.partition("=")
        if name == "UNTIL" and value.endswith("Z"):
            bound = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            value = bound.astimezone(tz).strftime("%Y%m%dT%H%M%S")
        if name == "UNTIL" and "COUNT=" in rrule:
            continue  # both is invalid (RFC 5545); the count wins, as in calendars
        parts.append(f"{name}={value}")
    starts = [
        naive.replace(tzinfo=tz).astimezone(UTC)
        for naive in list(rrulestr(";".join(parts), dtstart=first_local))[:60]
    ]
    series = Series(
        uid=f"{uuid.uuid4()}@consult.test",
        kind=kind,
        title=title,
        description=description,
        community_id=community.id,
        venue_id=venue.id if venue else None,
        organiser_id=organiser.id if organiser else None,
        rrule=rrule,
        dtstart=starts[0],
        duration_minutes=minutes,
        timezone=zone,
        capacity=capacity,
        visibility=visibility,
        materialised_until=starts[-1],
    )
    db.session.add(series)
    db.session.flush()
    occurrences = []
    for at in starts:
        occurrence = Meeting(
            uid=f"{uuid.uuid4()}@consult.test",
            kind=kind,
            title=title,
            description=description,
            community_id=community.id,
            venue_id=series.venue_id,
            organiser_id=series.organiser_id,
            starts_at=at,
            ends_at=at + timedelta(minutes=minutes),
            timezone=zone,
            capacity=capacity,
            visibility=visibility,
            series_id=series.id,
            recurrence_id=at,
        )
        db.session.add(occurrence)
        occurrences.append(occurrence)
    db.session.commit()
    return series, occurrences


def cancel_occurrence(meeting):
    """Skip one week of a series (or cancel a session): status cancelled, SEQUENCE up."""
    meeting.status = "cancelled"
    meeting.cancelled_at = utcnow()
    meeting.sequence += 1
    db.session.commit()
    return meeting


def reschedule_occurrence(meeting, starts_at, ends_at=None):
    """Move a session to the aware ``starts_at`` (keeping its length unless ``ends_at``)."""
    length = meeting.ends_at - meeting.starts_at
    meeting.starts_at = starts_at
    meeting.ends_at = ends_at or starts_at + length
    meeting.sequence += 1
    db.session.commit()
    return meeting


def make_signup(meeting, user=None, name: str | None = None, status: str = "confirmed"):
    """A registration: the user's own, or a proxy one (``name``, no account)."""
    from consult.meetings.models import Registration

    registration = Registration(
        meeting_id=meeting.id,
        user_id=user.id if user else None,
        name=None if user else (name or "王秀英"),
        status=status,
        confirmed_at=utcnow() if status == "confirmed" else None,
    )
    db.session.add(registration)
    if status == "confirmed":
        meeting.confirmed_count += 1
    db.session.commit()
    return registration
