"""Votes on agenda items (README, "Votes and quorum")."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, validate, validates_schema

from consult.api import api_user
from consult.api.minutes import VoteSchema
from consult.api.schemas import StrictInt, StrictSchema, one_of
from consult.enums import VoteChoice
from consult.loaders import agenda_item_or_404
from consult.permissions import require
from consult.votes import operations as ops
from consult.votes.queries import vote_document

blp = Blueprint("api_votes", __name__, description="Votes on agenda items")


class BallotSchema(StrictSchema):
    user = StrictInt(
        required=True,
        validate=validate.Range(min=1),
        metadata={"description": "A user recorded present at the session"},
    )
    choice = fields.String(required=True, validate=one_of(VoteChoice, "vote_choice"))


class VoteCreateSchema(StrictSchema):
    """Counts, or each person's vote (not both)."""

    for_ = StrictInt(data_key="for", validate=validate.Range(min=0))
    against = StrictInt(validate=validate.Range(min=0))
    abstain = StrictInt(validate=validate.Range(min=0))
    votes = fields.List(fields.Nested(BallotSchema), validate=validate.Length(min=1, max=10_000))

    @validates_schema
    def _one_way(self, data, **kwargs):
        counts = {"for_", "against", "abstain"} & set(data)
        if "votes" in data and counts:
            raise ValidationError("Give either counts or votes, not both.", "votes")
        if "votes" not in data and not counts:
            raise ValidationError("Give the counts (for, against, abstain) or the votes.", "for")


def _vote(data: dict, item_id: int):
    user = api_user()
    require(user, "vote.record")
    item = agenda_item_or_404(item_id, user)
    require(user, "vote.record", item)
    payload = (
        {"votes": data["votes"]}
        if "votes" in data
        else {
            "for": data.get("for_", 0),
            "against": data.get("against", 0),
            "abstain": data.get("abstain", 0),
        }
    )
    vote = ops.record_vote(item, payload, user)
    return vote_document(vote)


@blp.route("/agenda/<int:item_id>/vote", methods=["POST"])
@blp.arguments(VoteCreateSchema)
@blp.response(201, VoteSchema)
@blp.alt_response(
    409, description="No quorum (code no_quorum), a second vote, or a session that has not started"
)
def post_vote(data, item_id):
    """Put an agenda item to the vote (admin, cadre, secretary)."""
    return _vote(data, item_id)


@blp.route("/agenda-items/<int:item_id>/vote", methods=["POST"])
@blp.arguments(VoteCreateSchema)
@blp.response(201, VoteSchema)
@blp.alt_response(
    409, description="No quorum (code no_quorum), a second vote, or a session that has not started"
)
def post_vote_alias(data, item_id):
    """Put an agenda item to the vote (the same as /agenda/<id>/vote)."""
    return _vote(data, item_id)
