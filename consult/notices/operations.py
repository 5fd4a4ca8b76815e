"""Every write about notice channels and the outbox's failed messages. Operations flush
and audit (never a channel's address or secret); the caller commits."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from consult import audit
from consult.community.models import Community
from consult.enums import ChannelKind, OutboxStatus, OutboxTransport
from consult.errors import RefusedInput, clean_text
from consult.extensions import db
from consult.i18n import Choices, default_language
from consult.mail.models import OutboxMessage
from consult.notices.models import Channel
from consult.types import utcnow

MAX_URL = 2000
MAX_TEMPLATE = 500


class ChannelError(RefusedInput):
    """Refused input about a notice channel or an outbox message."""


def _community(value) -> Community | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, Community):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        community = db.session.get(Community, value)
    else:
        name = clean_text(value, "community", 120, label=_l("community"), error=ChannelError)
        community = db.session.scalar(select(Community).where(Community.name == name))
    if community is None:
        raise ChannelError(_l("There is no community %(name)s.", name=value), "community")
    return community


def _url(value) -> str:
    url = clean_text(value, "url", MAX_URL, label=_l("address"), error=ChannelError)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host or " " in url:
        raise ChannelError(_l("Give the channel's full http:// or https:// address."), "url")
    return url


def add_channel(data: dict, user) -> Channel:
    """Add a channel: {kind, url, secret?, community? (name or id; none: the town),
    language?, name?, template? (SMS)}."""
    kind = data.get("kind")
    if kind not in ChannelKind:
        raise ChannelError(
            _l("Choose a kind: %(values)s.", values=Choices(ChannelKind, "channel_kind")), "kind"
        )
    url = _url(data.get("url"))
    secret = clean_text(
        data.get("secret"), "secret", 255, required=False, label=_l("secret"), error=ChannelError
    )
    language = data.get("language") or default_language()
    if language not in current_app.config["LANGUAGES"]:
        raise ChannelError(_l("Choose a language the application speaks."), "language")
    name = (
        clean_text(
            data.get("name"), "name", 120, required=False, label=_l("name"), error=ChannelError
        )
        or ""
    )
    template = None
    if kind == "sms":
        template = clean_text(
            data.get("template"),
            "template",
            MAX_TEMPLATE,
            required=False,
            label=_l("template"),
            error=ChannelError,
        )
    community = _community(data.get("community"))
    channel = Channel(
        kind=kind,
        url=url,
        secret=secret,
        language=language,
        name=name,
        template=template,
        community_id=community.id if community else None,
        created_by_id=getattr(user, "id", None),
        created_at=utcnow(),
    )
    db.session.add(channel)
    db.session.flush()
    audit.record(
        "channel.add",
        channel,
        user,
        kind=kind,
        name=name,
        language=language,
        community=community.name if community else None,
        signed=bool(secret),
    )
    return channel


def remove_channel(channel: Channel, user) -> None:
    """Remove a channel; its notices still waiting are marked failed (nothing is lost
    silently: they stay visible in the outbox)."""
    db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.channel_id == channel.id, OutboxMessage.status.in_(("queued", "sending"))
        )
        .values(status="failed", last_error="The channel was removed.")
        .execution_options(synchronize_session=False)
    )
    audit.record(
        "channel.remove",
        channel,
        user,
        kind=channel.kind,
        name=channel.name,
        community=channel.community_id,
    )
    db.session.delete(channel)
    db.session.flush()


def resend_message(message: OutboxMessage, user) -> OutboxMessage:
    """Queue a failed message (mail or notice) again, with a fresh count of attempts."""
    if message.status != OutboxStatus.FAILED:
        raise ChannelError(_l("Only a failed message can be sent again."), None, 409)
    if message.transport == OutboxTransport.CHANNEL and message.channel_id is None:
        raise ChannelError(_l("The channel of this notice was removed."), None, 409)
    message.status = "queued"
    message.attempts = 0
    message.next_attempt_at = utcnow()
    db.session.flush()
    audit.record("outbox.resend", message, user, kind=message.kind, transport=message.transport)
    return message
