"""Writes about sign-ups: places are claimed atomically against the session's capacity."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select, update

from consult import audit
from consult.extensions import db
from consult.meetings.models import Meeting, Registration
from consult.types import utcnow


class CapacityError(ValueError):
    """A capacity change that would un-confirm people, or another refused change."""


def claim_place(meeting_id: int) -> bool:
    """Take one confirmed place if one is free, in one atomic UPDATE; return whether it did."""
    result = db.session.execute(
        update(Meeting)
        .where(
            Meeting.id == meeting_id,
            (Meeting.capacity.is_(None)) | (Meeting.confirmed_count < Meeting.capacity),
        )
        .values(confirmed_count=Meeting.confirmed_count + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release_place(meeting_id: int) -> None:
    """Give back one confirmed place."""
    db.session.execute(
        update(Meeting)
        .where(Meeting.id == meeting_id, Meeting.confirmed_count > 0)
        .values(confirmed_count=Meeting.confirmed_count - 1)
        .execution_options(synchronize_session=False)
    )


def promote_waitlisted(meeting: Meeting, actor=None) -> list[Registration]:
    """Confirm waiting people in sign-up order while places are free; return them."""
    promoted: list[Registration] = []
    while True:
        query = (
            select(Registration)
            .where(Registration.meeting_id == meeting.id, Registration.status == "waitlisted")
            .order_by(Registration.created_at, Registration.id)
            .limit(1)
        )
        if db.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        first = db.session.scalar(query)
        if first is None or not claim_place(meeting.id):
            break
        first.status = "confirmed"
        first.confirmed_at = utcnow()
        db.session.flush()
        audit.record("registration.promote", first, actor)
        promoted.append(first)
    db.session.refresh(meeting, ["confirmed_count"])
    if promoted:
        from consult.mail import notify

        for registration in promoted:
            notify.registration_promoted(registration)
    return promoted


def set_capacity(meeting: Meeting, capacity: int | None, actor=None) -> list[Registration]:
    """Change a session's capacity; raising it confirms waiting people in order.

    Lowering it below the number already confirmed is refused: nobody is ever
    un-confirmed silently.
    """
    if capacity is not None and capacity < 0:
        raise CapacityError(_("The capacity cannot be negative."))
    db.session.refresh(meeting, ["confirmed_count", "capacity"])
    if capacity is not None and capacity < meeting.confirmed_count:
        raise CapacityError(
            _(
                "%(n)d people are already confirmed; the capacity cannot be lower than that.",
                n=meeting.confirmed_count,
            )
        )
    old = meeting.capacity
    meeting.capacity = capacity
    db.session.flush()
    audit.record("meeting.capacity", meeting, actor, capacity=[old, capacity])
    return promote_waitlisted(meeting, actor)
