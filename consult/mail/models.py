"""The outbox: every message is written here in the transaction that caused it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consult.enums import OutboxStatus, OutboxTransport, check_in
from consult.extensions import Model
from consult.types import UTCDateTime, utcnow


class OutboxMessage(Model):
    __tablename__ = "outbox"
    __table_args__ = (
        check_in("status", OutboxStatus),
        check_in("transport", OutboxTransport),
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What caused it (invitation, update, cancellation, reminder, confirmation, ...).
    kind: Mapped[str] = mapped_column(String(30))
    #: Comma-separated envelope recipients.
    recipients: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(255))
    #: The Message-ID header (with its angle brackets), chosen when the message is
    #: queued and sent unchanged on every attempt, so that a copy delivered twice can be
    #: recognised as the same message.
    message_id: Mapped[str | None] = mapped_column(String(255))
    #: The complete RFC 5322 message, ready to hand to SMTP ("" until a message with
    #: ``compose`` is composed, when it is claimed).
    body: Mapped[str] = mapped_column(Text)
    #: What a message composed when it is sent tells of ("confirmation:<registration
    #: id>:<account id>", or "promotion:" or "waitlisted:", consult.mail.notify.COMPOSERS);
    #: None: composed when queued.
    compose: Mapped[str | None] = mapped_column(String(80))
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL"), index=True
    )
    #: "mail" (body: an RFC 5322 message) or "channel" (body: a notice as JSON, posted
    #: to ``channel_id``; recipients: a phone number for an SMS gateway).
    transport: Mapped[str] = mapped_column(
        String(10), default=OutboxTransport.MAIL, server_default="mail"
    )
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Earliest time of the next delivery attempt (back-off after a failure).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    channel = relationship("Channel")

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status}>"
