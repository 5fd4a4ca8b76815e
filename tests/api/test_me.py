"""GET and PATCH /api/v1/me."""

from __future__ import annotations

from sqlalchemy import select

from consult.accounts.operations import update_user
from consult.audit.models import AuditEntry
from consult.community.models import Community
from consult.extensions import db


def test_me_lists_communities_and_where_one_represents_residents(api_as, factories):
    user = factories.make_user(email="rep@example.org", community="Hehe", representative=True)
    other = factories.make_community("Anle")
    hehe = db.session.scalar(select(Community).where(Community.name == "Hehe"))
    update_user(user, {"memberships": {hehe.id: True, other.id: False}}, None)
    db.session.commit()
    body = api_as(user).get("/api/v1/me").get_json()
    assert body["communities"] == ["Anle", "Hehe"]
    assert body["representative_of"] == ["Hehe"]
    assert body["locale"] is None and body["named_in_minutes"] is False


def test_patch_me_changes_name_language_and_consent_and_audits_it(api_as, factories):
    user = factories.make_user(name="旧名")
    api = api_as(user)
    response = api.patch(
        "/api/v1/me", json={"name": " 新名 ", "locale": "zh_CN", "named_in_minutes": True}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["locale"], body["named_in_minutes"]) == ("新名", "zh_CN", True)
    db.session.expire_all()
    assert (user.name, user.locale, user.named_in_minutes) == ("新名", "zh_CN", True)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.profile"))
    assert entry.actor_id == user.id
    assert entry.data["name"] == ["旧名", "新名"]


def test_patch_me_may_reset_the_language_to_follow_the_browser(api_as, factories):
    user = factories.make_user()
    api = api_as(user)
    api.patch("/api/v1/me", json={"locale": "en"})
    assert api.patch("/api/v1/me", json={"locale": None}).get_json()["locale"] is None


def test_a_refused_patch_changes_nothing(api_as, factories):
    user = factories.make_user(name="原名")
    api = api_as(user)
    response = api.patch("/api/v1/me", json={"locale": "zh_CN", "name": "  "})
    assert response.status_code == 422
    db.session.expire_all()
    assert (user.name, user.locale) == ("原名", None)
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.profile")) is None
