"""Every administration route: administrators only; others 403, anonymous visitors to /login."""

from __future__ import annotations

from datetime import date

import pytest
from flask import url_for
from sqlalchemy import select

from consult.accounts.models import ApiToken
from consult.community.models import Agreement
from consult.extensions import db
from tests.admin.conftest import audit_count

#: (method, endpoint) of every route of the blueprint; a new route must be added here.
ROUTES = [
    ("GET", "admin.index"),
    ("GET", "admin.users"),
    ("GET", "admin.user_new"),
    ("POST", "admin.user_new"),
    ("GET", "admin.user_edit"),
    ("POST", "admin.user_edit"),
    ("POST", "admin.user_password"),
    ("POST", "admin.token_revoke"),
    ("GET", "admin.communities"),
    ("GET", "admin.community_new"),
    ("POST", "admin.community_new"),
    ("GET", "admin.community_edit"),
    ("POST", "admin.community_edit"),
    ("GET", "admin.alliance"),
    ("POST", "admin.alliance"),
    ("POST", "admin.alliance_move"),
    ("POST", "admin.alliance_rotation"),
    ("POST", "admin.alliance_remove"),
    ("GET", "admin.venues"),
    ("GET", "admin.venue_new"),
    ("POST", "admin.venue_new"),
    ("GET", "admin.venue_edit"),
    ("POST", "admin.venue_edit"),
    ("GET", "admin.units"),
    ("GET", "admin.unit_new"),
    ("POST", "admin.unit_new"),
    ("GET", "admin.unit_edit"),
    ("POST", "admin.unit_edit"),
    ("GET", "admin.agreements"),
    ("GET", "admin.agreement_new"),
    ("POST", "admin.agreement_new"),
    ("GET", "admin.agreement_edit"),
    ("POST", "admin.agreement_edit"),
]

#: What a POST would change if it got through.
FORM = {
    "name": "改名",
    "brand": "新品牌",
    "email": "new@example.org",
    "role": "cadre",
    "kind": "hall",
    "password": "new-password",
    "confirm": "new-password",
    "direction": "down",
    "in_rotation": "0",
    "signed_on": "2025-01-01",
    "active": "y",
}


def test_the_list_covers_every_route_of_the_blueprint(app):
    actual = {
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert actual == set(ROUTES)


@pytest.fixture
def targets(factories):
    """One object of each kind, so that every route has something to act on."""
    community = factories.make_community("Hehe")
    unit = factories.make_unit("城关派出所", kind="government_agency")
    member = factories.make_alliance_member(community, unit, position=1)
    factories.make_alliance_member(community, position=2)
    venue = factories.make_venue(community)
    agreement = Agreement(community_id=community.id, unit_id=unit.id, signed_on=date(2025, 1, 1))
    db.session.add(agreement)
    target = factories.make_user(email="target@example.org", role="resident", password=None)
    db.session.commit()
    factories.make_api_token(target)
    token_id = db.session.scalar(select(ApiToken.id))
    return {
        "user_id": target.id,
        "token_id": token_id,
        "community_id": community.id,
        "member_id": member.id,
        "venue_id": venue.id,
        "unit_id": unit.id,
        "agreement_id": agreement.id,
        "unit": unit.id,
        "community": community.id,
    }


def url_of(app, endpoint: str, ids: dict) -> str:
    rule = next(app.url_map.iter_rules(endpoint))
    with app.test_request_context():
        return url_for(endpoint, **{name: ids[name] for name in rule.arguments})


@pytest.mark.parametrize(("method", "endpoint"), ROUTES)
def test_anonymous_visitors_are_sent_to_sign_in(app, client, post, targets, method, endpoint):
    url = url_of(app, endpoint, targets)
    before = audit_count()
    response = client.get(url) if method == "GET" else post(url, {**FORM, **targets})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    assert audit_count() == before


@pytest.mark.parametrize("role", ["cadre", "secretary", "resident", "unit_rep"])
@pytest.mark.parametrize(("method", "endpoint"), ROUTES)
def test_other_roles_are_refused_with_403(
    app, client, post, login_as, factories, targets, role, method, endpoint
):
    login_as(factories.make_user(role=role))
    url = url_of(app, endpoint, targets)
    before = audit_count()
    response = client.get(url) if method == "GET" else post(url, {**FORM, **targets})
    assert response.status_code == 403
    assert audit_count() == before


@pytest.mark.parametrize(("method", "endpoint"), [r for r in ROUTES if r[0] == "GET"])
def test_administrators_see_every_page(app, as_admin, targets, method, endpoint):
    response = as_admin.get(url_of(app, endpoint, targets))
    assert response.status_code == 200
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("number", ["0", "99999999999999999999999", "2147483648"])
@pytest.mark.parametrize(
    "path",
    [
        "/admin/users/{}",
        "/admin/venues/{}",
        "/admin/units/{}",
        "/admin/communities/{}/alliance",
        "/admin/agreements/{}",
    ],
)
def test_ids_out_of_range_are_404_not_an_overflow(as_admin, path, number):
    assert as_admin.get(path.format(number)).status_code == 404
