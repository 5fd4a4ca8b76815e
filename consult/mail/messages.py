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

from consult.calendar import ics
from consult.calendar.documents import ics_context, session_events
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
        """Their ATTENDEE line: invitees are asked to answer; registrants have answered."""
        if self.invitation is not None or self.registration is None:
            return ics.Attendee(self.recipient.email, self.recipient.name, "NEEDS-ACTION", True)
        partstat = "ACCEPTED" if self.registration.status == "confirmed" else "TENTATIVE"
        return ics.Attendee(self.recipient.email, self.recipient.name, partstat, False)


def has_endpoint(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def _rsvp_links(invitation: Invitation | None) -> dict:
    if invitation is None or invitation.id is None or not has_endpoint("attendance.rsvp"):
        return {}
    from consult.attendance.links import rsvp_url

    return {
        "accept_url": rsvp_url(invitation, "ACCEPTED"),
        "decline_url": rsvp_url(invitation, "DECLINED"),
    }


def _checkin(registration: Registration) -> tuple[dict, tuple[str, bytes] | None]:
    """Return the template values and the inline PNG of a registration's check-in code."""
    if not has_endpoint("attendance.checkin"):
        return {}, None
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


def invitation_message(meeting: Meeting, member: Member,
                       series: Series | None = None) -> EmailMessage:
    """Return an invitation (METHOD:REQUEST) to ``meeting`` (its series when the member
    is invited to the whole series; ``series`` when already loaded)."""
    with in_language(member.recipient) as locale:
        events = session_events(meeting, ics_context(), [member.attendee()],
                                whole_series=member.whole_series, series=series)
        context = _details(meeting, locale) | _rsvp_links(member.invitation)
        text, html = render_parts(
            "invitation", recipient=member.recipient, whole_series=member.whole_series, **context
        )
        subject = _("Invitation: %(title)s, %(date)s", title=meeting.title,
                    date=_short_date(meeting, locale))
    return compose(member.recipient, subject, text, html,
                   calendar=_calendar(events, ics.REQUEST), method=ics.REQUEST)


def update_message(meeting: Meeting, member: Member,
                   series: Series | None = None) -> EmailMessage:
    """Return an updated invitation (METHOD:REQUEST, same UID, higher SEQUENCE)."""
    with in_language(member.recipient) as locale:
        events = session_events(meeting, ics_context(), [member.attendee()],
                                whole_series=member.whole_series, series=series)
        context = _details(meeting, locale) | _rsvp_links(member.invitation)
        text, html = render_parts(
            "update", recipient=member.recipient, whole_series=member.whole_series, **context
        )
        subject = _("Updated: %(title)s, %(date)s", title=meeting.title,
                    date=_short_date(meeting, locale))
    return compose(member.recipient, subject, text, html,
                   calendar=_calendar(events, ics.REQUEST), method=ics.REQUEST)


def cancellation_message(meeting: Meeting, member: Member) -> EmailMessage:
    """Return a cancellation (METHOD:CANCEL) of a session; for an occurrence of a series,
    of that occurrence only (its RECURRENCE-ID)."""
    ctx = ics_context()
    with in_language(member.recipient) as locale:
        if meeting.series_id is None:
            events = [ics.meeting_event(meeting, ctx, [member.attendee()])]
        else:
            events = [ics.occurrence_event(meeting.series, meeting, ctx, [member.attendee()])]
        text, html = render_parts(
            "cancellation", recipient=member.recipient, series_cancelled=False,
            **_details(meeting, locale),
        )
        subject = _("Cancelled: %(title)s, %(date)s", title=meeting.title,
                    date=_short_date(meeting, locale))
    return compose(member.recipient, subject, text, html,
                   calendar=_calendar(events, ics.CANCEL), method=ics.CANCEL)


def series_cancellation_message(series: Series, first: Meeting, member: Member) -> EmailMessage:
    """Return the cancellation (METHOD:CANCEL, no RECURRENCE-ID) of a whole series."""
    ctx = ics_context()
    with in_language(member.recipient) as locale:
        events = [ics.series_master_event(series, series.occurrences, ctx, [member.attendee()])]
        text, html = render_parts(
            "cancellation", recipient=member.recipient, series_cancelled=True,
            **_details(first, locale),
        )
        subject = _("Cancelled series: %(title)s", title=series.title)
    return compose(member.recipient, subject, text, html,
                   calendar=_calendar(events, ics.CANCEL), method=ics.CANCEL)


#: Subjects of the mail about a sign-up, by template.
_SUBJECTS = {
    "confirmation": lambda **kw: _("You are signed up: %(title)s, %(date)s", **kw),
    "promotion": lambda **kw: _("You have a place: %(title)s, %(date)s", **kw),
    "reminder": lambda **kw: _("Reminder: %(title)s, %(date)s", **kw),
}


def _registration_message(template: str, registration: Registration,
                          recipient: Recipient) -> EmailMessage:
    meeting = registration.meeting
    with in_language(recipient) as locale:
        checkin, png = _checkin(registration)
        text, html = render_parts(
            template, recipient=recipient, registration=registration,
            signups_url=signups_url() if has_endpoint("attendance.my_signups") else None,
            **_details(meeting, locale), **checkin,
        )
        subject = _SUBJECTS[template](title=meeting.title, date=_short_date(meeting, locale))
    return compose(recipient, subject, text, html, inline_png=png,
                   attachments=(_ics_file(meeting),))


def confirmation_message(registration: Registration, recipient: Recipient) -> EmailMessage:
    """Return the sign-up confirmation: the .ics attached, the check-in QR code inline."""
    return _registration_message("confirmation", registration, recipient)


def promotion_message(registration: Registration, recipient: Recipient) -> EmailMessage:
    """Return the mail telling a waitlisted person that they now have a place."""
    return _registration_message("promotion", registration, recipient)


def reminder_message(registration: Registration, recipient: Recipient) -> EmailMessage:
    """Return the reminder sent some hours before a session, with its .ics attached."""
    return _registration_message("reminder", registration, recipient)
