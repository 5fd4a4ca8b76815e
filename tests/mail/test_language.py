"""Mail and calendar texts are in the recipient's language: their setting, else
DEFAULT_LANGUAGE (zh_CN unless configured), never the sender's page language.

Read back from the real SMTP sink; this module runs with the installation's own default.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from consult.extensions import db
from tests.calendar.helpers import parse


@pytest.fixture
def app_config(app_config):
    """The installation's defaults: no DEFAULT_LANGUAGE given (so zh_CN)."""
    config = dict(app_config)
    config.pop("DEFAULT_LANGUAGE", None)
    return config


def _text(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def _person(factories, name, locale, role="resident"):
    user = factories.make_user(role, name=name)
    user.locale = locale
    db.session.commit()
    return user


def test_the_default_language_is_chinese(app):
    assert app.config["DEFAULT_LANGUAGE"] == "zh_CN"


def test_reminders_composed_outside_a_request_follow_each_recipient(app, factories, mailbox):
    unset = _person(factories, "张秀英", None)
    chinese = _person(factories, "王丽华", "zh_CN")
    english = _person(factories, "Anna Li", "en")
    meeting = factories.make_meeting(title="周五说事日", starts_in=timedelta(hours=10))
    for person in (unset, chinese, english):
        factories.make_signup(meeting, person)
    received = {str(m["To"]).split("<")[-1].rstrip(">"): m for m in mailbox.send()}
    assert set(received) == {unset.email, chinese.email, english.email}
    for person in (unset, chinese):
        msg = received[person.email]
        assert str(msg["Subject"]).startswith("活动提醒：周五说事日")
        body = _text(msg)
        assert (
            "Dear" not in body
            and "Reminder" not in body
            and "张秀英" in _text(received[unset.email])
        )
    english_msg = received[english.email]
    assert str(english_msg["Subject"]).startswith("Reminder: 周五说事日")
    assert "Dear Anna Li," in _text(english_msg)


def test_invitations_follow_the_recipient_not_the_sender(app, factories, api_as, mailbox):
    cadre = _person(factories, "Organiser", "en", role="cadre")
    english = _person(factories, "Anna Li", "en")
    unset = _person(factories, "张秀英", None)
    meeting = factories.make_meeting(title="联席会议", organiser=cadre)
    response = api_as(cadre).post(
        f"/api/v1/sessions/{meeting.id}/invitations",
        json={"emails": [english.email, unset.email, "guest@example.org"]},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 202
    received = {str(m["To"]).split("<")[-1].rstrip(">"): m for m in mailbox.send()}
    assert str(received[english.email]["Subject"]).startswith("Invitation: 联席会议")
    # An account without a choice and an invitee without an account: the default.
    for address in (unset.email, "guest@example.org"):
        assert str(received[address]["Subject"]).startswith("邀请：联席会议"), address
        assert "Invitation" not in _text(received[address])


def test_a_feed_is_named_in_its_owners_language(app, factories, api_as, client):
    owner = _person(factories, "王丽华", None, role="cadre")
    response = api_as(owner).post(
        "/api/v1/feeds", json={"scope": "mine"}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 201
    calendar = parse(client.get(response.json["url"]).data)
    assert str(calendar["X-WR-CALNAME"]) == "我的议事会议（王丽华）"
    owner.locale = "en"
    db.session.commit()
    calendar = parse(client.get(response.json["url"]).data)
    assert str(calendar["X-WR-CALNAME"]) == "My sessions (王丽华)"


@pytest.mark.parametrize(
    ("accept", "lang"),
    [("fr-FR,de;q=0.5", "zh-CN"), (None, "zh-CN"), ("en-GB", "en"), ("zh-TW", "zh-CN")],
)
def test_pages_for_browsers_naming_no_supported_language(client, accept, lang):
    headers = {"Accept-Language": accept} if accept else {}
    page = client.get("/login", headers=headers).get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
