"""Account operations: what they write, what they audit, and what they refuse."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from consult.accounts.models import Membership, User
from consult.accounts.operations import (
    AccountError,
    create_user,
    set_user_password,
    update_user,
    valid_email,
)
from consult.audit.models import AuditEntry
from consult.extensions import db


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Zhang.San@Example.ORG", "zhang.san@example.org"),
        (" a@b.org ", "a@b.org"),
        ("grid@jiedao", "grid@jiedao"),
        ("张三@例子.中国", "张三@例子.中国"),
    ],
)
def test_email_addresses_are_stored_lower_cased(raw, stored):
    assert valid_email(raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "no-at-sign",
        "@example.org",
        "a@",
        "a b@c.org",
        "a@@b.org",
        "a@" + "b" * 250 + ".org",
    ],
)
def test_malformed_email_addresses_are_refused(raw):
    with pytest.raises(AccountError) as caught:
        valid_email(raw)
    assert caught.value.field == "email"


def test_create_user_with_memberships_and_unit(factories):
    hehe, anle = factories.make_community("Hehe"), factories.make_community("Anle")
    unit = factories.make_unit("城关供电所", kind="public_institution")
    admin = factories.make_user(role="admin")
    user = create_user(
        {
            "email": "rep@example.org",
            "name": "孙丽",
            "role": "unit_rep",
            "unit_id": unit.id,
            "memberships": {hehe.id: True, anle.id: False},
        },
        admin,
    )
    db.session.commit()
    assert user.unit_id == unit.id
    assert {(m.community_id, m.is_representative) for m in user.memberships} == {
        (hehe.id, True),
        (anle.id, False),
    }
    entry = db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "user.create", AuditEntry.object_id == user.id
        )
    )
    assert entry.actor_id == admin.id


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"role": "resident", "unit_id": "UNIT"}, "unit"),
        ({"role": "unit_rep", "unit_id": 999999}, "unit"),
        ({"memberships": {999999: False}}, "communities"),
        ({"role": "boss"}, "role"),
        ({"phone": "1" * 33}, "phone"),
        ({"password": "x" * 201}, "password"),
    ],
    ids=[
        "unit-for-non-rep",
        "unknown-unit",
        "unknown-community",
        "unknown-role",
        "long-phone",
        "long-password",
    ],
)
def test_create_user_refuses_and_writes_nothing(factories, changes, field):
    unit = factories.make_unit()
    data = {"email": "new@example.org", "name": "钱程", "role": "resident", **changes}
    if data.get("unit_id") == "UNIT":
        data["unit_id"] = unit.id
    with pytest.raises(AccountError) as caught:
        create_user(data)
    db.session.rollback()
    assert caught.value.field == field
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_duplicate_email_is_a_conflict(factories):
    factories.make_user(email="taken@example.org")
    with pytest.raises(AccountError) as caught:
        create_user({"email": "Taken@Example.org", "name": "钱程", "role": "resident"})
    assert (caught.value.field, caught.value.status) == ("email", 409)


def test_update_user_applies_and_audits_the_changes(factories):
    admin = factories.make_user(role="admin")
    user = factories.make_user(role="resident", community="Hehe", name="吴敏")
    anle = factories.make_community("Anle")
    update_user(user, {"name": "吴敏华", "role": "cadre", "memberships": {anle.id: True}}, admin)
    db.session.commit()
    db.session.expire_all()
    assert (user.name, user.role) == ("吴敏华", "cadre")
    assert [(m.community.name, m.is_representative) for m in user.memberships] == [("Anle", True)]
    # The user's only (the administrator is town-level: no membership).
    assert db.session.scalar(select(func.count(Membership.id))) == 1
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.update"))
    assert entry.data["name"] == ["吴敏", "吴敏华"]
    assert entry.data["role"] == ["resident", "cadre"]
    assert "memberships" in entry.data


def test_update_user_without_change_writes_no_audit_entry(factories):
    admin = factories.make_user(role="admin")
    user = factories.make_user(name="吴敏")
    update_user(user, {"name": "吴敏"}, admin)
    db.session.commit()
    assert "user.update" not in audit_actions()


@pytest.mark.parametrize(
    ("changes", "field"), [({"role": "cadre"}, "role"), ({"active": False}, "active")]
)
def test_an_admin_cannot_lock_themself_out(factories, changes, field):
    admin = factories.make_user(role="admin")
    with pytest.raises(AccountError) as caught:
        update_user(admin, changes, admin)
    db.session.rollback()
    assert caught.value.field == field
    assert (admin.role, admin.active) == ("admin", True)


def test_set_user_password_replaces_the_old_one(factories):
    admin = factories.make_user(role="admin")
    user = factories.make_user()
    set_user_password(user, "a-new-password", admin)
    db.session.commit()
    assert user.check_password("a-new-password")
    assert not user.check_password("secret-pw")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.password_reset"))
    assert entry.actor_id == admin.id
    assert "a-new-password" not in str(entry.data)


@pytest.mark.parametrize("password", ["", "short", "x" * 201])
def test_set_user_password_refuses_unusable_passwords(factories, password):
    user = factories.make_user()
    with pytest.raises(AccountError):
        set_user_password(user, password, None)
    db.session.rollback()
    assert user.check_password("secret-pw")
