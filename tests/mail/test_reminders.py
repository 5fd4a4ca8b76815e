"""Reminders: queued by `flask mail send` REMINDER_HOURS before a session, once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from consult.extensions import db
from consult.mail.models import OutboxMessage
from consult.mail.reminders import queue_due_reminders
from consult.meetings.models import Registration
from tests.calendar.helpers import parse, vevents


def reminders() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")))


def test_reminder_goes_out_once_with_the_ics(app, factories, mailbox):
    resident = factories.make_user("resident", name="刘洋")
    meeting = factories.make_meeting(title="周五议事日", starts_in=timedelta(hours=10))
    registration = factories.make_signup(meeting, resident)
    (msg,) = mailbox.send()
    assert resident.email in str(msg["To"])
    assert "周五议事日" in str(msg["Subject"])
    (attachment,) = list(msg.iter_attachments())
    assert str(vevents(parse(attachment.get_payload(decode=True)))[0]["UID"]) == meeting.uid
    db.session.expire_all()
    assert db.session.get(Registration, registration.id).reminder_sent_at is not None
    assert len(mailbox.send()) == 1  # not twice


def test_reminder_hours_are_configurable(app, factories, mailbox):
    resident = factories.make_user("resident")
    factories.make_signup(factories.make_meeting(starts_in=timedelta(hours=30)), resident)
    assert mailbox.send() == []
    app.config["REMINDER_HOURS"] = 48
    assert len(mailbox.send()) == 1


def test_only_confirmed_people_with_an_address_are_reminded(app, factories):
    soon = factories.make_meeting(starts_in=timedelta(hours=5))
    confirmed = factories.make_user("resident")
    factories.make_signup(soon, confirmed)
    factories.make_signup(soon, factories.make_user("resident"), status="waitlisted")
    factories.make_signup(soon, factories.make_user("resident"), status="cancelled")
    factories.make_signup(soon, name="王秀英")
    disabled = factories.make_user("resident")
    factories.make_signup(soon, disabled)
    disabled.active = False
    cancelled = factories.cancel_occurrence(factories.make_meeting(starts_in=timedelta(hours=5)))
    factories.make_signup(cancelled, factories.make_user("resident"))
    started = factories.make_meeting(starts_in=-timedelta(minutes=10))
    factories.make_signup(started, factories.make_user("resident"))
    db.session.commit()
    assert queue_due_reminders() == 1
    db.session.commit()
    (row,) = reminders()
    assert row.recipients == confirmed.email
    assert queue_due_reminders() == 0


def test_reminders_are_queued_even_when_mail_cannot_go_out(app, factories, runner):
    app.config["SMTP_HOST"] = None
    factories.make_signup(
        factories.make_meeting(starts_in=timedelta(hours=3)), factories.make_user("resident")
    )
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code != 0
    assert [r.status for r in reminders()] == ["queued"]
    assert runner.invoke(args=["mail", "send"]).exit_code != 0
    assert len(reminders()) == 1
