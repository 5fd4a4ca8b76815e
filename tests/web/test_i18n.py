"""Interface language: Accept-Language, ?lang= (remembered), the account's choice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import render_template_string

from consult.extensions import db
from tests.web.helpers import html_of, page_lang, text_of

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def test_chinese_browser_gets_the_chinese_sign_in_page(client):
    response = client.get("/login", headers=ZH)
    assert response.status_code == 200
    assert page_lang(response) == "zh-CN"
    text = text_of(response)
    assert "登录" in text and "电子邮箱" in text and "密码" in text and "保持登录" in text
    assert "Sign in" not in text


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh-CN", "zh-CN"),
        ("zh-cn,en;q=0.5", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hans-CN,en;q=0.5", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("fr,zh;q=0.5", "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("en-GB", "en"),
        ("de,en;q=0.8,zh;q=0.5", "en"),
        ("fr-FR", "en"),
        ("*", "en"),
        ("", "en"),
        ("zh;q=0", "en"),
        ("not a language header;;;q=x", "en"),
    ],
)
def test_accept_language_chooses_the_language(client, header, lang):
    response = client.get("/login", headers={"Accept-Language": header})
    assert response.status_code == 200
    assert page_lang(response) == lang


def test_lang_parameter_switches_and_is_remembered(client):
    switched = client.get("/login?lang=en", headers=ZH)
    assert page_lang(switched) == "en"
    assert "Sign in" in text_of(switched)
    # The next request, without ?lang=, keeps the choice over the browser's language.
    again = client.get("/login", headers=ZH)
    assert page_lang(again) == "en"
    back = client.get("/?lang=zh_CN", headers=EN)
    assert page_lang(back) == "zh-CN"
    assert page_lang(client.get("/login", headers=EN)) == "zh-CN"


def test_lang_parameter_accepts_the_tag_spelling(client):
    assert page_lang(client.get("/login?lang=zh-cn", headers=EN)) == "zh-CN"


@pytest.mark.parametrize("value", ["fr", "", "zh_TW", "../../etc/passwd", "en" * 100, "ZH_CN;"])
def test_unknown_lang_parameter_is_ignored(client, value):
    response = client.get("/login", query_string={"lang": value}, headers=ZH)
    assert response.status_code == 200
    assert page_lang(response) == "zh-CN"
    with client.session_transaction() as session:
        assert "lang" not in session


def test_unknown_lang_parameter_keeps_the_remembered_choice(client):
    client.get("/login?lang=en", headers=ZH)
    assert page_lang(client.get("/login?lang=klingon", headers=ZH)) == "en"


def test_account_language_applies_after_sign_in(client, factories, login_as):
    user = factories.make_user("resident")
    user.locale = "zh_CN"
    db.session.commit()
    assert page_lang(client.get("/login", headers=EN)) == "en"
    login_as(user)
    assert page_lang(client.get("/", headers=EN)) == "zh-CN"
    # ?lang= still wins, and is remembered over the account's choice.
    assert page_lang(client.get("/?lang=en", headers=EN)) == "en"
    assert page_lang(client.get("/", headers=EN)) == "en"


def test_choice_made_before_sign_in_survives_the_new_session(client, factories, login_as):
    user = factories.make_user("resident")
    client.get("/login?lang=zh_CN", headers=EN)
    login_as(user)
    assert page_lang(client.get("/", headers=EN)) == "zh-CN"


def test_language_links_keep_the_path_and_query(client, factories, login_as):
    login_as(factories.make_user("cadre"))
    html = html_of(client.get("/stats?source=grid&lang=en"))
    assert 'href="/stats?source=grid&amp;lang=zh_CN"' in html
    assert 'href="/stats?source=grid&amp;lang=en"' in html


def test_profile_sets_the_account_language(client, factories, login_as):
    from tests.conftest import csrf_token_from

    user = factories.make_user("resident")
    login_as(user)
    client.get("/?lang=en", headers=EN)  # a choice remembered in the session
    page = client.get("/me", headers=EN)
    assert page.status_code == 200
    token = csrf_token_from(html_of(page))
    response = client.post("/me", data={"locale": "zh_CN", "csrf_token": token}, headers=EN)
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(user), user.id).locale == "zh_CN"
    # The account's new choice wins over the language picked earlier in the session.
    followed = client.get("/me", headers=EN)
    assert page_lang(followed) == "zh-CN"
    assert "您的设置已保存。" in text_of(followed)


def test_profile_can_return_to_the_browser_language(client, factories, login_as):
    from tests.conftest import csrf_token_from

    user = factories.make_user("resident")
    user.locale = "zh_CN"
    db.session.commit()
    login_as(user)
    token = csrf_token_from(html_of(client.get("/me")))
    assert client.post("/me", data={"locale": "", "csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(type(user), user.id).locale is None
    assert page_lang(client.get("/", headers=EN)) == "en"


@pytest.mark.parametrize("value", ["fr", "zh_TW", "x" * 300])
def test_profile_refuses_an_unknown_language(client, factories, login_as, value):
    from tests.conftest import csrf_token_from

    user = factories.make_user("resident")
    login_as(user)
    token = csrf_token_from(html_of(client.get("/me")))
    response = client.post("/me", data={"locale": value, "csrf_token": token}, headers=EN)
    assert response.status_code == 200
    assert "is-invalid" in html_of(response)
    db.session.expire_all()
    assert db.session.get(type(user), user.id).locale is None


def test_profile_post_without_csrf_token_is_refused(client, factories, login_as):
    user = factories.make_user("resident")
    login_as(user)
    assert client.post("/me", data={"locale": "en"}).status_code == 400
    db.session.expire_all()
    assert db.session.get(type(user), user.id).locale is None


def test_session_times_are_shown_in_the_session_zone(app):
    when = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)  # a Friday, 15:00 in Shanghai
    # A fresh application context per rendering: each is a request of its own.
    with app.app_context(), app.test_request_context("/?lang=zh_CN"):
        shanghai = render_template_string("{{ t|session_time('Asia/Shanghai') }}", t=when)
    assert "2026年12月4日" in shanghai and "星期五" in shanghai and "15:00" in shanghai
    assert "Asia/Shanghai" not in shanghai  # the installation's own zone goes unsaid
    with app.app_context(), app.test_request_context("/?lang=en"):
        paris = render_template_string("{{ t|session_time('Europe/Paris') }}", t=when)
        unknown = render_template_string("{{ t|session_time('Mars/Olympus') }}", t=when)
    assert "December 4, 2026" in paris and "8:00" in paris and "(Europe/Paris)" in paris
    assert "3:00" in unknown  # an unknown zone falls back to the installation's


@pytest.mark.parametrize(
    ("vocabulary", "value", "zh"),
    [
        ("kind", "roundtable", "圆桌会"),
        ("kind", "friday_talk", "周五说事日"),
        ("kind", "joint_meeting", "联席会议"),
        ("kind", "sentiment_talk", "民情恳谈"),
        ("kind", "deliberation", "议事协商会"),
        ("kind", "mediation", "调解"),
        ("role", "secretary", "记录员"),
        ("role", "unit_rep", "共建单位代表"),
        ("level", 1, "网格员（即说即办）"),
        ("level", "4", "镇党委（协调督办）"),
    ],
)
def test_vocabulary_labels_are_translated(app, vocabulary, value, zh):
    with app.app_context(), app.test_request_context("/?lang=zh_CN"):
        rendered = render_template_string("{{ v|label(voc) }}", v=value, voc=vocabulary)
    assert rendered == zh


def test_every_vocabulary_value_has_a_label():
    from consult import enums
    from consult.i18n import LABELS

    expected = {
        "role": enums.Role,
        "kind": enums.SessionKind,
        "category": enums.CaseCategory,
        "source": enums.CaseSource,
        "level": tuple(str(level) for level in enums.CaseLevel),
        "unit_kind": enums.UnitKind,
        "session_status": enums.SessionStatus,
    }
    for vocabulary, values in expected.items():
        assert set(LABELS[vocabulary]) == set(values), vocabulary


#: Where the shell's messages come from (the catalogue holds every team's).
SHELL_SOURCES = (
    "consult/i18n.py",
    "consult/web/",
    "consult/accounts/views.py",
    "consult/accounts/forms.py",
    "templates/base.html",
    "templates/errors/",
    "templates/web/",
    "templates/accounts/",
)


def test_the_shell_messages_have_chinese_translations():
    from pathlib import Path

    from babel.messages.pofile import read_po

    po = Path(__file__).parents[2] / "consult/translations/zh_CN/LC_MESSAGES/messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh)
    ours = [
        m
        for m in catalog
        if m.id and any(path.startswith(SHELL_SOURCES) for path, _ in m.locations)
    ]
    assert len(ours) > 100
    assert [m.id for m in ours if not m.string or m.fuzzy] == []
