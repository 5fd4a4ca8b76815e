"""Registrations (sign-ups): POST/GET /sessions/<id>/registrations, DELETE /registrations/<id>."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields

from consult.api import api_user
from consult.api.schemas import StrictSchema
from consult.attendance import operations, queries
from consult.attendance.transactions import run_write
from consult.errors import ApiError, RefusedInput
from consult.loaders import meeting_or_404, registration_or_404
from consult.meetings.models import Meeting, Registration
from consult.permissions import can, require

blp = Blueprint("api_registrations", __name__, description="Registrations (sign-ups)")


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


def _refused(exc: RefusedInput) -> ApiError:
    extra = {"fields": {exc.field: [exc.message]}} if exc.field and exc.status == 422 else {}
    code = "conflict" if exc.status == 409 else "invalid"
    return ApiError(exc.status, code, str(exc.message), **extra)


@blp.route("/sessions/<int:meeting_id>/registrations", methods=["POST"])
@blp.arguments(SignUpIn, required=False)
@blp.response(201, RegistrationOut)
@blp.alt_response(404, description="No such session, or not visible to the caller")
@blp.alt_response(409, description="Already registered; the session is cancelled or started")
def create_registration(data, meeting_id: int):
    """Sign up oneself, or (admin, cadre) someone without an account."""
    user = api_user()
    data = data or {}
    proxy = bool(data)

    def work():
        meeting = _meeting(meeting_id, user)
        if proxy:
            if not can(user, "registration.proxy", meeting):
                raise ApiError(403, "forbidden",
                               "Only admins and cadres sign up people without an account.")
            registration = operations.sign_up_proxy(meeting, data, user)
        else:
            require(user, "registration.create")
            registration = operations.sign_up(meeting, user, user)
        return _out(registration)

    try:
        return run_write(work)
    except RefusedInput as exc:
        raise _refused(exc) from None


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

    def work():
        registration = registration_or_404(registration_id, user)
        require(user, "registration.cancel", registration)
        operations.cancel_registration(registration, user)

    try:
        run_write(work)
    except RefusedInput as exc:
        raise _refused(exc) from None
    return None


@blp.route("/series/<int:series_id>/registrations", methods=["POST"])
@blp.arguments(StrictSchema, required=False)
@blp.response(201, SeriesSignUpOut)
@blp.alt_response(409, description="No coming occurrence left to sign up for")
def create_series_registrations(_data, series_id: int):
    """Sign oneself up for every coming occurrence of a series at once."""
    user = api_user()

    def work():
        series, occurrences = queries.series_open_to(series_id, user)
        registrations = operations.sign_up_series(series, user, occurrences)
        return {"series": series.id, "items": [_out(r) for r in registrations]}

    try:
        return run_write(work)
    except RefusedInput as exc:
        raise _refused(exc) from None
