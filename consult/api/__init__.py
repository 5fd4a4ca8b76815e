"""The JSON API under /api/v1 (API.md), described by flask-smorest's OpenAPI document."""

from __future__ import annotations

import json

from flask import Flask, g, request
from flask_login import current_user
from sqlalchemy import select

from consult.accounts.models import ApiToken, hash_token
from consult.errors import ApiError
from consult.extensions import api, db

PREFIX = "/api/v1"
PUBLIC_PATHS = {f"{PREFIX}/openapi.json"}


def authenticate() -> None:
    """Find the caller: a Bearer token, or the browser session for reading."""
    if not request.path.startswith(PREFIX + "/") and request.path != PREFIX:
        return None
    g.api_user = None
    if request.path in PUBLIC_PATHS:
        return None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "Use 'Authorization: Bearer <token>'.")
        row = db.session.scalar(
            select(ApiToken).where(
                ApiToken.token_hash == hash_token(token.strip()),
                ApiToken.revoked_at.is_(None),
            )
        )
        if row is None or not row.user.active:
            raise ApiError(401, "unauthorized", "The API token is not valid.")
        g.api_user = row.user
        return None
    if request.method in ("GET", "HEAD") and current_user.is_authenticated:
        g.api_user = current_user._get_current_object()
        return None
    raise ApiError(401, "unauthorized", "Authentication required: send a Bearer token.")


def check_json_body() -> None:
    """Answer 400 when a request to the API carries a body that is not JSON at all."""
    if not request.path.startswith(PREFIX + "/") or request.method in ("GET", "HEAD"):
        return
    raw = request.get_data(cache=True)
    if not raw.strip():
        return
    try:
        json.loads(raw)
    except ValueError:
        raise ApiError(400, "bad_json", "The request body is not valid JSON.") from None


def init_api(app: Flask) -> None:
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "`flask tokens create`"}
    )
    api.spec.options["security"] = [{"bearerAuth": []}]

    from consult.api import cases, feeds, me, minutes, registrations, sessions, stats

    for module in (me, sessions, registrations, feeds, cases, minutes, stats):
        api.register_blueprint(module.blp, url_prefix=PREFIX)

    app.before_request(authenticate)
    app.before_request(check_json_body)


def api_user():
    """Return the authenticated caller of the current API request."""
    return g.get("api_user")
