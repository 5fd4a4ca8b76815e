"""Registrations (sign-ups): POST/GET /sessions/<id>/registrations, DELETE /registrations/<id>."""

from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import fields

from consult.api import api_user
from consult.api.schemas import StrictSchema
from consult.attendance import operations, queries
from consult.errors import ApiError
from consult.loaders import meeting_or_404, registration_or_404
from consult.meetings.models import Meeting, Registration
from consult.permissions import can, require
from consult.transactions import writes_within

blp = Blueprint("api_registrations", __name__, description="Registrations (sign-ups)")

#: The longest Idempotency-Key kept (a UUID has 36 characters).
MAX_KEY = 64


class SignUpIn(StrictSchema):
    """Empty for oneself; {name, phone, note?} for someone without an account (admin, cadre)."""

    name = fields.String(metadata={"description": "Name of a person without an account"})
    phone = fields.String(
        metadata={"description": "Mobile (13812345678) or landline (0936-6621188)"}
    )
    note = fields.String(allow_none=True)


class RegistrationOut(StrictSchema):
    id = fields.Integer()
    session = fields.Integer(attribute="meeting_id")
    status = fields.String(metadata={"enum": ["confirmed", "waitlisted", "cancelled"]})
    position = fields.Integer(
        allow_none=True, metadata={"description": "Place on the waiting list, 1 = next"}
    )


class RegistrationItem(RegistrationOut):
    name = fields.String(attribute="display_name")


class RegistrationList(StrictSchema):
    items = fields.List(fields.Nested(RegistrationItem))


class SeriesSignUpOut(StrictSchema):
    series = fields.Integer()
    items = fields.List(fields.Nested(RegistrationOut))


def _out(registration: Registration, position: int | None = None) -> dict:
    if position is None:
        position = queries.waitlist_position(registration)
    return {
        "id": registration.id,
        "meeting_id": registration.meeting_id,
        "status": registration.status,
        "position": position,
        "display_name": registration.display_name,
    }


def _meeting(meeting_id: int, user) -> Meeting:
    return meeting_or_404(meeting_id, user)


def _idempotency_key() -> str | None:
    """Return the request's Idempotency-Key header (1 to 64 printable ASCII characters)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not 0 < len(key) <= MAX_KEY or not all(" " < c <= "~" for c in key):
        message = _("Send 1 to %(n)d printable ASCII characters.", n=MAX_KEY)
        raise ApiError(
            422, "invalid", f"Idempotency-Key: {message}", fields={"Idempotency-Key": [message]}
        )
    return key


@blp.route("/sessions/<int:meeting_id>/registrations", methods=["POST"])
@blp.arguments(SignUpIn, required=False)
@blp.response(201, RegistrationOut)
@blp.alt_response(
    200,
    schema=RegistrationOut,
    description="A retry with the Idempotency-Key of an earlier sign-up: "
    "that registration, unchanged",
)
@blp.alt_response(404, description="No such session, or not visible to the caller")
@blp.alt_response(
    409,
    description="Already registered (the registration is under "
    "error.registration); the session is cancelled or started",
)
@blp.doc(
    parameters=[
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": False,
            "schema": {"type": "string", "maxLength": MAX_KEY},
            "description": "Makes a retry safe: the same key returns the first sign-up with 200.",
        }
    ]
)
@writes_within
def create_registration(data, meeting_id: int):
    """Sign up oneself, or (admin, cadre, secretary) someone without an account."""
    user = api_user()
    data = data or {}
    key = _idempotency_key()
    # Read with its lock, as the sign-up takes it first anyway: one statement for both.
    meeting = meeting_or_404(meeting_id, user, lock=True)
    if data:
        if not can(user, "registration.proxy", meeting):
            raise ApiError(
                403,
                "forbidden",
                _("Only admins, cadres and secretaries sign up people without an account."),
            )
    else:
        require(user, "registration.create")
    if key is not None:
        earlier = operations.replayed_sign_up(meeting, key, user)
        if earlier is not None:
            return _out(earlier), 200
    try:
        if data:
            registration = operations.sign_up_proxy(meeting, data, user, key)
        else:
            registration = operations.sign_up(meeting, user, user, key)
    except operations.AlreadyRegistered as exc:
        if exc.existing is not None:
            exc.extra["registration"] = RegistrationOut().dump(_out(exc.existing))
        raise
    return _out(registration)


@blp.route("/sessions/<int:meeting_id>/registrations", methods=["GET"])
@blp.response(200, RegistrationList)
def list_registrations(meeting_id: int):
    """List a session's sign-ups: confirmed, then the waiting list in order (staff)."""
    user = api_user()
    meeting = _meeting(meeting_id, user)
    require(user, "registration.list", meeting)
    rows = queries.registrations_in_order(meeting.id)
    return {"items": [_out(registration, position) for registration, position in rows]}


@blp.route("/registrations/<int:registration_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(409, description="Already cancelled, or the session has started")
def delete_registration(registration_id: int):
    """Cancel a sign-up (the registrant, admin, cadre); the first person waiting moves up."""
    user = api_user()
    registration = registration_or_404(registration_id, user)
    require(user, "registration.cancel", registration)
    operations.cancel_registration(registration, user)


@blp.route("/series/<int:series_id>/registrations", methods=["POST"])
@blp.arguments(StrictSchema, required=False)
@blp.response(201, SeriesSignUpOut)
@blp.alt_response(409, description="No coming occurrence left to sign up for")
def create_series_registrations(_data, series_id: int):
    """Sign oneself up for every coming occurrence of a series at once."""
    user = api_user()
    found = queries.series_open_to(series_id, user)
    if found is None:
        abort(404)
    require(user, "registration.create")
    series, occurrences = found
    registrations = operations.sign_up_series(series, user, occurrences)
    return {"series": series.id, "items": [_out(r) for r in registrations]}
