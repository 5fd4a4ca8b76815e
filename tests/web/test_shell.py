"""The layout: local Bootstrap, navigation per role, language switch, error pages."""

from __future__ import annotations

import re

import pytest
from flask import abort
from flask_login import current_user
from sqlalchemy.exc import OperationalError

from consult.permissions import require
from consult.web.shell import NAV
from tests.conftest import add_test_route, csrf_token_from
from tests.web.helpers import html_of, nav_endpoints, page_lang, text_of

ZH = {"Accept-Language": "zh-CN"}

EVERYONE = {"meetings.index", "meetings.calendar"}
#: Everyone signed in finds their own sign-ups ("My sign-ups", added with that page).
SIGNED_IN = EVERYONE | {"web.stats", "attendance.my_signups"}
#: The navigation each role gets (the issue's table), when every page exists.
EXPECTED_NAV = {
    None: EVERYONE,
    # Residents follow the concerns they raised ("My concerns").
    "resident": SIGNED_IN | {"cases.my_concerns"},
    "unit_rep": SIGNED_IN | {"cases.index", "minutes.actions"},
    "secretary": SIGNED_IN | {"cases.index", "cases.issues"},
    "cadre": SIGNED_IN | {"cases.index", "cases.issues", "minutes.actions"},
    "admin": SIGNED_IN | {"cases.index", "cases.issues", "minutes.actions", "admin.index"},
}


def test_bootstrap_is_served_from_the_app(client):
    for path in (
        "/static/vendor/bootstrap/bootstrap.min.css",
        "/static/vendor/bootstrap/bootstrap.bundle.min.js",
        "/static/consult.css",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert len(response.data) > 500
        response.close()
    css = client.get("/static/vendor/bootstrap/bootstrap.min.css")
    assert css.mimetype == "text/css"
    assert b"Bootstrap" in css.data[:200]
    css.close()


def test_pages_load_nothing_from_other_sites(client):
    html = html_of(client.get("/login"))
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assert "/static/vendor/bootstrap/bootstrap.min.css" in sources
    assert "/static/vendor/bootstrap/bootstrap.bundle.min.js" in sources


def test_layout_is_responsive(client):
    html = html_of(client.get("/"))
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'class="navbar-toggler"' in html


@pytest.mark.parametrize("role", list(EXPECTED_NAV))
def test_navigation_depends_on_the_role(app, client, factories, login_as, role):
    if role is not None:
        login_as(factories.make_user(role))
    response = client.get("/")
    assert response.status_code == 200
    assert nav_endpoints(response) == EXPECTED_NAV[role]


def test_representatives_also_get_the_issues_to_rate(app, client, factories, login_as):
    login_as(factories.make_user(representative=True))
    assert nav_endpoints(client.get("/")) == EXPECTED_NAV["resident"] | {"cases.to_rate"}


def test_every_navigation_entry_is_a_page(app):
    # A renamed or removed page must fail here, not drop silently out of the menu.
    from consult.web.shell import SHORTCUTS

    missing = {e.endpoint for e in (*NAV, *SHORTCUTS) if e.endpoint not in app.view_functions}
    assert missing == set()


def test_navigation_marks_the_current_page(client, factories, login_as):
    login_as(factories.make_user("resident"))
    html = html_of(client.get("/stats"))
    assert re.search(r'class="nav-link active" href="/stats"\s+data-endpoint="web.stats"', html)
    assert 'aria-current="page">Statistics</a>' in html


def test_navigation_is_translated(app, client, factories, login_as):
    login_as(factories.make_user("admin"))
    text = text_of(client.get("/", headers=ZH))
    for label in ("会议", "日历", "案件", "议题", "任务", "统计", "系统管理", "退出登录"):
        assert label in text


def test_signed_in_user_sees_name_role_and_sign_out(client, factories, login_as):
    user = factories.make_user("secretary", name="王芳")
    login_as(user)
    response = client.get("/", headers=ZH)
    html = html_of(response)
    assert "王芳" in text_of(response) and "记录员" in text_of(response)
    form = re.search(r'<form method="post" action="/logout"[^>]*>(.*?)</form>', html, re.S)
    assert form and 'name="csrf_token"' in form.group(1)
    assert "登录" not in re.sub("退出登录", "", text_of(response).split("近期会议")[0])


def test_visitor_sees_a_sign_in_link(client):
    html = html_of(client.get("/"))
    assert 'href="/login"' in html
    assert 'action="/logout"' not in html


def test_flash_messages_are_bootstrap_alerts(client, factories, login_as):
    login_as(factories.make_user("resident"))
    html = html_of(client.get("/"))
    assert re.search(r'<div class="alert alert-success[^"]*" role="alert">\s*Welcome', html)


def test_not_found_page_is_inside_the_layout(client):
    response = client.get("/no/such/page", headers=ZH)
    assert response.status_code == 404
    html = html_of(response)
    assert 'class="navbar' in html and 'data-status="404"' in html
    assert page_lang(response) == "zh-CN"
    assert "页面不存在" in text_of(response) and 'href="/"' in html


def test_forbidden_page_is_inside_the_layout(app, client, factories, login_as):
    def admin_only():
        require(current_user, "admin.manage")
        return "secret"

    add_test_route(app, "/_test/admin-only", "admin_only", admin_only)
    login_as(factories.make_user("resident"))
    response = client.get("/_test/admin-only")
    assert response.status_code == 403
    html = html_of(response)
    assert 'class="navbar' in html and 'data-status="403"' in html
    assert "Not allowed" in text_of(response)
    assert "secret" not in text_of(response)
    zh = client.get("/_test/admin-only", headers=ZH)
    assert "无权操作" in text_of(zh)


def test_error_page_shows_a_message_of_its_own(app, client):
    add_test_route(app, "/_test/gone", "gone", lambda: abort(404, "That session was removed."))
    response = client.get("/_test/gone")
    assert response.status_code == 404
    assert "That session was removed." in text_of(response)
    # Werkzeug's stock English text is not repeated under the page's own message.
    assert "The requested URL was not found" not in text_of(client.get("/nothing-here"))


@pytest.mark.parametrize(
    ("path", "with_token", "status", "title"),
    [
        ("/stats", True, 405, "Not possible here"),
        ("/login", False, 400, "Bad request"),
    ],
)
def test_other_errors_use_the_generic_page(client, path, with_token, status, title):
    data = {"csrf_token": csrf_token_from(html_of(client.get("/login")))} if with_token else {}
    response = client.post(path, data=data)
    assert response.status_code == status
    html = html_of(response)
    assert f'data-status="{status}"' in html and 'class="navbar' in html
    assert title in text_of(response)
    assert "CSRF" not in text_of(response)


def test_unexpected_error_gives_the_500_page(app, client):
    def broken():
        raise RuntimeError("a bug")

    add_test_route(app, "/_test/broken", "broken", broken)
    response = client.get("/_test/broken", headers=ZH)
    assert response.status_code == 500
    html = html_of(response)
    assert 'class="navbar' in html and 'data-status="500"' in html
    assert "出错了" in text_of(response)
    assert "a bug" not in html


@pytest.mark.real_commits  # the second application must reach its own (missing) database
def test_500_page_renders_when_the_database_is_down(
    app_config, client, factories, login_as, tmp_path
):
    from consult import create_app

    login_as(factories.make_user("cadre"))
    client.get("/")  # shows the welcome message (kept in the cookie, it would show again)
    cookie = client.get_cookie("session").value
    app_config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/missing-dir/consult.db"
    broken = create_app(app_config)
    with broken.app_context():
        from sqlalchemy import text

        from consult.extensions import db

        with pytest.raises(OperationalError):
            db.session.execute(text("SELECT 1"))
        db.session.remove()
    browser = broken.test_client()
    browser.set_cookie("session", cookie)
    response = browser.get("/", headers=ZH)
    assert response.status_code == 500
    html = html_of(response)
    assert 'data-status="500"' in html and "出错了" in text_of(response)
    assert page_lang(response) == "zh-CN"
    # The layout asked nothing of the database: no account menu, no role-dependent links.
    assert "data-user=" not in html and 'action="/logout"' not in html
    assert "data-endpoint=" not in html


def test_error_pages_keep_the_sign_out_form_valid(client, factories, login_as):
    login_as(factories.make_user("resident"))
    html = html_of(client.get("/no/such/page"))
    token = csrf_token_from(html)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
