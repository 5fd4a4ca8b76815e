"""GET /api/v1/sessions keeps each page in the cache under the change counters.

A page asked again is read from the cache (consult.api.sessions._kept_page) and only
its waiting-list figures are read live. These tests check that the answer is the one
the schema gave before, byte for byte, that every change shows on the next request,
that callers who see differently never share a page, and what a repeated request costs.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from consult.accounts.models import User
from consult.api.sessions import (
    SessionPageSchema,
    SessionSchema,
    _kept_page,
    session_payload,
)
from consult.community.models import Community
from consult.extensions import cache, db
from consult.lists import page_envelope
from consult.meetings import queries
from consult.meetings.models import Meeting, Registration
from consult.types import utcnow

URL = "/api/v1/sessions"
#: The record of a token's use, written at most once a minute: bookkeeping, not the list.
BOOKKEEPING = re.compile(r"^\s*UPDATE\s+api_tokens\b", re.IGNORECASE)


def _meeting(community, zone: str = "Asia/Shanghai", days: int = 7, **data) -> Meeting:
    """A one-off session in ``zone``, scheduled through the operation the API uses."""
    from consult.meetings.operations import create_meeting

    starts = (utcnow() + timedelta(days=days)).replace(microsecond=0).astimezone(ZoneInfo(zone))
    values = {
        "kind": "roundtable",
        "title": f"Roundtable in {zone}",
        "community": community.name,
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=2),
        "timezone": zone,
    }
    values.update(data)
    meeting = create_meeting(values, None)
    db.session.commit()
    return meeting


def _fresh(app, user, **filters) -> bytes:
    """The answer as it was made before pages were kept: the page read afresh, dumped by
    SessionPageSchema with each session's waiting list, through the app's JSON."""
    db.session.expire_all()
    page = queries.list_meetings(user, queries.MeetingFilter(**filters), 1, 20)
    waiting = queries.waitlisted_counts(m.id for m in page.items)
    items = [session_payload(m, waiting.get(m.id, 0)) for m in page.items]
    return app.json.response(SessionPageSchema().dump(page_envelope(page, items))).get_data()


def _get(api, url: str = URL):
    # Each request starts with an empty session, as on a server.
    db.session.remove()
    response = api.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def _item(body: dict, meeting_id: int) -> dict:
    return next(item for item in body["items"] if item["id"] == meeting_id)


class Town:
    """The rows of a test by name, kept as ids: every request starts with an empty
    session (as on a server), so objects are looked up again when needed."""

    MODELS = {"hehe": Community, "anle": Community}

    def __init__(self, **rows):
        self.ids = {name: row.id for name, row in rows.items()}

    def __getitem__(self, name: str):
        model = self.MODELS.get(name, Meeting if name in MEETINGS else User)
        return db.session.get(model, self.ids[name])


MEETINGS = ("shanghai", "berlin", "new_york")


@pytest.fixture
def town(factories) -> Town:
    hehe = factories.make_community("Hehe")
    anle = factories.make_community("Anle")
    hall = factories.make_venue(hehe, name="Community hall", capacity=30)
    return Town(
        hehe=hehe,
        anle=anle,
        shanghai=_meeting(hehe, days=3, venue=hall.name, capacity=2),
        berlin=_meeting(hehe, zone="Europe/Berlin", days=4),
        new_york=_meeting(anle, zone="America/New_York", days=5, capacity=10),
        admin=factories.make_user("admin"),
        cadre=factories.make_user("cadre"),
        anle_cadre=factories.make_user("cadre", community="Anle"),
        resident=factories.make_user("resident"),
        neighbour=factories.make_user("resident"),
    )


def test_the_kept_page_is_the_answer_the_schema_gave(app, api_as, factories, town):
    from consult.attendance.operations import sign_up

    shanghai = town.ids["shanghai"]
    for _ in range(3):  # two places, then the waiting list
        sign_up(town["shanghai"], factories.make_user())
    db.session.commit()
    api = api_as(town["admin"])

    first, again = _get(api), _get(api)

    expected = _fresh(app, town["admin"])
    assert first.get_data() == expected and again.get_data() == expected
    body = again.get_json()
    assert [item["timezone"] for item in body["items"]] == [
        "Asia/Shanghai",
        "Europe/Berlin",
        "America/New_York",
    ]
    assert body["items"][0]["starts_at"].endswith("+08:00")
    assert (_item(body, shanghai)["confirmed"], _item(body, shanghai)["waitlisted"]) == (2, 1)
    # The headers flask-smorest gave: JSON, no ETag (the API sets none), the length.
    assert again.headers["Content-Type"] == "application/json"
    assert "ETag" not in again.headers
    assert int(again.headers["Content-Length"]) == len(expected)


def test_the_kept_page_is_the_answer_as_the_schema_dumps_it(app, api_as, town):
    kept = _kept_page(town["admin"], queries.MeetingFilter(), 1, 20)

    answered = _get(api_as(town["admin"]))

    # The very bytes: the schema's dump in the application's JSON.
    assert answered.get_data() == kept
    page = json.loads(kept)
    meeting = db.session.get(Meeting, page["items"][0]["id"])
    waiting = queries.waitlisted_counts([meeting.id]).get(meeting.id, 0)
    assert page["items"][0] == SessionSchema().dump(session_payload(meeting, waiting))


def test_each_change_shows_on_the_next_request(app, api_as, factories, town):
    from consult.attendance.operations import cancel_registration, sign_up

    api, cadre_api = api_as(town["admin"]), api_as(town["cadre"])
    shanghai = town.ids["shanghai"]
    _get(api)

    def shown(meeting_id: int) -> dict:
        response = _get(api)
        assert response.get_data() == _fresh(app, town["admin"])
        return _item(response.get_json(), meeting_id)

    created = _meeting(town["hehe"], days=6, title="A new one").id
    assert _get(api).get_json()["total"] == 4
    assert shown(created)["title"] == "A new one"

    assert cadre_api.patch(f"{URL}/{created}", json={"title": "Renamed"}).status_code == 200
    assert shown(created)["title"] == "Renamed"

    assert cadre_api.post(f"{URL}/{created}/cancel").status_code == 200
    assert shown(created)["status"] == "cancelled"

    first = sign_up(town["shanghai"], town["resident"]).id
    db.session.commit()
    assert (shown(shanghai)["confirmed"], shown(shanghai)["waitlisted"]) == (1, 0)

    sign_up(town["shanghai"], town["neighbour"])
    db.session.commit()
    assert (shown(shanghai)["confirmed"], shown(shanghai)["waitlisted"]) == (2, 0)

    # Full: the next one waits. The session's row, hence the page kept, stays as it was;
    # the waiting list is read live.
    assert sign_up(town["shanghai"], factories.make_user()).status == "waitlisted"
    db.session.commit()
    assert (shown(shanghai)["confirmed"], shown(shanghai)["waitlisted"]) == (2, 1)

    # A confirmed place given up goes to the one waiting.
    cancel_registration(db.session.get(Registration, first), None)
    db.session.commit()
    assert (shown(shanghai)["confirmed"], shown(shanghai)["waitlisted"]) == (2, 0)


def test_a_waiting_list_sign_up_is_seen_on_the_next_request(
    app, api_as, factories, town, count_queries
):
    from consult.attendance.operations import sign_up

    shanghai = town.ids["shanghai"]
    for _ in range(2):
        sign_up(town["shanghai"], factories.make_user())
    db.session.commit()
    api = api_as(town["admin"])
    _get(api)

    assert sign_up(town["shanghai"], factories.make_user()).status == "waitlisted"
    db.session.commit()
    with count_queries() as counted:
        body = _get(api).get_json()

    assert _item(body, shanghai)["waitlisted"] == 1
    # Joining the waiting list leaves the session's row alone, but raises its community's
    # activity version: the page is read again.
    assert any("FROM meetings" in s for s in counted.statements), counted.statements


def test_a_private_session_shows_to_the_invited_caller_only(app, api_as, factories, town):
    resident, neighbour = api_as(town["resident"]), api_as(town["neighbour"])
    mediation = _meeting(town["hehe"], days=2, kind="mediation", visibility="private").id
    for api in (resident, neighbour):
        assert mediation not in [item["id"] for item in _get(api).get_json()["items"]]

    factories.make_invitation(db.session.get(Meeting, mediation), email=town["resident"].email)

    assert mediation in [item["id"] for item in _get(resident).get_json()["items"]]
    assert mediation not in [item["id"] for item in _get(neighbour).get_json()["items"]]
    assert _get(resident).get_data() == _fresh(app, town["resident"])


def test_callers_who_see_differently_never_share_a_page(app, api_as, client, town):
    mediation = _meeting(town["hehe"], days=2, kind="mediation", visibility="private").id
    apis = {who: api_as(town[who]) for who in ("cadre", "anle_cadre", "resident", "admin")}
    seen = {}
    for who, api in apis.items():
        seen[who] = mediation in [item["id"] for item in _get(api).get_json()["items"]]

    assert seen == {"cadre": True, "anle_cadre": False, "resident": False, "admin": True}
    # Nobody unknown is answered, kept page or not.
    assert client.get(URL).status_code == 401


def test_an_unknown_community_matches_nothing_until_it_exists(app, api_as, town):
    from consult.accounts.operations import get_or_create_community

    api = api_as(town["admin"])
    url = f"{URL}?community=Xingfu"
    assert _get(api, url).get_json() == {"items": [], "page": 1, "pages": 0, "total": 0}

    xingfu = get_or_create_community("Xingfu")
    db.session.commit()
    meeting = _meeting(xingfu, days=8).id

    assert [item["id"] for item in _get(api, url).get_json()["items"]] == [meeting]


def test_a_renamed_community_shows_by_its_new_name(app, api_as, town):
    from consult.community.operations import update_community

    api = api_as(town["admin"])
    new_york = town.ids["new_york"]
    assert _item(_get(api).get_json(), new_york)["community"] == "Anle"

    update_community(town["anle"], {"name": "Anle Garden"}, None)
    db.session.commit()

    assert _item(_get(api).get_json(), new_york)["community"] == "Anle Garden"


@pytest.mark.parametrize("who", ["admin", "cadre", "resident"])
def test_a_repeated_request_costs_two_statements(api_as, town, count_queries, who):
    api = api_as(town[who])
    api.get("/api/v1/me")  # records the token's use
    runs = []
    for _ in range(2):
        db.session.remove()
        with count_queries() as counted:
            assert api.get(URL).status_code == 200
        runs.append([s for s in counted.statements if not BOOKKEEPING.match(s)])

    first, again = runs
    # First: the token with its user and communities, the counters (with the activity
    # versions), the page, its count (kept apart), the waiting lists. Again: the token
    # and the counters.
    assert len(first) == 5, first
    assert len(again) == 2, again


@pytest.mark.parametrize("query", ["page=0", "per_page=abc", "kind=nonsense"])
def test_bad_input_answers_422_and_keeps_nothing(api_as, town, monkeypatch, query):
    api = api_as(town["admin"])
    kept = []
    monkeypatch.setattr(cache, "set", lambda name, value, *a, **kw: kept.append(name))

    response = api.get(f"{URL}?{query}")

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid"
    assert kept == []
