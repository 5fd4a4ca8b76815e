"""Calendar documents for sessions and feeds: the pure builders of ``ics`` fed with the
application's settings and loaded sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from icalendar import Calendar, Event

from consult.calendar import ics
from consult.calendar.models import FeedToken
from consult.calendar.queries import FeedContent, series_with_occurrences
from consult.meetings.models import Meeting, Series
from consult.types import utcnow

#: How often subscribed clients are asked to refresh a feed.
FEED_REFRESH = timedelta(hours=1)


def ics_context(stamp: datetime | None = None) -> ics.IcsContext:
    """Return the context of calendars made now (BASE_URL, MAIL_FROM)."""
    config = current_app.config
    return ics.IcsContext(
        base_url=config["BASE_URL"],
        fallback_organizer=ics.bare_address(config["MAIL_FROM"]),
        stamp=stamp or utcnow(),
    )


def session_events(
    meeting: Meeting,
    ctx: ics.IcsContext,
    attendees=(),
    whole_series: bool = True,
    series: Series | None = None,
) -> list[Event]:
    """Return the VEVENTs of a session: the whole series for an occurrence (or only
    that occurrence, with its RECURRENCE-ID, when ``whole_series`` is false).
    ``series``: the occurrence's series with its occurrences, when already loaded."""
    if meeting.series_id is None:
        return [ics.meeting_event(meeting, ctx, attendees)]
    if not whole_series:
        return [ics.occurrence_event(meeting.series, meeting, ctx, attendees)]
    if series is None:
        series = series_with_occurrences(meeting.series_id)
    return ics.series_events(series, series.occurrences, ctx, attendees)


def session_calendar(meeting: Meeting) -> Calendar:
    """Return the published calendar file of a session (its whole series for an occurrence)."""
    ctx = ics_context()
    return ics.build_calendar(session_events(meeting, ctx), ics.PUBLISH)


def feed_name(feed: FeedToken) -> str:
    """Return the calendar name a feed shows in clients, in its owner's language."""
    from consult.i18n import language_of

    with force_locale(language_of(feed.user.locale)):
        if feed.scope == "community":
            return _("%(community)s sessions", community=feed.community.name)
        return _("My sessions (%(name)s)", name=feed.user.name)


def feed_calendar(feed: FeedToken, content: FeedContent) -> Calendar:
    """Return a feed's calendar: its single sessions and whole series."""
    ctx = ics_context()
    events: list[Event] = []
    for meeting in content.meetings:
        if meeting.series_id is None:
            events.append(ics.meeting_event(meeting, ctx))
        else:
            events.append(ics.occurrence_event(meeting.series, meeting, ctx))
    for series in content.series:
        events.extend(ics.series_events(series, series.occurrences, ctx))
    return ics.build_calendar(events, ics.PUBLISH, name=feed_name(feed), refresh=FEED_REFRESH)
