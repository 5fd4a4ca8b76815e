"""The caller's own account."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from consult.api import api_user

blp = Blueprint("api_me", __name__, description="The signed-in account")


class MeSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    communities = fields.List(fields.String())


@blp.route("/me")
@blp.response(200, MeSchema)
def me():
    """Return the account the request is authenticated as."""
    user = api_user()
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "communities": sorted(m.community.name for m in user.memberships),
    }
