"""Every write about sessions and series. Operations flush and audit; the caller commits.

A one-off session is a Meeting. A recurring one is a Series (its RRULE, first start,
duration and zone) plus one Meeting per occurrence, made up to a horizon and extended
as time passes; a skipped week is a cancelled occurrence, a moved week an occurrence
whose start differs from its recurrence id (its original start).
"""

from __future__ import annotations

import logging
import math
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from consult import audit
from consult.attendance.operations import CapacityError, set_capacity
from consult.community.models import Community, Unit, Venue
from consult.community.operations import community_by_name
from consult.enums import PRIVATE_KINDS, SeriesStatus, SessionKind, SessionStatus, Visibility
from consult.errors import RefusedInput, clean_description, clean_text
from consult.extensions import db
from consult.i18n import Choices
from consult.lists import valid_id
from consult.mail import notify
from consult.meetings import queries, recurrence
from consult.meetings.models import Meeting, Series
from consult.meetings.recurrence import RuleError
from consult.notices import notify as notices
from consult.permissions import can
from consult.types import utcnow

log = logging.getLogger(__name__)

#: Larger than any hall; keeps capacities inside a 32-bit integer column.
MAX_CAPACITY = 100_000
MAX_DESCRIPTION = 10_000
#: Lazy extension runs when a series' rows end sooner than the horizon minus this.
LAZY_SLACK = timedelta(days=1)


class MeetingError(RefusedInput):
    """Refused input about a session: the field at fault and a message for people."""


class ClashError(MeetingError):
    """The venue is already booked for part of the requested time."""

    def __init__(self, clash: queries.Clash):
        message = _l(
            "The venue is already booked for “%(title)s” from %(start)s to %(end)s.",
            title=clash.title,
            start=clash.local_start(),
            end=clash.local_end(),
        )
        super().__init__(message, "venue", status=409, code="venue_clash", clash=clash.as_dict())
        self.clash = clash


# -- configuration -----------------------------------------------------------------------


def horizon_days() -> int:
    """Return how many days ahead a series' occurrences exist as rows."""
    return int(current_app.config["SERIES_HORIZON_DAYS"])


def default_horizon() -> datetime:
    return utcnow() + timedelta(days=horizon_days())


def default_timezone() -> str:
    return current_app.config["CONSULT_TIMEZONE"]


def new_uid() -> str:
    """Return a fresh iCalendar UID for a session or series."""
    host = "consult"
    if has_app_context():
        host = urlsplit(current_app.config["BASE_URL"]).hostname or host
    return f"{uuid.uuid4()}@{host}"


# -- checking input ----------------------------------------------------------------------


def _kind(value) -> str:
    if value not in SessionKind:
        raise MeetingError(
            _l("Choose a kind of session: %(values)s.", values=Choices(SessionKind, "kind")), "kind"
        )
    return value


def _zone_name(value) -> str:
    if value is None or value == "":
        return default_timezone()
    try:
        recurrence.zone(value)
    except RuleError as exc:
        raise MeetingError(exc.message, "timezone") from None
    return value


def _instant(value, field: str) -> datetime:
    """Return an aware datetime as UTC, to the second, or refuse it."""
    if not isinstance(value, datetime):
        raise MeetingError(_l("A date and time is required."), field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise MeetingError(_l("The date and time needs a UTC offset."), field)
    if not recurrence.in_range(value):
        raise MeetingError(_l("The date is out of range."), field)
    return value.astimezone(UTC).replace(microsecond=0)


def _unclear_message(naive: datetime, problem: str, tz_name: str):
    values = {"day": naive.strftime("%Y-%m-%d"), "time": naive.strftime("%H:%M"), "zone": tz_name}
    if problem == "gap":
        return _l(
            "On %(day)s, %(time)s does not exist in %(zone)s: the clocks jump forward "
            "over it. Choose another time.",
            **values,
        )
    return _l(
        "On %(day)s, %(time)s happens twice in %(zone)s: the clocks go back over it. "
        "Choose another time.",
        **values,
    )


def _check_wall_clock(starts: datetime, tz_name: str, field: str = "starts_at") -> None:
    """Refuse a start whose local time happens twice (the clocks go back over it): it
    would be read differently by different calendars."""
    tz = recurrence.zone(tz_name)
    naive = recurrence.wall_clock(starts, tz)
    problem = recurrence.unclear_wall_clock(naive, tz)
    if problem:
        raise MeetingError(_unclear_message(naive, problem, tz_name), field)


def _capacity(value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MeetingError(_l("The capacity must be a whole number."), "capacity")
    if value < 0:
        raise MeetingError(_l("The capacity cannot be negative."), "capacity")
    if value > MAX_CAPACITY:
        raise MeetingError(_l("The capacity is at most %(n)d.", n=MAX_CAPACITY), "capacity")
    return value


def _visibility(value, kind: str) -> str:
    if value is None or value == "":
        return "private" if kind in PRIVATE_KINDS else "public"
    if value not in Visibility:
        raise MeetingError(
            _l("Choose a visibility: %(values)s.", values=Choices(Visibility, "visibility")),
            "visibility",
        )
    return value


def _host_unit(value) -> Unit | None:
    """Return the unit named by id or name, or refuse it."""
    if value is None or value == "":
        return None
    if isinstance(value, Unit):
        return value
    unit = None
    if isinstance(value, int) and not isinstance(value, bool):
        unit = db.session.get(Unit, value) if valid_id(value) else None
    elif isinstance(value, str):
        name = clean_text(value, "host_unit", 200, label=_l("host unit"))
        unit = db.session.scalar(select(Unit).where(Unit.name == name))
    if unit is None:
        raise MeetingError(_l("No such unit."), "host_unit")
    return unit


def _venue_name(value) -> str | None:
    return clean_text(value, "venue", 200, required=False, label=_l("venue"))


def _community(value, user) -> Community:
    """Return the community named ``value``, creating it on first use."""
    return community_by_name(value, user, create=True)


def _venue(
    community: Community, name: str | None, kind: str, user, create: bool = True
) -> Venue | None:
    """Return the community's venue called ``name``, creating it on first use when
    ``create`` (the API); the pages choose from a list and create a venue only
    as a deliberate "new venue", so a typo never makes one nor dodges the clash check."""
    if name is None:
        return None
    query = select(Venue).where(Venue.community_id == community.id, Venue.name == name)
    venue = db.session.scalar(query)
    if venue is not None:
        return venue
    if not create:
        raise MeetingError(
            _l(
                "%(community)s has no venue called %(name)s: choose one from the list, or "
                "add it as a new venue.",
                community=community.name,
                name=name,
            ),
            "venue",
        )
    try:
        with db.session.begin_nested():
            venue = Venue(
                community_id=community.id,
                name=name,
                kind="mediation_room" if kind == "mediation" else "meeting_room",
            )
            db.session.add(venue)
            db.session.flush()
    except IntegrityError:
        return db.session.scalars(query).one()
    audit.record("venue.create", venue, user, name=name)
    return venue


def _lock_venue(venue_id: int) -> None:
    """Hold the venue's row until commit, so that two bookings are checked one at a time."""
    db.session.execute(select(Venue.id).where(Venue.id == venue_id).with_for_update())


def _check_free(venue_id: int | None, intervals, exclude_meeting_id: int | None = None):
    if venue_id is None or not intervals:
        return
    _lock_venue(venue_id)
    clash = queries.find_clash(venue_id, intervals, exclude_meeting_id=exclude_meeting_id)
    if clash is not None:
        raise ClashError(clash)


def _clash_window() -> timedelta:
    return timedelta(days=int(current_app.config["SERIES_CLASH_WINDOW_DAYS"]))


# -- creating ----------------------------------------------------------------------------


def create_meeting(data: dict, user) -> Meeting:
    """Create a one-off session, or a series and its occurrences; return the (first) session.

    ``data``: kind, title, community (name), starts_at and ends_at (aware), timezone,
    venue (name), capacity, recurrence (RRULE), visibility, host_unit (id or name),
    description.
    """
    kind = _kind(data.get("kind"))
    title = clean_text(data.get("title"), "title", 200, label=_l("title"))
    description = clean_description(data.get("description"), MAX_DESCRIPTION)
    tz_name = _zone_name(data.get("timezone"))
    starts = _instant(data.get("starts_at"), "starts_at")
    ends = _instant(data.get("ends_at"), "ends_at")
    if ends <= starts:
        raise MeetingError(_l("The end must be after the start."), "ends_at")
    capacity = _capacity(data.get("capacity"))
    visibility = _visibility(data.get("visibility"), kind)
    host_unit = _host_unit(data.get("host_unit"))
    venue_name = _venue_name(data.get("venue"))
    rule = data.get("recurrence")
    series = intervals = None
    if rule is not None and not (isinstance(rule, str) and not rule.strip()):
        series, intervals = _series_values(rule, starts, ends, tz_name)
        starts, ends = intervals[0]
    else:
        _check_wall_clock(starts, tz_name)
    community = _community(data.get("community"), user)
    if user is not None and not can(user, "meeting.create", community):
        # The refusal rolls back a community created just now.
        raise MeetingError(
            _l("You do not act for %(name)s.", name=community.name), "community", status=403
        )
    venue = _venue(community, venue_name, kind, user, create=data.get("create_venue", True))
    if venue is not None:
        _check_free(venue.id, intervals or [(starts, ends)])
    common = {
        "kind": kind,
        "title": title,
        "description": description,
        "community_id": community.id,
        "venue_id": venue.id if venue else None,
        "timezone": tz_name,
        "capacity": capacity,
        "visibility": visibility,
        "organiser_id": getattr(user, "id", None),
        "host_unit_id": host_unit.id if host_unit else None,
    }
    # Reads never write: the weekly series that run short are extended by writes like
    # this one, and daily by `flask sessions extend`.
    extend_due_series()
    if series is None:
        meeting = Meeting(
            uid=new_uid(),
            starts_at=starts,
            ends_at=ends,
            status="scheduled",
            sequence=0,
            confirmed_count=0,
            **common,
        )
        db.session.add(meeting)
        db.session.flush()
        audit.record(
            "meeting.create",
            meeting,
            user,
            kind=kind,
            title=title,
            starts_at=starts.isoformat(),
            venue=venue_name,
        )
        notices.session_created(meeting)
        return meeting

    row = Series(uid=new_uid(), status="active", sequence=0, **series, **common)
    db.session.add(row)
    db.session.flush()
    made = extend_series(row)
    audit.record(
        "series.create",
        row,
        user,
        kind=kind,
        title=title,
        rrule=row.rrule,
        dtstart=row.dtstart.isoformat(),
        occurrences=made,
        venue=venue_name,
    )
    first = db.session.scalar(
        select(Meeting).where(Meeting.series_id == row.id).order_by(Meeting.recurrence_id)
    )
    notices.series_created(row, first)
    return first


def _series_values(rule, starts: datetime, ends: datetime, tz_name: str):
    """Check a recurrence; return the Series' rule, first start and duration, and the
    (start, end) of its occurrences within the clash window."""
    try:
        normalised = recurrence.normalise(rule, tz_name)
        first = recurrence.first_occurrence(normalised, starts, tz_name)
    except RuleError as exc:
        raise MeetingError(exc.message, "recurrence") from None
    if len(normalised) > 500:
        raise MeetingError(_l("The recurrence rule is too long."), "recurrence")
    unclear = recurrence.first_unclear(normalised, first, tz_name)
    if unclear is not None:
        # Calendars disagree on such weeks (skipped, moved by an hour, or doubled).
        raise MeetingError(_unclear_message(*unclear, tz_name), "starts_at")
    duration = max(1, math.ceil((ends - starts).total_seconds() / 60))
    values = {"rrule": normalised, "dtstart": first, "duration_minutes": duration}
    starts_list = recurrence.occurrences(normalised, first, tz_name, None, first + _clash_window())
    gap = timedelta(minutes=duration)
    if any(b - a < gap for a, b in zip(starts_list, starts_list[1:], strict=False)):
        raise MeetingError(
            _l("The occurrences would overlap: each must end before the next starts."),
            "recurrence",
        )
    return values, [(s, s + gap) for s in starts_list]


# -- series: occurrences as rows ---------------------------------------------------------


def _occurrence(series: Series, start: datetime) -> Meeting:
    return Meeting(
        uid=new_uid(),
        kind=series.kind,
        title=series.title,
        description=series.description or "",
        community_id=series.community_id,
        venue_id=series.venue_id,
        starts_at=start,
        ends_at=start + series.duration,
        timezone=series.timezone,
        capacity=series.capacity,
        confirmed_count=0,
        status="scheduled",
        visibility=series.visibility,
        organiser_id=series.organiser_id,
        host_unit_id=series.host_unit_id,
        series_id=series.id,
        recurrence_id=start,
        sequence=0,
    )


def extend_series(series: Series, horizon: datetime | None = None) -> int:
    """Make the series' occurrences up to ``horizon`` exist as rows; return how many were made.

    The first occurrence is always made, however far ahead it is.
    """
    if series.status != SeriesStatus.ACTIVE:
        return 0
    horizon = max(horizon or default_horizon(), series.dtstart)
    done = series.materialised_until
    if done is not None and done >= horizon:
        return 0
    starts = recurrence.occurrences(series.rrule, series.dtstart, series.timezone, done, horizon)
    existing = set()
    if starts:
        existing = set(
            db.session.scalars(
                select(Meeting.recurrence_id).where(
                    Meeting.series_id == series.id,
                    Meeting.recurrence_id >= starts[0],
                    Meeting.recurrence_id <= starts[-1],
                )
            )
        )
    made = [_occurrence(series, start) for start in starts if start not in existing]
    db.session.add_all(made)
    series.materialised_until = horizon
    db.session.flush()
    if made:
        audit.record(
            "series.extend", series, None, occurrences=len(made), until=horizon.isoformat()
        )
    return len(made)


def extend_due_series(series_id: int | None = None) -> int:
    """Extend the active series whose rows end before the horizon (one, or all); return rows made.

    Called by writes (scheduling a session) and `flask sessions extend`, never by reads.
    Two requests doing it at once are harmless:
    the series' row is locked, and a lost race only undoes this request's savepoint.
    """
    threshold = default_horizon() - LAZY_SLACK
    due = select(Series).where(
        Series.status == SeriesStatus.ACTIVE,
        (Series.materialised_until.is_(None)) | (Series.materialised_until < threshold),
    )
    if series_id is not None:
        due = due.where(Series.id == series_id)
    made = 0
    for series in db.session.scalars(due).all():
        try:
            with db.session.begin_nested():
                db.session.execute(
                    select(Series)
                    .where(Series.id == series.id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
                made += extend_series(series)
        except (IntegrityError, OperationalError) as exc:
            log.info("series %s is being extended elsewhere: %s", series.id, exc)
    return made


def extend_all_series(horizon: datetime | None = None) -> int:
    """Extend every active series up to ``horizon``; return the rows made (for cron)."""
    made = 0
    for series in db.session.scalars(
        select(Series).where(Series.status == SeriesStatus.ACTIVE)
    ).all():
        made += extend_series(series, horizon)
    return made


# -- changing ----------------------------------------------------------------------------


def _text_values(data: dict) -> dict:
    """Check the title and description ``data`` changes; return them by column."""
    values: dict = {}
    if "title" in data:
        values["title"] = clean_text(data["title"], "title", 200, label=_l("title"))
    if "description" in data:
        values["description"] = clean_description(data["description"], MAX_DESCRIPTION)
    return values


def _new_times(meeting: Meeting, data: dict) -> tuple[datetime, datetime]:
    """Return the session's start and end after the change ``data`` asks for, checked."""
    starts, ends = meeting.starts_at, meeting.ends_at
    if "starts_at" in data:
        starts = _instant(data.get("starts_at"), "starts_at")
        if "ends_at" not in data:
            # Moving the start keeps the length.
            ends = starts + (meeting.ends_at - meeting.starts_at)
    if "ends_at" in data:
        ends = _instant(data.get("ends_at"), "ends_at")
    if ends <= starts:
        raise MeetingError(_l("The end must be after the start."), "ends_at")
    if starts != meeting.starts_at:
        _check_wall_clock(starts, meeting.timezone)
    return starts, ends


def _apply_capacity(meeting: Meeting, capacity: int | None, user) -> dict:
    """Give the session ``capacity`` places (the waiting list follows); return the change."""
    if capacity == meeting.capacity:
        return {}
    old = meeting.capacity
    try:
        set_capacity(meeting, capacity, user)
    except CapacityError as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise MeetingError(message, "capacity", status=exc.status, code=exc.code) from None
    return {"capacity": [old, capacity]}


def _apply_times(meeting: Meeting, starts: datetime, ends: datetime) -> dict:
    """Move the session to ``starts``-``ends``; return the changes."""
    changes: dict = {}
    if starts != meeting.starts_at:
        changes["starts_at"] = [meeting.starts_at.isoformat(), starts.isoformat()]
    if ends != meeting.ends_at:
        changes["ends_at"] = [meeting.ends_at.isoformat(), ends.isoformat()]
    meeting.starts_at, meeting.ends_at = starts, ends
    return changes


def _apply_values(meeting: Meeting, values: dict) -> dict:
    """Set the columns of ``values`` that differ; return the changes."""
    changes: dict = {}
    for field, value in values.items():
        if getattr(meeting, field) != value:
            changes[field] = [getattr(meeting, field), value]
            setattr(meeting, field, value)
    return changes


def update_meeting(meeting: Meeting, data: dict, user) -> Meeting:
    """Change a session (an occurrence of a series: that one only).

    ``data`` may hold title, description, starts_at, ends_at, venue (name or None),
    capacity, host_unit. A change of time or venue raises the sequence and sends
    updated invitations.
    """
    if meeting.is_cancelled:
        raise MeetingError(_l("A cancelled session cannot be changed."), None, status=409)
    values = _text_values(data)
    starts, ends = _new_times(meeting, data)
    venue_name = _venue_name(data["venue"]) if "venue" in data else None
    if "host_unit" in data:
        unit = _host_unit(data["host_unit"])
        values["host_unit_id"] = unit.id if unit else None
    capacity = _capacity(data["capacity"]) if "capacity" in data else meeting.capacity

    venue_id = meeting.venue_id
    if "venue" in data:
        venue = _venue(
            meeting.community, venue_name, meeting.kind, user, create=data.get("create_venue", True)
        )
        venue_id = venue.id if venue else None
    time_changed = (starts, ends) != (meeting.starts_at, meeting.ends_at)
    venue_changed = venue_id != meeting.venue_id
    if (time_changed or venue_changed) and venue_id is not None:
        _check_free(venue_id, [(starts, ends)], exclude_meeting_id=meeting.id)

    old_starts, old_ends = meeting.starts_at, meeting.ends_at
    old_venue = meeting.venue.name if meeting.venue is not None else None
    changes = _apply_capacity(meeting, capacity, user)
    if venue_changed:
        changes["venue"] = [old_venue, venue_name]
        meeting.venue_id = venue_id
    if time_changed:
        changes.update(_apply_times(meeting, starts, ends))
    changes.update(_apply_values(meeting, values))
    if time_changed or venue_changed:
        meeting.sequence += 1
    db.session.flush()
    if venue_changed:
        db.session.refresh(meeting, ["venue"])
    if changes:
        audit.record("meeting.update", meeting, user, **changes)
    if time_changed or venue_changed:
        notify.meeting_changed(meeting, user, set(changes) & {"starts_at", "ends_at", "venue"})
        notices.session_changed(meeting, old_starts, old_ends, old_venue)
    return meeting


def cancel_meeting(meeting: Meeting, user) -> Meeting:
    """Cancel a session (an occurrence of a series: that one only); cancelling twice is a no-op."""
    if meeting.is_cancelled:
        return meeting
    if not meeting.cancellable:
        raise MeetingError(
            _l("This session has been held; it cannot be cancelled."), None, status=409
        )
    meeting.cancel()
    db.session.flush()
    audit.record("meeting.cancel", meeting, user, series=meeting.series_id)
    notify.meeting_cancelled(meeting, user)
    notices.session_cancelled(meeting)
    return meeting


def cancel_series(series: Series, user) -> int:
    """Cancel a series: every occurrence not yet started; return how many were cancelled now.

    The weeks already held stay: the rule is ended (UNTIL) at the last week that is not
    cancelled, so calendars keep those weeks and drop only the ones cancelled now.
    """
    if series.status == SeriesStatus.CANCELLED:
        return 0
    now = utcnow()
    upcoming = db.session.scalars(
        select(Meeting).where(Meeting.series_id == series.id, Meeting.open_for_signup_clause(now))
    ).all()
    for meeting in upcoming:
        meeting.cancel(now)
    series.status = SeriesStatus.CANCELLED
    series.sequence += 1
    db.session.flush()
    last_kept = db.session.scalar(
        select(func.max(Meeting.recurrence_id)).where(
            Meeting.series_id == series.id, Meeting.status != SessionStatus.CANCELLED
        )
    )
    rule = series.rrule
    if last_kept is not None:
        series.rrule = recurrence.ended(series.rrule, last_kept)
        db.session.flush()
    audit.record("series.cancel", series, user, cancelled=len(upcoming), rrule=[rule, series.rrule])
    notify.series_cancelled(series, user, upcoming)
    notices.series_cancelled(series, len(upcoming))
    return len(upcoming)


def _require_occurrence(meeting: Meeting) -> None:
    if meeting.series_id is None:
        raise MeetingError(_l("This session is not part of a series."), None, status=409)


def skip_occurrence(meeting: Meeting, user) -> Meeting:
    """Skip one week of a series (a holiday): cancel that occurrence only."""
    _require_occurrence(meeting)
    return cancel_meeting(meeting, user)


def restore_occurrence(meeting: Meeting, user) -> Meeting:
    """Bring back a skipped week of a series that is still going on and still to come.

    Its venue must still be free; everyone invited or registered gets the updated
    invitation (same UID, higher SEQUENCE).
    """
    _require_occurrence(meeting)
    if not meeting.is_cancelled:
        raise MeetingError(_l("This week is not skipped."), None, status=409)
    if meeting.series.status == SeriesStatus.CANCELLED:
        raise MeetingError(
            _l("The whole series is cancelled; a week of it cannot come back."), None, status=409
        )
    if meeting.starts_at <= utcnow():
        raise MeetingError(_l("This week is past; it cannot come back."), None, status=409)
    if meeting.venue_id is not None:
        _check_free(
            meeting.venue_id, [(meeting.starts_at, meeting.ends_at)], exclude_meeting_id=meeting.id
        )
    meeting.restore()
    db.session.flush()
    audit.record("meeting.restore", meeting, user, series=meeting.series_id)
    notify.meeting_changed(meeting, user, {"status"})
    return meeting


def move_occurrence(meeting: Meeting, starts_at: datetime, ends_at: datetime, user) -> Meeting:
    """Move one occurrence of a series to another time; the others stay."""
    _require_occurrence(meeting)
    return update_meeting(meeting, {"starts_at": starts_at, "ends_at": ends_at}, user)
