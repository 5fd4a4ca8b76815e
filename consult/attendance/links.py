"""Signed links that work without signing in: RSVP answers and check-in."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

RSVP_SALT = "consult.rsvp"
CHECKIN_SALT = "consult.checkin"
#: RSVP links stay valid for 60 days; check-in links for 30 days.
RSVP_MAX_AGE = 60 * 24 * 3600
CHECKIN_MAX_AGE = 30 * 24 * 3600


class LinkError(ValueError):
    """The link was forged, altered or has expired."""

    def __init__(self, message: str, expired: bool = False):
        super().__init__(message)
        self.expired = expired


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _absolute(endpoint: str, **values) -> str:
    """Return BASE_URL + the endpoint's path; works in a request, a CLI command or a worker."""
    adapter = current_app.url_map.bind("localhost", script_name="/")
    return current_app.config["BASE_URL"] + adapter.build(endpoint, values)


def rsvp_token(invitation_id: int, partstat: str) -> str:
    return _serializer(RSVP_SALT).dumps({"i": invitation_id, "p": partstat})


def read_rsvp_token(token: str) -> tuple[int, str]:
    """Return (invitation id, PARTSTAT) from a token, or raise LinkError."""
    data = _load(RSVP_SALT, token, RSVP_MAX_AGE)
    return int(data["i"]), str(data["p"])


def checkin_token(registration_id: int) -> str:
    return _serializer(CHECKIN_SALT).dumps({"r": registration_id})


def read_checkin_token(token: str) -> int:
    """Return the registration id from a check-in token, or raise LinkError."""
    return int(_load(CHECKIN_SALT, token, CHECKIN_MAX_AGE)["r"])


def _load(salt: str, token: str, max_age: int) -> dict:
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkError("This link has expired.", expired=True) from None
    except BadSignature:
        raise LinkError("This link is not valid.") from None
    if not isinstance(data, dict):
        raise LinkError("This link is not valid.")
    return data


def rsvp_url(invitation, partstat: str) -> str:
    """Absolute URL that answers ``invitation`` with ``partstat`` (ACCEPTED/DECLINED/TENTATIVE)."""
    return _absolute("attendance.rsvp", token=rsvp_token(invitation.id, partstat))


def checkin_url(registration) -> str:
    """Absolute URL a secretary's phone opens to mark ``registration`` present."""
    return _absolute("attendance.checkin", token=checkin_token(registration.id))
