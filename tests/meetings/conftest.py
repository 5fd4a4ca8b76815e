"""Helpers of the session tests: future local times and request bodies."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.mail.conftest import mailbox  # noqa: F401 (the real SMTP sink, for mail tests)

SESSION_KEYS = {
    "id",
    "kind",
    "title",
    "community",
    "venue",
    "starts_at",
    "ends_at",
    "timezone",
    "status",
    "capacity",
    "confirmed",
    "waitlisted",
    "sequence",
    "series",
    "visibility",
    "ics_url",
}
FRIDAY = 4


def local_start(
    zone: str = "Asia/Shanghai",
    days: int = 14,
    hour: int = 15,
    weekday: int | None = None,
    minute: int = 0,
) -> datetime:
    """Return an aware local time ``days`` ahead (on the next ``weekday``), at ``hour``."""
    tz = ZoneInfo(zone)
    day = (datetime.now(tz) + timedelta(days=days)).date()
    if weekday is not None:
        day += timedelta(days=(weekday - day.weekday()) % 7)
    return datetime.combine(day, time(hour, minute), tz)


def body(start: datetime, hours: float = 2, **overrides) -> dict:
    """Return a POST /api/v1/sessions body for a session starting at ``start``."""
    data = {
        "kind": "roundtable",
        "title": "社工委圆桌会 Roundtable",
        "community": "Hehe",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=hours)).isoformat(),
        "timezone": getattr(start.tzinfo, "key", "Asia/Shanghai"),
        "venue": "Community hall",
        "capacity": 30,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


def friday_talk(weeks: int = 12, **overrides) -> dict:
    """Return the body of a weekly Friday Talk Day series of ``weeks`` sessions."""
    start = local_start(weekday=FRIDAY)
    return body(
        start,
        kind="friday_talk",
        title="周五议事日 Friday Talk Day",
        recurrence=f"FREQ=WEEKLY;BYDAY=FR;COUNT={weeks}",
        **overrides,
    )


@pytest.fixture
def cadre(factories):
    """A town-level cadre: these tests schedule sessions in several communities."""
    return factories.make_user(role="cadre", name="王建国", community=None)


@pytest.fixture
def cadre_api(api_as, cadre):
    return api_as(cadre)


@pytest.fixture
def table_counts(app):
    """Return a function counting the rows of the session tables (to prove nothing was saved)."""
    from sqlalchemy import func, select

    from consult.community.models import Community, Venue
    from consult.extensions import db
    from consult.meetings.models import Meeting, Series

    def _counts():
        db.session.expire_all()
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Meeting, Series, Community, Venue)
        }

    return _counts
