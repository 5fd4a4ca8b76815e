"""The API's error body for every status, in any language, and never a 500."""

from __future__ import annotations

import logging

import pytest
from flask import abort

from consult.api import api_user
from consult.errors import ApiError, RefusedInput
from consult.permissions import require
from tests.conftest import add_test_route


def assert_error(response, status: int, code: str | None = None) -> dict:
    """Check the status and the body {"error": {"code", "message"}}; return the error."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


#: The probe routes stay out of the application other tests share (its OpenAPI document
#: lists every route under /api/).
pytestmark = pytest.mark.own_app


@pytest.fixture
def probe_routes(app):
    """Routes under /api/ that fail on purpose, to test the handlers for 403, 409 and 500."""

    def forbidden():
        require(api_user(), "admin.manage")
        return {}

    def conflict():
        raise ApiError(409, "conflict", "Signed up already.")

    def refused_conflict():
        raise RefusedInput("That name is taken.", "name", status=409)

    def refused():
        raise RefusedInput("The capacity cannot be negative.", "capacity")

    def crash():
        raise RuntimeError("secret internal detail")

    for name, view in [
        ("forbidden", forbidden),
        ("conflict", conflict),
        ("refused-conflict", refused_conflict),
        ("refused", refused),
        ("crash", crash),
    ]:
        add_test_route(
            app, f"/api/v1/_probe/{name}", f"probe_{name}", view, methods=["GET", "POST"]
        )


@pytest.fixture
def api(api_as, factories):
    return api_as(factories.make_user(role="resident"))


def test_400_when_the_body_is_not_json(api):
    for body in ("{not json", "name=张三", "\xff\xfe"):
        response = api.client.patch(
            "/api/v1/me",
            data=body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {api.token}"},
        )
        assert_error(response, 400, "bad_json")


def test_an_empty_body_or_empty_object_is_accepted(api):
    for kwargs in ({"data": "", "content_type": "application/json"}, {"json": {}}):
        response = api.client.patch(
            "/api/v1/me", headers={"Authorization": f"Bearer {api.token}"}, **kwargs
        )
        assert response.status_code == 200, response.get_data(as_text=True)


def test_403_when_the_role_is_not_allowed(api, probe_routes):
    assert_error(api.get("/api/v1/_probe/forbidden"), 403, "forbidden")


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing-here", "/api/v1/me/extra", "/api/v2/me", "/api/anything"]
)
def test_404_for_an_unknown_route_under_api(api, path):
    assert_error(api.get(path), 404, "not_found")


def test_405_names_the_allowed_methods(api):
    response = api.delete("/api/v1/me")
    assert_error(response, 405, "method_not_allowed")
    assert {"GET", "PATCH"} <= {m.strip() for m in response.headers["Allow"].split(",")}


@pytest.mark.parametrize("route", ["conflict", "refused-conflict"])
def test_409_for_a_conflict(api, probe_routes, route):
    assert_error(api.post(f"/api/v1/_probe/{route}", json={}), 409, "conflict")


def test_a_refused_operation_is_422_with_its_field(api, probe_routes):
    error = assert_error(api.post("/api/v1/_probe/refused", json={}), 422, "invalid")
    assert error["fields"] == {"capacity": ["The capacity cannot be negative."]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "\ud800"}, "name"),
        ({"locale": "fr"}, "locale"),
        ({"named_in_minutes": "yes"}, "named_in_minutes"),
        ({"named_in_minutes": 1}, "named_in_minutes"),
        ({"nmae": "typo"}, "nmae"),
    ],
    ids=[
        "wrong-type",
        "empty",
        "blank",
        "too-long",
        "nul",
        "lone-surrogate",
        "unknown-locale",
        "string-bool",
        "int-bool",
        "unknown-field",
    ],
)
def test_422_names_the_invalid_field(api, body, field):
    error = assert_error(api.patch("/api/v1/me", json=body), 422, "invalid")
    assert field in error["fields"]
    assert all(isinstance(m, str) for m in error["fields"][field])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-01-01T00:00:00", "from"),
        ("from=yesterday", "from"),
        ("from=2026-13-45T00:00:00%2B08:00", "from"),
        ("from=0001-01-01T00:00:00%2B14:00", "from"),
        ("to=9999-12-31T23:59:59-14:00", "to"),
        ("source=fax", "source"),
        ("session_kind=party", "session_kind"),
        ("community=", "community"),
        ("community=" + "x" * 200, "community"),
        ("community=a%00b", "community"),
        ("from=2026-02-01T00:00:00%2B08:00&to=2026-01-01T00:00:00%2B08:00", "to"),
    ],
    ids=[
        "no-offset",
        "words",
        "impossible-date",
        "year-one",
        "year-9999",
        "unknown-source",
        "unknown-kind",
        "empty-community",
        "long-community",
        "nul",
        "to-before-from",
    ],
)
def test_stats_refuses_bad_filters_with_422(api, query, field):
    error = assert_error(api.get(f"/api/v1/stats?{query}"), 422, "invalid")
    assert field in error["fields"]


NASTY_QUERIES = [
    "",
    "community=%ff%fe",
    "community=' OR 1=1 --",
    "community=%25%5F",
    "community=a&community=b",
    "from=&to=",
    "page=-1&per_page=100000",
    "lang=xx&lang=zh_CN",
    "from[]=1",
    "community=%E5%92%8C%E5%90%88",
    "%00=%00",
    "a" * 4000,
    "community=" + "%F0%9F%98%80" * 40,
]


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/stats"])
@pytest.mark.parametrize("query", NASTY_QUERIES, ids=range(len(NASTY_QUERIES)))
def test_no_query_string_causes_a_500(api, path, query):
    response = api.get(f"{path}?{query}")
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    if response.status_code >= 400:
        assert_error(response, response.status_code)


def test_an_unexpected_failure_is_a_json_500_without_details(api, probe_routes, caplog):
    with caplog.at_level(logging.CRITICAL, logger="consult.errors"):
        response = api.get("/api/v1/_probe/crash")
    error = assert_error(response, 500, "internal_error")
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert error["message"]


class TestRateLimit:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "3 per minute"}

    def test_429_once_a_token_exceeds_api_rate_limit(self, api_as, factories):
        user = factories.make_user()
        api = api_as(user)
        assert [api.get("/api/v1/me").status_code for _ in range(3)] == [200] * 3
        response = api.get("/api/v1/me")
        assert_error(response, 429, "too_many_requests")
        assert int(response.headers["Retry-After"]) >= 1
        # The limit is per token: another token of the same person is counted apart.
        assert api_as(user).get("/api/v1/me").status_code == 200


def test_api_requests_are_not_limited_by_default(api_as, factories, app):
    assert app.config["API_RATE_LIMIT"] is None
    api = api_as(factories.make_user())
    assert {api.get("/api/v1/me").status_code for _ in range(30)} == {200}


@pytest.mark.parametrize("accept_language", ["zh-CN,zh;q=0.9", "zh", "en-GB", "*", "xx-YY"])
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/nothing", 404),
        ("delete", "/api/v1/me", 405),
        ("get", "/api/v1/_probe/forbidden", 403),
        ("get", "/api/v1/_probe/crash", 500),
        ("patch", "/api/v1/me", 422),
    ],
)
def test_errors_stay_json_in_any_language(
    api, probe_routes, accept_language, method, path, status, caplog
):
    headers = {"Accept-Language": accept_language, "Accept": "text/html,*/*;q=0.8"}
    kwargs = {"json": {"name": ""}} if method == "patch" else {}
    with caplog.at_level(logging.CRITICAL, logger="consult.errors"):
        response = getattr(api, method)(path, headers=headers, **kwargs)
    assert_error(response, status)
    assert "<html" not in response.get_data(as_text=True).lower()


def test_401_stays_json_in_chinese(client):
    response = client.get("/api/v1/me", headers={"Accept-Language": "zh-CN"})
    assert_error(response, 401, "unauthorized")


def test_abort_in_a_page_still_renders_html(app, client):
    add_test_route(app, "/_probe_page", "probe_page", lambda: abort(409))
    response = client.get("/_probe_page")
    assert response.status_code == 409
    assert response.mimetype == "text/html"
