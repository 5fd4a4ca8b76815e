"""Notice channels: where a community's (or the town's) notices are posted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consult.enums import ChannelKind, check_in
from consult.extensions import Model
from consult.types import UTCDateTime, utcnow


class Channel(Model):
    """A group robot, a JSON webhook or an SMS gateway that receives notices."""

    __tablename__ = "channels"
    __table_args__ = (check_in("kind", ChannelKind),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: None: the whole town (every community's notices).
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    #: A label for administrators (e.g. the group chat's name).
    name: Mapped[str] = mapped_column(String(120), default="")
    #: The webhook address; secret (robots' addresses carry their access token).
    url: Mapped[str] = mapped_column(Text)
    #: The signing secret (DingTalk, Feishu; an HMAC key for webhooks and SMS gateways).
    secret: Mapped[str | None] = mapped_column(String(255))
    #: The language notices are written in (zh_CN, en).
    language: Mapped[str] = mapped_column(String(10))
    #: SMS gateways: the text of a reminder, with {title}, {time}, {place}, {link}, {name}.
    template: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    community = relationship("Community")

    def __repr__(self) -> str:
        return f"<Channel {self.id} {self.kind} community={self.community_id}>"

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    @property
    def masked_secret(self) -> str:
        return mask_secret(self.secret)


def mask_url(url: str) -> str:
    """Show where an address points without what makes it usable: host, then its end."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        host = ""
    rest = url.split(host, 1)[-1] if host else url
    tail = rest[-4:] if len(rest) > 12 else ""
    return f"{parts.scheme}://{host}/…{tail}" if host else "…"


def mask_secret(secret: str | None) -> str:
    if not secret:
        return ""
    return "•" * 8 + (secret[-2:] if len(secret) > 10 else "")
