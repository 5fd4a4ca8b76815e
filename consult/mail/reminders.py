"""Reminders: some hours before a session, to everyone confirmed who has an address."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from consult.accounts.models import User
from consult.enums import RegistrationStatus, SessionStatus
from consult.extensions import db
from consult.mail.compose import recipient_for_user
from consult.mail.messages import reminder_message
from consult.mail.outbox import queue_message
from consult.meetings.models import Meeting, Registration
from consult.types import utcnow


def reminder_lead() -> timedelta:
    """Return how long before a session its reminder goes out (config REMINDER_HOURS)."""
    return timedelta(hours=float(current_app.config["REMINDER_HOURS"]))


def queue_due_reminders(now: datetime | None = None) -> int:
    """Queue the reminders that are due and return how many; each registration gets one.

    A registration is claimed by a conditional UPDATE of ``reminder_sent_at`` before its
    message is queued, so two runs at once never remind anyone twice. The caller commits.
    """
    now = now or utcnow()
    due = db.session.scalars(
        select(Registration.id)
        .join(Meeting, Meeting.id == Registration.meeting_id)
        .join(User, User.id == Registration.user_id)
        .where(
            Registration.status == RegistrationStatus.CONFIRMED,
            Registration.reminder_sent_at.is_(None),
            Meeting.status == SessionStatus.SCHEDULED,
            Meeting.starts_at > now,
            Meeting.starts_at <= now + reminder_lead(),
            User.active.is_(True),
        )
        .order_by(Meeting.starts_at, Registration.id)
    ).all()
    queued = 0
    for registration_id in due:
        if not claim_reminder(registration_id, now):
            continue
        registration = db.session.scalar(
            select(Registration)
            .where(Registration.id == registration_id)
            .options(joinedload(Registration.user), joinedload(Registration.meeting))
            .execution_options(populate_existing=True)
        )
        message = reminder_message(registration, recipient_for_user(registration.user))
        queue_message(message, "reminder", registration.meeting_id)
        queued += 1
    return queued


def claim_reminder(registration_id: int, now) -> bool:
    """Mark the registration's reminder as sent; False when another process already did."""
    claimed = db.session.execute(
        update(Registration)
        .where(Registration.id == registration_id, Registration.reminder_sent_at.is_(None))
        .values(reminder_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1
