"""Errors: the API's JSON body under /api/, pages inside the layout everywhere else."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound

from consult.transactions import rollback

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


class RefusedInput(ValueError):
    """Input an operation refuses, with a message for the person who gave it.

    ``field`` names the form field or JSON field at fault (None: the input as a whole);
    ``status`` is the API status to answer with (422, 409 for a conflict, 404);
    ``code`` is the stable machine code of the API's error body (by default the one of
    the status); ``extra`` goes into the API's error body beside code and message
    (say, the existing registration of a duplicate sign-up).
    """

    def __init__(
        self,
        message: str,
        field: str | None = None,
        status: int = 422,
        code: str | None = None,
        **extra,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status
        self.code = code or CODES.get(status, "invalid")
        self.extra = extra


def refuse_on(form, exc: RefusedInput, default: str | None = None) -> None:
    """Undo what the refused operation wrote, and show its message on the form.

    The message goes on the field the refusal names (its first part: "notes.3" is the
    "notes" field; a form with an ``error_field(name)`` method maps the names itself),
    else on ``default``, else above the form.
    """
    rollback()
    message = str(exc.message)
    mapped = getattr(form, "error_field", None)
    for name in ((exc.field or "").split(".")[0], default):
        if not name:
            continue
        field = mapped(name) if mapped is not None else None
        field = field if field is not None else form._fields.get(name)
        if field is not None:
            field.errors = [*list(field.errors or []), message]
            return
    form.form_errors.append(message)


def unstorable(text: str) -> bool:
    """Return whether ``text`` holds what no database can store: NUL, lone surrogates.

    Lone surrogates come from bytes that are not UTF-8 (Python decodes command-line
    arguments that way) and from JSON escapes such as "\\ud800".
    """
    return "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def clean_text(
    value,
    field: str,
    max_length: int,
    required: bool = True,
    label=None,
    multiline: bool = False,
    error: type[RefusedInput] = RefusedInput,
):
    """Return ``value`` trimmed (None when blank and not required), or refuse it.

    Control characters are refused (PostgreSQL cannot store NUL, and none belongs in a
    name), except line breaks and tabs in ``multiline`` text, where every kind of line
    break becomes "\n" (the rules are in consult.text). ``label`` names the field;
    ``error`` is the RefusedInput subclass to raise.
    """
    from consult.text import has_forbidden, normalise_line_breaks

    label = field if label is None else label
    text = "" if value is None else str(value)
    if multiline:
        # U+2028, U+2029 and U+0085 are line breaks too (consult.text).
        text = normalise_line_breaks(text)
    text = text.strip()
    if not text:
        if required:
            raise error(_l("The %(label)s must not be empty.", label=label), field)
        return None
    allowed = "\n\t" if multiline else ""
    if has_forbidden(text, allowed) or unstorable(text):
        raise error(_l("The %(label)s contains a control character.", label=label), field)
    if len(text) > max_length:
        raise error(
            _l("The %(label)s has at most %(n)d characters.", label=label, n=max_length), field
        )
    return text


class ApiError(HTTPException):
    """An API error with its own machine code and, optionally, more detail."""

    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(description=message)
        self.code = status
        self.error_code = code
        self.extra = extra


#: What an error says when nothing more precise was given, by status.
MESSAGES = {
    400: _l("Bad request."),
    401: _l("Authentication required: send a Bearer token."),
    403: _l("You may not do this."),
    404: _l("Not found."),
    405: _l("This method is not allowed here."),
    409: _l("Conflict with the current state."),
    413: _l("The request is too large."),
    415: _l("Send JSON (Content-Type: application/json)."),
    422: _l("Invalid input."),
    429: _l("Too many requests."),
    500: _l("Internal error; nothing was changed."),
}


def clean_description(value, max_length: int, error: type[RefusedInput] = RefusedInput) -> str:
    """Return a description (several lines, may be empty: then "") or refuse it, on the
    field "description"."""
    from flask_babel import lazy_gettext as _l

    text = clean_text(
        value,
        "description",
        max_length,
        required=False,
        label=_l("description"),
        multiline=True,
        error=error,
    )
    return text or ""


def is_api_request() -> bool:
    """Return whether the current request is one for the JSON API."""
    return request.path.startswith("/api/")


def _fields_from(data: dict | None) -> dict | None:
    """Flatten webargs' {"json": {...}} validation messages into {"field": [...]}."""
    from consult.api.messages import translate

    messages = (data or {}).get("messages")
    if not isinstance(messages, dict):
        return None
    fields: dict[str, list[str]] = {}
    for location_messages in messages.values():
        if isinstance(location_messages, dict):
            for field, errs in location_messages.items():
                fields[str(field)] = _flatten(errs, translate)
        else:
            fields["_body"] = _flatten(location_messages, translate)
    return fields or None


def _flatten(errs, translate) -> list[str]:
    """Return the messages of ``errs`` (nested by list index or key) as "key: message"."""
    if isinstance(errs, dict):
        out: list[str] = []
        for key, value in errs.items():
            out.extend(f"{key}: {m}" for m in _flatten(value, translate))
        return out
    if isinstance(errs, list | tuple):
        out = []
        for e in errs:
            out.extend(_flatten(e, translate))
        return out
    return [translate(str(errs))]


def _message(exc: HTTPException, status: int) -> str:
    """Return the exception's own message, or the status's, in the request's language."""
    own = exc.description
    if own and own != type(exc).description:
        return str(own)
    return str(MESSAGES.get(status, own or ""))


def api_error_response(exc: HTTPException):
    """Answer ``exc`` with the API's error body in the requester's language."""
    status = exc.code or 500
    code = getattr(exc, "error_code", None) or CODES.get(status, "error")
    error: dict = {"code": code, "message": _message(exc, status)}
    if status == 400 and getattr(exc, "data", None) is not None:
        error["message"] = str(_l("The request body is not valid JSON."))
        error["code"] = "bad_json"
    fields = _fields_from(getattr(exc, "data", None))
    if status == 422 and fields:
        error["fields"] = fields
        first = next(iter(fields.items()))
        error["message"] = f"{first[0]}: {first[1][0]}" if first[1] else str(MESSAGES[422])
    error.update(getattr(exc, "extra", {}) or {})
    response = jsonify({"error": error})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="consult"'
    if getattr(exc, "retry_after", None):
        response.headers["Retry-After"] = str(exc.retry_after)
    if status == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def refusal_body(exc: RefusedInput) -> dict:
    """Return the API's error body of an operation's refusal (without the outer "error")."""
    message = str(exc.message)
    error: dict = {"code": getattr(exc, "error_code", None) or exc.code, "message": message}
    if exc.field and exc.status == 422:
        error["fields"] = {exc.field: [message]}
    error.update(exc.extra)
    return error


def refused_input_response(exc: RefusedInput):
    """Answer an operation's refusal with the API's error body."""
    response = jsonify({"error": refusal_body(exc)})
    response.status_code = exc.status
    return response


def register_error_handlers(app: Flask) -> None:
    # Registered after flask-smorest's own handler, so this one wins everywhere.
    @app.errorhandler(RefusedInput)
    def handle_refused_input(exc: RefusedInput):
        rollback()
        if is_api_request():
            return refused_input_response(exc)
        # Pages turn refusals into field errors (refuse_on); one that gets here is
        # answered with its status and message.
        status = exc.status if exc.status in (404, 409) else 400
        if status == 404:
            return render_template("errors/404.html", error=NotFound()), 404
        error = HTTPException(description=str(exc.message))
        error.code = status
        return render_template("errors/generic.html", error=error), status

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException):
        if exc.code is not None and exc.code >= 400:
            # Whatever the failed request had written stays unwritten.
            rollback()
        if is_api_request():
            return api_error_response(exc)
        if exc.code is None or exc.code < 400:
            return exc
        template = (
            f"errors/{exc.code}.html" if exc.code in (403, 404, 500) else "errors/generic.html"
        )
        return render_template(template, error=exc), exc.code

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        rollback()
        wrapped = InternalServerError()
        if is_api_request():
            return api_error_response(wrapped)
        return render_template("errors/500.html", error=wrapped), 500
