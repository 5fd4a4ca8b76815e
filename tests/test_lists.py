"""List arguments and ids: no value, however absurd, reaches the database as a 500.

Every list (every GET route of the pages and the API that takes no id in its path)
is called with page, per_page and filter values a database cannot hold; ids in URLs
and in JSON bodies that no row can have answer 404 or 422.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from consult.cases.models import Issue
from consult.lists import MAX_ID, MAX_PER_PAGE, valid_id
from consult.minutes.models import Resolution
from tests.conftest import is_test_route

ABSURD = ["1000000000000000000", "-1", "abc", str(2**63)]
#: Query arguments the lists read: pages, sizes and filters by id or number.
ARGUMENTS = ["page", "per_page", "community", "level", "series", "session", "unit", "cases"]
#: Routes that are not lists (feeds by secret token, exports by token, the health check).
NOT_LISTS = {"/healthz", "/logout", "/api/v1/openapi.json"}


def _list_routes(app) -> list[str]:
    routes = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint == "static":
            continue
        if rule.rule in NOT_LISTS or is_test_route(app, rule.endpoint):
            continue
        routes.append(rule.rule)
    return sorted(routes)


@pytest.fixture
def admin_clients(app, client, login_as, factories, api_as):
    admin = factories.make_user("admin")
    api = api_as(admin)
    login_as(admin)
    return client, api


def test_there_are_list_routes_to_check(app):
    routes = _list_routes(app)
    # The lists of the issue: they must be among the routes checked.
    for route in (
        "/cases",
        "/issues",
        "/actions",
        "/cases/overdue",
        "/sessions",
        "/admin/users",
        "/api/v1/cases",
        "/api/v1/sessions",
    ):
        assert route in routes


@pytest.mark.parametrize("value", ABSURD)
def test_every_list_answers_absurd_arguments_without_a_500(app, admin_clients, value):
    client, api = admin_clients
    failures = []
    for route in _list_routes(app):
        if route.startswith("/api/"):
            # One argument at a time: a 422 for one must not hide another's 500.
            for name in ARGUMENTS:
                url = f"{route}?{name}={value}"
                response = api.get(url)
                if response.status_code not in (200, 422):
                    failures.append((url, response.status_code))
                elif response.status_code == 422:
                    assert response.get_json()["error"]["code"] == "invalid"
        else:
            # Pages read what they can and ignore the rest: all arguments at once.
            url = f"{route}?" + "&".join(f"{name}={value}" for name in ARGUMENTS)
            response = client.get(url)
            if response.status_code not in (200, 302):
                failures.append((url, response.status_code))
    assert failures == []


def test_pages_clamp_an_absurd_page_and_keep_listing(admin_clients, factories):
    client, _api = admin_clients
    factories.make_case()
    for route in ("/cases", "/issues", "/actions", "/cases/overdue", "/sessions"):
        assert client.get(f"{route}?page=1000000000000000000").status_code == 200
    body = client.get("/cases?page=abc").get_data(as_text=True)
    assert "data-case" in body or "/cases/" in body


def test_the_api_refuses_an_absurd_page_and_caps_per_page(admin_clients, factories):
    _client, api = admin_clients
    for _ in range(3):
        factories.make_case()
    response = api.get("/api/v1/cases?page=1000000000000000000")
    assert response.status_code == 422
    assert "page" in response.get_json()["error"]["fields"]
    assert api.get("/api/v1/cases?per_page=-1").status_code == 422
    capped = api.get(f"/api/v1/cases?per_page={10**18}")
    assert capped.status_code == 200
    assert capped.get_json()["total"] == 3
    assert set(capped.get_json()) == {"items", "page", "pages", "total"}
    sessions = api.get("/api/v1/sessions?per_page=100000")
    assert set(sessions.get_json()) == {"items", "page", "pages", "total"}


@pytest.mark.parametrize(
    "bad", ["0", str(MAX_ID + 1), str(2**63), str(2**64 + 5), "99999999999999999999999"]
)
def test_ids_no_row_can_have_answer_404_in_urls(admin_clients, factories, bad):
    client, api = admin_clients
    for url in (
        f"/sessions/{bad}",
        f"/cases/{bad}",
        f"/issues/{bad}",
        f"/sessions/{bad}.ics",
        f"/admin/users/{bad}",
        f"/sessions/{bad}/registrations",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        f"/api/v1/sessions/{bad}",
        f"/api/v1/cases/{bad}",
        f"/api/v1/issues/{bad}",
        f"/api/v1/sessions/{bad}/minutes",
    ):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response.get_json()["error"]["code"] == "not_found"
    for url in (f"/api/v1/registrations/{bad}", f"/api/v1/feeds/{bad}"):
        assert api.delete(url).status_code == 404, url
    assert api.post(f"/api/v1/sessions/{bad}/registrations", json={}).status_code == 404
    assert api.post(f"/api/v1/cases/{bad}/escalate", json={}).status_code == 404


@pytest.mark.parametrize("bad", [0, -1, MAX_ID + 1, 2**63, 2**64])
def test_ids_no_row_can_have_in_json_bodies_answer_422(admin_clients, factories, bad):
    _client, api = admin_clients
    case = factories.make_case()
    meeting = factories.make_meeting(community=case.community)
    response = api.post(
        "/api/v1/issues",
        json={"title": "议题", "community": case.community.name, "cases": [case.id, bad]},
    )
    assert response.status_code == 422
    assert "cases" in response.get_json()["error"]["fields"]
    response = api.post(
        f"/api/v1/sessions/{meeting.id}/agenda", json={"title": "议程", "issue": bad}
    )
    assert response.status_code == 422
    assert "issue" in response.get_json()["error"]["fields"]
    item = api.post(f"/api/v1/sessions/{meeting.id}/agenda", json={"title": "议程"}).get_json()
    response = api.post(
        f"/api/v1/agenda/{item['id']}/resolution",
        json={"text": "决议", "outcome": "deferred", "closes_cases": [bad]},
    )
    assert response.status_code == 422
    assert "closes_cases" in response.get_json()["error"]["fields"]
    assert (
        api.post(
            "/api/v1/sessions",
            json={
                "kind": "roundtable",
                "title": "圆桌",
                "community": case.community.name,
                "starts_at": "2030-01-01T10:00:00+08:00",
                "ends_at": "2030-01-01T11:00:00+08:00",
                "host_unit": bad,
            },
        ).status_code
        == 422
    )
    assert api.get(f"/api/v1/sessions?series={bad}").status_code == 422
    from consult.extensions import db

    assert db.session.scalar(select(func.count()).select_from(Issue)) == 0
    assert db.session.scalar(select(func.count()).select_from(Resolution)) == 0


def test_valid_id_reads_only_what_a_row_can_have():
    assert valid_id("12") == 12
    assert valid_id(MAX_ID) == MAX_ID
    for bad in (None, "", "abc", "-1", "0", "1.5", " ", True, 1.5, MAX_ID + 1, "٣", "9" * 30):
        assert valid_id(bad) is None
    assert MAX_PER_PAGE == 100


def test_numbers_in_the_query_of_a_page_with_an_id_stay_in_range(admin_clients, factories):
    client, _api = admin_clients
    meeting = factories.make_meeting()
    for value in ABSURD:
        url = f"/sessions/{meeting.id}/minutes/diff?from={value}&to={value}"
        assert client.get(url).status_code == 404, url
        url = f"/cases/new?session={value}"
        assert client.get(url).status_code in (200, 404), url
