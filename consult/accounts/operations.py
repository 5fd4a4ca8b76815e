"""Every write about accounts. Operations flush; the caller commits once."""

from __future__ import annotations

from sqlalchemy import func, select

from consult import audit
from consult.accounts.models import ApiToken, Membership, User, new_token
from consult.community.models import Community
from consult.enums import ROLES
from consult.extensions import db


class AccountError(ValueError):
    """Refused input, with a message for the person who gave it."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_or_create_community(name: str, user=None) -> Community:
    """Return the community called ``name``, creating it on first use."""
    name = name.strip()
    if not name:
        raise AccountError("A community needs a name.", "community")
    community = db.session.scalar(select(Community).where(Community.name == name))
    if community is None:
        community = Community(name=name)
        db.session.add(community)
        db.session.flush()
        audit.record("community.create", community, user, name=name)
    return community


def create_user(data: dict, actor=None) -> User:
    """Create an account from {email, name, role, password?, community?, phone?}."""
    email = normalise_email(data.get("email") or "")
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise AccountError(f"Not an email address: {data.get('email')!r}", "email")
    name = (data.get("name") or "").strip()
    if not name:
        raise AccountError("A user needs a name.", "name")
    role = data.get("role")
    if role not in ROLES:
        raise AccountError(
            f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.", "role"
        )
    exists = db.session.scalar(select(func.count()).where(func.lower(User.email) == email))
    if exists:
        raise AccountError(f"A user with email {email} already exists.", "email")
    user = User(email=email, name=name, role=role, phone=data.get("phone") or None)
    if data.get("password"):
        user.set_password(data["password"])
    db.session.add(user)
    db.session.flush()
    if data.get("community"):
        community = get_or_create_community(data["community"], actor)
        db.session.add(
            Membership(
                user=user,
                community_id=community.id,
                is_representative=bool(data.get("representative")),
            )
        )
    audit.record("user.create", user, actor, email=email, role=role)
    db.session.flush()
    return user


def create_api_token(user: User, name: str | None = None, actor=None) -> str:
    """Create an API token for ``user`` and return the secret (shown once, stored hashed)."""
    token, token_hash = new_token()
    row = ApiToken(user_id=user.id, token_hash=token_hash, name=name)
    db.session.add(row)
    db.session.flush()
    audit.record("token.create", row, actor, user=user.id)
    return token
