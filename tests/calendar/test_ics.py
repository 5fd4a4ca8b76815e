"""Calendar files, built by the pure builders and read back with icalendar and
recurring-ical-events: each correctness point of RFC 5545 that Consult promises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consult.calendar import ics
from consult.calendar.documents import session_calendar
from consult.community.models import Venue
from consult.meetings.models import Meeting
from tests.calendar.helpers import expand, parse, raw_lines, unfolded, vevents

CHINESE_TITLE = (
    "周五议事日：关于老旧小区加装电梯、停车位划分以及垃圾分类督导员排班的居民恳谈会（第十二期）"
)
CTX = ics.IcsContext(
    base_url="http://consult.test",
    fallback_organizer="consult@localhost",
    stamp=datetime(2026, 11, 26, 8, 30, tzinfo=UTC),
)


def body_of(meeting) -> bytes:
    return ics.to_ics(session_calendar(meeting))


def friday_series(factories, **kwargs):
    """The issue's scenario: 12 Friday Talk Days, one skipped week, one moved week."""
    cadre = factories.make_user("cadre", name="李明")
    venue = factories.make_venue(factories.make_community(), name="和合社区议事厅")
    series, weeks = factories.make_calendar_series(venue=venue, organiser=cadre, **kwargs)
    factories.cancel_occurrence(weeks[3])
    factories.reschedule_occurrence(weeks[6], weeks[6].starts_at + timedelta(days=1, hours=2))
    return series, weeks


# -- the file as bytes -----------------------------------------------------------------


def test_every_line_ends_in_crlf(app, factories):
    meeting = factories.make_meeting()
    meeting.title = "停车\n议事"  # stored as it is, past the operation's rules (older data)
    body = body_of(meeting)
    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")
    assert b"\r" not in body.replace(b"\r\n", b"")


def test_long_chinese_lines_fold_at_75_octets_without_splitting_a_character(app, factories):
    hall = "城关镇和合社区党群服务中心三楼多功能厅"
    venue = factories.make_venue(factories.make_community(), name=hall)
    meeting = factories.make_meeting(title=CHINESE_TITLE, venue=venue)
    body = body_of(meeting)
    lines = raw_lines(body)
    assert any(line.startswith(b" ") for line in lines), "the long title should be folded"
    for line in lines:
        assert len(line) <= 75, line
        line.decode("utf-8")  # each physical line is whole UTF-8: no character was cut
    summary = next(line for line in unfolded(body) if line.startswith("SUMMARY"))
    assert summary == f"SUMMARY:{CHINESE_TITLE}"
    assert str(vevents(parse(body))[0]["SUMMARY"]) == CHINESE_TITLE


def test_version_and_prodid(app, factories):
    cal = parse(body_of(factories.make_meeting()))
    assert cal["VERSION"] == "2.0"
    assert str(cal["PRODID"]) == ics.PRODID
    # A file to download is no scheduling message: no METHOD (only mail has one).
    assert "METHOD" not in cal
    # VERSION and PRODID come once, at the top of the calendar.
    lines = unfolded(body_of(factories.make_meeting()))
    assert lines[0] == "BEGIN:VCALENDAR"
    assert sum(line.startswith("VERSION:") for line in lines) == 1
    assert sum(line.startswith("PRODID:") for line in lines) == 1


def test_uid_is_stable_across_renders_and_unique_per_session(app, factories):
    first = factories.make_meeting()
    second = factories.make_meeting()
    uid_once = str(vevents(parse(body_of(first)))[0]["UID"])
    uid_again = str(vevents(parse(body_of(first)))[0]["UID"])
    assert uid_once == uid_again == first.uid
    assert str(vevents(parse(body_of(second)))[0]["UID"]) != uid_once


def test_series_uses_one_uid_for_the_master_and_its_overrides(app, factories):
    series, weeks = friday_series(factories)
    for week in (weeks[0], weeks[5], weeks[11]):
        events = vevents(parse(body_of(week)))
        assert {str(e["UID"]) for e in events} == {series.uid}
    assert series.uid not in {w.uid for w in weeks}


def test_dtstamp_is_utc(app, factories):
    event = vevents(parse(body_of(factories.make_meeting())))[0]
    stamp = event.decoded("DTSTAMP")
    assert stamp.utcoffset() == timedelta(0)
    raw = next(
        line for line in unfolded(body_of(factories.make_meeting())) if line.startswith("DTSTAMP")
    )
    assert raw.startswith("DTSTAMP:") and raw.endswith("Z")


def test_sequence_starts_at_zero_and_follows_the_session(app, factories):
    meeting = factories.make_meeting()
    assert vevents(parse(body_of(meeting)))[0]["SEQUENCE"] == 0
    factories.reschedule_occurrence(meeting, meeting.starts_at + timedelta(hours=1))
    assert vevents(parse(body_of(meeting)))[0]["SEQUENCE"] == 1
    factories.cancel_occurrence(meeting)
    event = vevents(parse(body_of(meeting)))[0]
    assert event["SEQUENCE"] == 2
    assert event["STATUS"] == "CANCELLED"


def test_override_sequence_rises_with_the_occurrence_and_the_series(app, factories):
    series, weeks = friday_series(factories)
    moved = next(e for e in vevents(parse(body_of(weeks[0]))) if "RECURRENCE-ID" in e)
    assert moved["SEQUENCE"] == 1
    series.sequence = 2
    from consult.extensions import db

    db.session.commit()
    events = vevents(parse(body_of(weeks[0])))
    master = next(e for e in events if "RRULE" in e)
    moved_again = next(e for e in events if "RECURRENCE-ID" in e)
    assert master["SEQUENCE"] == 2
    assert moved_again["SEQUENCE"] > moved["SEQUENCE"]


def test_times_have_a_tzid_and_a_vtimezone_never_floating(app, factories):
    series, weeks = friday_series(factories)
    body = body_of(weeks[0])
    cal = parse(body)
    zones = {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
    assert zones == {"Asia/Shanghai"}
    for line in unfolded(body):
        name = line.split(":", 1)[0].split(";", 1)[0]
        if name in ("DTSTART", "DTEND", "EXDATE", "RECURRENCE-ID") and not line.startswith(
            ("DTSTART:19", "DTSTART:20")  # inside VTIMEZONE: local by definition
        ):
            assert ";TZID=Asia/Shanghai:" in line, line
    # icalendar reads them back as aware datetimes in that zone.
    for event in vevents(cal):
        for name in ("DTSTART", "DTEND"):
            value = event.decoded(name)
            assert value.tzinfo is not None and str(value.tzinfo) == "Asia/Shanghai"


def test_every_zone_used_gets_its_vtimezone(app, factories):
    berlin = factories.make_meeting()
    berlin.timezone = "Europe/Berlin"
    from consult.extensions import db

    db.session.commit()
    shanghai = factories.make_meeting()
    cal = ics.build_calendar([ics.meeting_event(berlin, CTX), ics.meeting_event(shanghai, CTX)])
    assert {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")} == {"Europe/Berlin", "Asia/Shanghai"}
    assert cal.get_missing_tzids() == set()


def test_rrule_with_count_has_no_until(app, factories):
    series, weeks = friday_series(factories)
    master = next(e for e in vevents(parse(body_of(weeks[0]))) if "RRULE" in e)
    rule = master["RRULE"]
    assert rule["COUNT"] == [12] and "UNTIL" not in rule


def test_rrule_never_has_both_count_and_until(app, factories):
    _series, weeks = factories.make_calendar_series(
        rrule="FREQ=WEEKLY;BYDAY=FR;COUNT=4;UNTIL=20991231T000000Z"
    )
    rule = next(e for e in vevents(parse(body_of(weeks[0]))) if "RRULE" in e)["RRULE"]
    assert "COUNT" in rule and "UNTIL" not in rule


@pytest.mark.parametrize(
    "until",
    ["20270301T150000", "20270301", "20270301T070000Z"],
    ids=["local date-time", "date", "utc"],
)
def test_rrule_until_is_written_in_utc(app, factories, until):
    first = datetime(2027, 1, 8, 15, 0)
    _series, weeks = factories.make_calendar_series(
        first_local=first, rrule=f"FREQ=WEEKLY;BYDAY=FR;UNTIL={until}"
    )
    body = body_of(weeks[0])
    rrule_line = next(line for line in unfolded(body) if line.startswith("RRULE:"))
    assert "COUNT" not in rrule_line
    value = rrule_line.split("UNTIL=")[1].split(";")[0]
    assert value.endswith("Z") and len(value) == 16
    rule = next(e for e in vevents(parse(body)) if "RRULE" in e)["RRULE"]
    assert rule["UNTIL"][0].utcoffset() == timedelta(0)
    # The bound means the same instants as before: the last Friday stays in.
    window = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))
    instances = expand(parse(body), *window)
    assert instances[-1].decoded("DTSTART").date() == datetime(2027, 2, 26).date()


def test_exdate_has_the_tzid_of_dtstart_and_the_original_start(app, factories):
    series, weeks = friday_series(factories)
    body = body_of(weeks[0])
    exdates = [line for line in unfolded(body) if line.startswith("EXDATE")]
    assert len(exdates) == 1
    skipped = weeks[3].recurrence_id.astimezone(ZoneInfo("Asia/Shanghai"))
    assert exdates[0] == f"EXDATE;TZID=Asia/Shanghai:{skipped:%Y%m%dT%H%M%S}"
    master = next(e for e in vevents(parse(body)) if "RRULE" in e)
    assert master["DTSTART"].params["TZID"] == master["EXDATE"].params["TZID"]


def test_moved_week_is_an_override_with_the_same_uid_and_recurrence_id(app, factories):
    series, weeks = friday_series(factories)
    events = vevents(parse(body_of(weeks[0])))
    overrides = [e for e in events if "RECURRENCE-ID" in e]
    assert len(overrides) == 1
    override = overrides[0]
    assert str(override["UID"]) == series.uid
    assert override["RECURRENCE-ID"].params["TZID"] == "Asia/Shanghai"
    assert override.decoded("RECURRENCE-ID") == weeks[6].recurrence_id
    assert override.decoded("DTSTART") == weeks[6].starts_at
    assert "RRULE" not in override and "EXDATE" not in override


def test_twelve_week_series_expands_to_eleven_sessions_with_the_moved_one_moved(app, factories):
    series, weeks = friday_series(factories)
    cal = parse(body_of(weeks[4]))  # any occurrence's file is the whole series
    instances = expand(
        cal, weeks[0].starts_at - timedelta(days=1), weeks[-1].starts_at + timedelta(days=7)
    )
    starts = [e.decoded("DTSTART") for e in instances]
    assert len(instances) == 11
    assert weeks[3].starts_at not in starts
    assert weeks[6].recurrence_id not in starts
    assert weeks[6].starts_at in starts
    expected = sorted(w.starts_at for w in weeks if w.status != "cancelled")
    assert starts == expected
    for instance in instances:
        assert instance.decoded("DTEND") - instance.decoded("DTSTART") == timedelta(hours=2)


def test_text_is_escaped(app, factories):
    venue = factories.make_venue(factories.make_community(), name="议事厅, 二楼; 东侧")
    meeting = factories.make_meeting(title="A, B; C\\D", venue=venue)
    meeting.description = "第一行\n第二行"
    from consult.extensions import db

    db.session.commit()
    lines = unfolded(body_of(meeting))
    assert "SUMMARY:A\\, B\\; C\\\\D" in lines
    assert "LOCATION:议事厅\\, 二楼\\; 东侧" in lines
    assert any(line.startswith("DESCRIPTION:第一行\\n第二行\\n\\n") for line in lines)


def test_description_and_url_carry_the_session_address(app, factories):
    meeting = factories.make_meeting()
    meeting.description = "请带上身份证。"
    from consult.extensions import db

    db.session.commit()
    event = vevents(parse(body_of(meeting)))[0]
    address = f"http://consult.test/sessions/{meeting.id}"
    assert str(event["DESCRIPTION"]) == f"请带上身份证。\n\n{address}"
    assert str(event["URL"]) == address


def test_organizer_is_a_bare_mailto_of_the_organiser_else_mail_from(app, factories):
    cadre = factories.make_user("cadre", name="李明")
    with_organiser = factories.make_meeting(organiser=cadre)
    line = next(x for x in unfolded(body_of(with_organiser)) if x.startswith("ORGANIZER"))
    assert line == f"ORGANIZER:mailto:{cadre.email}"
    app.config["MAIL_FROM"] = "和合社区 <notices@hehe.example.org>"
    line = next(x for x in unfolded(body_of(factories.make_meeting())) if x.startswith("ORGANIZER"))
    assert line == "ORGANIZER:mailto:notices@hehe.example.org"


def test_cancelled_session_is_status_cancelled(app, factories):
    meeting = factories.cancel_occurrence(factories.make_meeting())
    assert vevents(parse(body_of(meeting)))[0]["STATUS"] == "CANCELLED"


def test_cancel_calendar_carries_status_and_recurrence_id(app, factories):
    series, weeks = friday_series(factories)
    event = ics.occurrence_event(series, weeks[3], CTX)
    cal = parse(ics.to_ics(ics.build_calendar([event], ics.CANCEL)))
    assert cal["METHOD"] == "CANCEL"
    (cancel,) = vevents(cal)
    assert cancel["STATUS"] == "CANCELLED"
    assert cancel.decoded("RECURRENCE-ID") == weeks[3].recurrence_id
    assert str(cancel["UID"]) == series.uid


def test_attendee_lines_for_invitations(app, factories):
    meeting = factories.make_meeting()
    guest = ics.Attendee("Wang.Fang@Example.org", "王芳")
    cal = parse(
        ics.to_ics(ics.build_calendar([ics.meeting_event(meeting, CTX, [guest])], ics.REQUEST))
    )
    attendee = vevents(cal)[0]["ATTENDEE"]
    assert str(attendee) == "mailto:wang.fang@example.org"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert attendee.params["RSVP"] == "TRUE"
    assert attendee.params["CN"] == "王芳"


# -- time zones with daylight saving -----------------------------------------------------


def test_berlin_series_keeps_its_local_time_across_the_dst_change(app, factories):
    # Fridays 15:00 in Berlin from 5 March 2027: summer time starts on 28 March.
    series, weeks = factories.make_calendar_series(
        first_local=datetime(2027, 3, 5, 15, 0),
        zone="Europe/Berlin",
        rrule="FREQ=WEEKLY;BYDAY=FR;COUNT=6",
    )
    after_change = weeks[4]  # 2 April 2027, 15:00 CEST = 13:00 UTC
    assert after_change.recurrence_id == datetime(2027, 4, 2, 13, 0, tzinfo=UTC)
    factories.cancel_occurrence(after_change)
    body = body_of(weeks[0])
    cal = parse(body)
    (zone,) = cal.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Berlin"
    assert {c.name for c in zone.subcomponents} >= {"STANDARD", "DAYLIGHT"}
    lines = unfolded(body)
    assert "DTSTART;TZID=Europe/Berlin:20270305T150000" in lines
    assert "EXDATE;TZID=Europe/Berlin:20270402T150000" in lines
    instances = expand(cal, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC))
    assert len(instances) == 5
    berlin = ZoneInfo("Europe/Berlin")
    assert {e.decoded("DTSTART").astimezone(berlin).hour for e in instances} == {15}
    utc_hours = [e.decoded("DTSTART").astimezone(UTC).hour for e in instances]
    assert utc_hours == [14, 14, 14, 14, 13]  # 26 March is still winter time


def test_shanghai_series_has_no_daylight_saving(app, factories):
    series, weeks = factories.make_calendar_series(first_local=datetime(2027, 3, 5, 15, 0))
    cal = parse(body_of(weeks[0]))
    (zone,) = cal.walk("VTIMEZONE")
    assert [c.name for c in zone.subcomponents] == ["STANDARD"]
    instances = expand(cal, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC))
    assert {e.decoded("DTSTART").astimezone(UTC).hour for e in instances} == {7}


# -- TEXT round-trips exactly (Hypothesis) -----------------------------------------------

SPECIAL = list("\r\n,;:\\\"' \t") + list("周五议事日社区会议室，；：、“”（）") + ["\U0001f600", "é"]
texts = st.text(
    alphabet=st.one_of(
        st.sampled_from(SPECIAL),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    min_size=1,
    max_size=120,
)


def _transient_meeting(title: str, venue: str, description: str) -> Meeting:
    start = datetime(2027, 1, 8, 7, 0, tzinfo=UTC)
    return Meeting(
        id=7,
        uid="7@consult.test",
        kind="roundtable",
        title=title,
        description=description,
        community_id=1,
        venue=Venue(name=venue),
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        timezone="Asia/Shanghai",
        status="scheduled",
        visibility="public",
        sequence=0,
    )


def expected(text: str) -> str:
    """What TEXT can carry: line ends as LF, no control characters but tab."""
    return ics.clean_text(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=texts, venue=texts, description=texts)
def test_text_round_trips_exactly_and_adds_no_property(title, venue, description):
    meeting = _transient_meeting(title, venue, description)
    body = ics.to_ics(ics.build_calendar([ics.meeting_event(meeting, CTX)], ics.PUBLISH))
    for line in raw_lines(body):
        assert len(line) <= 75
        line.decode("utf-8")
    cal = parse(body)
    events = vevents(cal)
    assert len(events) == 1
    event = events[0]
    assert set(event.keys()) == {
        "UID",
        "DTSTART",
        "DTEND",
        "DTSTAMP",
        "SEQUENCE",
        "SUMMARY",
        "LOCATION",
        "DESCRIPTION",
        "URL",
        "STATUS",
        "CLASS",
        "ORGANIZER",
    } - ({"LOCATION"} if not expected(venue) else set())
    assert set(cal.keys()) == {"VERSION", "PRODID", "CALSCALE", "METHOD"}
    assert [c.name for c in cal.subcomponents] == ["VEVENT", "VTIMEZONE"] or [
        c.name for c in cal.subcomponents
    ] == ["VTIMEZONE", "VEVENT"]
    assert str(event["SUMMARY"]) == expected(title)
    if expected(venue):
        assert str(event["LOCATION"]) == expected(venue)
    url = "http://consult.test/sessions/7"
    body_text = expected(description)
    assert str(event["DESCRIPTION"]) == (f"{body_text}\n\n{url}" if body_text else url)
    assert event["UID"] == "7@consult.test"


def test_clean_text_keeps_what_text_can_carry():
    assert ics.clean_text("a\r\nb\rc\nd") == "a\nb\nc\nd"
    assert ics.clean_text("tab\there\x00\x07\x1b") == "tab\there"
    assert ics.clean_text("议事, 厅; \\") == "议事, 厅; \\"
