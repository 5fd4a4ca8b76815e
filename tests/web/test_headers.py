"""Security headers on every page, walked route by route."""

from __future__ import annotations

import re

import pytest

from tests.web.pages_world import build_world, page_urls

#: Path prefixes that carry a secret token in the URL.
NO_REFERRER = ("/calendar/", "/rsvp/", "/checkin/")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


@pytest.fixture
def world(app, factories):
    return build_world(factories)


def test_every_page_sends_the_security_headers(app, client, world, login_as):
    admin, ids, tokens = world
    login_as(admin)
    urls = page_urls(app, ids, tokens)
    assert len(urls) > 40
    html_pages = 0
    for url in urls:
        response = client.get(url)
        assert response.status_code < 500, url
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", url
        if url.startswith(NO_REFERRER):
            assert headers["Referrer-Policy"] == "no-referrer", url
        else:
            assert headers["Referrer-Policy"] in ("same-origin", "no-referrer"), url
        if response.mimetype == "text/html":
            html_pages += 1
            policy = dict(
                part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";")
            )
            assert policy["script-src"] == "'self'", url
            assert policy["frame-ancestors"] == "'none'", url
            assert policy["object-src"] == "'none'", url
            assert headers["X-Frame-Options"] == "DENY", url
            assert headers["Cache-Control"] == "no-store", url
            html = response.get_data(as_text=True)
            assert not INLINE_SCRIPT.search(html), (url, INLINE_SCRIPT.search(html).group(0))
            assert not INLINE_HANDLER.search(html), (url, INLINE_HANDLER.search(html).group(0))
            assert not JAVASCRIPT_URL.search(html), url
        elif response.mimetype in ("text/csv", "application/json"):
            assert headers["Cache-Control"] == "no-store", url
        elif response.mimetype == "text/calendar":
            assert headers["Cache-Control"] in ("no-store", "private, no-cache"), url
    assert html_pages > 35


def test_pages_of_visitors_and_errors_send_them_too(client):
    for url in ("/", "/login", "/no-such-page", "/sessions/999999"):
        response = client.get(url)
        assert response.mimetype == "text/html"
        assert "script-src 'self'" in response.headers["Content-Security-Policy"], url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"


def test_the_attendance_export_is_not_stored(client, world, login_as):
    admin, ids, _tokens = world
    login_as(admin)
    response = client.get(f"/sessions/{ids['meeting_id']}/attendance.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"


def test_api_answers_are_not_stored_and_not_sniffed(api_as, factories):
    response = api_as(factories.make_user()).get("/api/v1/me")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_static_files_stay_cacheable(client):
    response = client.get("/static/consult.js")
    assert response.status_code == 200
    assert response.headers.get("Cache-Control", "") != "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


class TestBodyLimit:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "MAX_CONTENT_LENGTH": 4096}

    def test_a_body_too_large_is_413_with_the_api_error_body(self, api_as, factories):
        api = api_as(factories.make_user("cadre"))
        response = api.post("/api/v1/sessions", json={"title": "x" * 10_000})
        assert response.status_code == 413
        assert response.get_json()["error"]["code"] == "too_large"

    def test_a_page_form_too_large_is_413_with_a_page(self, client, factories, login_as):
        login_as(factories.make_user("cadre"))
        response = client.post("/sessions/new", data={"title": "x" * 10_000})
        assert response.status_code == 413
        assert response.mimetype == "text/html"
        assert "too large" in response.get_data(as_text=True)
