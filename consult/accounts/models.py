"""People: accounts, their communities, and their API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from consult.enums import STAFF_ROLES, Role, check_in
from consult.extensions import Model
from consult.types import UTCDateTime, utcnow


def hash_token(token: str) -> str:
    """Return the stored form of a secret token (tokens are random, so SHA-256 suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """Return a fresh secret token and its stored hash."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


class User(UserMixin, Model):
    __tablename__ = "users"
    __table_args__ = (check_in("role", Role),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-cased; the sign-in name.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    #: scrypt hash (werkzeug); None for accounts that cannot sign in yet.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    #: The unit a unit_rep speaks for.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    #: Whether the person agreed to be named in published minutes.
    named_in_minutes: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Preferred interface language ("zh_CN" or "en"); None follows the browser.
    locale: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Part of the identifier kept in sessions and remember cookies; raised on sign-out
    #: and password changes, which ends every session of the account.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Raised by every change (calendars show organisers' names and addresses).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    unit = relationship("Unit", back_populates="representatives")
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login: what the session and remember cookie keep
        return f"{self.id}.{self.session_generation or 0}"

    def end_sessions(self) -> None:
        """Make every session and remember cookie of this account stop working."""
        self.session_generation = (self.session_generation or 0) + 1

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def community_ids(self) -> set[int]:
        return {m.community_id for m in self.memberships}


class Membership(Model):
    """A person's belonging to a community (residents, cadres, secretaries)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "community_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    #: A residents' representative: evaluates resolved issues for the community.
    is_representative: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    community = relationship("Community")

    def __repr__(self) -> str:
        return f"<Membership user={self.user_id} community={self.community_id}>"


class ApiToken(Model):
    """A bearer token for the JSON API; only its hash is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} user={self.user_id}>"
