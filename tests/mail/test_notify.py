"""Mail caused by changes: updates, cancellations, sign-up confirmations, promotions.

Changes go through the sessions API where it exists; every message is read
back from a real SMTP server and its calendar parsed with icalendar.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from consult.extensions import db
from consult.mail import notify
from consult.mail.models import OutboxMessage
from tests.calendar.helpers import calendar_parts, itip_calendar, parse, vevents


def invite(api, meeting, *emails, whole_series=None):
    body = {"emails": list(emails)}
    if whole_series is not None:
        body["whole_series"] = whole_series
    response = api.post(f"/api/v1/sessions/{meeting.id}/invitations", json=body)
    assert response.status_code == 202, response.get_json()


def by_recipient(messages) -> dict:
    return {str(m["To"]).split("<")[-1].rstrip(">"): m for m in messages}


def queued() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def test_reschedule_sends_a_request_with_the_same_uid_and_a_higher_sequence(
    app, factories, api_as, mailbox
):
    cadre = factories.make_user("cadre")
    api = api_as(cadre)
    meeting = factories.make_meeting(organiser=cadre)
    resident = factories.make_user("resident")
    factories.make_signup(meeting, resident)
    factories.make_signup(meeting, name="王秀英")  # no address: no mail
    invite(api, meeting, "wang.fang@example.org")
    (invitation,) = mailbox.send()
    before = vevents(itip_calendar(invitation))[0]
    new_start = meeting.starts_at + timedelta(days=1)
    assert (
        api.patch(
            f"/api/v1/sessions/{meeting.id}", json={"starts_at": new_start.isoformat()}
        ).status_code
        == 200
    )
    updates = by_recipient(mailbox.send()[1:])
    assert set(updates) == {"wang.fang@example.org", resident.email}
    for address, msg in updates.items():
        cal = itip_calendar(msg)
        assert cal["METHOD"] == "REQUEST"
        (event,) = vevents(cal)
        assert str(event["UID"]) == str(before["UID"]) == meeting.uid
        assert event["SEQUENCE"] > before["SEQUENCE"]
        assert event.decoded("DTSTART") == new_start
        assert str(event["ATTENDEE"]) == f"mailto:{address}"
        assert str(event["ORGANIZER"]) == f"mailto:{cadre.email}"
    registrant = vevents(itip_calendar(updates[resident.email]))[0]["ATTENDEE"]
    assert registrant.params["PARTSTAT"] == "ACCEPTED"
    invitee = vevents(itip_calendar(updates["wang.fang@example.org"]))[0]["ATTENDEE"]
    # No MAIL_REPLY_TO: no calendar reply could reach Consult, so none is asked for.
    assert invitee.params["PARTSTAT"] == "NEEDS-ACTION" and invitee.params["RSVP"] == "FALSE"


def test_cancelling_a_session_sends_cancel(app, factories, api_as, mailbox):
    api = api_as(factories.make_user("cadre"))
    meeting = factories.make_meeting()
    invite(api, meeting, "wang.fang@example.org")
    mailbox.send()
    assert api.post(f"/api/v1/sessions/{meeting.id}/cancel", json={}).status_code == 200
    (msg,) = mailbox.send()[1:]
    calendar_part = calendar_parts(msg)[0]
    assert calendar_part.get_param("method") == "CANCEL"
    cal = itip_calendar(msg)
    assert cal["METHOD"] == "CANCEL"
    (event,) = vevents(cal)
    assert event["STATUS"] == "CANCELLED"
    assert str(event["UID"]) == meeting.uid
    assert event["SEQUENCE"] == 1
    assert "RECURRENCE-ID" not in event


def test_skipping_one_week_cancels_that_occurrence_only(app, factories, api_as, mailbox):
    api = api_as(factories.make_user("cadre"))
    series, weeks = factories.make_calendar_series()
    invite(api, weeks[0], "wang.fang@example.org")  # the whole series
    resident = factories.make_user("resident")
    factories.make_signup(weeks[3], resident)
    mailbox.send()
    assert api.post(f"/api/v1/sessions/{weeks[3].id}/cancel", json={}).status_code == 200
    cancels = by_recipient(mailbox.send()[1:])
    assert set(cancels) == {"wang.fang@example.org", resident.email}
    for msg in cancels.values():
        cal = itip_calendar(msg)
        assert cal["METHOD"] == "CANCEL"
        (event,) = vevents(cal)
        assert event["STATUS"] == "CANCELLED"
        assert "RRULE" not in event
    # The series invitee: that instance of the series (its RECURRENCE-ID).
    (event,) = vevents(itip_calendar(cancels["wang.fang@example.org"]))
    assert str(event["UID"]) == series.uid
    assert event["RECURRENCE-ID"].params["TZID"] == "Asia/Shanghai"
    assert event.decoded("RECURRENCE-ID") == weeks[3].recurrence_id
    # The one-week registrant: the event of that week they hold (its own UID).
    (event,) = vevents(itip_calendar(cancels[resident.email]))
    assert str(event["UID"]) == weeks[3].uid
    assert "RECURRENCE-ID" not in event


def test_moving_one_week_updates_that_occurrence(app, factories, api_as, mailbox):
    api = api_as(factories.make_user("cadre"))
    series, weeks = factories.make_calendar_series()
    invite(api, weeks[0], "wang.fang@example.org")
    resident = factories.make_user("resident")
    factories.make_signup(weeks[5], resident)
    mailbox.send()
    moved_to = weeks[5].starts_at + timedelta(hours=3)
    response = api.patch(
        f"/api/v1/sessions/{weeks[5].id}", json={"starts_at": moved_to.isoformat()}
    )
    assert response.status_code == 200
    updates = by_recipient(mailbox.send()[1:])
    # The registrant of that week gets the occurrence; the series invitee the series.
    (week,) = vevents(itip_calendar(updates[resident.email]))
    assert str(week["UID"]) == weeks[5].uid
    assert "RECURRENCE-ID" not in week
    assert week.decoded("DTSTART") == moved_to
    whole = vevents(itip_calendar(updates["wang.fang@example.org"]))
    assert sum("RRULE" in e for e in whole) == 1
    (override,) = [e for e in whole if "RECURRENCE-ID" in e]
    assert override.decoded("DTSTART") == moved_to
    assert override["SEQUENCE"] > 0


def test_cancelling_a_series_sends_one_cancel_per_person(app, factories, api_as, mailbox):
    api = api_as(factories.make_user("cadre"))
    series, weeks = factories.make_calendar_series()
    invite(api, weeks[0], "wang.fang@example.org")
    resident = factories.make_user("resident")
    factories.make_signup(weeks[1], resident)
    factories.make_signup(weeks[2], resident)
    mailbox.send()
    response = api.post(f"/api/v1/series/{series.id}/cancel", json={})
    assert response.status_code == 200
    cancels = mailbox.send()[1:]
    assert sorted({str(m["To"]).split("<")[-1].rstrip(">") for m in cancels}) == sorted(
        ["wang.fang@example.org", resident.email]
    )
    # No week was held yet: the series invitee gets one CANCEL of the whole series; the
    # registrant one CANCEL per week they signed up for (their standalone events).
    assert len(cancels) == 3
    events = {}
    for msg in cancels:
        cal = itip_calendar(msg)
        assert cal["METHOD"] == "CANCEL"
        (event,) = vevents(cal)
        assert event["STATUS"] == "CANCELLED"
        assert "RECURRENCE-ID" not in event
        events.setdefault(str(msg["To"]), []).append(str(event["UID"]))
    uids = sorted(uid for found in events.values() for uid in found)
    assert uids == sorted([series.uid, weeks[1].uid, weeks[2].uid])


def test_notifications_within_one_transaction_reach_each_person_once(app, factories):
    series, weeks = factories.make_calendar_series()
    factories.make_invitation(weeks[0], email="wang.fang@example.org").whole_series = True
    db.session.commit()
    for week in weeks[:3]:
        week.starts_at += timedelta(hours=1)
        week.ends_at += timedelta(hours=1)
        week.sequence += 1
        db.session.flush()
        notify.meeting_changed(week, None, {"starts_at"})
    db.session.commit()
    rows = db.session.scalars(select(OutboxMessage)).all()
    assert len(rows) == 1
    events = vevents(parse(_calendar_of(rows[0])))
    # The one message holds the final state: three moved weeks.
    assert sum("RECURRENCE-ID" in e for e in events) == 3


def _calendar_of(row: OutboxMessage) -> bytes:
    from email import message_from_string, policy

    msg = message_from_string(row.body, policy=policy.default)
    return calendar_parts(msg)[0].get_payload(decode=True)


def test_nothing_is_queued_when_the_change_is_rolled_back(app, factories, api_as):
    api = api_as(factories.make_user("cadre"))
    meeting = factories.make_meeting()
    invite(api, meeting, "wang.fang@example.org")
    before = queued()
    meeting.sequence += 1
    db.session.flush()
    notify.meeting_cancelled(meeting, None)
    assert queued() == before + 1
    db.session.rollback()
    assert queued() == before


def test_sign_up_confirmation_has_the_ics_and_the_checkin_code(app, factories, mailbox):
    resident = factories.make_user("resident", name="陈静")
    meeting = factories.make_meeting(title="民情恳谈会")
    registration = factories.make_signup(meeting, resident)
    notify.registration_confirmed(registration)
    db.session.commit()
    (msg,) = mailbox.send()
    assert msg.get_content_type() == "multipart/mixed"
    body = msg.get_body(("html", "plain"))
    assert "民情恳谈会" in body.get_content()
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_filename() == "session.ics"
    cal = parse(attachment.get_payload(decode=True))
    assert cal["METHOD"] == "PUBLISH"
    assert str(vevents(cal)[0]["UID"]) == meeting.uid
    related = next(p for p in msg.walk() if p.get_content_type() == "multipart/related")
    html, image = list(related.iter_parts())
    assert image.get_content_type() == "image/png"
    assert image.get_payload(decode=True).startswith(b"\x89PNG")
    cid = image["Content-ID"].strip("<>")
    assert f"cid:{cid}" in html.get_content()
    from consult.attendance.links import read_checkin_token

    text = msg.get_body(("plain",)).get_content()
    link = next(w for w in text.split() if w.startswith("http://consult.test/checkin/"))
    assert read_checkin_token(link.rsplit("/", 1)[1]) == registration.id


def test_confirmation_of_a_week_of_a_series_is_that_occurrence(app, factories, mailbox):
    resident = factories.make_user("resident")
    series, weeks = factories.make_calendar_series()
    notify.registration_confirmed(factories.make_signup(weeks[4], resident))
    db.session.commit()
    (msg,) = mailbox.send()
    (attachment,) = list(msg.iter_attachments())
    (event,) = vevents(parse(attachment.get_payload(decode=True)))
    # That week as an event of its own, never an override without its master.
    assert str(event["UID"]) == weeks[4].uid
    assert "RECURRENCE-ID" not in event
    assert event.decoded("DTSTART") == weeks[4].starts_at


def test_promotion_mail(app, factories, mailbox):
    resident = factories.make_user("resident")
    registration = factories.make_signup(factories.make_meeting(title="调解会"), resident)
    notify.registration_promoted(registration)
    db.session.commit()
    (msg,) = mailbox.send()
    assert resident.email in str(msg["To"])
    assert "调解会" in str(msg["Subject"])
    assert len(list(msg.iter_attachments())) == 1


def test_proxy_registrations_get_no_mail(app, factories):
    meeting = factories.make_meeting()
    proxy = factories.make_signup(meeting, name="王秀英")
    notify.registration_confirmed(proxy)
    notify.registration_promoted(proxy)
    db.session.commit()
    assert queued() == 0


def test_mail_follows_the_recipients_language(app, factories, mailbox):
    resident = factories.make_user("resident")
    resident.locale = "zh_CN"
    english = factories.make_user("resident")
    english.locale = "en"
    db.session.commit()
    meeting = factories.make_meeting(title="Roundtable")
    for person in (resident, english):
        notify.registration_confirmed(factories.make_signup(meeting, person))
    db.session.commit()
    messages = by_recipient(mailbox.send())
    assert str(messages[english.email]["Subject"]).startswith("You are signed up")
    # Dates are written in each person's language whatever the catalogue holds.
    assert "星期" in messages[resident.email].get_body(("plain",)).get_content()
