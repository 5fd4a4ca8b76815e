"""Forms of the calendar pages: a new feed, invitations to a session."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from consult.calendar.operations import CalendarError, normalise_address
from consult.web.forms import options

#: Addresses may be separated by commas (also full-width), semicolons, spaces or lines.
_SEPARATORS = re.compile(r"[\s,;，；、]+")


def split_addresses(text: str | None) -> list[str]:
    return [part for part in _SEPARATORS.split(text or "") if part]


class FeedForm(FlaskForm):
    scope = RadioField(
        _l("Which sessions"),
        choices=options(
            [
                ("mine", _l("My sessions: my sign-ups and invitations")),
                ("community", _l("All public sessions of a community")),
            ]
        ),
        default="mine",
    )
    community = SelectField(_l("Community"), choices=[], validate_choice=False)

    def __init__(self, communities, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.community.choices = options(
            [("", _l("Choose a community"))] + [(c.name, c.name) for c in communities]
        )
        self._names = {c.name for c in communities}

    def validate_scope(self, field):
        if field.data not in ("mine", "community"):
            raise ValidationError(_l("Choose which sessions the calendar shows."))

    def validate_community(self, field):
        if self.scope.data != "community":
            return
        if not field.data:
            raise ValidationError(_l("Choose a community."))
        if field.data not in self._names:
            raise ValidationError(_l("There is no such community."))

    def data_for_operation(self) -> dict:
        if self.scope.data == "community":
            return {"scope": "community", "community": self.community.data}
        return {"scope": "mine"}


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class InviteForm(FlaskForm):
    emails = TextAreaField(
        _l("Email addresses"),
        validators=[Length(max=20000)],
        description=_l("One or more addresses, separated by commas, spaces or lines."),
    )
    # The alliance may have hundreds of units: they are found by the picker's search
    # (consult.calendar.queries.search_alliance_units), never all listed, and the ids
    # sent are checked against the alliance when the invitations are made.
    units = MultiCheckboxField(
        _l("Alliance units (their representatives)"),
        coerce=int,
        choices=[],
        validate_choice=False,
    )
    registered = BooleanField(_l("Everyone signed up for this session"))
    whole_series = BooleanField(_l("Invite to every session of the series"), default=True)
    next = HiddenField()

    def __init__(self, meeting, has_units: bool, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.meeting = meeting
        #: Whether the community has an alliance to invite from (the picker shows).
        self.has_units = has_units

    def validate_emails(self, field):
        for value in split_addresses(field.data):
            try:
                normalise_address(value)
            except CalendarError as exc:
                raise ValidationError(str(exc.message)) from None

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not (split_addresses(self.emails.data) or self.units.data or self.registered.data):
            self.emails.errors.append(_l("Choose at least one person to invite."))
            return False
        return True

    def data_for_operation(self) -> dict:
        data = {
            "emails": split_addresses(self.emails.data),
            "units": list(self.units.data or []),
            "registered": bool(self.registered.data),
        }
        if self.meeting.series_id is not None:
            data["whole_series"] = bool(self.whole_series.data)
        return data
