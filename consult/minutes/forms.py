"""Forms of the agenda, minutes, resolution and action pages, one per use case."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from consult.cases.forms import MultiCheckboxField
from consult.cases.labels import LABELS
from consult.enums import Outcome
from consult.lists import MAX_ID


class StepForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class AgendaAddForm(FlaskForm):
    """A topic for the agenda: free, an issue, an overdue case or a carried-over action."""

    title = StringField(_l("Topic"), validators=[Optional(), Length(max=200)])
    # Ids: a number no row can have is refused here, before any query.
    issue = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    case = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    carried_action = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    duration_minutes = IntegerField(
        _l("Minutes planned"), validators=[Optional(), NumberRange(min=1, max=600)]
    )


class DurationForm(FlaskForm):
    duration_minutes = IntegerField(
        _l("Minutes planned"), validators=[Optional(), NumberRange(min=1, max=600)]
    )


class ActionForm(Form):
    """One action a resolution assigns (blank rows are ignored)."""

    description = StringField(_l("Action"), validators=[Optional(), Length(max=2_000)])
    unit = SelectField(_l("Unit"), coerce=int, default=0)
    assignee = SelectField(_l("Person"), coerce=int, default=0)
    due_on = DateField(_l("Due on"), validators=[Optional()])


class ResolutionForm(FlaskForm):
    text = TextAreaField(
        _l("What the session decided"), validators=[DataRequired(), Length(max=20_000)]
    )
    outcome = SelectField(
        _l("Outcome"),
        validators=[DataRequired()],
        choices=[(o, LABELS["outcome"][o]) for o in Outcome],
    )
    closes_cases = MultiCheckboxField(_l("Cases this resolution closes"), coerce=int)
    referred_unit = SelectField(_l("Referred to unit"), coerce=int, default=0)
    open_cases_choice = RadioField(
        _l("If the issue is resolved while some of its cases stay open"),
        choices=[
            ("defer", _l("Defer them to a later session")),
            ("reason", _l("Say why they stay open")),
        ],
        validators=[Optional()],
        validate_choice=True,
    )
    open_cases_reason = TextAreaField(
        _l("Why they stay open"), validators=[Optional(), Length(max=20_000)]
    )
    actions = FieldList(FormField(ActionForm), min_entries=3, max_entries=10)

    def __init__(self, cases=(), units=(), people=(), **kwargs):
        super().__init__(**kwargs)
        self.closes_cases.choices = [(c.id, f"#{c.id} {c.title}") for c in cases]
        if not self.is_submitted():
            # Every case still being handled starts ticked: resolving closes them.
            self.closes_cases.data = [c.id for c in cases]
        unit_choices = [(0, "—"), *[(u.id, u.name) for u in units]]
        self.referred_unit.choices = unit_choices
        for entry in self.actions:
            entry.form.unit.choices = unit_choices
            entry.form.assignee.choices = [(0, "—"), *[(p.id, p.name) for p in people]]

    def data_for_operation(self) -> dict:
        actions = []
        for entry in self.actions:
            row = entry.form
            if not (row.description.data or "").strip():
                continue
            actions.append(
                {
                    "description": row.description.data,
                    "unit": row.unit.data or None,
                    "assignee": row.assignee.data or None,
                    "due_on": row.due_on.data,
                }
            )
        return {
            "text": self.text.data,
            "outcome": self.outcome.data,
            "closes_cases": list(self.closes_cases.data or []),
            "referred_unit": self.referred_unit.data or None,
            "actions": actions,
            "open_cases_choice": self.open_cases_choice.data,
            "open_cases_reason": (
                self.open_cases_reason.data if self.open_cases_choice.data == "reason" else None
            ),
        }


class MinutesForm(FlaskForm):
    """The notes of every agenda item, and the version they were started from."""

    version = HiddenField(validators=[InputRequired()])

    def __init__(self, items=(), **kwargs):
        super().__init__(**kwargs)
        self.items = list(items)

    @classmethod
    def for_items(cls, items, **kwargs) -> MinutesForm:
        """Return a form with one Markdown text area per agenda item."""

        class Bound(cls):
            pass

        for item in items:
            setattr(
                Bound, f"note_{item.id}", TextAreaField(item.title, validators=[Length(max=50_000)])
            )
        return Bound(items=items, **kwargs)

    def notes(self) -> dict[str, str]:
        return {str(i.id): self[f"note_{i.id}"].data or "" for i in self.items}

    def note_field(self, item):
        return self[f"note_{item.id}"]


class ActionDoneForm(FlaskForm):
    note = TextAreaField(_l("What was done"), validators=[DataRequired(), Length(max=20_000)])
