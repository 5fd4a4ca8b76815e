"""The administration's forms, one per use case; choices come in through the constructor."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from consult.accounts.operations import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    AccountError,
    valid_email,
)
from consult.community.operations import MAX_CAPACITY, MAX_COMMITMENTS
from consult.enums import UnitKind, VenueKind
from consult.i18n import LABELS
from consult.permissions import ASSIGNABLE_ROLES

ROLE_LABELS = LABELS["role"]
VENUE_KIND_LABELS = {
    "hall": _l("Hall"),
    "meeting_room": _l("Meeting room"),
    "mediation_room": _l("Mediation room"),
    "outdoor": _l("Outdoor space"),
    "other": _l("Other"),
}
UNIT_KIND_LABELS = {
    "government_agency": _l("Government agency"),
    "enterprise": _l("Enterprise"),
    "public_institution": _l("Public institution"),
    "social_organisation": _l("Social organisation"),
    "mass_organisation": _l("Mass organisation"),
    "owners_committee": _l("Owners' committee"),
    "property_company": _l("Property company"),
}
try:  # WTForms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms.fields.choices import SelectChoice

    def choice(value, label):
        return SelectChoice(value=value, label=label)

except ImportError:  # pragma: no cover  (WTForms before 3.3)

    def choice(value, label):
        return (value, label)


def choices(pairs) -> list:
    """Return the options of a select field from (value, label) pairs."""
    return [choice(value, label) for value, label in pairs]


NONE = 0
NO_CHOICE = choice(NONE, _l("(none)"))


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _email(form, field) -> None:
    if field.data:
        try:
            valid_email(field.data)
        except AccountError as exc:
            raise ValidationError(exc.message) from None


def _one_line(form, field) -> None:
    if field.data and any(ord(c) < 32 or ord(c) == 127 for c in field.data):
        raise ValidationError(_l("Control characters are not allowed here."))


class _MembershipFields:
    """Communities, the representative flag per community, and the unit spoken for."""

    def _set_choices(self, communities, units) -> None:
        self.communities.choices = choices(communities)
        self.representative_of.choices = choices(communities)
        self.unit.choices = [NO_CHOICE, *choices(units)]

    def validate_representative_of(self, field) -> None:
        outside = set(field.data or ()) - set(self.communities.data or ())
        if outside:
            raise ValidationError(_l("A residents' representative must belong to the community."))

    def validate_unit(self, field) -> None:
        if self.role.data == "unit_rep" and field.data == NONE:
            raise ValidationError(_l("Choose the unit this representative speaks for."))
        if self.role.data != "unit_rep" and field.data != NONE:
            raise ValidationError(_l("Only a unit representative speaks for a unit."))

    def memberships(self) -> dict[int, bool]:
        representative = set(self.representative_of.data or ())
        return {cid: cid in representative for cid in self.communities.data or ()}

    def unit_id(self) -> int | None:
        return self.unit.data or None


class UserCreateForm(_MembershipFields, FlaskForm):
    email = StringField(
        _l("Email"), filters=[_strip], validators=[DataRequired(), Length(max=254), _email]
    )
    name = StringField(
        _l("Name"), filters=[_strip], validators=[DataRequired(), Length(max=120), _one_line]
    )
    role = SelectField(_l("Role"), choices=choices((r, ROLE_LABELS[r]) for r in ASSIGNABLE_ROLES))
    password = PasswordField(
        _l("Password"),
        validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
        description=_l("Leave empty for an account that cannot sign in yet."),
    )
    phone = StringField(
        _l("Phone"), filters=[_strip], validators=[Optional(), Length(max=32), _one_line]
    )
    communities = SelectMultipleField(_l("Communities"), coerce=int)
    representative_of = SelectMultipleField(_l("Residents' representative in"), coerce=int)
    unit = SelectField(_l("Unit spoken for"), coerce=int, default=NONE)

    def __init__(self, communities=(), units=(), **kwargs):
        super().__init__(**kwargs)
        self._set_choices(communities, units)

    def to_data(self) -> dict:
        return {
            "email": self.email.data,
            "name": self.name.data,
            "role": self.role.data,
            "password": self.password.data or None,
            "phone": self.phone.data,
            "memberships": self.memberships(),
            "unit_id": self.unit_id(),
        }


class UserEditForm(_MembershipFields, FlaskForm):
    name = StringField(
        _l("Name"), filters=[_strip], validators=[DataRequired(), Length(max=120), _one_line]
    )
    role = SelectField(_l("Role"), choices=choices((r, ROLE_LABELS[r]) for r in ASSIGNABLE_ROLES))
    active = BooleanField(
        _l("Active"), description=_l("A deactivated account can neither sign in nor use the API.")
    )
    phone = StringField(
        _l("Phone"), filters=[_strip], validators=[Optional(), Length(max=32), _one_line]
    )
    communities = SelectMultipleField(_l("Communities"), coerce=int)
    representative_of = SelectMultipleField(_l("Residents' representative in"), coerce=int)
    unit = SelectField(_l("Unit spoken for"), coerce=int, default=NONE)

    def __init__(self, communities=(), units=(), **kwargs):
        super().__init__(**kwargs)
        self._set_choices(communities, units)

    def to_data(self) -> dict:
        return {
            "name": self.name.data,
            "role": self.role.data,
            "active": self.active.data,
            "phone": self.phone.data,
            "memberships": self.memberships(),
            "unit_id": self.unit_id(),
        }


class PasswordResetForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
    )
    confirm = PasswordField(
        _l("The new password again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class CommunityForm(FlaskForm):
    name = StringField(
        _l("Community name"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=120), _one_line],
    )
    brand = StringField(
        _l("Brand"),
        filters=[_strip],
        validators=[Optional(), Length(max=120), _one_line],
        description=_l("The name the community gives its work, e.g. Hehe New Neighbors."),
    )

    def to_data(self) -> dict:
        return {"name": self.name.data, "brand": self.brand.data}


class VenueForm(FlaskForm):
    name = StringField(
        _l("Venue name"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=200), _one_line],
    )
    kind = SelectField(_l("Kind"), choices=choices((k, VENUE_KIND_LABELS[k]) for k in VenueKind))
    capacity = IntegerField(
        _l("Capacity"),
        validators=[
            Optional(),
            NumberRange(
                min=0, max=MAX_CAPACITY, message=_l("Give a number of places from 0 to %(max)s.")
            ),
        ],
        description=_l("Leave empty when the number of places is not limited."),
    )
    address = StringField(
        _l("Address"), filters=[_strip], validators=[Optional(), Length(max=255), _one_line]
    )
    community = SelectField(_l("Community"), coerce=int, default=NONE)
    unit = SelectField(
        _l("Offered by unit"),
        coerce=int,
        default=NONE,
        description=_l("For a room a partner unit lends (resource joint use)."),
    )

    def __init__(self, communities=(), units=(), **kwargs):
        super().__init__(**kwargs)
        self.community.choices = [NO_CHOICE, *choices(communities)]
        self.unit.choices = [NO_CHOICE, *choices(units)]

    def validate_community(self, field) -> None:
        if field.data == NONE and self.unit.data == NONE:
            raise ValidationError(_l("A venue belongs to a community or is offered by a unit."))

    def to_data(self) -> dict:
        return {
            "name": self.name.data,
            "kind": self.kind.data,
            "capacity": self.capacity.data,
            "address": self.address.data,
            "community_id": self.community.data or None,
            "unit_id": self.unit.data or None,
        }


class UnitForm(FlaskForm):
    name = StringField(
        _l("Unit name"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=200), _one_line],
    )
    kind = SelectField(_l("Kind"), choices=choices((k, UNIT_KIND_LABELS[k]) for k in UnitKind))
    contact_email = StringField(
        _l("Contact email"), filters=[_strip], validators=[Optional(), Length(max=254), _email]
    )
    contact_phone = StringField(
        _l("Contact phone"), filters=[_strip], validators=[Optional(), Length(max=32), _one_line]
    )

    def to_data(self) -> dict:
        return {
            "name": self.name.data,
            "kind": self.kind.data,
            "contact_email": self.contact_email.data,
            "contact_phone": self.contact_phone.data,
        }


class AllianceMemberForm(FlaskForm):
    unit = SelectField(_l("Unit"), coerce=int)
    joined_on = DateField(_l("Joined on"), validators=[Optional()])
    in_rotation = BooleanField(_l("Takes turns hosting joint meetings"), default=True)

    def __init__(self, units=(), **kwargs):
        super().__init__(**kwargs)
        self.unit.choices = choices(units)

    def to_data(self) -> dict:
        return {
            "unit_id": self.unit.data,
            "joined_on": self.joined_on.data,
            "in_rotation": self.in_rotation.data,
        }


class AgreementForm(FlaskForm):
    community = SelectField(_l("Community"), coerce=int)
    unit = SelectField(_l("Unit"), coerce=int)
    signed_on = DateField(
        _l("Signed on"), validators=[InputRequired(message=_l("Give the date it was signed."))]
    )
    ends_on = DateField(
        _l("Ends on"),
        validators=[Optional()],
        description=_l("Leave empty for an agreement without end."),
    )
    commitments = TextAreaField(
        _l("Commitments"),
        filters=[_strip],
        validators=[Optional(), Length(max=MAX_COMMITMENTS)],
        description=_l("What the unit commits to: services, resources, volunteers."),
    )

    def __init__(self, communities=(), units=(), **kwargs):
        super().__init__(**kwargs)
        self.community.choices = choices(communities)
        self.unit.choices = choices(units)

    def validate_ends_on(self, field) -> None:
        if field.data and self.signed_on.data and field.data < self.signed_on.data:
            raise ValidationError(_l("The agreement cannot end before it is signed."))

    def to_data(self) -> dict:
        return {
            "community_id": self.community.data,
            "unit_id": self.unit.data,
            "signed_on": self.signed_on.data,
            "ends_on": self.ends_on.data,
            "commitments": self.commitments.data,
        }
