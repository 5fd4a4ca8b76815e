"""Every route and every API operation, called by staff of another community.

The routes are read from the application's url_map, so that a route added without
community scoping makes this test fail: each is called by an admin, a cadre and a
secretary of 西关 against the objects of 和合 (a private mediation session, then public
objects), and must answer 403 or 404 and change nothing. Lists and forms without an
object in their URL must not show anything of 和合 that only its staff may see.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from consult.accounts.models import ApiToken
from consult.attendance.links import checkin_token
from consult.calendar.operations import create_feed
from consult.community.models import Agreement
from consult.extensions import db
from consult.minutes.models import ActionItem
from consult.minutes.operations import save_minutes
from consult.types import utcnow
from tests.cases.builders import agenda_item, new_case, new_issue, resolve
from tests.conftest import is_test_route

#: Words that only 和合's staff (and the people concerned) may read.
SECRETS = (
    "MEDIATION-SECRET",
    "SERIES-SECRET",
    "CASE-SECRET",
    "ISSUE-SECRET",
    "ACTION-SECRET",
    "NOTES-SECRET",
    "王秀兰",
    "13800001111",
)

#: Routes that are not about any community's objects: the static files, sign-in and
#: sign-out, the health check, the API's self-description, and the capability links
#: whose secret token is the permission (an RSVP link, a calendar feed).
NOT_SCOPED = {
    "static",
    "accounts.login",
    "accounts.logout",
    "web.healthz",
    "api-docs.openapi_json",
    "attendance.rsvp",
    "calendar.feed",
}

#: Writes on one's own account and calendars: they change the caller's rows only.
SELF_SERVICE = {"accounts.profile", "calendar.feeds", "api_me.update_me", "api_feeds.post_feed"}

#: Reads of a public session and of what is public about a community, open to everyone
#: (the public pages show only public sessions and published, masked records).
PUBLIC_READS = {
    "meetings.show",
    "calendar.meeting_ics",
    "api_sessions.SessionItem",
    "api_minutes.get_agenda",
    "api_minutes.get_agenda_item",
    "public.poster",
    "public.poster_as_pdf",
}
EVERYONE_READS = {
    "attendance.rotation",
    "web.stats_csv",
    "public.community",
    "public.resolutions_json",
    "public.resolutions_csv",
    "public.resolutions_atom",
    "public.board",
}

#: Signing oneself up for a public session (or series) is open to every account.
OPEN_SIGN_UPS = {
    "attendance.sign_up",
    "attendance.sign_up_series",
    "api_registrations.create_registration",
    "api_registrations.create_series_registrations",
}

#: Bodies that pass the API's validation, so that the refusal comes from the scope.
API_BODIES = {
    ("api_sessions.SessionItem", "PATCH"): {"title": "changed"},
    ("api_sessions.cancel_session", "POST"): {},
    ("api_sessions.cancel_series", "POST"): {},
    ("api_feeds.post_invitations", "POST"): {"emails": ["outsider@example.org"]},
    ("api_minutes.post_agenda_item", "POST"): {"title": "Outsider's item"},
    ("api_minutes.post_resolution", "POST"): {
        "text": "x",
        "outcome": "deferred",
        "closes_cases": [],
    },
    ("api_minutes.put_minutes", "PUT"): {"version": 1, "notes": {}},
    ("api_minutes.approve", "POST"): {},
    ("api_minutes.publish", "POST"): {},
    ("api_minutes.action_done", "POST"): {"note": "done"},
    ("api_registrations.create_registration", "POST"): {"name": "陈外", "phone": "139"},
    ("api_registrations.create_series_registrations", "POST"): {},
    ("api_registrations.delete_registration", "DELETE"): None,
    ("api_cases.escalate", "POST"): {"reason": "x"},
    ("api_cases.post_evaluation", "POST"): {"rating": "satisfied"},
    ("api_feeds.delete_feed", "DELETE"): None,
    ("api_votes.post_vote", "POST"): {"for": 1, "against": 0, "abstain": 0},
    ("api_votes.post_vote_alias", "POST"): {"for": 1, "against": 0, "abstain": 0},
}


def api_create_bodies(world) -> dict:
    """Creations that name 和合 in the body (no object in the URL)."""
    start = (utcnow() + timedelta(days=9)).replace(microsecond=0)
    return {
        ("api_sessions.Sessions", "POST"): {
            "kind": "roundtable",
            "title": "Outsider's session",
            "community": "和合社区",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
        },
        ("api_cases.post_case", "POST"): {
            "title": "x",
            "description": "",
            "community": "和合社区",
            "category": "concern",
        },
        ("api_cases.post_issue", "POST"): {
            "title": "x",
            "community": "和合社区",
            "cases": [world["free_case"].id],
        },
    }


@pytest.fixture
def app_config(app_config):
    # The forms' CSRF check would refuse every POST before the view is reached.
    return {**app_config, "WTF_CSRF_ENABLED": False}


@pytest.fixture
def world(factories):
    """和合's objects (a private mediation and public ones), and 西关's staff."""
    a = factories.make_community("和合社区")
    factories.make_community("西关社区")
    cadre = factories.make_user("cadre", community="和合社区")
    resident = factories.make_user("resident", community="和合社区", name="王秀兰")
    resident.phone = "13800001111"
    unit = factories.make_unit("和合物业")
    member = factories.make_alliance_member(a, unit, position=1)
    venue = factories.make_venue(a, "和合议事厅")
    agreement = Agreement(community_id=a.id, unit_id=unit.id, signed_on=utcnow().date())
    db.session.add(agreement)
    # The mediation was held yesterday: only a session that has started may resolve cases.
    private = factories.make_meeting(
        a, kind="mediation", title="MEDIATION-SECRET", starts_in=-timedelta(days=1)
    )
    public = factories.make_meeting(a, kind="roundtable", title="Open roundtable")
    private_series, _ = factories.make_series(
        a, visibility="private", kind="mediation", title="SERIES-SECRET"
    )
    public_series, _ = factories.make_series(a, title="Weekly talk")
    private_signup = factories.make_signup(private, resident)
    public_signup = factories.make_signup(public, resident)
    factories.make_invitation(private, email="guest@example.org")
    raised = new_case(cadre, title="CASE-SECRET raised at the mediation", community="和合社区")
    raised.meeting_id = private.id
    plain = new_case(
        cadre, title="CASE-SECRET in the grid", community="和合社区", reporter="王秀兰"
    )
    free = new_case(cadre, title="CASE-SECRET waiting", community="和合社区")
    issue = new_issue(cadre, [plain], community="和合社区", title="ISSUE-SECRET")
    private_item = agenda_item(private, cadre, issue, title="CASE-SECRET item")
    public_item = agenda_item(public, cadre, title="Open item")
    resolve(
        private_item, cadre, [plain], actions=[{"description": "ACTION-SECRET", "unit": unit.id}]
    )
    save_minutes(private, {"version": 0, "notes": {str(private_item.id): "NOTES-SECRET"}}, cadre)
    save_minutes(public, {"version": 0, "notes": {str(public_item.id): "draft"}}, cadre)
    feed, _token = create_feed({"scope": "mine"}, resident)
    api_token = factories.make_api_token(resident)
    db.session.commit()
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == resident.id))
    assert api_token and token_id
    common = {
        "issue_id": issue.id,
        "action_id": db.session.scalar(select(ActionItem.id)),
        "feed_id": feed.id,
        "community_id": a.id,
        "member_id": member.id,
        "user_id": resident.id,
        "token_id": token_id,
        "venue_id": venue.id,
        "unit_id": unit.id,
        "agreement_id": agreement.id,
        # Town-wide objects of the administration (the refusal comes before the lookup).
        "kind": "roundtable",
        "channel_id": 1,
        "message_id": 1,
        # The statistics' tables are counts, open to every account.
        "name": "levels",
    }
    return {
        "free_case": free,
        "private": {
            **common,
            "meeting_id": private.id,
            "session_id": private.id,
            "series_id": private_series.id,
            "registration_id": private_signup.id,
            "case_id": raised.id,
            "item_id": private_item.id,
            "token": checkin_token(private_signup.id),
        },
        "public": {
            **common,
            "meeting_id": public.id,
            "session_id": public.id,
            "series_id": public_series.id,
            "registration_id": public_signup.id,
            "case_id": plain.id,
            "item_id": public_item.id,
            "token": checkin_token(public_signup.id),
        },
    }


def routes(app):
    """Yield (endpoint, rule, method) for every route of the application."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_SCOPED or is_test_route(app, rule.endpoint):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, rule, method


def snapshot() -> dict:
    """Every row of every table (API tokens aside: using one stamps it)."""
    db.session.rollback()
    db.session.expire_all()
    out = {}
    for table in db.metadata.sorted_tables:
        if table.name == "api_tokens":
            continue
        out[table.name] = sorted(map(repr, db.session.execute(select(table)).all()))
    return out


def changed(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def call(clients, endpoint, rule, method, values, body=None):
    url = rule.build(values, append_unknown=False)[1]
    if rule.rule.startswith("/api/"):
        api = clients["api"]
        kwargs = {} if body is None and method in ("GET", "DELETE") else {"json": body or {}}
        return getattr(api.client, method.lower())(url, headers=api._headers(), **kwargs)
    return clients["page"].open(url, method=method, data={})


@pytest.fixture
def outsider(app, factories, api_as):
    """Return clients (pages, API) signed in as a staff member of 西关 with ``role``."""

    def _make(role):
        user = factories.make_user(role, community="西关社区")
        page = app.test_client()
        response = page.post("/login", data={"email": user.email, "password": "secret-pw"})
        assert response.status_code == 302
        return {"page": page, "api": api_as(user)}

    return _make


@pytest.mark.parametrize("role", ["admin", "cadre", "secretary"])
def test_staff_of_another_community_can_neither_see_nor_change_its_objects(
    app, world, outsider, role
):
    clients = outsider(role)
    failures = []
    creations = api_create_bodies(world)
    for endpoint, rule, method in routes(app):
        args = set(rule.arguments)
        if not args:
            continue
        for variant in ("private", "public"):
            values = world[variant]
            if not args <= set(values):
                failures.append(f"{endpoint}: no object of 和合 for {sorted(args - set(values))}")
                break
            if variant == "public" and method == "GET" and endpoint in PUBLIC_READS:
                continue
            if method == "GET" and endpoint in EVERYONE_READS:
                continue
            if (
                variant == "public"
                and endpoint in OPEN_SIGN_UPS
                and (endpoint != "api_registrations.create_registration")
            ):
                continue
            body = API_BODIES.get((endpoint, method), creations.get((endpoint, method)))
            before = snapshot()
            response = call(clients, endpoint, rule, method, values, body)
            after = snapshot()
            if response.status_code not in (403, 404):
                failures.append(f"{method} {rule.rule} ({variant}): {response.status_code}")
            if changed(before, after):
                failures.append(
                    f"{method} {rule.rule} ({variant}) changed {changed(before, after)}"
                )
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ["admin", "cadre", "secretary"])
def test_lists_and_forms_show_nothing_of_another_communitys_and_create_nothing_in_it(
    app, world, outsider, role
):
    clients = outsider(role)
    failures = []
    creations = api_create_bodies(world)
    a_id = world["private"]["community_id"]
    for endpoint, rule, method in routes(app):
        if rule.arguments:
            continue
        body = creations.get((endpoint, method))
        before = snapshot()
        response = call(clients, endpoint, rule, method, {}, body)
        after = snapshot()
        text = response.get_data().decode("utf-8", "replace")
        if response.status_code >= 500:
            failures.append(f"{method} {rule.rule}: {response.status_code}")
        leaked = [s for s in SECRETS if s in text]
        if leaked:
            failures.append(f"{method} {rule.rule} shows {leaked}")
        if method != "GET" and endpoint not in SELF_SERVICE and changed(before, after):
            failures.append(f"{method} {rule.rule} changed {changed(before, after)}")
    # The pages that create in a community, asked for 和合.
    page = clients["page"]
    for url, data in [
        (f"/cases/new?session={world['private']['meeting_id']}", {"title": "x"}),
        ("/cases/new", {"title": "x", "community": a_id, "category": "concern"}),
        (f"/issues/new?community={a_id}", {"title": "x", "cases": world["free_case"].id}),
        ("/sessions/new", {"community": "和合社区", "kind": "roundtable", "title": "x"}),
    ]:
        before = snapshot()
        response = page.post(url, data=data)
        if changed(before, snapshot()):
            failures.append(f"POST {url} changed {changed(before, snapshot())}")
        if re.search("|".join(SECRETS), response.get_data(as_text=True)):
            failures.append(f"POST {url} shows a secret")
    assert not failures, "\n".join(failures)


def test_the_route_list_is_read_from_the_application(app):
    endpoints = {endpoint for endpoint, _rule, _method in routes(app)}
    assert {
        "minutes.publish",
        "api_minutes.publish",
        "attendance.export",
        "meetings.cancel",
        "api_sessions.cancel_session",
    } <= endpoints
    assert not endpoints & NOT_SCOPED
