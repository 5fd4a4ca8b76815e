"""The Google Calendar link of a session page, and wall-clock times that a change of the
clocks skips or repeats."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from consult.extensions import db
from consult.meetings.links import MAX_URL_BYTES, google_calendar_url
from consult.types import utcnow
from tests.meetings.conftest import body

GOOGLE = re.compile(r'href="(https://calendar\.google\.com/[^"]+)"')


def test_google_link_carries_the_venue_address_and_fits_by_encoded_length(app, client, factories):
    community = factories.make_community()
    hall = factories.make_venue(community, name="和合社区议事厅")
    hall.address = "城关镇和合路 12 号"
    meeting = factories.make_meeting(community, venue=hall, title="社区圆桌会")
    # Chinese takes nine bytes a character once percent-encoded: 1500 characters would
    # pass a cap by character count and make a URL of more than 13 KB.
    meeting.description = "关于老旧小区加装电梯的居民议事。" * 100
    db.session.commit()
    html = client.get(f"/sessions/{meeting.id}").get_data(as_text=True)
    url = unescape(GOOGLE.search(html).group(1))
    assert len(url) <= MAX_URL_BYTES
    assert url.isascii()
    query = parse_qs(urlsplit(url).query)
    assert query["location"] == ["和合社区议事厅, 城关镇和合路 12 号"]
    details = query["details"][0]
    assert details.startswith("关于老旧小区") and "…" in details
    assert details.endswith(f"/sessions/{meeting.id}")
    # A short description is kept whole.
    meeting.description = "请带上身份证。"
    db.session.commit()
    short = google_calendar_url(meeting, "http://consult.test/sessions/1")
    assert parse_qs(urlsplit(short).query)["details"] == [
        "请带上身份证。\n\nhttp://consult.test/sessions/1"
    ]


def test_no_google_link_for_a_cancelled_session_or_a_skipped_week(app, client, factories):
    meeting = factories.cancel_occurrence(factories.make_meeting())
    series, weeks = factories.make_calendar_series()
    factories.cancel_occurrence(weeks[1])
    for cancelled in (meeting, weeks[1]):
        html = client.get(f"/sessions/{cancelled.id}").get_data(as_text=True)
        assert not GOOGLE.search(html)
        assert google_calendar_url(cancelled, "x") is None
    assert GOOGLE.search(client.get(f"/sessions/{weeks[2].id}").get_data(as_text=True))


def _next_change(month: int) -> date:
    """The next last Sunday of ``month`` (Europe/Berlin's changes of the clocks)."""
    today = utcnow().date()
    for year in (today.year, today.year + 1):
        day = date(year, month, 31 if month in (3, 10) else 30)
        day -= timedelta(days=(day.weekday() - 6) % 7)
        if day > today + timedelta(days=2):
            return day
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("language", "gap_words", "overlap_words"),
    [
        ("en", "does not exist", "happens twice"),
        ("zh_CN", "不存在", "出现两次"),
    ],
)
def test_a_series_at_a_time_the_clocks_skip_or_repeat_is_refused(
    app, factories, api_as, language, gap_words, overlap_words
):
    berlin = ZoneInfo("Europe/Berlin")
    cadre = factories.make_user("cadre")
    cadre.locale = language
    db.session.commit()
    api = api_as(cadre)
    headers = {"Accept-Language": language}
    # Sundays at 02:30: skipped on the day summer time starts.
    spring = _next_change(3)
    start = datetime.combine(spring - timedelta(days=14), time(2, 30), berlin)
    response = api.post(
        "/api/v1/sessions",
        headers=headers,
        json=body(
            start,
            kind="friday_talk",
            recurrence="FREQ=WEEKLY;BYDAY=SU;COUNT=6",
            timezone="Europe/Berlin",
        ),
    )
    assert response.status_code == 422, response.get_json()
    message = response.get_json()["error"]["fields"]["starts_at"][0]
    assert gap_words in message and spring.isoformat() in message
    # Sundays at 02:30: twice on the day winter time starts.
    autumn = _next_change(10)
    start = datetime.combine(autumn - timedelta(days=7), time(2, 30), berlin)
    response = api.post(
        "/api/v1/sessions",
        headers=headers,
        json=body(
            start,
            kind="friday_talk",
            recurrence="FREQ=WEEKLY;BYDAY=SU;COUNT=3",
            timezone="Europe/Berlin",
        ),
    )
    assert response.status_code == 422
    message = response.get_json()["error"]["fields"]["starts_at"][0]
    assert overlap_words in message and autumn.isoformat() in message
    # A one-off at that repeated hour is refused too; at 15:00 the same day, taken.
    twice = datetime.combine(autumn, time(2, 30), berlin)
    response = api.post(
        "/api/v1/sessions", headers=headers, json=body(twice, timezone="Europe/Berlin")
    )
    assert response.status_code == 422
    fine = datetime.combine(autumn, time(15, 0), berlin)
    response = api.post(
        "/api/v1/sessions",
        headers=headers,
        json=body(fine, timezone="Europe/Berlin", venue="Room 9"),
    )
    assert response.status_code == 201, response.get_json()
