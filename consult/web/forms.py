"""The statistics page's filter."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional, ValidationError

from consult.enums import CaseSource, SessionKind
from consult.i18n import label
from consult.stats.queries import StatsFilter

try:
    from wtforms import SelectChoice
except ImportError:  # WTForms < 3.3 takes (value, label) pairs
    SelectChoice = None


def options(pairs) -> list:
    """Return select choices from (value, label) pairs, as this WTForms wants them."""
    if SelectChoice is None:
        return list(pairs)
    return [SelectChoice(value, label) for value, label in pairs]


#: Dates the filter accepts (far dates would overflow when turned into instants).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def _check_range(day: date | None) -> None:
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationError(
            _l("Enter a date between %(first)s and %(last)s.", first=FIRST_DAY, last=LAST_DAY)
        )


class StatsFilterForm(FlaskForm):
    """Narrow the figures to a community, a source, a session kind and a period."""

    class Meta:
        # A GET form that changes nothing: no CSRF token in the URL.
        csrf = False

    community = SelectField(_l("Community"), choices=[], default="")
    source = SelectField(_l("Source"), choices=[], default="")
    session_kind = SelectField(_l("Session kind"), choices=[], default="")
    start = DateField(_l("From date"), name="from", validators=[Optional()])
    end = DateField(_l("To date"), name="to", validators=[Optional()])

    def __init__(self, formdata, communities: list[tuple[int, str]], **kwargs):
        super().__init__(formdata, **kwargs)
        self._community_ids = {name: cid for cid, name in communities}
        everything = ("", _l("All"))
        self.community.choices = options([everything, *((name, name) for _, name in communities)])
        self.source.choices = options([everything, *((s, label(s, "source")) for s in CaseSource)])
        self.session_kind.choices = options(
            [everything, *((k, label(k, "kind")) for k in SessionKind)]
        )

    def validate_start(self, field) -> None:
        _check_range(field.data)

    def validate_end(self, field) -> None:
        _check_range(field.data)
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError(_l("The end date is before the start date."))

    def to_filter(self, timezone: str) -> StatsFilter:
        """Return the filter, with the dates as whole local days (the end day included)."""
        tz = ZoneInfo(timezone)

        def midnight(day):
            return datetime.combine(day, time(0), tzinfo=tz) if day else None

        end = self.end.data + timedelta(days=1) if self.end.data else None
        return StatsFilter(
            community_id=self._community_ids.get(self.community.data),
            start=midnight(self.start.data),
            end=midnight(end),
            source=self.source.data or None,
            session_kind=self.session_kind.data or None,
        )
