"""Calendar replies that come back by mail (`flask mail receive`).

A mail server's pipe alias hands one RFC 5322 message to the command. When the message
carries an iTIP METHOD:REPLY for one of Consult's invitations (its UID, a SEQUENCE not
older than the current one), sent by the invitee themself, the invitee's PARTSTAT is
recorded through the same operation as the signed RSVP link. Everything else is logged
and ignored. Nothing here commits; the command does, once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses

from icalendar import Calendar
from sqlalchemy import select

from consult.attendance.operations import RSVP_ANSWERS, AttendanceError, answer_invitation
from consult.calendar.ics import bare_address
from consult.extensions import db
from consult.meetings.models import Invitation, Meeting, Series

log = logging.getLogger(__name__)

#: Larger messages are no calendar reply.
MAX_BYTES = 5 * 1024 * 1024
CALENDAR_TYPES = ("text/calendar", "application/ics")


@dataclass(frozen=True)
class Reply:
    """One answer found in a REPLY: who answers what, about which object."""

    uid: str
    sequence: int
    recurrence_id: datetime | None
    attendee: str
    partstat: str


def _calendars(msg: EmailMessage) -> list[Calendar]:
    found = []
    for part in msg.walk():
        if part.get_content_type() not in CALENDAR_TYPES:
            continue
        payload = part.get_payload(decode=True)
        if not payload:
            continue
        try:
            found.extend(Calendar.from_ical(payload, multiple=True))
        except (ValueError, IndexError, KeyError, TypeError):
            log.warning("mail receive: a calendar part does not parse")
    return found


def replies(msg: EmailMessage) -> list[Reply]:
    """Return the answers of every METHOD:REPLY calendar in ``msg`` (once each: the same
    REPLY often comes as an alternative and as an attachment)."""
    out: dict[tuple, Reply] = {}
    for cal in _calendars(msg):
        if str(cal.get("METHOD", "")).strip().upper() != "REPLY":
            continue
        for event in cal.walk("VEVENT"):
            uid = str(event.get("UID", "")).strip()
            attendees = event.get("ATTENDEE")
            if not uid or attendees is None:
                continue
            if not isinstance(attendees, list):
                attendees = [attendees]
            try:
                sequence = int(event.get("SEQUENCE", 0))
                recurrence = event.decoded("RECURRENCE-ID") if "RECURRENCE-ID" in event else None
            except (ValueError, TypeError):
                continue
            for attendee in attendees:
                address = str(attendee)
                if address.lower().startswith("mailto:"):
                    address = address[len("mailto:") :]
                partstat = str(attendee.params.get("PARTSTAT", "")).upper()
                reply = Reply(uid, sequence, recurrence, bare_address(address), partstat)
                out[(uid, recurrence, reply.attendee)] = reply
    return list(out.values())


def _sender(msg: EmailMessage) -> str:
    try:
        found = getaddresses([str(v) for v in msg.get_all("From", [])])
    except (TypeError, ValueError):
        return ""
    return bare_address(found[0][1]) if len(found) == 1 else ""


def _invitation(reply: Reply) -> tuple[Invitation | None, int, str]:
    """Return the invitation a reply answers, the SEQUENCE of what was sent, and why
    there is none."""
    meeting = db.session.scalar(select(Meeting).where(Meeting.uid == reply.uid))
    if meeting is not None:
        if reply.recurrence_id is not None:
            return None, 0, "a RECURRENCE-ID for a single session"
        invitation = db.session.scalar(
            select(Invitation).where(
                Invitation.meeting_id == meeting.id, Invitation.email == reply.attendee
            )
        )
        return invitation, meeting.sequence, "no invitation of that attendee"
    series = db.session.scalar(select(Series).where(Series.uid == reply.uid))
    if series is None:
        return None, 0, "an unknown UID"
    if reply.recurrence_id is not None:
        # One invitation covers the whole series: an answer about one week cannot be
        # recorded without changing the answer for all of them.
        return None, 0, "an answer for one week of a series invitation"
    invitation = db.session.scalar(
        select(Invitation)
        .join(Meeting, Meeting.id == Invitation.meeting_id)
        .where(
            Meeting.series_id == series.id,
            Invitation.whole_series.is_(True),
            Invitation.email == reply.attendee,
        )
        .order_by(Invitation.id)
        .limit(1)
    )
    return invitation, series.sequence, "no invitation of that attendee"


def record_replies(raw: bytes) -> list[Invitation]:
    """Record the answers of a received message; return the invitations answered.

    Ignored (and logged): no REPLY, a sender who is not the attendee, an unknown UID or
    attendee, an older SEQUENCE, an answer other than ACCEPTED, TENTATIVE or DECLINED,
    a cancelled session.
    """
    if len(raw) > MAX_BYTES:
        log.warning("mail receive: ignored a message of %d bytes", len(raw))
        return []
    msg = message_from_bytes(raw, policy=policy.default)
    found = replies(msg)
    subject = str(msg.get("Subject", ""))[:80]
    if not found:
        log.warning("mail receive: no calendar reply in %r; ignored", subject)
        return []
    sender = _sender(msg)
    answered = []
    for reply in found:
        if not sender or reply.attendee != sender:
            log.warning(
                "mail receive: %s answers for %s; only the invitee may; ignored",
                sender or "an unknown sender",
                reply.attendee,
            )
            continue
        if reply.partstat not in RSVP_ANSWERS:
            log.warning("mail receive: PARTSTAT %r is no answer; ignored", reply.partstat)
            continue
        invitation, sequence, why = _invitation(reply)
        if invitation is None:
            log.warning("mail receive: reply from %s with %s; ignored", sender, why)
            continue
        if reply.sequence < sequence:
            log.warning(
                "mail receive: reply from %s to an older version (SEQUENCE %d < %d); ignored",
                sender,
                reply.sequence,
                sequence,
            )
            continue
        try:
            answer_invitation(invitation, reply.partstat, None)
        except AttendanceError as exc:
            log.warning("mail receive: reply from %s not recorded: %s", sender, exc.message)
            continue
        log.info(
            "mail receive: %s answered invitation %d: %s", sender, invitation.id, reply.partstat
        )
        answered.append(invitation)
    return answered
