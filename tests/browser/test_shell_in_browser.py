"""The shell in a real browser: sign in, switch to Chinese, sign out."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def test_cadre_signs_in_switches_to_chinese_and_signs_out(page, live_server, factories):
    cadre = factories.make_user("cadre", name="张伟", email="zhang.wei@example.org")

    page.goto("/login")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_label("Email").fill(cadre.email)
    page.get_by_label("Password").fill("secret-pw")
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url(live_server.url_for("/"))
    assert page.get_by_role("alert").filter(has_text="Welcome, 张伟.").is_visible()
    nav = page.get_by_role("navigation", name="Main navigation")
    assert nav.get_by_role("link", name="Statistics").is_visible()
    assert nav.get_by_role("link", name="Cases").is_visible()
    assert nav.get_by_role("link", name="Administration").count() == 0

    page.get_by_role("link", name="中文").click()
    page.wait_for_url(re.compile(r"\?lang=zh_CN$"))
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    nav = page.get_by_role("navigation", name="主导航")
    for label in ("会议", "案件", "议题", "统计"):
        assert nav.get_by_role("link", name=label, exact=True).is_visible(), label
    assert nav.get_by_text("社区干部").is_visible()

    # The choice is remembered: another page, without ?lang=, is still in Chinese.
    nav.get_by_role("link", name="统计", exact=True).click()
    page.wait_for_url(live_server.url_for("/stats"))
    assert page.get_by_role("heading", name="统计", exact=True).is_visible()

    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(live_server.url_for("/"))
    assert page.get_by_role("alert").filter(has_text="您已退出登录。").is_visible()
    assert page.get_by_role("link", name="登录").first.is_visible()
    assert page.get_by_role("button", name="退出登录").count() == 0


def test_menu_folds_on_a_phone_screen(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 375, "height": 740}
    )
    try:
        page = context.new_page()
        page.goto("/")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        menu_link = page.locator("#main-nav").get_by_role("link", name="会议", exact=True)
        assert not menu_link.is_visible()
        page.get_by_role("button", name="显示菜单").click()
        menu_link.wait_for(state="visible")  # Bootstrap's own script, served locally
    finally:
        context.close()
