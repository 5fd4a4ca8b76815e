"""Mail caused by changes to sessions and sign-ups, queued in the outbox.

Each function is called by an operation, inside its transaction, after the change is
flushed; it only adds OutboxMessage rows (delivery is `flask mail send`). The mail of a
sign-up is composed once the place is committed and its lock released
(``queue_when_committed``).
"""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from consult.calendar.queries import series_with_occurrences
from consult.extensions import db
from consult.mail.compose import Recipient, recipient_for_user
from consult.mail.messages import (
    Member,
    cancellation_message,
    confirmation_message,
    promotion_message,
    series_cancellation_message,
    update_message,
)
from consult.mail.outbox import (
    pending_with,
    queue_message,
    queue_to_compose,
    withdraw,
)
from consult.meetings.models import Invitation, Meeting, Registration, Series
from consult.types import utcnow

#: Registrations that still hold (or wait for) a place.
ACTIVE_REGISTRATIONS = ("confirmed", "waitlisted")


def _invitee(invitation: Invitation) -> Recipient:
    user = invitation.user
    return Recipient(
        email=invitation.email,
        name=invitation.name or (user.name if user is not None else None),
        locale=user.locale if user is not None else None,
    )


def _merge(invitations, registrations) -> list[Member]:
    """One member per address: invitations first, then registrants with an account."""
    members: dict[str, Member] = {}
    for invitation in invitations:
        email = invitation.email.lower()
        known = members.get(email)
        whole = invitation.whole_series or (known is not None and known.whole_series)
        members[email] = Member(_invitee(invitation), invitation, None, whole)
    for registration in registrations:
        user = registration.user
        # Proxy sign-ups (no account) have no address: they get no mail.
        if user is None or not user.email or not user.active:
            continue
        email = user.email.lower()
        known = members.get(email)
        if known is None:
            members[email] = Member(recipient_for_user(user), None, registration, False)
        else:
            members[email] = Member(
                known.recipient, known.invitation, registration, known.whole_series
            )
    return list(members.values())


def meeting_audience(meeting: Meeting) -> list[Member]:
    """Everyone invited to (the series of) ``meeting`` or registered for it."""
    clause = Invitation.meeting_id == meeting.id
    if meeting.series_id is not None:
        occurrences = select(Meeting.id).where(Meeting.series_id == meeting.series_id)
        clause = or_(
            clause,
            Invitation.whole_series.is_(True) & Invitation.meeting_id.in_(occurrences),
        )
    invitations = db.session.scalars(
        select(Invitation)
        .where(clause)
        .options(joinedload(Invitation.user))
        .order_by(Invitation.id)
    ).all()
    registrations = db.session.scalars(
        select(Registration)
        .where(
            Registration.meeting_id == meeting.id,
            Registration.status.in_(ACTIVE_REGISTRATIONS),
        )
        .options(joinedload(Registration.user))
        .order_by(Registration.id)
    ).all()
    return _merge(invitations, registrations)


def series_audience(series: Series) -> list[Member]:
    """Everyone invited to, or registered for, any occurrence of ``series``."""
    occurrences = select(Meeting.id).where(Meeting.series_id == series.id)
    invitations = db.session.scalars(
        select(Invitation)
        .where(Invitation.meeting_id.in_(occurrences))
        .options(joinedload(Invitation.user))
        .order_by(Invitation.id)
    ).all()
    registrations = db.session.scalars(
        select(Registration)
        .where(
            Registration.meeting_id.in_(occurrences),
            Registration.status.in_(ACTIVE_REGISTRATIONS),
        )
        .options(joinedload(Registration.user))
        .order_by(Registration.id)
    ).all()
    return [
        Member(m.recipient, m.invitation, m.registration, True)
        for m in _merge(invitations, registrations)
    ]


def _calendar_uid(meeting: Meeting) -> str:
    return meeting.series.uid if meeting.series_id is not None else meeting.uid


def _loaded_series(meeting: Meeting) -> Series | None:
    """The series of an occurrence with all its occurrences, loaded once for every message."""
    if meeting.series_id is None:
        return None
    return series_with_occurrences(meeting.series_id)


def _instance(meeting: Meeting, member: Member):
    """What a member's message is about: the whole series, or this occurrence."""
    if meeting.series_id is None or member.whole_series:
        return None
    return meeting.recurrence_id.isoformat()


def meeting_changed(meeting, actor, changes: set[str]) -> None:
    """Queue updated invitations (METHOD:REQUEST, same UID, higher SEQUENCE) to everyone
    invited to or registered for ``meeting``; ``changes`` names what changed
    (e.g. {"starts_at", "venue"})."""
    uid = _calendar_uid(meeting)
    series = _loaded_series(meeting)
    for member in meeting_audience(meeting):
        key = ("update", uid, member.recipient.email.lower(), _instance(meeting, member))
        queue_message(update_message(meeting, member, series), "update", meeting.id, key=key)


def meeting_cancelled(meeting, actor) -> None:
    """Queue METHOD:CANCEL (STATUS:CANCELLED; RECURRENCE-ID for one occurrence of a
    series) to everyone invited to or registered for ``meeting``."""
    uid = _calendar_uid(meeting)
    instance = meeting.recurrence_id.isoformat() if meeting.series_id is not None else None
    for member in meeting_audience(meeting):
        email = member.recipient.email.lower()
        if pending_with(lambda k, email=email: k == ("cancel", uid, email, None)):
            continue  # the whole series is cancelled in this transaction already
        key = ("cancel", uid, email, instance)
        queue_message(cancellation_message(meeting, member), "cancellation", meeting.id, key=key)


def series_cancelled(series, actor, cancelled=()) -> None:
    """Queue the news that the rest of a series is cancelled.

    Those invited to the whole series get the series message (the shortened series, or a
    CANCEL of all of it when no week stays); those who follow single weeks (sign-ups,
    invitations to one week) get a CANCEL of each of their weeks ``cancelled`` now.
    """
    # The mail shows the next occurrence that was due (or the first one).
    occurrences = select(Meeting).where(Meeting.series_id == series.id)
    first = db.session.scalar(
        occurrences.where(Meeting.recurrence_id >= utcnow()).order_by(Meeting.recurrence_id)
    ) or db.session.scalar(occurrences.order_by(Meeting.recurrence_id))
    if first is None:
        return
    ids = select(Meeting.id).where(Meeting.series_id == series.id)
    invitations = db.session.scalars(
        select(Invitation)
        .where(Invitation.meeting_id.in_(ids), Invitation.whole_series.is_(True))
        .options(joinedload(Invitation.user))
        .order_by(Invitation.id)
    ).all()
    whole = _merge(invitations, [])
    for member in whole:
        email = member.recipient.email.lower()
        # One message says it all: drop this transaction's messages about single
        # occurrences of the series to the same person.
        for key, _row in pending_with(
            lambda k, email=email: len(k) == 4 and k[1] == series.uid and k[2] == email
        ):
            withdraw(key)
        key = ("cancel", series.uid, email, None)
        queue_message(
            series_cancellation_message(series, first, member), "cancellation", first.id, key=key
        )
    followers = {m.recipient.email.lower() for m in whole}
    for meeting in sorted(cancelled, key=lambda m: m.recurrence_id):
        for member in meeting_audience(meeting):
            email = member.recipient.email.lower()
            if member.whole_series or email in followers:
                continue
            key = ("cancel", meeting.uid, email, None)
            queue_message(
                cancellation_message(meeting, member), "cancellation", meeting.id, key=key
            )


def _registrant(registration) -> Recipient | None:
    user = registration.user
    if user is None or not user.email or not user.active:
        return None
    return recipient_for_user(user)


def still_registered(registration_id: int, user_id: int, status: str) -> Registration | None:
    """Return the registration, read afresh, if it is still ``user_id``'s and in ``status``
    (a message composed after its change was committed tells of what still holds)."""
    registration = db.session.get(
        Registration,
        registration_id,
        options=[
            joinedload(Registration.user),
            joinedload(Registration.meeting).options(
                joinedload(Meeting.venue), joinedload(Meeting.organiser)
            ),
        ],
    )
    if registration is None or registration.user_id != user_id or registration.status != status:
        return None
    return registration


def queue_registration_mail(registration, kind: str) -> None:
    """Queue the ``kind`` mail (COMPOSERS) to the registrant, in the sign-up's own
    transaction; it is composed when it is sent."""
    recipient = _registrant(registration)
    if recipient is None:
        return  # proxy sign-ups (no account) have no address
    compose = f"{kind}:{registration.id}:{registration.user_id}"
    queue_to_compose(kind, compose, recipient.email, registration.meeting_id)


def _waitlisted_message(registration, recipient: Recipient) -> EmailMessage:
    from consult.mail.notices import waitlisted_message

    return waitlisted_message(registration, recipient)


#: kind -> the status the registration must still have, and the function composing it.
COMPOSERS = {
    "confirmation": ("confirmed", confirmation_message),
    "promotion": ("confirmed", promotion_message),
    "waitlisted": ("waitlisted", _waitlisted_message),
}


def compose_queued(compose: str) -> EmailMessage | None:
    """Compose the message an outbox row names (``compose``: "kind:registration:account"),
    from what holds now; None when it no longer does (the sign-up was cancelled, the
    place given or taken, the account closed) and there is nothing to tell."""
    kind, registration_id, user_id = compose.split(":")
    status, composer = COMPOSERS[kind]
    current = still_registered(int(registration_id), int(user_id), status)
    if current is None:
        return None
    recipient = _registrant(current)
    return None if recipient is None else composer(current, recipient)


def registration_confirmed(registration) -> None:
    """Queue the sign-up confirmation (with the .ics and the check-in QR code)."""
    queue_registration_mail(registration, "confirmation")


def registration_promoted(registration) -> None:
    """Queue the mail telling a waitlisted person that they now have a place."""
    queue_registration_mail(registration, "promotion")
