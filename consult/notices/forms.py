"""Forms of the channel pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from consult.admin.forms import choices
from consult.cases.labels import LABELS
from consult.enums import ChannelKind

LANGUAGE_LABELS = {"zh_CN": "中文", "en": "English"}


class ChannelForm(FlaskForm):
    kind = SelectField(
        _l("Kind"),
        validators=[DataRequired()],
        choices=choices((k, LABELS["channel_kind"][k]) for k in ChannelKind),
    )
    community = SelectField(_l("Community"), coerce=int, default=0)
    name = StringField(
        _l("Name"),
        validators=[Optional(), Length(max=120)],
        description=_l("For you: e.g. the group chat's name."),
    )
    url = StringField(
        _l("Webhook address"),
        validators=[DataRequired(), Length(max=2000)],
        description=_l("Copied from the robot's settings; it is stored and shown masked."),
    )
    secret = PasswordField(
        _l("Signing secret"),
        validators=[Optional(), Length(max=255)],
        description=_l(
            "DingTalk: the SEC… secret of “加签”; Feishu: the "
            "signature secret; webhooks and SMS: an HMAC key."
        ),
    )
    language = SelectField(_l("Language of the notices"))
    template = TextAreaField(
        _l("SMS text"),
        validators=[Optional(), Length(max=500)],
        description=_l(
            "SMS gateways only: {title}, {time}, {place}, {link} and {name} are "
            "filled in. Empty: the standard reminder."
        ),
    )

    def __init__(self, communities, languages, default_language, **kwargs):
        super().__init__(**kwargs)
        self.community.choices = choices([(0, _l("The whole town")), *communities])
        self.language.choices = choices(
            (code, LANGUAGE_LABELS.get(code, code)) for code in languages
        )
        if not self.language.data:
            self.language.data = default_language

    def to_data(self) -> dict:
        return {
            "kind": self.kind.data,
            "community": self.community.data or None,
            "name": self.name.data,
            "url": self.url.data,
            "secret": self.secret.data or None,
            "language": self.language.data,
            "template": self.template.data or None,
        }
