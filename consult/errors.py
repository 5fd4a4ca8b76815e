"""Errors: the API's JSON body under /api/, pages inside the layout everywhere else."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

#: Machine codes of the API's error body, by status.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "internal_error",
}


class ApiError(HTTPException):
    """An API error with its own machine code and, optionally, more detail."""

    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(description=message)
        self.code = status
        self.error_code = code
        self.extra = extra


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _fields_from(data: dict | None) -> dict | None:
    """Flatten webargs' {"json": {...}} validation messages into {"field": [...]}."""
    messages = (data or {}).get("messages")
    if not isinstance(messages, dict):
        return None
    fields: dict[str, list[str]] = {}
    for location_messages in messages.values():
        if isinstance(location_messages, dict):
            for field, errs in location_messages.items():
                fields[str(field)] = _flatten(errs)
        else:
            fields["_body"] = _flatten(location_messages)
    return fields or None


def _flatten(errs) -> list[str]:
    if isinstance(errs, dict):
        out: list[str] = []
        for key, value in errs.items():
            out.extend(f"{key}: {m}" for m in _flatten(value))
        return out
    if isinstance(errs, list | tuple):
        out = []
        for e in errs:
            out.extend(_flatten(e))
        return out
    return [str(errs)]


def api_error_response(exc: HTTPException):
    status = exc.code or 500
    code = getattr(exc, "error_code", None) or CODES.get(status, "error")
    error: dict = {"code": code, "message": exc.description or ""}
    if status == 400 and getattr(exc, "data", None) is not None:
        error["message"] = "The request body is not valid JSON."
        error["code"] = "bad_json"
    fields = _fields_from(getattr(exc, "data", None))
    if status == 422 and fields:
        error["fields"] = fields
        first = next(iter(fields.items()))
        error["message"] = f"{first[0]}: {first[1][0]}" if first[1] else "Invalid input."
    error.update(getattr(exc, "extra", {}) or {})
    response = jsonify({"error": error})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="consult"'
    if status == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def register_error_handlers(app: Flask) -> None:
    # Registered after flask-smorest's own handler, so this one wins everywhere.
    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException):
        if is_api_request():
            return api_error_response(exc)
        if exc.code is None or exc.code < 400:
            return exc
        template = f"errors/{exc.code}.html" if exc.code in (403, 404, 500) else "errors/generic.html"
        return render_template(template, error=exc), exc.code

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        from consult.extensions import db

        db.session.rollback()
        wrapped = InternalServerError()
        if is_api_request():
            return api_error_response(wrapped)
        return render_template("errors/500.html", error=wrapped), 500
