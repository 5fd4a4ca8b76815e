"""The public page's filter: a period and a case category."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional, ValidationError

from consult.enums import CaseCategory
from consult.i18n import label
from consult.public.queries import ResolutionFilter
from consult.web.forms import _check_range, options


class PublicFilterForm(FlaskForm):
    """Narrow the published resolutions to a period of session days and a category."""

    class Meta:
        # A GET form that changes nothing: no CSRF token in the URL.
        csrf = False

    start = DateField(_l("From date"), name="from", validators=[Optional()])
    end = DateField(_l("To date"), name="to", validators=[Optional()])
    category = SelectField(_l("Category"), choices=[], default="")

    def __init__(self, formdata, **kwargs):
        super().__init__(formdata, **kwargs)
        self.category.choices = options(
            [("", _l("All")), *((c, label(c, "category")) for c in CaseCategory)]
        )

    def validate_start(self, field) -> None:
        _check_range(field.data)

    def validate_end(self, field) -> None:
        _check_range(field.data)
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError(_l("The end date is before the start date."))

    def to_filter(self) -> ResolutionFilter:
        return ResolutionFilter(
            start=self.start.data, end=self.end.data, category=self.category.data or None
        )

    def first_error(self) -> tuple[str, str]:
        """Return (the field's name in the URL, its first error)."""
        for fld in (self.start, self.end, self.category):
            if fld.errors:
                return fld.name, str(fld.errors[0])
        return "", ""
