"""Accounts in the administration: list, create, edit, reset the password, revoke tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from consult.accounts.models import ApiToken, User
from consult.extensions import db
from tests.admin.conftest import audit_count, text_of
from tests.conftest import login


def new_account(**changes) -> dict:
    return {
        "email": "li.na@example.org",
        "name": "李娜",
        "role": "resident",
        "password": "",
        "phone": "",
        "unit": "0",
        **changes,
    }


def users_named(name: str) -> int:
    return db.session.scalar(select(func.count(User.id)).where(User.name == name))


def test_the_list_searches_by_name_or_email_and_filters_by_role(as_admin, factories):
    factories.make_user(name="张伟", email="zhang.wei@example.org", role="cadre", password=None)
    factories.make_user(name="王芳", email="wang.fang@example.org", password=None)
    page = text_of(as_admin.get("/admin/users?q=zhang"))
    assert "张伟" in page and "王芳" not in page
    page = text_of(as_admin.get("/admin/users?q=王"))
    assert "王芳" in page and "张伟" not in page
    page = text_of(as_admin.get("/admin/users?role=cadre"))
    assert "张伟" in page and "王芳" not in page
    # A search for LIKE's wildcards finds them literally, not everyone.
    assert "No account matches." in text_of(as_admin.get("/admin/users?q=%25"))
    assert "No account matches." in text_of(as_admin.get("/admin/users?q=_"))


def test_the_list_is_paginated(as_admin, factories):
    for n in range(25):
        factories.make_user(name=f"居民{n:02d}", password=None)
    first, second = as_admin.get("/admin/users"), as_admin.get("/admin/users?page=2")
    assert text_of(first).count('data-account="') == 20
    # 25 residents and the administrator.
    assert text_of(second).count('data-account="') == 6
    assert "?page=2" in text_of(first)


@pytest.mark.parametrize("page", ["0", "-3", "abc", "99999999999999999999999", "1.5", ""])
def test_odd_page_numbers_give_a_page_not_an_error(as_admin, page):
    response = as_admin.get(f"/admin/users?page={page}")
    assert response.status_code == 200


def test_create_an_account_then_sign_in_with_it(as_admin, post, factories, client):
    community = factories.make_community("Hehe")
    response = post(
        "/admin/users/new",
        new_account(
            password="long-enough",
            communities=[str(community.id)],
            representative_of=[str(community.id)],
        ),
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "li.na@example.org"))
    assert response.headers["Location"] == f"/admin/users/{user.id}"
    assert [(m.community.name, m.is_representative) for m in user.memberships] == [("Hehe", True)]
    assert audit_count("user.create") == 2  # the administrator's own, then this one
    assert "Account li.na@example.org created." in text_of(client.get(response.headers["Location"]))
    client.post(
        "/logout", data={"csrf_token": client.get("/_test/csrf-token").get_data(as_text=True)}
    )
    assert login(client, "li.na@example.org", "long-enough").status_code == 302


def test_create_a_unit_representative(as_admin, post, factories):
    unit = factories.make_unit("城关镇供销社", kind="enterprise")
    response = post("/admin/users/new", new_account(role="unit_rep", unit=str(unit.id)))
    assert response.status_code == 302
    assert db.session.scalar(select(User).where(User.role == "unit_rep")).unit_id == unit.id


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"email": "admin@example.org"}, "already exists"),
        ({"email": "ADMIN@example.org"}, "already exists"),
        ({"email": "li.na"}, "Not an email address"),
        ({"email": ""}, "This field is required."),
        ({"name": ""}, "This field is required."),
        ({"name": "x" * 121}, "120"),
        ({"name": "a\x01b"}, "Control characters"),
        ({"password": "short"}, "8"),
        ({"role": "mayor"}, "Not a valid choice"),
        ({"role": "unit_rep"}, "Choose the unit this representative speaks for."),
        ({"unit": "UNIT"}, "Only a unit representative speaks for a unit."),
        ({"unit": "abc"}, "Invalid Choice"),
        ({"communities": ["99999"]}, "valid choice"),
        ({"representative_of": ["COMMUNITY"]}, "must belong to the community"),
        ({"phone": "1" * 40}, "32"),
    ],
    ids=[
        "duplicate",
        "duplicate-case",
        "malformed-email",
        "no-email",
        "no-name",
        "long-name",
        "control-char",
        "short-password",
        "unknown-role",
        "rep-without-unit",
        "unit-for-resident",
        "unit-not-a-number",
        "unknown-community",
        "representative-elsewhere",
        "long-phone",
    ],
)
def test_create_refuses_bad_input_on_its_field_and_keeps_the_input(
    as_admin, post, factories, changes, message
):
    unit, community = factories.make_unit(), factories.make_community("Hehe")
    changes = {k: str(unit.id) if v == "UNIT" else v for k, v in changes.items()}
    changes = {k: [str(community.id)] if v == ["COMMUNITY"] else v for k, v in changes.items()}
    before = db.session.scalar(select(func.count(User.id)))
    response = post("/admin/users/new", new_account(**changes))
    assert response.status_code == 200
    page = text_of(response)
    assert message in page
    assert "is-invalid" in page
    assert db.session.scalar(select(func.count(User.id))) == before
    if changes.get("name", "李娜") == "李娜":
        assert 'value="李娜"' in page


def test_edit_role_name_communities_and_active_flag(as_admin, post, factories):
    hehe, anle = factories.make_community("Hehe"), factories.make_community("Anle")
    user = factories.make_user(name="陈明", community="Hehe", password=None)
    response = post(
        f"/admin/users/{user.id}",
        {
            "name": "陈明亮",
            "role": "secretary",
            "phone": "13800000000",
            "communities": [str(hehe.id), str(anle.id)],
            "representative_of": [str(anle.id)],
            "unit": "0",  # active left unchecked: deactivate
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (user.name, user.role, user.active, user.phone) == (
        "陈明亮",
        "secretary",
        False,
        "13800000000",
    )
    assert {(m.community.name, m.is_representative) for m in user.memberships} == {
        ("Hehe", False),
        ("Anle", True),
    }
    assert audit_count("user.update") == 1


def test_the_edit_form_shows_the_current_values(as_admin, factories):
    unit = factories.make_unit("城关镇卫生院", kind="public_institution")
    user = factories.make_user(
        name="周红", role="unit_rep", community="Hehe", password=None, representative=True
    )
    user.unit_id = unit.id
    db.session.commit()
    page = text_of(as_admin.get(f"/admin/users/{user.id}"))
    assert 'value="周红"' in page
    assert (
        f'<option selected value="{unit.id}">' in page
        or f'<option value="{unit.id}" selected>' in page
    )


def test_an_administrator_cannot_demote_or_deactivate_themself(as_admin, post, admin):
    response = post(
        f"/admin/users/{admin.id}", {"name": "管理员", "role": "cadre", "active": "y", "unit": "0"}
    )
    assert response.status_code == 200
    assert "You cannot change your own role." in text_of(response)
    response = post(f"/admin/users/{admin.id}", {"name": "管理员", "role": "admin", "unit": "0"})
    assert "You cannot deactivate your own account." in text_of(response)
    db.session.expire_all()
    assert (admin.role, admin.active) == ("admin", True)


def test_editing_an_unknown_account_is_404(as_admin):
    assert as_admin.get("/admin/users/999999").status_code == 404


def test_reset_a_password(as_admin, post, factories, client):
    user = factories.make_user(email="old@example.org")
    response = post(
        f"/admin/users/{user.id}/password", {"password": "brand-new-pw", "confirm": "brand-new-pw"}
    )
    assert response.status_code == 302
    assert audit_count("user.password_reset") == 1
    db.session.expire_all()
    assert user.check_password("brand-new-pw") and not user.check_password("secret-pw")


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("brand-new-pw", "brand-new-px", "The passwords differ."),
        ("short", "short", "8"),
        ("", "", "This field is required."),
    ],
)
def test_a_refused_password_reset_changes_nothing(
    as_admin, post, factories, password, confirm, message
):
    user = factories.make_user(email="old@example.org")
    response = post(f"/admin/users/{user.id}/password", {"password": password, "confirm": confirm})
    assert response.status_code == 200
    assert message in text_of(response)
    db.session.expire_all()
    assert user.check_password("secret-pw")
    assert audit_count("user.password_reset") == 0


def test_revoke_an_api_token(as_admin, post, factories, api_as):
    user = factories.make_user(password=None)
    api = api_as(user)
    assert api.get("/api/v1/me").status_code == 200
    token = db.session.scalar(select(ApiToken))
    assert f'data-token="{token.id}"' in text_of(as_admin.get(f"/admin/users/{user.id}"))
    response = post(f"/admin/users/{user.id}/tokens/{token.id}/revoke")
    assert response.status_code == 302
    assert api.get("/api/v1/me").status_code == 401
    assert audit_count("token.revoke") == 1


def test_a_token_is_revoked_only_through_its_own_account(as_admin, post, factories, api_as):
    owner, other = factories.make_user(password=None), factories.make_user(password=None)
    api_as(owner)
    token = db.session.scalar(select(ApiToken))
    assert post(f"/admin/users/{other.id}/tokens/{token.id}/revoke").status_code == 404
    db.session.expire_all()
    assert token.revoked_at is None
