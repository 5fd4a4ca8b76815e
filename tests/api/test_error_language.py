"""One rule for the API's error messages: in the requester's language, with stable codes.

The language is chosen as for pages (?lang=, the account's setting, Accept-Language);
it applies alike to refusals of operations, errors of the API layer and the
validation messages of marshmallow.
"""

from __future__ import annotations

import pytest

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def _error(response) -> dict:
    return response.get_json()["error"]


@pytest.fixture
def cadre_api(api_as, factories):
    return api_as(factories.make_user("cadre"))


def _calls(factories):
    case = factories.make_case()
    return [
        # marshmallow: a wrong type and a missing field
        (
            "post",
            "/api/v1/issues",
            {"title": "议题", "community": case.community.name, "cases": ["1"]},
            422,
        ),
        ("post", "/api/v1/cases", {"title": "个案"}, 422),
        # a query argument out of range
        ("get", "/api/v1/cases?page=1000000000000000000", None, 422),
        # the API layer: no such object, a refusal of the route itself
        ("get", "/api/v1/cases/2147483647", None, 404),
        ("delete", "/api/v1/feeds/2147483647", None, 404),
        ("post", "/api/v1/series/2147483647/cancel", {}, 404),
        # an operation's refusal
        ("post", f"/api/v1/cases/{case.id}/escalate", {"reason": "\x07"}, 422),
        # an unknown community (a Latin name: the message quotes it back as given)
        (
            "post",
            "/api/v1/issues",
            {"title": "议题", "community": "Nowhere", "cases": [case.id]},
            422,
        ),
    ]


def _send(api, method, url, body, headers):
    if method == "get":
        return api.get(url, headers=headers)
    if method == "delete":
        return api.delete(url, headers=headers)
    return api.post(url, json=body, headers=headers)


def test_every_kind_of_error_speaks_the_requesters_language(cadre_api, factories):
    for method, url, body, status in _calls(factories):
        chinese = _send(cadre_api, method, url, body, ZH)
        english = _send(cadre_api, method, url, body, EN)
        assert chinese.status_code == english.status_code == status, (url, chinese.get_json())
        zh, en = _error(chinese), _error(english)
        # The code is the same in every language; the message is not.
        assert zh["code"] == en["code"], url
        assert _has_chinese(zh["message"]), (url, zh)
        assert not _has_chinese(en["message"].split(":")[-1]), (url, en)
        for messages in zh.get("fields", {}).values():
            assert all(_has_chinese(m) for m in messages), (url, zh)


def test_an_unknown_community_is_refused_on_its_field_in_both_languages(cadre_api, factories):
    case = factories.make_case()
    body = {"title": "议题", "community": "无此社区", "cases": [case.id]}
    for headers in (ZH, EN):
        response = cadre_api.post("/api/v1/issues", json=body, headers=headers)
        assert response.status_code == 422
        error = _error(response)
        assert error["code"] == "no_such_community"
        assert list(error["fields"]) == ["community"]
        assert "无此社区" in error["message"]
    zh = _error(cadre_api.post("/api/v1/issues", json=body, headers=ZH))
    en = _error(cadre_api.post("/api/v1/issues", json=body, headers=EN))
    assert zh["message"] != en["message"]
    assert not _has_chinese(en["message"].replace("无此社区", ""))


def test_marshmallow_messages_carry_their_values(cadre_api):
    response = cadre_api.get("/api/v1/cases?level=9", headers=ZH)
    assert response.status_code == 422
    assert _error(response)["fields"]["level"] == ["须在 1 到 4 之间。"]
    english = cadre_api.get("/api/v1/cases?level=9", headers=EN)
    assert _error(english)["fields"]["level"] == ["Must be between 1 and 4."]


def test_lang_and_the_accounts_setting_choose_the_language(api_as, factories):
    api = api_as(factories.make_user("cadre"))
    assert _has_chinese(_error(api.get("/api/v1/cases/2147483647?lang=zh_CN"))["message"])
    chooser = factories.make_user("cadre")
    chooser.locale = "zh_CN"
    from consult.extensions import db

    db.session.commit()
    response = api_as(chooser).get("/api/v1/cases/2147483647", headers=EN)
    assert _has_chinese(_error(response)["message"])


def test_401_speaks_the_language_too(client):
    response = client.get("/api/v1/me", headers=ZH)
    assert response.status_code == 401
    assert _error(response)["code"] == "unauthorized"
    assert _has_chinese(_error(response)["message"])


@pytest.mark.parametrize(
    ("url", "body", "field", "zh_name"),
    [
        ("/api/v1/cases", {"category": "gossip"}, "category", "民生诉求（concern）"),
        ("/api/v1/sessions", {"kind": "party"}, "kind", "（friday_talk）"),
    ],
)
def test_a_refused_choice_lists_the_accepted_values_by_name_and_code(
    cadre_api, factories, url, body, field, zh_name
):
    community = factories.make_community("和合社区")
    base = {"community": community.name, "title": "标题"}
    if url == "/api/v1/sessions":
        base |= {"starts_at": "2030-01-04T15:00:00+08:00", "ends_at": "2030-01-04T17:00:00+08:00"}
    chinese = cadre_api.post(url, json={**base, **body}, headers=ZH)
    english = cadre_api.post(url, json={**base, **body}, headers=EN)
    assert chinese.status_code == english.status_code == 422, chinese.get_json()
    zh, en = _error(chinese), _error(english)
    assert list(zh["fields"]) == [field]
    (message,) = zh["fields"][field]
    # The reader's name for each value, with the code a client sends.
    assert zh_name in message, message
    (english_message,) = en["fields"][field]
    assert not _has_chinese(english_message) and "(" in english_message, english_message
