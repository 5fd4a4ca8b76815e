"""The messages about sessions: invitations, updates, cancellations, sign-up
confirmations, waiting-list promotions and reminders.

Invitations, updates and cancellations carry an iTIP part (``text/calendar`` with
METHOD:REQUEST or METHOD:CANCEL) that calendar clients act on; confirmations and
reminders attach the session's .ics as a file to add.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from babel.dates import format_date
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from consult.calendar import ics
from consult.calendar.documents import ics_context, session_events
from consult.enums import RegistrationStatus
from consult.mail.compose import Attachment, Recipient, compose, in_language, render_parts, when
from consult.mail.notices import signups_url
from consult.meetings.models import Invitation, Meeting, Registration, Series


@dataclass(frozen=True)
class Member:
    """Someone a session's mail goes to: an invitee, a registrant, or both."""

    recipient: Recipient
    invitation: Invitation | None = None
    registration: Registration | None = None
    #: The person is invited to every occurrence of the session's series.
    whole_series: bool = False

    def attendee(self) -> ics.Attendee:
        """Their ATTENDEE line: invitees are asked to answer (RSVP=TRUE) only when replies
        can reach Consult (MAIL_REPLY_TO); registrants have answered."""
        if self.invitation is not None or self.registration is None:
            return ics.Attendee(
                self.recipient.email, self.recipient.name, "NEEDS-ACTION", bool(reply_address())
            )
        partstat = (
            "ACCEPTED" if self.registration.status == RegistrationStatus.CONFIRMED else "TENTATIVE"
        )
        return ics.Attendee(self.recipient.email, self.recipient.name, partstat, False)


def reply_address() -> str | None:
    """MAIL_REPLY_TO: where calendar replies reach `flask mail receive` (None: nowhere)."""
    return current_app.config["MAIL_REPLY_TO"] or None


def _rsvp_links(invitation: Invitation | None) -> dict:
    if invitation is None or invitation.id is None:
        return {}
    from consult.attendance.links import rsvp_url

    return {
        "accept_url": rsvp_url(invitation, "ACCEPTED"),
        "decline_url": rsvp_url(invitation, "DECLINED"),
    }


def _checkin(registration: Registration) -> tuple[dict, tuple[str, bytes] | None]:
    """Return the template values and the inline PNG of a registration's check-in code."""
    from consult.attendance.links import checkin_url
    from consult.attendance.qr import qr_png

    url = checkin_url(registration)
    domain = ics.bare_address(current_app.config["MAIL_FROM"]).partition("@")[2] or "localhost"
    cid = make_msgid(idstring="checkin", domain=domain)[1:-1]
    return {"checkin_url": url, "qr_cid": cid}, (cid, qr_png(url))


def _details(meeting: Meeting, locale: str) -> dict:
    ctx = ics_context()
    venue = meeting.venue
    return {
        "meeting": meeting,
        "title": meeting.title,
        "when": when(meeting.starts_at, meeting.ends_at, meeting.timezone, locale),
        "venue": venue.name if venue is not None else None,
        "address": getattr(venue, "address", None) if venue is not None else None,
        "description": meeting.description or "",
        "url": ics.session_url(ctx, meeting.id),
        "ics_url": f"{ctx.base_url}/sessions/{meeting.id}.ics",
        "organiser": meeting.organiser.name if meeting.organiser is not None else None,
    }


def _short_date(meeting: Meeting, locale: str) -> str:
    start = ics.local(meeting.starts_at, meeting.timezone)
    return format_date(start.date(), format="medium", locale=locale)


def _calendar(events, method: str) -> bytes:
    return ics.to_ics(ics.build_calendar(events, method))


def _invite_file(calendar: bytes) -> Attachment:
    """The scheduling message once more as a file (as Google's invitations carry it), for
    webmail that ignores the text/calendar alternative."""
    return Attachment(filename="invite.ics", data=calendar, maintype="application", subtype="ics")


def _ics_file(meeting: Meeting, whole_series: bool = False) -> Attachment:
    """The session (one occurrence, unless ``whole_series``) as an .ics file to add."""
    events = session_events(meeting, ics_context(), whole_series=whole_series)
    return Attachment(
        filename="session.ics",
        data=_calendar(events, ics.PUBLISH),
        maintype="text",
        subtype="calendar",
        params={"charset": "UTF-8", "method": ics.PUBLISH},
    )


def _request_message(
    template: str, subject, meeting: Meeting, member: Member, series: Series | None
) -> EmailMessage:
    """Return a METHOD:REQUEST message for ``member``: the mail ``template`` with the
    subject ``subject`` (a lazy message taking title and date), the event, its file."""
    with in_language(member.recipient) as locale:
        events = session_events(
            meeting,
            ics_context(),
            [member.attendee()],
            whole_series=member.whole_series,
            series=series,
        )
        context = _details(meeting, locale) | _rsvp_links(member.invitation)
        text, html = render_parts(
            template, recipient=member.recipient, whole_series=member.whole_series, **context
        )
        subject = subject % {"title": meeting.title, "date": _short_date(meeting, locale)}
    calendar = _calendar(events, ics.REQUEST)
    return compose(
        member.recipient,
        subject,
        text,
        html,
        calendar=calendar,
        method=ics.REQUEST,
        attachments=(_invite_file(calendar),),
        reply_to=reply_address(),
    )


def invitation_message(
    meeting: Meeting, member: Member, series: Series | None = None
) -> EmailMessage:
    """Return an invitation (METHOD:REQUEST) to ``meeting`` (its series when the member
    is invited to the whole series; ``series`` when already loaded)."""
    return _request_message(
        "invitation", _l("Invitation: %(title)s, %(date)s"), meeting, member, series
    )


def update_message(meeting: Meeting, member: Member, series: Series | None = None) -> EmailMessage:
    """Return an updated invitation (METHOD:REQUEST, same UID, higher SEQUENCE)."""
    return _request_message("update", _l("Updated: %(title)s, %(date)s"), meeting, member, series)


def cancellation_message(meeting: Meeting, member: Member) -> EmailMessage:
    """Return a cancellation (METHOD:CANCEL) of a session; for an occurrence of a series,
    of that occurrence only: its RECURRENCE-ID for those who have the whole series, the
    occurrence's own UID for those who have that week alone."""
    ctx = ics_context()
    with in_language(member.recipient) as locale:
        if meeting.series_id is None:
            events = [ics.meeting_event(meeting, ctx, [member.attendee()])]
        elif member.whole_series:
            events = [ics.occurrence_event(meeting.series, meeting, ctx, [member.attendee()])]
        else:
            events = [
                ics.standalone_occurrence_event(meeting.series, meeting, ctx, [member.attendee()])
            ]
        text, html = render_parts(
            "cancellation",
            recipient=member.recipient,
            series_cancelled=False,
            **_details(meeting, locale),
        )
        subject = _(
            "Cancelled: %(title)s, %(date)s", title=meeting.title, date=_short_date(meeting, locale)
        )
    calendar = _calendar(events, ics.CANCEL)
    return compose(
        member.recipient,
        subject,
        text,
        html,
        calendar=calendar,
        method=ics.CANCEL,
        attachments=(_invite_file(calendar),),
    )


def series_cancellation_message(series: Series, first: Meeting, member: Member) -> EmailMessage:
    """Return the cancellation of the rest of a series.

    When no week of it stays, METHOD:CANCEL without RECURRENCE-ID removes the series.
    When weeks were held (the rule now ends with UNTIL at the last week kept), a CANCEL
    without RECURRENCE-ID would remove those too (RFC 5546 3.2.5), so the message is the
    series again (METHOD:REQUEST, higher SEQUENCE) with the shortened rule: clients
    replace their copy, keeping the held weeks and dropping the cancelled ones.
    """
    ctx = ics_context()
    attendee = member.attendee()
    quiet = ics.Attendee(attendee.email, attendee.name, attendee.partstat, False)
    with in_language(member.recipient) as locale:
        kept = ics.series_status(series, series.occurrences) != "cancelled"
        if kept:
            events = ics.series_events(series, series.occurrences, ctx, [quiet])
            method = ics.REQUEST
        else:
            events = [ics.series_master_event(series, series.occurrences, ctx, [quiet])]
            method = ics.CANCEL
        text, html = render_parts(
            "cancellation",
            recipient=member.recipient,
            series_cancelled=True,
            **_details(first, locale),
        )
        subject = _("Cancelled series: %(title)s", title=series.title)
    calendar = _calendar(events, method)
    return compose(
        member.recipient,
        subject,
        text,
        html,
        calendar=calendar,
        method=method,
        attachments=(_invite_file(calendar),),
    )


#: Subjects of the mail about a sign-up, by template.
_SUBJECTS = {
    "confirmation": lambda **kw: _("You are signed up: %(title)s, %(date)s", **kw),
    "promotion": lambda **kw: _("You have a place: %(title)s, %(date)s", **kw),
    "reminder": lambda **kw: _("Reminder: %(title)s, %(date)s", **kw),
}


def _registration_message(
    template: str, registration: Registration, recipient: Recipient
) -> EmailMessage:
    meeting = registration.meeting
    with in_language(recipient) as locale:
        checkin, png = _checkin(registration)
        text, html = render_parts(
            template,
            recipient=recipient,
            registration=registration,
            signups_url=signups_url(),
            **_details(meeting, locale),
            **checkin,
        )
        subject = _SUBJECTS[template](title=meeting.title, date=_short_date(meeting, locale))
    return compose(
        recipient, subject, text, html, inline_png=png, attachments=(_ics_file(meeting),)
    )


def confirmation_message(registration: Registration, recipient: Recipient) -> EmailMessage:
    """Return the sign-up confirmation: the .ics attached, the check-in QR code inline."""
    return _registration_message("confirmation", registration, recipient)


def promotion_message(registration: Registration, recipient: Recipient) -> EmailMessage:
    """Return the mail telling a waitlisted person that they now have a place."""
    return _registration_message("promotion", registration, recipient)


def reminder_message(registration: Registration, recipient: Recipient) -> EmailMessage:
    """Return the reminder sent some hours before a session, with its .ics attached."""
    return _registration_message("reminder", registration, recipient)
