"""Forms of the case pages, one per use case."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, Optional

from consult.cases.labels import LABELS
from consult.enums import CaseCategory, CaseSource, Rating


def _category_choices():
    from consult.i18n import label

    return [(c, label(c, "category")) for c in CaseCategory]


class CaseForm(FlaskForm):
    """A new case: from a cadre or unit representative, or raised at a session."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Length(max=20_000)])
    community = SelectField(_l("Community"), coerce=int, validate_choice=True)
    category = SelectField(_l("Category"), validators=[DataRequired()])
    source = SelectField(_l("Source"))
    reporter = StringField(_l("Reported by"), validators=[Optional(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32)])
    grid = StringField(_l("Grid cell"), validators=[Optional(), Length(max=120)])

    def __init__(self, communities=(), meeting=None, **kwargs):
        super().__init__(**kwargs)
        from consult.i18n import label

        self.meeting = meeting
        self.category.choices = _category_choices()
        self.source.choices = [(s, label(s, "source")) for s in CaseSource if s != "session"]
        self.community.choices = [(c.id, c.name) for c in communities]
        if meeting is not None:
            # The session gives the community and the source.
            del self.community
            del self.source


class ConcernForm(FlaskForm):
    """A concern a resident raises for themselves: what, where, how urgent."""

    title = StringField(_l("What is it about?"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(
        _l("Describe it: where, since when, who is affected"),
        validators=[Length(max=20_000)],
    )
    community = SelectField(_l("Community"), coerce=int, validate_choice=True)
    category = SelectField(_l("Category"), validators=[DataRequired()])
    phone = StringField(
        _l("Phone, if the cadres may call you"), validators=[Optional(), Length(max=32)]
    )

    def __init__(self, communities=(), **kwargs):
        super().__init__(**kwargs)
        self.category.choices = _category_choices()
        self.community.choices = [(c.id, c.name) for c in communities]


class EscalateForm(FlaskForm):
    reason = TextAreaField(
        _l("Why does the next level need to handle it?"),
        validators=[DataRequired(), Length(max=2_000)],
    )


class CommentForm(FlaskForm):
    comment = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=2_000)])


class ImportForm(FlaskForm):
    file = FileField(_l("Export of the grid platform (CSV or .xlsx)"), validators=[FileRequired()])


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class IssueForm(FlaskForm):
    """A new issue grouping cases of one community."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Length(max=20_000)])
    cases = MultiCheckboxField(_l("Cases"), coerce=int, validate_choice=True)

    def __init__(self, candidates=(), **kwargs):
        super().__init__(**kwargs)
        self.cases.choices = [(c.id, f"#{c.id} {c.title}") for c in candidates]


class EvaluationForm(FlaskForm):
    rating = RadioField(
        _l("Your rating"),
        validators=[DataRequired()],
        choices=[(r, LABELS["rating"][r]) for r in Rating],
    )
    comment = TextAreaField(_l("Comment"), validators=[Length(max=2_000)])
