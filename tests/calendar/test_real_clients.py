"""A small town's feeds, series and invitation mails, read by clients nobody here wrote:
ical.js (node), recurring-ical-events, and Radicale through the caldav library. Every
client must agree with the application's own list of occurrences."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from consult.extensions import db
from consult.meetings.models import Meeting, Series
from consult.types import utcnow
from tests.calendar import clients
from tests.calendar.helpers import itip_calendar, vevents


@pytest.fixture
def smtp(app, smtp_server, runner):
    app.config["SMTP_HOST"] = smtp_server.host
    app.config["SMTP_PORT"] = smtp_server.port
    seen = []

    def deliver():
        result = runner.invoke(args=["mail", "send"])
        assert result.exit_code == 0, result.output
        new = smtp_server.received()[len(seen) :]
        seen.extend(new)
        return new

    return deliver


@pytest.fixture
def caldav_url(tmp_path):
    with clients.radicale(tmp_path) as url:
        yield url


def next_dst_start() -> date:
    """The next last Sunday of March (Europe/Berlin's change to summer time) far enough
    away for a series starting 23 days before it to lie ahead."""
    today = utcnow().date()
    for year in (today.year, today.year + 1):
        day = date(year, 3, 31)
        day -= timedelta(days=(day.weekday() - 6) % 7)
        if day > today + timedelta(days=25):
            return day
    raise AssertionError("unreachable")


def feed_url(api, body: dict) -> str:
    response = api.post("/api/v1/feeds", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["url"]


def app_occurrences(meetings=(), series=(), single=()) -> tuple[list, list]:
    """The application's own list: (UID in the calendar, start, end) of what takes place,
    and of what is cancelled (but still in the calendar's rule or a one-off)."""
    live, cancelled = [], []
    for meeting in meetings:
        (cancelled if meeting.status == "cancelled" else live).append(
            (meeting.uid, meeting.starts_at, meeting.ends_at)
        )
    for meeting in single:  # weeks followed one at a time: standalone, their own UID
        (cancelled if meeting.status == "cancelled" else live).append(
            (meeting.uid, meeting.starts_at, meeting.ends_at)
        )
    for row in series:
        for o in db.session.get(Series, row.id).occurrences:
            if o.status == "cancelled":
                cancelled.append((row.uid, o.starts_at, o.ends_at))
            else:
                live.append((row.uid, o.starts_at, o.ends_at))
    return sorted(live), sorted(cancelled)


def all_clients(body: bytes, start: datetime, end: datetime, caldav_url: str, name: str):
    return {
        "ical.js": clients.icaljs(body, start, end),
        "recurring-ical-events": clients.rie(body, start, end),
        "radicale": clients.caldav_roundtrip(caldav_url, body, start, end, name=name),
    }


def test_a_towns_feeds_read_alike_in_every_client(app, client, factories, api_as, caldav_url):
    # The change of the clocks may be more than a year away: the feeds reach that far.
    app.config["FEED_DAYS_AHEAD"] = 500
    community = factories.make_community("和合社区")
    hall = factories.make_venue(community, name="和合社区议事厅")
    hall.address = "城关镇和合路 12 号"
    # Staff act only on their own community's sessions: the cadre is one of 和合社区.
    cadre = factories.make_user("cadre", name="李明", community="和合社区")
    resident = factories.make_user("resident", name="王芳")
    # One-offs, one of them cancelled.
    roundtable = factories.make_meeting(
        community, venue=hall, organiser=cadre, title="社区圆桌会", starts_in=timedelta(days=3)
    )
    dropped = factories.make_meeting(
        community, organiser=cadre, title="联席会议", starts_in=timedelta(days=5)
    )
    factories.cancel_occurrence(dropped)
    # Friday Talk Days in Shanghai: a skipped week and a moved week.
    fridays, weeks = factories.make_calendar_series(
        community, venue=hall, organiser=cadre, rrule="FREQ=WEEKLY;BYDAY=FR;COUNT=8"
    )
    factories.cancel_occurrence(weeks[2])
    factories.reschedule_occurrence(weeks[4], weeks[4].starts_at + timedelta(days=1, hours=2))
    # A Europe/Berlin series across the change to summer time, with a skipped week.
    change = next_dst_start()
    first = datetime.combine(change - timedelta(days=23), datetime.min.time()).replace(hour=15)
    berlin, berlin_weeks = factories.make_calendar_series(
        community,
        first_local=first,
        zone="Europe/Berlin",
        organiser=cadre,
        rrule="FREQ=WEEKLY;BYDAY=FR;COUNT=6",
        title="Sprechstunde",
    )
    factories.cancel_occurrence(berlin_weeks[1])
    # A series begun weeks ago whose rest is cancelled: the weeks held stay.
    earlier, held = factories.make_calendar_series(
        community,
        first_local=factories.next_weekday_at(2, 10, weeks_ahead=-3),
        rrule="FREQ=WEEKLY;BYDAY=WE;COUNT=10",
        title="民情恳谈",
    )
    for week in held:
        if week.starts_at < utcnow():
            week.status = "held"
    db.session.commit()
    api = api_as(cadre)
    assert api.post(f"/api/v1/series/{earlier.id}/cancel", json={}).status_code == 200
    db.session.expire_all()
    assert "UNTIL=" in db.session.get(Series, earlier.id).rrule
    # The resident signs up for one Friday only.
    factories.make_signup(weeks[5], resident)

    start = utcnow() - timedelta(days=60)
    end = utcnow() + timedelta(days=500)  # as far as the feeds reach
    community_feed = client.get(
        feed_url(api_as(resident), {"scope": "community", "community": "和合社区"})
    ).data
    mine_feed = client.get(feed_url(api_as(resident), {"scope": "mine"})).data
    assert b"METHOD" not in community_feed and b"METHOD" not in mine_feed

    expected_live, expected_cancelled = app_occurrences(
        meetings=[roundtable, dropped], series=[fridays, berlin, earlier]
    )
    # The cancelled rest of a series is outside its rule: no client shows it at all.
    expected_cancelled = [c for c in expected_cancelled if c[0] != earlier.uid]
    held_weeks = [(earlier.uid, w.starts_at, w.ends_at) for w in held if w.status == "held"]
    assert held_weeks and set(held_weeks) <= set(expected_live)

    for name, found in all_clients(community_feed, start, end, caldav_url, "town").items():
        assert clients.live(found) == expected_live, name
        # Cancelled weeks and one-offs stay in the feed as CANCELLED.
        cancelled = sorted((i.uid, i.start, i.end) for i in found if i.status == "CANCELLED")
        assert cancelled == expected_cancelled, name

    mine_live, _ = app_occurrences(single=[weeks[5]])
    for name, found in all_clients(mine_feed, start, end, caldav_url, "mine").items():
        assert clients.live(found) == mine_live, name

    # The Berlin weeks after the change keep their local time in every client.
    tz = ZoneInfo("Europe/Berlin")
    for found in all_clients(community_feed, start, end, caldav_url, "again").values():
        hours = {i.start.astimezone(tz).hour for i in found if i.uid == berlin.uid}
        assert hours == {15}
        offsets = {i.start.astimezone(tz).utcoffset() for i in found if i.uid == berlin.uid}
        assert offsets == {timedelta(hours=1), timedelta(hours=2)}


def test_invitation_mails_read_alike_and_a_cancelled_rest_keeps_the_held_weeks(
    app, factories, api_as, smtp, caldav_url
):
    cadre = factories.make_user("cadre", name="李明")
    api = api_as(cadre)
    change = next_dst_start()
    first = datetime.combine(change - timedelta(days=16), datetime.min.time()).replace(hour=15)
    series, weeks = factories.make_calendar_series(
        first_local=first,
        zone="Europe/Berlin",
        organiser=cadre,
        rrule="FREQ=WEEKLY;BYDAY=FR;COUNT=6",
        title="Sprechstunde",
    )
    factories.cancel_occurrence(weeks[3])
    factories.reschedule_occurrence(weeks[1], weeks[1].starts_at + timedelta(hours=2))
    assert (
        api.post(
            f"/api/v1/sessions/{weeks[0].id}/invitations",
            json={"emails": ["wang.fang@example.org"]},
        ).status_code
        == 202
    )
    assert (
        api.post(
            f"/api/v1/sessions/{weeks[4].id}/invitations",
            json={"emails": ["li.na@example.org"], "whole_series": False},
        ).status_code
        == 202
    )
    mails = {str(m["To"]).split("<")[-1].rstrip(">"): m for m in smtp()}
    start, end = weeks[0].starts_at - timedelta(days=1), weeks[-1].starts_at + timedelta(days=7)

    whole = mails["wang.fang@example.org"]
    request = whole.get_body(("calendar",)) or next(
        p for p in whole.walk() if p.get_content_type() == "text/calendar"
    )
    attachment = next(p for p in whole.iter_attachments() if p.get_filename() == "invite.ics")
    assert attachment.get_payload(decode=True) == request.get_payload(decode=True)
    body = request.get_payload(decode=True)
    expected, _ = app_occurrences(series=[series])
    for name, found in all_clients(body, start, end, caldav_url, "whole").items():
        assert clients.live(found) == expected, name

    one = itip_calendar(mails["li.na@example.org"]).to_ical()
    for name, found in all_clients(one, start, end, caldav_url, "one").items():
        assert clients.live(found) == [(weeks[4].uid, weeks[4].starts_at, weeks[4].ends_at)], name


def test_cancelling_the_rest_of_a_series_keeps_its_held_weeks_in_every_client(
    app, factories, api_as, smtp, caldav_url
):
    cadre = factories.make_user("cadre", name="李明")
    resident = factories.make_user("resident")
    api = api_as(cadre)
    series, weeks = factories.make_calendar_series(
        first_local=factories.next_weekday_at(4, 15, weeks_ahead=-2),
        organiser=cadre,
        rrule="FREQ=WEEKLY;BYDAY=FR;COUNT=6",
    )
    past = [w for w in weeks if w.starts_at < utcnow()]
    assert len(past) in (2, 3)  # three on a Friday afternoon
    for week in past:
        week.status = "held"
    db.session.commit()
    coming = [w for w in weeks if w.starts_at > utcnow()]
    assert (
        api.post(
            f"/api/v1/sessions/{coming[0].id}/invitations",
            json={"emails": ["wang.fang@example.org"]},
        ).status_code
        == 202
    )
    factories.make_signup(coming[1], resident)
    (invitation,) = smtp()
    start, end = weeks[0].starts_at - timedelta(days=1), weeks[-1].starts_at + timedelta(days=7)
    before = invitation.get_payload()[0].get_payload()[2].get_payload(decode=True)
    assert len(clients.live(clients.icaljs(before, start, end))) == 6

    response = api.post(f"/api/v1/series/{series.id}/cancel", json={})
    assert response.get_json()["cancelled"] == 6 - len(past)
    db.session.expire_all()
    assert "COUNT" not in db.session.get(Series, series.id).rrule
    cancels = {str(m["To"]).split("<")[-1].rstrip(">"): m for m in smtp()}
    update = itip_calendar(cancels["wang.fang@example.org"])
    # A CANCEL without RECURRENCE-ID would remove the held weeks too (RFC 5546 3.2.5):
    # the series comes again (higher SEQUENCE) with its rule ended at the last week kept.
    assert update["METHOD"] == "REQUEST"
    master = next(e for e in vevents(update) if "RRULE" in e)
    assert master["STATUS"] == "CONFIRMED"
    assert master["SEQUENCE"] > 0
    for event in vevents(update):
        assert event["ATTENDEE"].params["RSVP"] == "FALSE"
    kept = sorted((series.uid, w.starts_at, w.ends_at) for w in past)
    # A client replaces its copy of the UID by the newer SEQUENCE: the held weeks stay.
    for name, found in all_clients(update.to_ical(), start, end, caldav_url, "after").items():
        assert clients.live(found) == kept, name
    # The registrant of one cancelled week: a CANCEL of that week's own event.
    single = itip_calendar(cancels[resident.email])
    assert single["METHOD"] == "CANCEL"
    (gone,) = vevents(single)
    assert str(gone["UID"]) == coming[1].uid
    assert gone["ATTENDEE"].params["RSVP"] == "FALSE"


def test_radicale_refuses_an_orphan_override_and_takes_a_standalone_week(
    app, client, factories, api_as, caldav_url
):
    resident = factories.make_user("resident")
    series, weeks = factories.make_calendar_series()
    factories.make_signup(weeks[2], resident)
    factories.make_signup(weeks[4], resident)
    body = client.get(feed_url(api_as(resident), {"scope": "mine"})).data
    start, end = weeks[0].starts_at - timedelta(days=1), weeks[-1].starts_at + timedelta(days=1)
    found = clients.caldav_roundtrip(caldav_url, body, start, end, name="mine")
    assert clients.live(found) == sorted(
        (w.uid, w.starts_at, w.ends_at) for w in (weeks[2], weeks[4])
    )
    # What the feed used to publish: the series' UID with RECURRENCE-IDs, no master.
    cal = Calendar.from_ical(body)
    shanghai = ZoneInfo("Asia/Shanghai")
    for event, week in zip(cal.walk("VEVENT"), (weeks[2], weeks[4]), strict=True):
        event["UID"] = series.uid
        event.add("recurrence-id", week.recurrence_id.astimezone(shanghai))
    with pytest.raises(Exception):  # noqa: B017 (the server's refusal, whatever its type)
        clients.caldav_roundtrip(caldav_url, cal.to_ical(), start, end, name="orphan")


def test_berlin_vtimezone_is_rule_based_and_icaljs_agrees_across_the_change(app, factories):
    from consult.calendar.documents import session_calendar
    from consult.calendar.ics import to_ics

    change = next_dst_start()
    first = datetime.combine(change - timedelta(days=16), datetime.min.time()).replace(hour=15)
    series, weeks = factories.make_calendar_series(
        first_local=first, zone="Europe/Berlin", rrule="FREQ=WEEKLY;BYDAY=FR;COUNT=6"
    )
    body = to_ics(session_calendar(weeks[0]))
    text = body.decode()
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in text
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in text
    assert not any(line.startswith("RDATE") and "," in line for line in text.split("\r\n"))
    start, end = weeks[0].starts_at - timedelta(days=1), weeks[-1].starts_at + timedelta(days=1)
    expected = sorted((series.uid, w.starts_at, w.ends_at) for w in weeks)
    assert clients.live(clients.icaljs(body, start, end)) == expected
    assert clients.live(clients.rie(body, start, end)) == expected
    # The same weeks through a zone written as one comma-separated RDATE, which ical.js
    # reads only the first value of, come out an hour late after the change.
    from icalendar import Timezone

    old = Calendar.from_ical(body)
    old.subcomponents = [c for c in old.subcomponents if c.name != "VTIMEZONE"]
    old.subcomponents.insert(
        0, Timezone.from_tzid("Europe/Berlin", first_date=date(first.year, 1, 1))
    )
    late = clients.live(clients.icaljs(old.to_ical(), start, end))
    if any(b"," in line for line in old.to_ical().split(b"\r\n") if line.startswith(b"RDATE")):
        assert late != expected


def test_shanghai_vtimezone_is_as_before(app, factories):
    from icalendar import Timezone

    from consult.calendar.documents import session_calendar
    from consult.calendar.ics import to_ics

    meeting = factories.make_meeting()
    cal = Calendar.from_ical(to_ics(session_calendar(meeting)))
    (zone,) = cal.walk("VTIMEZONE")
    year = meeting.starts_at.astimezone(UTC).year
    assert (
        zone.to_ical() == Timezone.from_tzid("Asia/Shanghai", first_date=date(year, 1, 1)).to_ical()
    )


def test_a_week_signed_up_for_alone_downloads_as_that_week(app, client, factories, login_as):
    resident = factories.make_user("resident")
    series, weeks = factories.make_calendar_series()
    factories.make_signup(weeks[1], resident)
    url = f"/sessions/{weeks[1].id}.ics"
    anonymous = Calendar.from_ical(client.get(url).data)
    assert "METHOD" not in anonymous
    assert {str(e["UID"]) for e in vevents(anonymous)} == {series.uid}
    login_as(resident)
    (event,) = vevents(Calendar.from_ical(client.get(url).data))
    assert str(event["UID"]) == weeks[1].uid and "RRULE" not in event
    # Another week of the same series: not signed up for it, so the whole series.
    other = Calendar.from_ical(client.get(f"/sessions/{weeks[2].id}.ics").data)
    assert any("RRULE" in e for e in vevents(other))
    staff = factories.make_user("secretary")
    factories.make_signup(weeks[1], staff)
    other_client = app.test_client()
    from tests.conftest import login

    assert login(other_client, staff.email).status_code == 302
    staff_file = Calendar.from_ical(other_client.get(url).data)
    assert any("RRULE" in e for e in vevents(staff_file))
    assert db.session.get(Meeting, weeks[1].id).series_id == series.id
