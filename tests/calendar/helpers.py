"""Reading back what Consult emits: calendars, their raw lines, mail parts."""

from __future__ import annotations

from datetime import datetime

import recurring_ical_events
from icalendar import Calendar


def raw_lines(body: bytes) -> list[bytes]:
    """The physical lines of a calendar (CRLF-separated, folds not undone)."""
    assert body.endswith(b"\r\n")
    return body[:-2].split(b"\r\n")


def unfolded(body: bytes) -> list[str]:
    """The content lines of a calendar, folds undone."""
    return body.replace(b"\r\n ", b"").decode("utf-8").split("\r\n")[:-1]


def parse(body: bytes) -> Calendar:
    return Calendar.from_ical(body)


def vevents(cal: Calendar):
    return list(cal.walk("VEVENT"))


def expand(cal: Calendar, start: datetime, end: datetime):
    """The instances of every event between start and end, series expanded."""
    return sorted(
        recurring_ical_events.of(cal).between(start, end), key=lambda e: e.decoded("DTSTART")
    )


def calendar_parts(msg):
    """The text/calendar parts of a mail."""
    return [part for part in msg.walk() if part.get_content_type() == "text/calendar"]


def itip_calendar(msg) -> Calendar:
    """The calendar of a mail's iTIP part (the text/calendar alternative)."""
    parts = [
        p
        for p in calendar_parts(msg)
        if p.get_param("method") and p.get_content_disposition() != "attachment"
    ]
    assert len(parts) == 1, [p.get_content_type() for p in msg.walk()]
    return Calendar.from_ical(parts[0].get_payload(decode=True))
