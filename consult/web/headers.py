"""Security headers on every response, and the cache rules for personal data.

Every HTML page gets a Content-Security-Policy that allows scripts only from the
site's own files (no inline scripts or event handlers: consult/static/consult.js
binds them), and no framing. Styles may be inline (``'unsafe-inline'`` in style-src):
the templates use ``style`` attributes and print styles, and a style cannot run code.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        # Bootstrap draws its icons from data: URIs; QR codes may be inline images.
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

#: URLs that carry a secret (feed tokens, signed RSVP and check-in links): the next page
#: must not learn them from the Referer header.
SECRET_URL_PREFIXES = ("/calendar/", "/rsvp/", "/checkin/")

#: Responses that may hold personal data and must not be kept by browsers or proxies.
NO_STORE_TYPES = (
    "text/html",
    "application/json",
    "text/csv",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)


def security_headers(response: Response) -> Response:
    """Add the security headers that fit the response's kind."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith(SECRET_URL_PREFIXES):
        headers["Referrer-Policy"] = "no-referrer"
    else:
        headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
    if request.endpoint != "static" and response.mimetype in NO_STORE_TYPES:
        # Pages and exports are personal; views that allow caching say so themselves.
        if "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
    elif response.mimetype == "text/calendar" and "Cache-Control" not in headers:
        # Calendars may name private sessions: kept by the subscriber only, revalidated.
        headers["Cache-Control"] = "private, no-cache"
    return response


def init_headers(app: Flask) -> None:
    app.after_request(security_headers)
