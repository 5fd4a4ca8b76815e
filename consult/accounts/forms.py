"""Forms of the account pages: one per use case."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from consult.i18n import LANGUAGE_NAMES
from consult.web.forms import options


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class LoginForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        # Only the shape every account's address has: intranet domains ("x@host") must
        # sign in too, and a wrong address simply matches no account.
        validators=[
            DataRequired(),
            Length(max=254),
            Regexp(r"^[^@\s]+@[^@\s]+$", message=_l("Enter an email address.")),
        ],
        filters=[_strip],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Keep me signed in"))


class LanguageForm(FlaskForm):
    """Choose the interface language of one's account."""

    locale = SelectField(
        _l("Interface language"),
        choices=options([("", _l("As my browser asks")), *LANGUAGE_NAMES.items()]),
        default="",
    )


class PasswordChangeForm(FlaskForm):
    """Change one's own password, proving the current one."""

    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(),
            EqualTo("new_password", message=_l("The two new passwords differ.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
