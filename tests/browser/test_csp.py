"""Every page under its Content-Security-Policy in chromium: no violation in the console."""

from __future__ import annotations

import pytest

from tests.conftest import login
from tests.web.pages_world import build_world, page_urls

pytestmark = pytest.mark.browser


def _html_pages(app, admin, ids, tokens) -> list[str]:
    client = app.test_client()
    assert login(client, admin.email).status_code == 302
    return [url for url in page_urls(app, ids, tokens) if client.get(url).mimetype == "text/html"]


def _sign_in(page, email):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("secret-pw")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def _watch(page) -> list[str]:
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: seen.append(f"{page.url}: {error}"))
    return seen


def test_the_detector_sees_a_violation(page, live_server, factories):
    seen = _watch(page)
    page.goto("/login")
    page.evaluate("""() => {
        const b = document.createElement('button');
        b.id = 'probe'; b.setAttribute('onclick', 'document.title = "ran"');
        document.body.append(b);
    }""")
    page.click("#probe")
    page.wait_for_function("() => true")
    assert page.title() != "ran"
    assert any("Content Security Policy" in line for line in seen), seen


def test_no_page_violates_the_policy(app, page, live_server, factories):
    admin, ids, tokens = build_world(factories)
    urls = _html_pages(app, admin, ids, tokens)
    assert len(urls) > 35
    seen = _watch(page)
    _sign_in(page, admin.email)
    for url in urls:
        page.goto(url, wait_until="load")
        # The page's own script ran (Bootstrap's bundle defines window.bootstrap).
        assert page.evaluate("() => typeof window.bootstrap") in ("object", "undefined"), url
    assert seen == []


def test_the_feed_address_is_selected_on_focus_without_inline_script(
    page, live_server, factories, app
):
    admin = factories.make_user("admin", community=None)
    _sign_in(page, admin.email)
    seen = _watch(page)
    page.goto("/me/calendars")
    # The new page's scripts are in place (the "load" event) before the field is focused:
    # on a busy machine, a focus before consult.js runs would go unseen.
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button").filter(has_text="Create").first.click()
    field = page.locator("[data-select-on-focus]")
    field.wait_for()
    field.focus()
    page.wait_for_function(
        "() => { const f = document.activeElement; "
        "return f.value && f.selectionStart === 0 "
        "&& f.selectionEnd === f.value.length; }"
    )
    assert seen == []
