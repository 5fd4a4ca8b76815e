"""Links that put a session into someone's calendar."""

from __future__ import annotations

from datetime import UTC
from urllib.parse import quote, urlencode

GOOGLE_TEMPLATE = "https://calendar.google.com/calendar/render"
UTC_STAMP = "%Y%m%dT%H%M%SZ"
#: Google refuses long URLs (around 8 KB, less through some proxies and phones): the
#: whole link, percent-encoded, stays within this many bytes; the details are cut to fit.
MAX_URL_BYTES = 2000


def _url(params: dict) -> str:
    return f"{GOOGLE_TEMPLATE}?{urlencode(params, quote_via=quote)}"


def google_calendar_url(meeting, page_url: str) -> str | None:
    """Return a Google Calendar "add event" link for ``meeting`` (times in UTC), or None
    for a cancelled session or skipped week, which nobody should add.

    The location is the venue with its address (what a map search needs); the session's
    page is named in the details, as calendar clients show no URL field. The link is cut
    to MAX_URL_BYTES by its encoded length (a Chinese character takes nine bytes).
    """
    if meeting.is_cancelled:
        return None
    params = {
        "action": "TEMPLATE",
        "text": meeting.title,
        "dates": f"{meeting.starts_at.astimezone(UTC):{UTC_STAMP}}/"
        f"{meeting.ends_at.astimezone(UTC):{UTC_STAMP}}",
        "details": page_url,
        "ctz": meeting.timezone,
    }
    venue = meeting.venue
    if venue is not None:
        address = (getattr(venue, "address", None) or "").strip()
        params["location"] = f"{venue.name}, {address}" if address else venue.name
    description = (meeting.description or "").strip()
    if not description or len(_url(params)) > MAX_URL_BYTES:
        return _url(params)
    # The longest prefix of the description that keeps the link within bounds.
    low, high = 0, len(description)
    while low < high:
        middle = (low + high + 1) // 2
        cut = description[:middle]
        trial = dict(
            params, details=f"{cut}{'…' if middle < len(description) else ''}\n\n{page_url}"
        )
        if len(_url(trial)) <= MAX_URL_BYTES:
            low = middle
        else:
            high = middle - 1
    if low == 0:
        return _url(params)
    cut = description[:low].rstrip()
    ellipsis = "…" if low < len(description) else ""
    return _url(dict(params, details=f"{cut}{ellipsis}\n\n{page_url}"))
