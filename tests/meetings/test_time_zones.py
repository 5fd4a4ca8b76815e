"""Time zones: stored in UTC, shown and expanded in the session's zone, right across DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from consult.extensions import db
from consult.meetings import recurrence
from consult.meetings.models import Meeting, Series
from consult.meetings.recurrence import RuleError
from tests.meetings.conftest import FRIDAY, body

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def next_october_friday(tz: ZoneInfo) -> datetime:
    """Return the first Friday of the next October at 15:00 local time."""
    today = datetime.now(tz).date()
    year = today.year if today.month < 10 else today.year + 1
    day = datetime(year, 10, 1).date()
    day += timedelta(days=(FRIDAY - day.weekday()) % 7)
    return datetime.combine(day, time(15), tz)


def test_weekly_series_keeps_local_time_across_the_end_of_summer_time(app, cadre_api):
    app.config["SERIES_HORIZON_DAYS"] = 800
    start = next_october_friday(BERLIN)
    response = cadre_api.post(
        "/api/v1/sessions",
        json=body(start, kind="friday_talk", recurrence="FREQ=WEEKLY;BYDAY=FR;COUNT=8"),
    )
    assert response.status_code == 201, response.get_json()

    items = cadre_api.get(f"/api/v1/sessions?series={response.get_json()['series']}").get_json()[
        "items"
    ]
    local = [datetime.fromisoformat(s["starts_at"]) for s in items]
    rows = db.session.scalars(
        select(Meeting)
        .where(Meeting.series_id == response.get_json()["series"])
        .order_by(Meeting.starts_at)
    ).all()

    assert len(items) == 8
    assert {d.strftime("%H:%M") for d in local} == {"15:00"}
    # Summer time (+02:00) in October, standard time (+01:00) from the last Sunday on.
    offsets = [s["starts_at"][-6:] for s in items]
    assert offsets[0] == "+02:00" and offsets[-1] == "+01:00"
    utc_hours = [m.starts_at.astimezone(UTC).hour for m in rows]
    assert utc_hours[0] == 13 and utc_hours[-1] == 14
    assert sorted(set(utc_hours)) == [13, 14]
    assert all(m.starts_at.tzinfo == UTC for m in rows)
    # The UTC gap across the change is a week and an hour; the local gap a week.
    changes = [b.starts_at - a.starts_at for a, b in zip(rows, rows[1:], strict=False)]
    assert set(changes) == {timedelta(weeks=1), timedelta(weeks=1, hours=1)}
    assert all(m.ends_at - m.starts_at == timedelta(hours=2) for m in rows)


def test_shanghai_has_no_daylight_saving(app, cadre_api):
    app.config["SERIES_HORIZON_DAYS"] = 800
    start = next_october_friday(SHANGHAI)
    response = cadre_api.post(
        "/api/v1/sessions",
        json=body(start, kind="friday_talk", recurrence="FREQ=WEEKLY;BYDAY=FR;COUNT=8"),
    )
    series = db.session.get(Series, response.get_json()["series"])

    rows = series.occurrences
    assert len(rows) == 8
    assert {m.starts_at.astimezone(UTC).strftime("%H:%M") for m in rows} == {"07:00"}
    assert {m.starts_at.astimezone(SHANGHAI).strftime("%H:%M") for m in rows} == {"15:00"}


def test_expansion_in_the_zone_not_in_utc():
    # Summer time ends on Sunday 31 October 2027.
    start = datetime(2027, 10, 22, 15, 0, tzinfo=BERLIN)
    starts = recurrence.occurrences(
        "FREQ=WEEKLY;COUNT=3",
        start.astimezone(UTC),
        "Europe/Berlin",
        None,
        start + timedelta(days=60),
    )

    assert [s.astimezone(BERLIN).hour for s in starts] == [15, 15, 15]
    assert [s.hour for s in starts] == [13, 13, 14]


def test_spring_forward_gap_is_read_with_the_offset_before_the_change():
    # 2027-03-28 02:30 does not exist in Berlin; RFC 5545 reads it with the earlier offset.
    start = datetime(2027, 3, 21, 2, 30, tzinfo=BERLIN)
    starts = recurrence.occurrences(
        "FREQ=WEEKLY;COUNT=2",
        start.astimezone(UTC),
        "Europe/Berlin",
        None,
        start + timedelta(days=30),
    )

    assert starts[1] == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert not recurrence.wall_clock_exists(datetime(2027, 3, 28, 2, 30), BERLIN)
    assert recurrence.wall_clock_exists(datetime(2027, 3, 28, 3, 30), BERLIN)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("FREQ=WEEKLY;BYDAY=FR;COUNT=12", "FREQ=WEEKLY;BYDAY=FR;COUNT=12"),
        ("rrule:byday=fr;freq=weekly", "FREQ=WEEKLY;BYDAY=FR"),
        ("FREQ=MONTHLY;BYDAY=2TU;INTERVAL=1", "FREQ=MONTHLY;BYDAY=2TU;INTERVAL=1"),
        # A date UNTIL means the whole of that local day; a local date-time is local.
        ("FREQ=WEEKLY;UNTIL=20270226", "FREQ=WEEKLY;UNTIL=20270226T155959Z"),
        ("FREQ=WEEKLY;UNTIL=20270226T120000", "FREQ=WEEKLY;UNTIL=20270226T040000Z"),
        ("FREQ=WEEKLY;UNTIL=20270226T120000Z", "FREQ=WEEKLY;UNTIL=20270226T120000Z"),
    ],
)
def test_rules_are_stored_normalised_with_until_in_utc(given, stored):
    assert recurrence.normalise(given, "Asia/Shanghai") == stored


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "FREQ=WEEKLY;FREQ=DAILY",
        "FREQ=WEEKLY;COUNT=2;UNTIL=20270101",
        "FREQ=SECONDLY",
        "FREQ=WEEKLY;BYHOUR=9",
        "FREQ=WEEKLY;UNTIL=tomorrow",
        "FREQ=WEEKLY;COUNT=abc",
        "FREQ=周",
        "FREQ=WEEKLY;UNTIL=99991231",
        "FREQ=WEEKLY;BYDAY=2TU",
        "FREQ=WEEKLY;BYMONTHDAY=3",
        "FREQ=MONTHLY;BYWEEKNO=3",
        "FREQ=DAILY;BYSETPOS=2",
    ],
)
def test_bad_rules_are_refused(rule):
    with pytest.raises(RuleError):
        recurrence.normalise(rule, "Asia/Shanghai")


def test_rule_without_occurrence_is_refused_after_a_bounded_search():
    start = datetime(2027, 1, 2, 9, tzinfo=SHANGHAI)
    with pytest.raises(RuleError):
        recurrence.first_occurrence("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", start, "Asia/Shanghai")
    # The search stops at its bound: a first occurrence 29 years on is found, one 31 years
    # on is not looked for (so an impossible rule cannot keep a request busy).
    within = recurrence.first_occurrence(
        "FREQ=YEARLY;INTERVAL=29;BYMONTH=1;BYMONTHDAY=1", start, "Asia/Shanghai"
    )
    assert within.year == 2056
    assert start + recurrence.FIRST_SEARCH < datetime(2058, 1, 1, tzinfo=SHANGHAI)
    with pytest.raises(RuleError):
        recurrence.first_occurrence(
            "FREQ=YEARLY;INTERVAL=31;BYMONTH=1;BYMONTHDAY=1", start, "Asia/Shanghai"
        )


def test_unknown_zones_are_refused():
    for name in ("Mars/Base", "", None, "Asia", "../zoneinfo/UTC"):
        with pytest.raises(RuleError):
            recurrence.zone(name)
    assert recurrence.zone("Asia/Shanghai") == SHANGHAI


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=WEEKLY;BYDAY=FR;COUNT=12", "Every week on Friday, 12 times"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,FR", "Every 2 weeks on Tuesday, Friday"),
        ("FREQ=WEEKLY", "Every week on Friday"),
        (
            "FREQ=MONTHLY;BYDAY=2TU;UNTIL=20271231T155959Z",
            "The second Tuesday of each month, until Dec 31, 2027",
        ),
        ("FREQ=MONTHLY;INTERVAL=3;BYDAY=-1FR", "The last Friday of every 3 months"),
        ("FREQ=YEARLY;BYMONTH=3", "Repeats by the rule FREQ=YEARLY;BYMONTH=3"),
    ],
)
def test_rules_are_described_in_words(app, rule, words):
    friday = datetime(2027, 1, 1, 15, tzinfo=SHANGHAI).astimezone(UTC)
    with app.test_request_context("/?lang=en"):
        assert recurrence.describe(rule, friday, "Asia/Shanghai") == words
    with app.test_request_context("/?lang=zh_CN"):
        assert recurrence.describe(rule, friday, "Asia/Shanghai")
