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


def make_user(role: str = "resident", email: str | None = None, community: str | None = "Hehe",
              representative: bool = False, password: str = PASSWORD, name: str | None = None):
    n = next(_counter)
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


def make_meeting(community=None, kind: str = "roundtable", starts_in=timedelta(days=7),
                 hours: int = 2, capacity=None, visibility: str | None = None, venue=None,
                 title: str | None = None, status: str = "scheduled", organiser=None):
    community = community or make_community()
    starts = (utcnow() + starts_in).replace(microsecond=0)
    meeting = Meeting(
        uid=f"{uuid.uuid4()}@consult.test",
        kind=kind,
        title=title or f"{kind} {next(_counter)}",
        community_id=community.id,
        venue_id=venue.id if venue else None,
        starts_at=starts,
        ends_at=starts + timedelta(hours=hours),
        timezone="Asia/Shanghai",
        capacity=capacity,
        visibility=visibility or ("private" if kind == "mediation" else "public"),
        status=status,
        organiser_id=organiser.id if organiser else None,
    )
    db.session.add(meeting)
    db.session.commit()
    return meeting


def make_case(community=None, category: str = "concern", level: int = 1,
              source: str = "grid", title: str | None = None, issue=None):
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
