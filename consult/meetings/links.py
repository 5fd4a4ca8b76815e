"""Links that put a session into someone's calendar."""

from __future__ import annotations

from datetime import UTC
from urllib.parse import quote, urlencode

GOOGLE_TEMPLATE = "https://calendar.google.com/calendar/render"
UTC_STAMP = "%Y%m%dT%H%M%SZ"
#: Google refuses very long URLs; the description is cut to keep well below the limit.
MAX_DETAILS = 1500


def google_calendar_url(meeting, page_url: str) -> str:
    """Return a Google Calendar "add event" link for ``meeting`` (times in UTC).

    The session's page is named in the details, as calendar clients show no URL field.
    """
    details = (meeting.description or "").strip()
    if len(details) > MAX_DETAILS:
        details = details[:MAX_DETAILS].rstrip() + "…"
    details = f"{details}\n\n{page_url}" if details else page_url
    params = {
        "action": "TEMPLATE",
        "text": meeting.title,
        "dates": f"{meeting.starts_at.astimezone(UTC):{UTC_STAMP}}/"
                 f"{meeting.ends_at.astimezone(UTC):{UTC_STAMP}}",
        "details": details,
        "ctz": meeting.timezone,
    }
    if meeting.venue is not None:
        params["location"] = meeting.venue.name
    return f"{GOOGLE_TEMPLATE}?{urlencode(params, quote_via=quote)}"
