"""Calendar feeds, and invitations to a session."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy.exc import IntegrityError

from consult.api import api_user
from consult.api.schemas import StrictSchema, one_of
from consult.calendar.operations import MAX_INVITEES, create_feed, invite_people, revoke_feed
from consult.calendar.queries import meeting_invitations, user_feeds
from consult.enums import FeedScope
from consult.errors import ApiError
from consult.extensions import db
from consult.lists import Id
from consult.loaders import feed_or_404, meeting_or_404
from consult.permissions import can

blp = Blueprint("api_feeds", __name__, description="Calendar feeds and invitations")

# -- feeds -------------------------------------------------------------------------------


class FeedCreateSchema(StrictSchema):
    scope = fields.String(required=True, validate=one_of(FeedScope))
    community = fields.String(
        allow_none=True,
        validate=validate.Length(max=120),
        metadata={"description": "The community's name; only with scope community."},
    )


class FeedCreatedSchema(Schema):
    id = fields.Integer()
    url = fields.String(metadata={"description": "/calendar/<token>.ics; shown only here."})


class FeedSchema(Schema):
    id = fields.Integer()
    scope = fields.String(metadata={"enum": list(FeedScope)})
    community = fields.String(allow_none=True)
    created_at = fields.DateTime()


class FeedListSchema(Schema):
    items = fields.List(fields.Nested(FeedSchema))


@blp.route("/feeds", methods=["GET"])
@blp.response(200, FeedListSchema)
def list_feeds():
    """List the caller's live feeds (their secrets are never shown again)."""
    return {
        "items": [
            {
                "id": feed.id,
                "scope": feed.scope,
                "community": feed.community.name if feed.community else None,
                "created_at": feed.created_at,
            }
            for feed in user_feeds(api_user())
        ]
    }


@blp.route("/feeds", methods=["POST"])
@blp.arguments(FeedCreateSchema)
@blp.response(201, FeedCreatedSchema)
def post_feed(data):
    """Create a subscribable feed: the caller's own sessions, or a community's."""
    user = api_user()
    if not can(user, "feed.create"):
        raise ApiError(403, "forbidden", _("You may not create calendar feeds."))
    feed, token = create_feed(data, user)
    return {"id": feed.id, "url": f"/calendar/{token}.ics"}


@blp.route("/feeds/<int:feed_id>", methods=["DELETE"])
@blp.response(204)
def delete_feed(feed_id):
    """Revoke one of the caller's feeds: its URL answers 404 from now on."""
    user = api_user()
    feed = feed_or_404(feed_id, user)
    revoke_feed(feed, user)


# -- invitations -------------------------------------------------------------------------


class InvitationsSchema(StrictSchema):
    emails = fields.List(
        fields.String(validate=validate.Length(max=254)),
        validate=validate.Length(max=MAX_INVITEES),
        metadata={"description": "Addresses to invite."},
    )
    units = fields.List(
        Id(),
        validate=validate.Length(max=100),
        metadata={"description": "Alliance units whose representatives are invited."},
    )
    registered = fields.Boolean(metadata={"description": "Invite everyone signed up."})
    whole_series = fields.Boolean(
        metadata={"description": "For an occurrence: invite to the whole series (default)."}
    )


class QueuedSchema(Schema):
    queued = fields.Integer(metadata={"description": "Invitations queued for delivery."})


@blp.route("/sessions/<int:meeting_id>/invitations", methods=["POST"])
@blp.arguments(InvitationsSchema)
@blp.response(202, QueuedSchema)
def post_invitations(data, meeting_id):
    """Invite people: each gets a mail with an iCalendar METHOD:REQUEST part."""
    user = api_user()
    meeting = meeting_or_404(meeting_id, user)
    if not can(user, "meeting.invite", meeting):
        raise ApiError(403, "forbidden", _("You may not invite people to this session."))
    try:
        invitations = invite_people(meeting, data, user)
        db.session.flush()
    except IntegrityError:
        raise ApiError(
            409, "conflict", _("Someone invited the same people at the same time; try again.")
        ) from None
    return {"queued": len(invitations)}


class InvitationSchema(Schema):
    email = fields.String()
    name = fields.String(allow_none=True)
    partstat = fields.String(
        metadata={
            "enum": ["NEEDS-ACTION", "ACCEPTED", "TENTATIVE", "DECLINED"],
            "description": "The answer, by the signed link or a calendar reply.",
        }
    )


class InvitationListSchema(Schema):
    items = fields.List(fields.Nested(InvitationSchema))


@blp.route("/sessions/<int:meeting_id>/invitations", methods=["GET"])
@blp.response(200, InvitationListSchema)
def get_invitations(meeting_id):
    """List the invitees of a session (whole-series invitations included) and their answers."""
    user = api_user()
    meeting = meeting_or_404(meeting_id, user)
    if not can(user, "invitation.list", meeting):
        raise ApiError(403, "forbidden", "You may not see the invitations of this session.")
    return {
        "items": [
            {"email": i.email, "name": i.name, "partstat": i.partstat}
            for i in meeting_invitations(meeting)
        ]
    }
