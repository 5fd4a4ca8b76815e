"""Forms of the session pages: filter, schedule, change, move.

Times are typed as local wall-clock times in the session's time zone; the forms turn
them into aware datetimes, so the operations never see a naive one.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DateTimeLocalField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from consult.enums import SessionKind
from consult.i18n import label
from consult.lists import valid_id
from consult.meetings import recurrence
from consult.meetings.operations import MAX_CAPACITY, MAX_DESCRIPTION
from consult.meetings.recurrence import ORDINALS, WEEKDAY_NAMES, WEEKDAYS, RuleError

try:
    from wtforms import SelectChoice
except ImportError:  # WTForms < 3.3 takes (value, label) pairs
    SelectChoice = None

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def options(pairs) -> list:
    """Return choices from (value, label) pairs, as this WTForms wants them."""
    if SelectChoice is None:
        return list(pairs)
    return [SelectChoice(value, text) for value, text in pairs]


class MultiCheckboxField(SelectMultipleField):
    """A set of checkboxes (the weekdays of a weekly series)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def kind_choices(blank=None) -> list:
    choices = [(k, label(k, "kind")) for k in SessionKind]
    return options([("", blank), *choices] if blank is not None else choices)


def _local_time(field, zone_name: str) -> datetime | None:
    """Return the field's wall-clock time in the zone as an aware datetime, or add an error."""
    if field.data is None:
        return None
    tz = recurrence.zone(zone_name)
    if not recurrence.wall_clock_exists(field.data, tz):
        field.errors.append(
            _l("This time does not exist in %(zone)s: the clocks change then.", zone=zone_name)
        )
        return None
    if recurrence.unclear_wall_clock(field.data, tz) == "overlap":
        field.errors.append(
            _l(
                "This time happens twice in %(zone)s: the clocks go back then. Choose another "
                "time.",
                zone=zone_name,
            )
        )
        return None
    return field.data.replace(tzinfo=tz)


class FilterForm(FlaskForm):
    """Narrow the list of sessions (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    community = SelectField(_l("Community"), choices=[], validate_choice=False)
    kind = SelectField(_l("Kind"), choices=[], validate_choice=False)
    when = SelectField(
        _l("When"),
        choices=options([("upcoming", _l("Upcoming")), ("past", _l("Past")), ("all", _l("All"))]),
        default="upcoming",
        validate_choice=False,
    )

    def __init__(self, communities=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if communities is not None:
            self.offer(communities)

    def offer(self, communities) -> None:
        """Give the selects their choices: only a form that is shown needs them (the
        list of sessions reads its filter without them, and the communities only when it
        renders the form)."""
        self.community.choices = options(
            [("", _l("All communities"))] + [(str(cid), name) for cid, name in communities]
        )
        self.kind.choices = kind_choices(_l("All kinds"))

    def community_id(self) -> int | None:
        return valid_id(self.community.data or "")

    def kind_value(self) -> str | None:
        return self.kind.data if self.kind.data in SessionKind else None

    def when_value(self) -> str:
        return self.when.data if self.when.data in ("upcoming", "past", "all") else "upcoming"


class CalendarFilterForm(FilterForm):
    """Choose the one community whose month or week the calendar shows, and a kind.

    A month of every community's sessions grows with the town; the calendar shows one
    community at a time (the person's own unless they choose another)."""

    def __init__(self, communities, *args, **kwargs):
        super().__init__(communities, *args, **kwargs)
        self.community.choices = options([(str(cid), name) for cid, name in communities])
        self._known = {cid for cid, _name in communities}

    def community_id(self) -> int | None:
        """Return the community asked for, if there is one of that id."""
        chosen = super().community_id()
        return chosen if chosen in self._known else None


class _TimesForm(FlaskForm):
    starts_at = DateTimeLocalField(_l("Starts"), format=LOCAL_FORMAT, validators=[InputRequired()])
    ends_at = DateTimeLocalField(_l("Ends"), format=LOCAL_FORMAT, validators=[InputRequired()])

    def validate_ends_at(self, field):
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("The end must be after the start."))

    def aware_times(self, zone_name: str) -> tuple[datetime, datetime] | None:
        """Return (start, end) as aware datetimes in the zone, or None after adding errors."""
        starts = _local_time(self.starts_at, zone_name)
        ends = _local_time(self.ends_at, zone_name)
        if starts is None or ends is None:
            return None
        return starts, ends


def venue_choices(community_id: int | None = None, current: str | None = None) -> list:
    """Return the venues to choose from (of one community, or every name once)."""
    from sqlalchemy import select

    from consult.community.models import Venue
    from consult.extensions import db

    query = select(Venue.name).distinct().order_by(Venue.name)
    if community_id is not None:
        query = query.where(Venue.community_id == community_id)
    names = list(db.session.scalars(query))
    if current and current not in names:
        names.append(current)
    return [("", _l("No venue")), *[(n, n) for n in names]]


def unit_choices(current: str | None = None) -> list:
    """Return the alliance units to choose a host from, by kind and name."""
    from sqlalchemy import select

    from consult.community.models import Unit
    from consult.extensions import db

    names = list(db.session.scalars(select(Unit.name).order_by(Unit.kind, Unit.name)))
    if current and current not in names:
        names.append(current)
    return [("", _l("No host unit")), *[(n, n) for n in names]]


def venue_data(form) -> dict:
    """Return the operation's venue: the one chosen, or a new one named on purpose."""
    new = (form.new_venue.data or "").strip()
    if new:
        return {"venue": new, "create_venue": True}
    return {"venue": form.venue.data or None, "create_venue": False}


class NewSessionForm(_TimesForm):
    """Schedule a session of any kind, one-off or repeating."""

    kind = SelectField(_l("Kind"), choices=[], validators=[DataRequired()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    community = StringField(_l("Community"), validators=[DataRequired(), Length(max=120)])
    venue = SelectField(_l("Venue"), choices=[], validators=[Optional()])
    new_venue = StringField(_l("Or a new venue"), validators=[Optional(), Length(max=200)])
    timezone = StringField(_l("Time zone"), validators=[DataRequired(), Length(max=64)])
    capacity = IntegerField(_l("Places"), validators=[Optional(), NumberRange(0, MAX_CAPACITY)])
    visibility = SelectField(
        _l("Visibility"),
        choices=options(
            [
                ("", _l("As usual for the kind (mediation: private)")),
                ("public", _l("Public")),
                ("private", _l("Private: staff, registered and invited people only")),
            ]
        ),
        default="",
    )
    host_unit = SelectField(_l("Host unit"), choices=[], validators=[Optional()])
    description = TextAreaField(
        _l("Description"), validators=[Optional(), Length(max=MAX_DESCRIPTION)]
    )

    repeat = RadioField(
        _l("Repeat"),
        choices=options(
            [
                ("none", _l("Does not repeat")),
                ("weekly", _l("Weekly, or every N weeks, on chosen weekdays")),
                ("monthly", _l("Monthly, on the Nth weekday (e.g. the second Tuesday)")),
                ("custom", _l("Custom rule (RFC 5545 RRULE)")),
            ]
        ),
        default="none",
    )
    interval = IntegerField(
        _l("Every N weeks or months"), default=1, validators=[Optional(), NumberRange(1, 52)]
    )
    weekdays = MultiCheckboxField(
        _l("On"), choices=options(zip(WEEKDAYS, WEEKDAY_NAMES, strict=True))
    )
    month_week = SelectField(_l("Which one"), choices=options(ORDINALS), default="1")
    month_weekday = SelectField(
        _l("Weekday"),
        choices=options(
            [("", _l("The start's weekday")), *zip(WEEKDAYS, WEEKDAY_NAMES, strict=True)]
        ),
        default="",
    )
    end = RadioField(
        _l("Ends"),
        choices=options(
            [
                ("count", _l("After a number of sessions")),
                ("until", _l("On a date")),
                ("never", _l("No end (occurrences are added as time passes)")),
            ]
        ),
        default="count",
    )
    count = IntegerField(_l("Number of sessions"), validators=[Optional(), NumberRange(1, 520)])
    until = DateField(_l("Last date"), validators=[Optional()])
    rrule = StringField(
        _l("Rule"),
        validators=[Optional(), Length(max=500)],
        description=_l("For example FREQ=WEEKLY;BYDAY=FR;COUNT=12"),
    )

    #: Which form field shows an operation's error about each of its fields.
    FIELDS = {
        "kind": "kind",
        "title": "title",
        "community": "community",
        "venue": "venue",
        "create_venue": "new_venue",
        "starts_at": "starts_at",
        "ends_at": "ends_at",
        "timezone": "timezone",
        "capacity": "capacity",
        "visibility": "visibility",
        "host_unit": "host_unit",
        "description": "description",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = kind_choices()
        self.venue.choices = venue_choices()
        self.host_unit.choices = unit_choices()
        if not self.timezone.data:
            self.timezone.data = current_app.config["CONSULT_TIMEZONE"]

    def validate_timezone(self, field):
        try:
            recurrence.zone(field.data.strip())
        except RuleError as exc:
            raise ValidationError(exc.message) from None

    def validate(self, extra_validators=None) -> bool:
        """Check the fields, then what the chosen repeat pattern needs."""
        valid = super().validate(extra_validators)
        pattern = self.repeat.data
        if pattern in ("weekly", "monthly"):
            if self.end.data == "count" and self.count.data is None and not self.count.errors:
                self.count.errors = [*self.count.errors, _l("How many sessions?")]
            if self.end.data == "until" and not self.until.errors:
                if self.until.data is None:
                    self.until.errors = [*self.until.errors, _l("Which is the last date?")]
                elif self.starts_at.data and self.until.data < self.starts_at.data.date():
                    self.until.errors = [
                        *self.until.errors,
                        _l("The last date is before the first session."),
                    ]
        if pattern == "custom" and not (self.rrule.data or "").strip():
            self.rrule.errors = [
                *self.rrule.errors,
                _l("Type the rule, or choose another pattern."),
            ]
        return valid and not (self.count.errors or self.until.errors or self.rrule.errors)

    def recurrence_rule(self) -> str | None:
        """Return the RRULE the chosen pattern stands for (None: a one-off session)."""
        pattern = self.repeat.data
        if pattern == "custom":
            return self.rrule.data.strip()
        if pattern not in ("weekly", "monthly"):
            return None
        start_day = WEEKDAYS[self.starts_at.data.weekday()]
        interval = self.interval.data or 1
        if pattern == "weekly":
            days = [d for d in WEEKDAYS if d in (self.weekdays.data or [])] or [start_day]
            parts = ["FREQ=WEEKLY", f"BYDAY={','.join(days)}"]
        else:
            weekday = self.month_weekday.data or start_day
            parts = ["FREQ=MONTHLY", f"BYDAY={int(self.month_week.data)}{weekday}"]
        if interval > 1:
            parts.insert(1, f"INTERVAL={interval}")
        if self.end.data == "count":
            parts.append(f"COUNT={self.count.data}")
        elif self.end.data == "until":
            # A date: the whole of that day in the session's zone.
            parts.append(f"UNTIL={self.until.data:%Y%m%d}")
        return ";".join(parts)

    def error_field(self, name: str | None):
        """Return the form field that shows an operation's error about ``name``."""
        if name == "recurrence":
            return self.rrule if self.repeat.data == "custom" else self.repeat
        return getattr(self, self.FIELDS[name]) if name in self.FIELDS else None

    def to_data(self) -> dict | None:
        """Return the operation's data, or None after adding field errors."""
        zone_name = self.timezone.data.strip()
        times = self.aware_times(zone_name)
        if times is None:
            return None
        return {
            "kind": self.kind.data,
            "title": self.title.data,
            "community": self.community.data,
            **venue_data(self),
            "starts_at": times[0],
            "ends_at": times[1],
            "timezone": zone_name,
            "capacity": self.capacity.data,
            "visibility": self.visibility.data or None,
            "host_unit": self.host_unit.data or None,
            "description": self.description.data or "",
            "recurrence": self.recurrence_rule(),
        }


class EditSessionForm(_TimesForm):
    """Reschedule a session, change its venue, places or description."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    venue = SelectField(_l("Venue"), choices=[], validators=[Optional()])
    new_venue = StringField(_l("Or a new venue"), validators=[Optional(), Length(max=200)])
    capacity = IntegerField(_l("Places"), validators=[Optional(), NumberRange(0, MAX_CAPACITY)])
    host_unit = SelectField(_l("Host unit"), choices=[], validators=[Optional()])
    description = TextAreaField(
        _l("Description"), validators=[Optional(), Length(max=MAX_DESCRIPTION)]
    )

    FIELDS = ("title", "venue", "capacity", "host_unit", "description", "starts_at", "ends_at")

    @classmethod
    def for_meeting(cls, meeting, **kwargs):
        """Return the form filled with the session's values (times in its own zone)."""
        tz = recurrence.zone(meeting.timezone)
        form = cls(
            title=meeting.title,
            venue=meeting.venue.name if meeting.venue else "",
            capacity=meeting.capacity,
            host_unit=meeting.host_unit.name if meeting.host_unit else "",
            description=meeting.description,
            starts_at=recurrence.wall_clock(meeting.starts_at, tz),
            ends_at=recurrence.wall_clock(meeting.ends_at, tz),
            **kwargs,
        )
        form.venue.choices = venue_choices(
            meeting.community_id, meeting.venue.name if meeting.venue else None
        )
        form.host_unit.choices = unit_choices(meeting.host_unit.name if meeting.host_unit else None)
        return form

    def error_field(self, name: str | None):
        return getattr(self, name) if name in self.FIELDS else None

    def to_data(self, zone_name: str) -> dict | None:
        times = self.aware_times(zone_name)
        if times is None:
            return None
        return {
            "title": self.title.data,
            **venue_data(self),
            "capacity": self.capacity.data,
            "host_unit": self.host_unit.data or None,
            "description": self.description.data or "",
            "starts_at": times[0],
            "ends_at": times[1],
        }


class MoveOccurrenceForm(_TimesForm):
    """Move one occurrence of a series to another time."""

    FIELDS = ("starts_at", "ends_at", "venue")

    @classmethod
    def for_meeting(cls, meeting, **kwargs):
        tz = recurrence.zone(meeting.timezone)
        return cls(
            starts_at=recurrence.wall_clock(meeting.starts_at, tz),
            ends_at=recurrence.wall_clock(meeting.ends_at, tz),
            **kwargs,
        )

    def error_field(self, name: str | None):
        return getattr(self, name, None) if name in ("starts_at", "ends_at") else None
