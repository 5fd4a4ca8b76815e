"""Sessions and series."""

from __future__ import annotations

import functools
from datetime import date, datetime, time
from typing import cast
from zoneinfo import ZoneInfo

from flask import Response, current_app
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from consult import lists
from consult.api import api_user
from consult.api.schemas import AwareDateTime, StrictInt, StrictSchema, one_of
from consult.community.queries import community_named
from consult.community.versions import cached_value, digest
from consult.enums import SessionKind, SessionStatus, Visibility
from consult.errors import ApiError
from consult.lists import Id, IdArg, PageQuery, page_envelope, page_schema
from consult.loaders import meeting_or_404, series_or_404
from consult.meetings import operations, queries
from consult.permissions import require

blp = Blueprint("api_sessions", __name__, description="Sessions and series")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be empty.")


def _no_control(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("Must not contain a NUL character.")


def Text(
    required: bool = False,
    allow_none: bool = False,
    max_length: int = 200,  # noqa: N802
    **kwargs,
):
    """A string field that refuses blank values and NUL characters (null: ``allow_none``)."""
    checks = [validate.Length(max=max_length), _no_control, _not_blank]
    return fields.String(required=required, allow_none=allow_none, validate=checks, **kwargs)


# -- schemas -----------------------------------------------------------------------------


class SessionSchema(Schema):
    """A session (one occurrence, for a series), as the API shows it."""

    id = fields.Integer()
    kind = fields.String(metadata={"enum": list(SessionKind)})
    title = fields.String()
    community = fields.String()
    venue = fields.String(allow_none=True)
    starts_at = fields.DateTime(metadata={"description": "In the session's own offset."})
    ends_at = fields.DateTime()
    timezone = fields.String()
    status = fields.String(metadata={"enum": list(SessionStatus)})
    capacity = fields.Integer(allow_none=True, metadata={"description": "null: unlimited"})
    confirmed = fields.Integer()
    waitlisted = fields.Integer()
    sequence = fields.Integer()
    series = fields.Integer(allow_none=True)
    visibility = fields.String(metadata={"enum": list(Visibility)})
    ics_url = fields.String()


SessionPageSchema = page_schema(SessionSchema, "SessionPageSchema")


class SessionCreateSchema(StrictSchema):
    kind = fields.String(required=True, validate=one_of(SessionKind, "kind"))
    title = Text(required=True)
    description = fields.String(
        validate=[validate.Length(max=operations.MAX_DESCRIPTION), _no_control]
    )
    community = Text(required=True, max_length=120)
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)
    timezone = Text(max_length=64, metadata={"description": "IANA zone; default CONSULT_TIMEZONE"})
    venue = Text(allow_none=True)
    capacity = StrictInt(
        allow_none=True, validate=validate.Range(min=0, max=operations.MAX_CAPACITY)
    )
    recurrence = fields.String(
        allow_none=True,
        validate=[validate.Length(max=500), _no_control],
        metadata={"description": "RFC 5545 RRULE value"},
    )
    visibility = fields.String(validate=one_of(Visibility, "visibility"))
    host_unit = Id(allow_none=True)


class SessionUpdateSchema(StrictSchema):
    title = Text()
    description = fields.String(
        validate=[validate.Length(max=operations.MAX_DESCRIPTION), _no_control]
    )
    starts_at = AwareDateTime()
    ends_at = AwareDateTime()
    venue = Text(allow_none=True)
    capacity = StrictInt(
        allow_none=True, validate=validate.Range(min=0, max=operations.MAX_CAPACITY)
    )
    host_unit = Id(allow_none=True)


class EmptySchema(StrictSchema):
    """No data: an empty body or {}."""


class SeriesCancelledSchema(Schema):
    series = fields.Integer()
    cancelled = fields.Integer(metadata={"description": "Occurrences cancelled now"})


class DateOrDateTime(fields.Field):
    """An aware ISO 8601 datetime, or a date (its midnight in CONSULT_TIMEZONE)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or "\x00" in value:
            raise ValidationError("Not a date or datetime.")
        # A '+' left unencoded in a query string arrives as a space.
        text = value.strip().replace(" ", "+")
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                zone = ZoneInfo(current_app.config["CONSULT_TIMEZONE"])
                return datetime.combine(day, time(), zone)
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError("Not a date or an ISO 8601 datetime.") from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValidationError("The datetime needs a UTC offset.")
        return parsed


class SessionListQuery(PageQuery):
    community = fields.String(validate=[validate.Length(min=1, max=120), _no_control])
    kind = fields.String(validate=one_of(SessionKind, "kind"))
    series = IdArg()
    status = fields.String(validate=one_of(SessionStatus, "session_status"))
    from_ = DateOrDateTime(data_key="from")
    to = DateOrDateTime()


# -- helpers -----------------------------------------------------------------------------


def session_payload(meeting, waitlisted: int = 0) -> dict:
    """Return the session object of the API for ``meeting``."""
    tz = ZoneInfo(meeting.timezone)
    return {
        "id": meeting.id,
        "kind": meeting.kind,
        "title": meeting.title,
        "community": meeting.community.name,
        "venue": meeting.venue.name if meeting.venue else None,
        "starts_at": meeting.starts_at.astimezone(tz),
        "ends_at": meeting.ends_at.astimezone(tz),
        "timezone": meeting.timezone,
        "status": meeting.status,
        "capacity": meeting.capacity,
        "confirmed": meeting.confirmed_count,
        "waitlisted": waitlisted,
        "sequence": meeting.sequence,
        "series": meeting.series_id,
        "visibility": meeting.visibility,
        "ics_url": f"/sessions/{meeting.id}.ics",
    }


def _kept_page(user, f: queries.MeetingFilter, page: int, per_page: int) -> bytes:
    """Return the page of sessions ``user`` may see that match ``f``: the JSON body of
    SessionPageSchema's dump, as the API answers it.

    The page is kept in the cache under the change counters of what it shows
    (``queries.visibility_key_and_activity``: every community's ``calendar_version``,
    which the database raises whenever a session or a series changes, a confirmed
    sign-up included since the session's row counts its places; their
    ``activity_version``, raised by every sign-up, a place on a waiting list included;
    and for those who see their own private sessions, their sign-ups and invitations),
    all read in one statement: a page asked again costs that statement, not its
    sessions, their community, venue and waiting lists, their serialising and their
    JSON."""
    visibility, activity = queries.visibility_key_and_activity(user)

    def compute() -> bytes:
        found = queries.list_meetings(user, f, page, per_page, visibility=visibility)
        waiting = queries.waitlisted_counts(m.id for m in found.items)
        items = [session_payload(m, waiting.get(m.id, 0)) for m in found.items]
        # As flask-smorest answers a dump (the application's JSON provider).
        dumped = SessionPageSchema().dump(page_envelope(found, items))
        answer = cast(Response, current_app.json.response(dumped))
        return answer.get_data()

    key = digest("api-sessions-page", visibility, activity, f, page, per_page)
    return cached_value(key, compute)


def _payload_of(meeting) -> dict:
    return session_payload(meeting, queries.waitlisted_counts([meeting.id]).get(meeting.id, 0))


def _load_meeting(meeting_id: int):
    """Return the session, or answer 404 when it does not exist or may not be seen."""
    return meeting_or_404(meeting_id, api_user())


def allowed(action: str, load: bool = False):
    """Check the caller's role (and that the session may be seen) before reading the body."""

    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            target = None
            if load:
                target = _load_meeting(kwargs["meeting_id"])
            elif "series_id" in kwargs:
                target = series_or_404(kwargs["series_id"], api_user())
            require(api_user(), action, target)
            return func(*args, **kwargs)

        return wrapper

    return decorator


# -- routes ------------------------------------------------------------------------------


@blp.route("/sessions")
class Sessions(MethodView):
    @blp.arguments(SessionListQuery, location="query")
    @blp.response(200, SessionPageSchema)
    def get(self, args):
        """List the sessions the caller may see, by start time."""
        community_id = None
        if args.get("community"):
            found = community_named(args["community"])
            # An unknown community is a filter that matches nothing.
            community_id = found.id if found is not None else 0
        f = queries.MeetingFilter(
            community_id=community_id,
            kind=args.get("kind"),
            series_id=args.get("series"),
            start=args.get("from_"),
            end=args.get("to"),
            status=args.get("status"),
        )
        per_page = min(args["per_page"], lists.MAX_PER_PAGE)
        body = _kept_page(api_user(), f, args["page"], per_page)
        # The body is the schema's dump in JSON already; flask-smorest passes a Response
        # through as it is.
        return current_app.response_class(body, mimetype=current_app.json.mimetype)

    @allowed("meeting.create")
    @blp.arguments(SessionCreateSchema)
    @blp.response(201, SessionSchema)
    def post(self, data):
        """Schedule a session, or a series when `recurrence` is given (admin, cadre)."""
        meeting = operations.create_meeting(data, api_user())
        return session_payload(meeting, 0)


@blp.route("/sessions/<int:meeting_id>")
class SessionItem(MethodView):
    @blp.response(200, SessionSchema)
    def get(self, meeting_id):
        """Return one session (404 when the caller may not see it)."""
        return _payload_of(_load_meeting(meeting_id))

    @allowed("meeting.edit", load=True)
    @blp.arguments(SessionUpdateSchema)
    @blp.response(200, SessionSchema)
    def patch(self, data, meeting_id):
        """Change or move a session; an occurrence of a series changes alone (admin, cadre)."""
        meeting = operations.update_meeting(_load_meeting(meeting_id), data, api_user())
        return _payload_of(meeting)


@blp.route("/sessions/<int:meeting_id>/cancel", methods=["POST"])
@allowed("meeting.cancel", load=True)
@blp.arguments(EmptySchema, required=False)
@blp.response(200, SessionSchema)
def cancel_session(data, meeting_id):
    """Cancel a session; for a series, that occurrence only (admin, cadre)."""
    meeting = operations.cancel_meeting(_load_meeting(meeting_id), api_user())
    return _payload_of(meeting)


@blp.route("/series/<int:series_id>/cancel", methods=["POST"])
@allowed("meeting.cancel")
@blp.arguments(EmptySchema, required=False)
@blp.response(200, SeriesCancelledSchema)
def cancel_series(data, series_id):
    """Cancel a whole series: every occurrence not yet started (admin, cadre)."""
    series = queries.get_series(series_id)
    if series is None:
        raise ApiError(404, "not_found", _("No such series."))
    return {"series": series_id, "cancelled": operations.cancel_series(series, api_user())}
