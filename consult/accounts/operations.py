"""Every write about accounts. Operations flush and audit; the caller commits once."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from consult import audit
from consult.accounts.models import ApiToken, Membership, User, new_token
from consult.accounts.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    password_problem,
)
from consult.community.models import Community, Unit
from consult.community.operations import get_or_create_community
from consult.enums import Role
from consult.errors import RefusedInput, clean_text, unstorable
from consult.extensions import db
from consult.i18n import Choices
from consult.types import utcnow

__all__ = [
    "AccountError",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "change_own_password",
    "create_api_token",
    "create_user",
    "get_or_create_community",
    "normalise_email",
    "revoke_api_token",
    "set_user_password",
    "update_profile",
    "update_user",
]

LOCALES = ("zh_CN", "en")


class AccountError(RefusedInput):
    """Refused input about an account, with a message for the person who gave it."""


def _text(value, field: str, max_length: int, **kwargs):
    return clean_text(value, field, max_length, error=AccountError, **kwargs)


def normalise_email(email: str) -> str:
    """Return the stored (lower-cased, trimmed) form of an email address."""
    return email.strip().lower()


def valid_email(raw: str | None) -> str:
    """Return the stored form of ``raw``, or refuse it when it is not an email address.

    Intranet domains without a dot are accepted: town mail servers often use them.
    """
    email = normalise_email(raw or "")
    if not email:
        raise AccountError(_l("An email address is required."), "email")
    if unstorable(email):
        raise AccountError(_l("Not an email address: %(email)s", email=repr(email)), "email")
    try:
        validate_email(
            email, check_deliverability=False, globally_deliverable=False, test_environment=True
        )
    except EmailNotValidError:
        raise AccountError(
            _l("Not an email address: %(email)s", email=raw.strip()), "email"
        ) from None
    if len(email) > 254:
        raise AccountError(_l("An email address has at most 254 characters."), "email")
    return email


def _role(role) -> str:
    if role not in Role:
        raise AccountError(
            _l(
                'Unknown role "%(role)s"; choose one of %(roles)s.',
                role=role,
                roles=Choices(Role, "role"),
            ),
            "role",
        )
    return role


def _password(
    password: str, email: str | None = None, name: str | None = None, field: str = "password"
) -> str:
    """Return ``password``, or refuse it when the password policy does."""
    problem = password_problem(password, email, name)
    if problem is not None:
        raise AccountError(problem, field)
    return password


def _unit_id(unit_id, role: str) -> int | None:
    """Check the unit a unit_rep speaks for; other roles speak for none."""
    if unit_id is None:
        return None
    if role != "unit_rep":
        raise AccountError(_l("Only a unit representative speaks for a unit."), "unit")
    if db.session.get(Unit, unit_id) is None:
        raise AccountError(_l("No such unit."), "unit")
    return unit_id


def _email_taken(email: str, but: User | None = None) -> bool:
    query = select(func.count(User.id)).where(func.lower(User.email) == email)
    if but is not None:
        query = query.where(User.id != but.id)
    return bool(db.session.scalar(query))


def _set_memberships(user: User, memberships: dict[int, bool]) -> dict:
    """Make ``user`` a member of exactly these communities ({id: representative})."""
    if memberships:
        known = set(db.session.scalars(select(Community.id).where(Community.id.in_(memberships))))
        if missing := set(memberships) - known:
            raise AccountError(
                _l("No such community: %(ids)s", ids=", ".join(map(str, sorted(missing)))),
                "communities",
            )
    current = {m.community_id: m for m in user.memberships}
    before = {cid: m.is_representative for cid, m in current.items()}
    for community_id, membership in current.items():
        if community_id not in memberships:
            user.memberships.remove(membership)
    for community_id, representative in memberships.items():
        membership = current.get(community_id)
        if membership is None:
            user.memberships.append(
                Membership(community_id=community_id, is_representative=bool(representative))
            )
        else:
            membership.is_representative = bool(representative)
    after = {cid: bool(rep) for cid, rep in memberships.items()}
    return {} if before == after else {"memberships": [_json_keys(before), _json_keys(after)]}


def _json_keys(mapping: dict[int, bool]) -> dict[str, bool]:
    return {str(k): v for k, v in sorted(mapping.items())}


def create_user(data: dict, actor=None) -> User:
    """Create an account from {email, name, role, password?, community?, phone?, ...}.

    ``community`` names one community (created on first use, as the CLI promises);
    ``memberships`` maps community ids to the representative flag; ``unit_id`` is the
    unit a unit_rep speaks for.
    """
    email = valid_email(data.get("email"))
    name = _text(data.get("name"), "name", 120, label=_l("name"))
    role = _role(data.get("role"))
    phone = _text(data.get("phone"), "phone", 32, required=False, label=_l("phone"))
    password = data.get("password") or None
    if password is not None:
        _password(password, email, name)
    unit_id = _unit_id(data.get("unit_id"), role)
    if data.get("representative") and not data.get("community"):
        raise AccountError(_l("A residents' representative needs a community."), "community")
    if _email_taken(email):
        raise AccountError(
            _l("A user with email %(email)s already exists.", email=email), "email", status=409
        )
    user = User(
        email=email,
        name=name,
        role=role,
        phone=phone,
        unit_id=unit_id,
        active=bool(data.get("active", True)),
    )
    if password is not None:
        user.set_password(password)
    db.session.add(user)
    memberships = dict(data.get("memberships") or {})
    if data.get("community"):
        community = get_or_create_community(data["community"], actor)
        memberships[community.id] = bool(data.get("representative"))
    _set_memberships(user, memberships)
    db.session.flush()
    audit.record("user.create", user, actor, email=email, role=role)
    return user


def update_user(user: User, data: dict, actor) -> User:
    """Change an account's name, role, phone, active flag, unit and communities."""
    changes: dict = {}
    name = _text(data.get("name", user.name), "name", 120, label=_l("name"))
    role = _role(data.get("role", user.role))
    active = bool(data.get("active", user.active))
    phone = _text(data.get("phone", user.phone), "phone", 32, required=False, label=_l("phone"))
    unit_id = _unit_id(data.get("unit_id", user.unit_id), role)
    if actor is not None and actor.id == user.id:
        # An administrator who locks themself out may leave nobody to undo it.
        if role != user.role:
            raise AccountError(_l("You cannot change your own role."), "role")
        if not active:
            raise AccountError(_l("You cannot deactivate your own account."), "active")
    for field, value in (
        ("name", name),
        ("role", role),
        ("active", active),
        ("phone", phone),
        ("unit_id", unit_id),
    ):
        old = getattr(user, field)
        if old != value:
            changes[field] = [old, value]
            setattr(user, field, value)
    if "memberships" in data:
        changes.update(_set_memberships(user, dict(data["memberships"])))
    db.session.flush()
    if changes:
        audit.record("user.update", user, actor, **changes)
    return user


def set_user_password(user: User, password: str, actor) -> User:
    """Give ``user`` a new password; the old one, and every session and remember cookie
    of the account, stop working at once."""
    user.set_password(_password(password or "", user.email, user.name))
    user.end_sessions()
    db.session.flush()
    audit.record("user.password_reset", user, actor)
    return user


def change_own_password(user: User, current: str, new: str) -> User:
    """Change one's own password, given the current one; end every other session."""
    if not user.check_password(current or ""):
        raise AccountError(_l("The current password is wrong."), "current_password")
    if current == new:
        raise AccountError(_l("The new password must differ from the current one."), "new_password")
    user.set_password(_password(new or "", user.email, user.name, field="new_password"))
    user.end_sessions()
    db.session.flush()
    audit.record("user.password_change", user, user)
    return user


def end_sessions(user: User) -> User:
    """Sign ``user`` out everywhere: every session and remember cookie stops working."""
    user.end_sessions()
    db.session.flush()
    return user


def update_profile(user: User, data: dict, actor) -> User:
    """Change what a person may change about themself: name, language, naming in minutes."""
    values: dict = {}
    if "name" in data:
        values["name"] = _text(data["name"], "name", 120, label=_l("name"))
    if "locale" in data:
        locale = data["locale"]
        if locale is not None and locale not in LOCALES:
            raise AccountError(
                _l(
                    'Unknown language "%(locale)s"; choose one of %(locales)s.',
                    locale=locale,
                    locales=Choices(LOCALES, "language"),
                ),
                "locale",
            )
        values["locale"] = locale
    if "named_in_minutes" in data:
        values["named_in_minutes"] = bool(data["named_in_minutes"])
    changes = {}
    for field, value in values.items():
        if getattr(user, field) != value:
            changes[field] = [getattr(user, field), value]
            setattr(user, field, value)
    db.session.flush()
    if changes:
        audit.record("user.profile", user, actor, **changes)
    return user


def create_api_token(user: User, name: str | None = None, actor=None) -> str:
    """Create an API token for ``user`` and return the secret (shown once, stored hashed)."""
    if not user.active:
        raise AccountError(_l("The account %(email)s is deactivated.", email=user.email), "email")
    name = _text(name, "name", 120, required=False, label=_l("name"))
    token, token_hash = new_token()
    row = ApiToken(user_id=user.id, token_hash=token_hash, name=name)
    db.session.add(row)
    db.session.flush()
    audit.record("token.create", row, actor, user=user.id)
    return token


def revoke_api_token(token: ApiToken, actor) -> ApiToken:
    """Revoke an API token: requests bearing it are refused from now on."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
        audit.record("token.revoke", token, actor, user=token.user_id)
    return token
