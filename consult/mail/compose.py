"""Building mail: MIME structure, language, dates, links that work outside a request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask import current_app, render_template
from flask_babel import force_locale

from consult.calendar.ics import bare_address
from consult.text import header_text
from consult.types import utcnow

#: Every message is 7-bit clean (base64 or quoted-printable parts, encoded headers), so
#: it can be stored as text and handed to any SMTP server; lines end in CRLF.
MAIL_POLICY = policy.SMTP.clone(cte_type="7bit")


@dataclass(frozen=True)
class Recipient:
    """Who a message goes to, and in which language."""

    email: str
    name: str | None = None
    locale: str | None = None


def recipient_for_user(user) -> Recipient:
    return Recipient(email=user.email, name=user.name, locale=user.locale)


@contextmanager
def in_language(recipient: Recipient) -> Iterator[str]:
    """Render the body of ``with`` in the recipient's language; yield its code."""
    from consult.i18n import language_of

    locale = language_of(recipient.locale)
    with force_locale(locale):
        yield locale


def when(starts_at, ends_at, zone_name: str, locale: str) -> str:
    """Return "Friday, 4 December 2026, 15:00–17:00 (Asia/Shanghai)" in ``locale``."""
    tz = ZoneInfo(zone_name)
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    day = format_date(start.date(), format="full", locale=locale)
    begins = format_time(start, "HH:mm", locale=locale)
    ends = format_time(end, "HH:mm", locale=locale)
    span = f"{begins}–{ends}"
    if end.date() != start.date():
        span = f"{begins} – {format_date(end.date(), format='medium', locale=locale)} {ends}"
    return f"{day}, {span} ({zone_name})"


def render_parts(template: str, **context) -> tuple[str, str]:
    """Render ``email/<template>.txt`` and ``.html`` with ``context``."""
    text = render_template(f"email/{template}.txt", **context)
    html = render_template(f"email/{template}.html", **context)
    return text, html


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    maintype: str
    subtype: str
    params: dict | None = None


def compose(
    recipient: Recipient,
    subject: str,
    text: str,
    html: str,
    *,
    calendar: bytes | None = None,
    method: str | None = None,
    inline_png: tuple[str, bytes] | None = None,
    attachments: tuple[Attachment, ...] = (),
    reply_to: str | None = None,
) -> EmailMessage:
    """Return a message: text and HTML alternatives, optionally an iTIP calendar part
    (``text/calendar; method=...``) as a third alternative, a PNG shown inline in the
    HTML (``inline_png``: (content id without brackets, bytes)) and attachments."""
    sender = current_app.config["MAIL_FROM"]
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = sender
    # Headers take one flattened line: no stored text can break them (consult.text).
    msg["To"] = formataddr((header_text(recipient.name), recipient.email))
    msg["Subject"] = header_text(subject)
    if reply_to:
        # Answers (calendar replies included) go where `flask mail receive` reads them.
        msg["Reply-To"] = reply_to
    msg["Date"] = format_datetime(utcnow())
    domain = bare_address(sender).partition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    # Automatic mail: out-of-office replies should not answer it (RFC 3834).
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    if inline_png is not None:
        cid, png = inline_png
        msg.get_body(("html",)).add_related(
            png,
            "image",
            "png",
            cid=f"<{cid}>",
            disposition="inline",
            filename=f"{cid.split('@')[0]}.png",
        )
    if calendar is not None:
        msg.add_alternative(
            calendar,
            "text",
            "calendar",
            cte="base64",
            params={"charset": "UTF-8", "method": method or "PUBLISH"},
        )
    for item in attachments:
        msg.add_attachment(
            item.data,
            item.maintype,
            item.subtype,
            filename=item.filename,
            params=item.params or {},
        )
    return msg


def envelope_recipients(msg: EmailMessage) -> list[str]:
    """Return the bare addresses a message is for (To, Cc)."""
    out = []
    for header in ("To", "Cc"):
        for value in msg.get_all(header, []):
            address = parseaddr(str(value))[1]
            if address:
                out.append(address)
    return out
