"""The JSON API under /api/v1, described by flask-smorest's OpenAPI document."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from functools import lru_cache

from flask import Flask, current_app, g, request
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, fields
from sqlalchemy import Select, bindparam, or_, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import MethodNotAllowed, NotFound

from consult.accounts.models import ApiToken, User, hash_token
from consult.errors import ApiError
from consult.extensions import api, db, limiter
from consult.transactions import at_end_of_write, rollback, run_write
from consult.types import utcnow

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
PUBLIC_PATHS = {f"{PREFIX}/openapi.json"}
#: ``last_used_at`` is written at most this often per token: reads stay reads.
LAST_USED_PRECISION = timedelta(minutes=1)
#: The longest recording a use waits for a busy database (seconds), then gives up.
LAST_USED_WAIT = 0.5
READ_METHODS = ("GET", "HEAD")


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"description": "A machine code"})
    message = fields.String(required=True, metadata={"description": "A human text"})
    fields = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Messages per invalid field (422)"},
    )


class ErrorSchema(Schema):
    """The body of every error answer of the API."""

    error = fields.Nested(ErrorDetailSchema, required=True)


def _is_api_path() -> bool:
    return request.path.startswith(PREFIX + "/") or request.path == PREFIX


@lru_cache(maxsize=1)
def _token_select() -> Select:
    """The valid token whose hash is the parameter ``token_hash``, with its user and the
    user's communities (what decides what the caller sees), in one statement built once
    (building it is dearer than running it)."""
    return (
        select(ApiToken)
        .options(joinedload(ApiToken.user).joinedload(User.memberships))
        .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))
    )


def authenticate() -> None:
    """Find the caller: a Bearer token, or the browser session for reading."""
    if not _is_api_path():
        return None
    g.api_user = None
    # A route that does not exist is 404 (or 405) for everyone, signed in or not.
    if isinstance(request.routing_exception, NotFound | MethodNotAllowed):
        raise request.routing_exception
    if request.path in PUBLIC_PATHS:
        return None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _sep, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", _("Use 'Authorization: Bearer <token>'."))
        row = (
            db.session.scalars(_token_select(), {"token_hash": hash_token(token)})
            .unique()
            .one_or_none()
        )
        if row is None or not row.user.active:
            raise ApiError(401, "unauthorized", _("The API token is not valid."))
        g.api_user = row.user
        _note_use(row)
        return None
    if request.method in READ_METHODS and current_user.is_authenticated:
        g.api_user = current_user._get_current_object()
        return None
    if current_user.is_authenticated:
        raise ApiError(
            401,
            "unauthorized",
            _("A browser session may only read; send a Bearer token to write."),
        )
    raise ApiError(401, "unauthorized", _("Authentication required: send a Bearer token."))


def _note_use(token: ApiToken) -> None:
    """Record this use of ``token`` once its view has run, when its last recorded use is
    LAST_USED_PRECISION old or more: at the end of a writing request's own transaction,
    or (a read, a refused write) after the answer, by ``record_token_use``."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_PRECISION:
        return
    g.api_token_used = (token.id, now)
    if request.method not in READ_METHODS:
        at_end_of_write(_record_use_in_write)


def _use_recorded(token_id: int, now) -> None:
    """The conditional UPDATE: a use is recorded at most once per LAST_USED_PRECISION,
    however many requests race."""
    db.session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at <= now - LAST_USED_PRECISION,
            ),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def _record_use_in_write() -> None:
    """Record the use inside the writing request's transaction, which holds its locks
    already (SQLite's write lock): no transaction and no wait of its own. A savepoint
    keeps a failure to the timestamp."""
    noted = g.get("api_token_used")
    if noted is None:
        return
    try:
        with db.session.begin_nested():
            if db.session.get_bind().dialect.name == "postgresql":
                ms = int(LAST_USED_WAIT * 1000)
                db.session.execute(text(f"SET LOCAL lock_timeout = {ms}"))
            _use_recorded(*noted)
    except SQLAlchemyError:
        log.warning("could not record the use of API token %s", noted[0], exc_info=True)
    else:
        g.api_token_recorded = True


def record_token_use(response):
    """Record a use noted by ``_note_use`` that no writing transaction recorded (an
    after-request hook, so after the view and outside a read's read-only guard).

    It writes through the request's own session in a short transaction of run_write that
    waits at most LAST_USED_WAIT for the database; a failure (a busy database) is logged
    and costs only the timestamp, never the answer.
    """
    noted = g.pop("api_token_used", None)
    if noted is None or g.pop("api_token_recorded", False):
        return response
    try:
        run_write(lambda: _use_recorded(*noted), attempts=1, wait=LAST_USED_WAIT)
    except SQLAlchemyError:
        rollback()
        log.warning("could not record the use of API token %s", noted[0], exc_info=True)
    return response


def _api_rate_limit() -> str:
    return current_app.config.get("API_RATE_LIMIT") or "1 per second"


def _no_api_rate_limit() -> bool:
    return not current_app.config.get("API_RATE_LIMIT")


def _api_caller_key() -> str:
    """Who an API request counts against: its token, else the signed-in browser, else
    the address (the count happens before the token is checked: an unknown token is
    counted apart, and then refused)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + hash_token(token.strip())
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return "address:" + (request.remote_addr or "")


def limit_api_blueprint(blueprint) -> None:
    """Limit every route of ``blueprint`` to API_RATE_LIMIT per caller (Flask-Limiter,
    counted in RATELIMIT_STORAGE_URI, hence shared by every worker)."""
    limiter.limit(
        _api_rate_limit,
        key_func=_api_caller_key,
        exempt_when=_no_api_rate_limit,
        scope="api",
    )(blueprint)


def check_json_body() -> None:
    """Answer 400 when a request to the API carries a body that is not JSON at all."""
    if not _is_api_path() or request.method in READ_METHODS:
        return
    raw = request.get_data(cache=True)
    if not raw.strip():
        return
    try:
        json.loads(raw)
    except ValueError:
        raise ApiError(400, "bad_json", _("The request body is not valid JSON.")) from None


def init_api(app: Flask) -> None:
    # Document the error body the API really sends (consult.errors), not the library's.
    api.ERROR_SCHEMA = ErrorSchema
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "`flask --app wsgi tokens create`"},
    )
    api.spec.options["security"] = [{"bearerAuth": []}]

    from consult.api import cases, feeds, me, minutes, registrations, sessions, stats, votes

    for module in (me, sessions, registrations, feeds, cases, minutes, votes, stats):
        limit_api_blueprint(module.blp)
        api.register_blueprint(module.blp, url_prefix=PREFIX)

    app.before_request(authenticate)
    app.before_request(check_json_body)
    app.after_request(record_token_use)


def api_user():
    """Return the authenticated caller of the current API request."""
    return g.get("api_user")
