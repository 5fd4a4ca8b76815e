"""The caller's own account: GET and PATCH /api/v1/me."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from consult.accounts.models import Membership
from consult.accounts.operations import LOCALES, update_profile
from consult.api import api_user
from consult.api.schemas import StrictBool, StrictSchema, one_of
from consult.community.models import Community
from consult.extensions import db

blp = Blueprint("api_me", __name__, description="The signed-in account")


class MeSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    communities = fields.List(fields.String())
    representative_of = fields.List(
        fields.String(), metadata={"description": "Communities whose residents they represent"}
    )
    locale = fields.String(allow_none=True)
    named_in_minutes = fields.Boolean()


class MeUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    locale = fields.String(allow_none=True, validate=one_of(LOCALES, "language"))
    named_in_minutes = StrictBool()


def _me(user) -> dict:
    rows = db.session.execute(
        select(Community.name, Membership.is_representative)
        .join(Membership, Membership.community_id == Community.id)
        .where(Membership.user_id == user.id)
        .order_by(Community.name)
    ).all()
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "communities": [name for name, _ in rows],
        "representative_of": [name for name, representative in rows if representative],
        "locale": user.locale,
        "named_in_minutes": user.named_in_minutes,
    }


@blp.route("/me")
@blp.response(200, MeSchema)
def me():
    """Return the account the request is authenticated as."""
    return _me(api_user())


@blp.route("/me", methods=["PATCH"])
@blp.arguments(MeUpdateSchema)
@blp.response(200, MeSchema)
def update_me(data):
    """Change the caller's name, interface language or consent to be named in minutes."""
    user = api_user()
    update_profile(user, data, user)
    return _me(user)
