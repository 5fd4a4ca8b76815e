"""Forms of the sign-up and attendance pages: one per use case."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from consult.attendance.operations import AttendanceError, normalise_phone
from consult.enums import AttendanceStatus


class ButtonForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""


class ProxyForm(FlaskForm):
    """A cadre signs up someone without an account."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    phone = StringField(
        _l("Phone"),
        validators=[DataRequired(), Length(max=32)],
        render_kw={"inputmode": "tel", "autocomplete": "off"},
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=500)])

    def validate_phone(self, field):
        try:
            normalise_phone(field.data)
        except AttendanceError as exc:
            raise ValidationError(exc.message) from None


class CapacityForm(FlaskForm):
    """Raise or lower the number of places (empty: unlimited)."""

    capacity = IntegerField(_l("Places"), validators=[Optional(), NumberRange(min=0, max=100_000)])


class WalkInForm(FlaskForm):
    """Add someone who came without signing up."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])


MARK_RE = re.compile(r"mark-(registration|invitation|attendance)-(\d{1,12})")


def marks_from(formdata) -> dict[tuple[str, int], str]:
    """Read the attendance list's choices: ``mark-<kind>-<id>`` = present | absent | late."""
    marks = {}
    for key, value in formdata.items():
        match = MARK_RE.fullmatch(key)
        if match and value in AttendanceStatus:
            marks[(match.group(1), int(match.group(2)))] = value
    return marks
