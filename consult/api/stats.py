"""GET /api/v1/stats."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from consult.api import api_user
from consult.api.schemas import AwareDateTime, QuerySchema
from consult.community.models import Community
from consult.enums import CASE_SOURCES, SESSION_KINDS
from consult.errors import ApiError
from consult.extensions import db
from consult.permissions import require
from consult.stats.queries import StatsFilter, programme_stats

blp = Blueprint("api_stats", __name__, description="Statistics of the programme")


class StatsQuery(QuerySchema):
    community = fields.String(validate=validate.Length(min=1, max=120))
    start = AwareDateTime(data_key="from")
    end = AwareDateTime(data_key="to")
    source = fields.String(validate=validate.OneOf(CASE_SOURCES))
    session_kind = fields.String(validate=validate.OneOf(SESSION_KINDS))


class StatsSchema(QuerySchema):
    cases = fields.Dict()
    issues = fields.Dict()
    sessions = fields.Dict()


@blp.route("/stats")
@blp.arguments(StatsQuery, location="query", as_kwargs=True)
@blp.response(200, StatsSchema)
def stats(community=None, start=None, end=None, source=None, session_kind=None):
    """Count cases, issues and sessions, with optional filters."""
    require(api_user(), "stats.view")
    community_id = None
    if community is not None:
        community_id = db.session.scalar(select(Community.id).where(Community.name == community))
        if community_id is None:
            raise ApiError(404, "not_found", f"No community called {community!r}.")
    if start is not None and end is not None and end < start:
        raise ApiError(422, "invalid", "'to' is before 'from'.", fields={"to": ["before 'from'"]})
    return programme_stats(StatsFilter(community_id, start, end, source, session_kind))
