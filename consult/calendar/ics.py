"""Calendar objects (RFC 5545, RFC 5546) built through the icalendar library's API.

Every function here is pure: it reads the sessions it is given and an ``IcsContext``
(base URL, fallback organiser, time stamp) and returns icalendar components; nothing
touches the database, the request or the clock. A one-off session is one VEVENT with
the session's UID; a series is one master VEVENT (the series' UID, RRULE) plus an
override VEVENT, with the same UID and a RECURRENCE-ID, for each occurrence that differs
from the rule. Skipped weeks are EXDATEs of the master in mail and files, and cancelled
overrides (STATUS:CANCELLED) in feeds, which show cancelled one-offs the same way. A
week someone signed up for alone is published as a standalone VEVENT with the
occurrence's own UID, never as an orphan override.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parseaddr
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from icalendar import (
    Calendar,
    Component,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vDuration,
    vRecur,
)

if TYPE_CHECKING:
    from consult.meetings.models import Meeting, Series

PRODID = "-//Consult//Consultation sessions//EN"

#: Methods of RFC 5546 that Consult emits.
PUBLISH = "PUBLISH"
REQUEST = "REQUEST"
CANCEL = "CANCEL"

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class IcsContext:
    """What a calendar needs besides the sessions themselves."""

    #: Absolute base of the site, without a trailing slash (BASE_URL).
    base_url: str
    #: ORGANIZER when a session has no organiser with an email (MAIL_FROM).
    fallback_organizer: str
    #: DTSTAMP, an aware datetime (written in UTC).
    stamp: datetime
    #: MAIL_REPLY_TO: where calendar replies reach Consult; when set it is the ORGANIZER
    #: (with the organiser's name), since clients send REPLY to the ORGANIZER.
    reply_to: str | None = None


@dataclass(frozen=True)
class Attendee:
    """One ATTENDEE line of a scheduling message."""

    email: str
    name: str | None = None
    partstat: str = "NEEDS-ACTION"
    rsvp: bool = True


def clean_text(value: str | None) -> str:
    """Return ``value`` as iCalendar TEXT can carry it.

    TEXT has one line break (escaped as ``\\n``) and no other control characters, so
    CRLF and CR become LF and the other controls (tab excepted) are dropped.
    """
    if not value:
        return ""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", value)


def bare_address(value: str) -> str:
    """Return the address part of ``value`` ("Name <a@b>" or "a@b"), lower-cased."""
    return parseaddr(value)[1].strip().lower()


def session_url(ctx: IcsContext, meeting_id: int) -> str:
    """Return the absolute URL of a session's page."""
    return f"{ctx.base_url}/sessions/{meeting_id}"


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(moment: datetime, zone_name: str) -> datetime:
    """Return the aware UTC ``moment`` as wall-clock time in ``zone_name`` (with TZID)."""
    return moment.astimezone(zone(zone_name))


def _description(text: str | None, url: str) -> str:
    body = clean_text(text)
    return f"{body}\n\n{url}" if body else url


def _location(venue) -> str | None:
    if venue is None:
        return None
    parts = [venue.name]
    if getattr(venue, "address", None):
        parts.append(venue.address)
    return clean_text(", ".join(parts))


def _param(value: str) -> str:
    # A parameter value cannot hold a line break or a double quote.
    return clean_text(value).replace("\n", " ").replace('"', "'")


def _organizer(ctx: IcsContext, organiser) -> vCalAddress:
    name = getattr(organiser, "name", None)
    if ctx.reply_to:
        address = vCalAddress(f"mailto:{bare_address(ctx.reply_to)}")
        if name:
            address.params["CN"] = _param(name)
        return address
    email = getattr(organiser, "email", None) or ctx.fallback_organizer
    return vCalAddress(f"mailto:{bare_address(email)}")


def _attendee(person: Attendee) -> vCalAddress:
    address = vCalAddress(f"mailto:{bare_address(person.email)}")
    if person.name:
        address.params["CN"] = _param(person.name)
    address.params["CUTYPE"] = "INDIVIDUAL"
    address.params["ROLE"] = "REQ-PARTICIPANT"
    address.params["PARTSTAT"] = person.partstat
    address.params["RSVP"] = "TRUE" if person.rsvp else "FALSE"
    return address


def _status(status: str) -> str:
    return "CANCELLED" if status == "cancelled" else "CONFIRMED"


def _common(
    event: Event,
    *,
    ctx: IcsContext,
    title: str,
    description: str | None,
    url: str,
    venue,
    organiser,
    status: str,
    visibility: str,
    sequence: int,
    attendees: Sequence[Attendee],
) -> None:
    event.add("dtstamp", ctx.stamp.astimezone(UTC))
    event.add("sequence", sequence)
    event.add("summary", clean_text(title))
    location = _location(venue)
    if location:
        event.add("location", location)
    # Many clients ignore URL, so the link goes into DESCRIPTION as well.
    event.add("description", _description(description, url))
    event.add("url", url)
    event.add("status", _status(status))
    event.add("class", "PRIVATE" if visibility == "private" else "PUBLIC")
    event.add("organizer", _organizer(ctx, organiser))
    for person in attendees:
        event.add("attendee", _attendee(person))


def meeting_event(meeting: Meeting, ctx: IcsContext, attendees: Sequence[Attendee] = ()) -> Event:
    """Return the VEVENT of a one-off session (UID: the session's own)."""
    event = Event()
    event.add("uid", meeting.uid)
    event.add("dtstart", local(meeting.starts_at, meeting.timezone))
    event.add("dtend", local(meeting.ends_at, meeting.timezone))
    _common(
        event,
        ctx=ctx,
        title=meeting.title,
        description=meeting.description,
        url=session_url(ctx, meeting.id),
        venue=meeting.venue,
        organiser=meeting.organiser,
        status=meeting.status,
        visibility=meeting.visibility,
        sequence=meeting.sequence,
        attendees=attendees,
    )
    return event


def occurrence_sequence(series: Series, occurrence: Meeting) -> int:
    """SEQUENCE of an occurrence's VEVENT: rises with a change of the series or of it."""
    return series.sequence + occurrence.sequence


def occurrence_event(
    series: Series, occurrence: Meeting, ctx: IcsContext, attendees: Sequence[Attendee] = ()
) -> Event:
    """Return one occurrence of a series as a VEVENT with the series' UID and a
    RECURRENCE-ID (its original start, in the master's TZID)."""
    event = Event()
    event.add("uid", series.uid)
    event.add("recurrence-id", local(occurrence.recurrence_id, series.timezone))
    event.add("dtstart", local(occurrence.starts_at, occurrence.timezone))
    event.add("dtend", local(occurrence.ends_at, occurrence.timezone))
    _common(
        event,
        ctx=ctx,
        title=occurrence.title,
        description=occurrence.description,
        url=session_url(ctx, occurrence.id),
        venue=occurrence.venue,
        organiser=occurrence.organiser or series.organiser,
        status=occurrence.status,
        visibility=occurrence.visibility,
        sequence=occurrence_sequence(series, occurrence),
        attendees=attendees,
    )
    return event


def standalone_occurrence_event(
    series: Series, occurrence: Meeting, ctx: IcsContext, attendees: Sequence[Attendee] = ()
) -> Event:
    """Return one occurrence of a series as a VEVENT of its own (the occurrence's UID, no
    RECURRENCE-ID): what someone signed up for one week keeps in their calendar. An
    override without its master is refused by CalDAV servers and dropped by clients."""
    event = meeting_event(occurrence, ctx, attendees)
    if occurrence.organiser is None and series.organiser is not None:
        event.pop("ORGANIZER", None)
        event.add("organizer", _organizer(ctx, series.organiser))
    return event


def series_rule(series: Series) -> vRecur:
    """Return the series' RRULE, with UNTIL in UTC and never both COUNT and UNTIL."""
    text = series.rrule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    rule = vRecur.from_ical(text)
    if "COUNT" in rule and "UNTIL" in rule:
        # RFC 5545 forbids both; the count is the organiser's explicit limit.
        del rule["UNTIL"]
    if "UNTIL" in rule:
        until = rule["UNTIL"][0]
        tz = zone(series.timezone)
        if isinstance(until, datetime):
            if until.tzinfo is None:
                until = until.replace(tzinfo=tz)
        else:
            # A DATE bound with a DATE-TIME start: the whole of that local day.
            until = datetime.combine(until, time(23, 59, 59), tz)
        rule["UNTIL"] = [until.astimezone(UTC)]
    return rule


def differs_from_rule(series: Series, occurrence: Meeting) -> bool:
    """Return whether an occurrence needs an override VEVENT (moved or changed)."""
    return (
        occurrence.starts_at != occurrence.recurrence_id
        or occurrence.ends_at - occurrence.starts_at != series.duration
        or occurrence.timezone != series.timezone
        or occurrence.title != series.title
        or (occurrence.description or "") != (series.description or "")
        or occurrence.venue_id != series.venue_id
    )


def _first_occurrence_url(series: Series, occurrences: Sequence[Meeting], ctx: IcsContext) -> str:
    if not occurrences:
        return f"{ctx.base_url}/sessions"
    first = min(occurrences, key=lambda m: m.recurrence_id)
    return session_url(ctx, first.id)


def series_status(series: Series, occurrences: Sequence[Meeting]) -> str:
    """Status of a series' master: cancelled only when no week of it stays.

    Cancelling the rest of a series ends its rule (UNTIL) at the last week kept, so the
    weeks already held stay confirmed.
    """
    if series.status == "cancelled" and all(o.status == "cancelled" for o in occurrences):
        return "cancelled"
    return "scheduled"


def series_master_event(
    series: Series,
    occurrences: Sequence[Meeting],
    ctx: IcsContext,
    attendees: Sequence[Attendee] = (),
    *,
    exdates: bool = True,
) -> Event:
    """Return the master VEVENT of a series: RRULE, and EXDATE for cancelled weeks
    (``exdates`` false: none; the cancelled weeks are then overrides)."""
    event = Event()
    event.add("uid", series.uid)
    start = local(series.dtstart, series.timezone)
    event.add("dtstart", start)
    event.add("dtend", start + series.duration)
    event.add("rrule", series_rule(series))
    master_status = series_status(series, occurrences)
    skipped = sorted(
        local(o.recurrence_id, series.timezone) for o in occurrences if o.status == "cancelled"
    )
    if skipped and exdates and master_status != "cancelled":
        for moment in skipped:
            # One EXDATE per line: some clients read only the first value of a list.
            event.add("exdate", moment)
    _common(
        event,
        ctx=ctx,
        title=series.title,
        description=series.description,
        url=_first_occurrence_url(series, occurrences, ctx),
        venue=series.venue,
        organiser=series.organiser,
        status=master_status,
        visibility=series.visibility,
        sequence=series.sequence,
        attendees=attendees,
    )
    return event


def in_rule(series: Series, occurrence: Meeting) -> bool:
    """Return whether an occurrence's original start is still within the series' rule
    (a series cancelled from some week on ends its rule before that week)."""
    rule = series_rule(series)
    until = rule.get("UNTIL")
    return not until or occurrence.recurrence_id <= until[0]


def series_events(
    series: Series,
    occurrences: Sequence[Meeting],
    ctx: IcsContext,
    attendees: Sequence[Attendee] = (),
    *,
    cancelled_overrides: bool = False,
) -> list[Event]:
    """Return a whole series: the master VEVENT, then one override per moved or changed
    occurrence. Cancelled weeks are EXDATEs of the master, or (``cancelled_overrides``,
    for feeds) overrides with STATUS:CANCELLED, as cancelled one-offs show."""
    master = series_master_event(
        series, occurrences, ctx, attendees, exdates=not cancelled_overrides
    )
    events = [master]
    if str(master["STATUS"]) == "CANCELLED":
        return events
    for occurrence in sorted(occurrences, key=lambda m: m.recurrence_id):
        if not in_rule(series, occurrence):
            continue
        if occurrence.status == "cancelled":
            if cancelled_overrides:
                events.append(occurrence_event(series, occurrence, ctx, attendees))
        elif differs_from_rule(series, occurrence):
            events.append(occurrence_event(series, occurrence, ctx, attendees))
    return events


def cancelled(event: Event) -> Event:
    """Return ``event`` marked STATUS:CANCELLED (for METHOD:CANCEL); a cancellation asks
    nobody for an answer (RSVP=FALSE)."""
    event.pop("STATUS", None)
    event.add("status", "CANCELLED")
    attendees = event.get("ATTENDEE")
    for address in attendees if isinstance(attendees, list) else [attendees] if attendees else []:
        address.params["RSVP"] = "FALSE"
    return event


def _earliest(events: Iterable[Event]) -> date | None:
    moments = []
    for event in events:
        for name in ("DTSTART", "RECURRENCE-ID"):
            if name in event:
                moments.append(event.decoded(name))
    if not moments:
        return None
    return min(m.date() if isinstance(m, datetime) else m for m in moments)


def build_calendar(
    events: Sequence[Event],
    method: str | None = PUBLISH,
    *,
    name: str | None = None,
    refresh: timedelta | None = None,
) -> Calendar:
    """Return a VCALENDAR holding ``events`` and a VTIMEZONE for every TZID they use."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.calendar_name = clean_text(name).replace("\n", " ")
    if refresh:
        # RFC 7986 5.7: a DURATION value, said so; X-PUBLISHED-TTL (Outlook) likewise.
        cal.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", vDuration(refresh))
    for event in events:
        if method == CANCEL:
            cancelled(event)
        cal.add_component(event)
    earliest = _earliest(events)
    # Transitions from the start of the earliest year: the zone stays short.
    first_year = earliest.year if earliest is not None else Timezone.DEFAULT_FIRST_DATE.year
    position = len(cal.timezones)
    for tzid in sorted(cal.get_missing_tzids()):
        known = _vtimezone(tzid, first_year)
        if known is not None:
            # VTIMEZONEs go before the components that reference them.
            cal.subcomponents.insert(position, Timezone.from_ical(known))
            position += 1
    return cal


#: Years of transitions a VTIMEZONE is derived from (rules go on beyond them).
ZONE_YEARS = 15


@dataclass(frozen=True)
class _Transition:
    at: datetime  # the UTC instant of the change
    before: timedelta
    after: timedelta
    name: str
    dst: bool

    @property
    def onset(self) -> datetime:
        """The wall-clock time of the change in the offset before it (RFC 5545 3.6.5)."""
        return (self.at + self.before).replace(tzinfo=None)


def _transitions(tz: ZoneInfo, first_year: int, years: int) -> list[_Transition]:
    """Return the changes of UTC offset of ``tz`` in the given years, to the second."""
    out = []
    moment = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(first_year + years, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(tz).utcoffset()
    day = timedelta(days=1)
    while moment < end:
        following = moment + day
        changed = following.astimezone(tz).utcoffset()
        if changed != offset:
            low, high = 0, 86400  # seconds after ``moment``: offset unchanged at low
            while high - low > 1:
                middle = (low + high) // 2
                at = moment + timedelta(seconds=middle)
                if at.astimezone(tz).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            at = moment + timedelta(seconds=high)
            seen = at.astimezone(tz)
            out.append(_Transition(at, offset, changed, seen.tzname() or "", bool(seen.dst())))
            offset = changed
        moment = following
    return out


def _yearly_rule(onsets: list[datetime], last_year: int) -> vRecur | None:
    """Return the yearly rule (e.g. the last Sunday of March) that yields exactly these
    wall-clock onsets, one a year up to ``last_year``, or None when there is none (a zone
    whose changes stop cannot be a rule that goes on)."""
    if len(onsets) < 2 or onsets[-1].year < last_year:
        return None
    first = onsets[0]
    days_in = [
        (o.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1) for o in onsets
    ]
    same = all(
        (o.month, o.weekday(), o.time()) == (first.month, first.weekday(), first.time())
        for o in onsets
    ) and all(b.year - a.year == 1 for a, b in zip(onsets, onsets[1:], strict=False))
    if not same:
        return None
    day_code = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[first.weekday()]
    if all(o.day + 7 > last.day for o, last in zip(onsets, days_in, strict=True)):
        position = -1
    elif len({(o.day - 1) // 7 for o in onsets}) == 1:
        position = (first.day - 1) // 7 + 1
    else:
        return None
    return vRecur({"FREQ": "YEARLY", "BYMONTH": [first.month], "BYDAY": [f"{position}{day_code}"]})


def _observance(
    kind: str, name: str, before: timedelta, after: timedelta, start: datetime
) -> Component:
    observance = TimezoneDaylight() if kind == "DAYLIGHT" else TimezoneStandard()
    observance.add("dtstart", start)
    if name:
        observance.add("tzname", name)
    observance.add("tzoffsetfrom", before)
    observance.add("tzoffsetto", after)
    return observance


@lru_cache(maxsize=256)
def _vtimezone(tzid: str, first_year: int) -> bytes | None:
    """Return the VTIMEZONE of ``tzid`` from ``first_year`` on, serialised (None if unknown).

    A zone with daylight saving gets rule-based observances (RRULE:FREQ=YEARLY;BYMONTH=3;
    BYDAY=-1SU), which every client reads and which go on past the years looked at; where
    the changes follow no yearly rule, each change is an RDATE line of its own (some
    clients read only the first value of a comma-separated RDATE). Zones without changes
    are written as before. Computed once per zone and year, since it is slow.
    """
    try:
        tz = ZoneInfo(tzid)
    except (ValueError, KeyError, OSError):
        return None
    changes = _transitions(tz, first_year, ZONE_YEARS)
    if not changes:
        try:
            return Timezone.from_tzid(tzid, first_date=date(first_year, 1, 1)).to_ical()
        except ValueError:
            return None
    timezone = Timezone()
    timezone.add("tzid", tzid)
    start = datetime(first_year, 1, 1)
    opening = start.replace(tzinfo=tz)
    timezone.add_component(
        _observance(
            "DAYLIGHT" if opening.dst() else "STANDARD",
            opening.tzname() or "",
            opening.utcoffset(),
            opening.utcoffset(),
            start,
        )
    )
    groups: dict[tuple, list[_Transition]] = {}
    for change in changes:
        groups.setdefault((change.dst, change.name, change.before, change.after), []).append(change)
    for (dst, name, before, after), members in groups.items():
        kind = "DAYLIGHT" if dst else "STANDARD"
        onsets = [m.onset for m in members]
        rule = _yearly_rule(onsets, first_year + ZONE_YEARS - 1)
        observance = _observance(kind, name, before, after, onsets[0])
        if rule is not None:
            observance.add("rrule", rule)
        else:
            for onset in onsets[1:]:
                observance.add("rdate", onset)
        timezone.add_component(observance)
    return timezone.to_ical()


def to_ics(cal: Calendar) -> bytes:
    """Serialise a calendar: UTF-8, CRLF line ends, lines folded at 75 octets."""
    return cal.to_ical()
