"""Secret tokens for subscribable calendar feeds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consult.enums import FeedScope, check_in
from consult.extensions import Model
from consult.types import UTCDateTime, utcnow


class FeedToken(Model):
    __tablename__ = "feed_tokens"
    __table_args__ = (
        check_in("scope", FeedScope),
        CheckConstraint("scope <> 'community' OR community_id IS NOT NULL", name="community"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(10))
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    #: SHA-256 of the secret in the feed URL; the secret itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")
    community = relationship("Community")

    def __repr__(self) -> str:
        return f"<FeedToken {self.id} {self.scope} user={self.user_id}>"
