"""GET /api/v1/stats."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import fields, validate

from consult.api import api_user
from consult.api.schemas import AwareDateTime, QuerySchema, one_of
from consult.community.queries import community_named
from consult.enums import CaseSource, SessionKind
from consult.errors import ApiError
from consult.permissions import require
from consult.stats.queries import StatsFilter, cached_programme_stats

blp = Blueprint("api_stats", __name__, description="Statistics of the programme")


class StatsQuery(QuerySchema):
    community = fields.String(validate=validate.Length(min=1, max=120))
    start = AwareDateTime(data_key="from")
    end = AwareDateTime(data_key="to")
    source = fields.String(validate=one_of(CaseSource, "source"))
    session_kind = fields.String(validate=one_of(SessionKind, "kind"))


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
        found = community_named(community)
        # An unknown community is a filter that matches nothing.
        community_id = found.id if found is not None else 0
    if start is not None and end is not None and end < start:
        message = _("'to' is before 'from'.")
        raise ApiError(422, "invalid", message, fields={"to": [message]})
    return cached_programme_stats(StatsFilter(community_id, start, end, source, session_kind))
