"""The calendar URLs: /sessions/<id>.ics, /calendar/<token>.ics, /api/v1/feeds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from consult.calendar.models import FeedToken
from consult.extensions import db
from tests.calendar.helpers import parse, vevents
from tests.conftest import csrf_token_from

ICS = "text/calendar; charset=utf-8"


def uids(response) -> set[str]:
    return {str(e["UID"]) for e in vevents(parse(response.data))}


def feed_path(api, body: dict) -> str:
    response = api.post("/api/v1/feeds", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["url"]


# -- /sessions/<id>.ics ------------------------------------------------------------------


def test_session_file_is_text_calendar(app, client, factories):
    meeting = factories.make_meeting(title="社区圆桌会")
    response = client.get(f"/sessions/{meeting.id}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == ICS
    (event,) = vevents(parse(response.data))
    assert str(event["UID"]) == meeting.uid
    assert str(event["SUMMARY"]) == "社区圆桌会"


def test_session_file_of_an_occurrence_is_the_whole_series(app, client, factories):
    series, weeks = factories.make_calendar_series()
    factories.reschedule_occurrence(weeks[2], weeks[2].starts_at + timedelta(hours=1))
    response = client.get(f"/sessions/{weeks[5].id}.ics")
    events = vevents(parse(response.data))
    assert len(events) == 2
    assert {str(e["UID"]) for e in events} == {series.uid}
    assert sum("RRULE" in e for e in events) == 1


def test_private_session_file_is_hidden_from_those_who_may_not_see_it(
    app, client, factories, login_as
):
    meeting = factories.make_meeting(kind="mediation")
    assert client.get(f"/sessions/{meeting.id}.ics").status_code == 404
    stranger = factories.make_user("resident")
    login_as(stranger)
    assert client.get(f"/sessions/{meeting.id}.ics").status_code == 404


def test_private_session_file_is_served_to_a_registrant(app, client, factories, login_as):
    meeting = factories.make_meeting(kind="mediation")
    resident = factories.make_user("resident")
    factories.make_signup(meeting, resident)
    login_as(resident)
    response = client.get(f"/sessions/{meeting.id}.ics")
    assert response.status_code == 200
    assert uids(response) == {meeting.uid}


@pytest.mark.parametrize("path", ["/sessions/999999.ics", "/sessions/99999999999999.ics"])
def test_unknown_session_file_is_404(app, client, path):
    assert client.get(path).status_code == 404


# -- POST/DELETE /api/v1/feeds -----------------------------------------------------------


def test_create_feed_answers_201_with_the_url_once(app, factories, api_as):
    user = factories.make_user("resident")
    response = api_as(user).post("/api/v1/feeds", json={"scope": "mine"})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "url"}
    assert body["url"].startswith("/calendar/") and body["url"].endswith(".ics")
    token = body["url"][len("/calendar/") : -len(".ics")]
    stored = db.session.get(FeedToken, body["id"])
    assert stored.scope == "mine" and stored.user_id == user.id
    # Only the hash is kept.
    assert token not in stored.token_hash and len(stored.token_hash) == 64
    listed = api_as(user).get("/api/v1/feeds").get_json()["items"]
    assert [item["id"] for item in listed] == [body["id"]]
    assert token not in str(listed)


def test_create_community_feed(app, client, factories, api_as):
    factories.make_community("Hehe")
    response = api_as(factories.make_user()).post(
        "/api/v1/feeds", json={"scope": "community", "community": "Hehe"}
    )
    assert response.status_code == 201
    assert client.get(response.get_json()["url"]).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "scope"),
        ({"scope": "everyone"}, "scope"),
        ({"scope": 3}, "scope"),
        ({"scope": "community"}, "community"),
        ({"scope": "community", "community": "  "}, "community"),
        ({"scope": "mine", "community": "Hehe"}, "community"),
        ({"scope": "mine", "colour": "red"}, "colour"),
    ],
)
def test_create_feed_refuses_bad_input_with_422(app, factories, api_as, body, field):
    response = api_as(factories.make_user()).post("/api/v1/feeds", json=body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert db.session.scalar(select(func.count()).select_from(FeedToken)) == 0


def test_create_feed_for_an_unknown_community_is_422(app, factories, api_as):
    # As everywhere a body names a community: an unknown name is refused on its field.
    response = api_as(factories.make_user()).post(
        "/api/v1/feeds", json={"scope": "community", "community": "Nowhere"}
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "no_such_community"
    assert "community" in response.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(FeedToken)) == 0


def test_feeds_api_needs_a_token(app, client):
    assert client.post("/api/v1/feeds", json={"scope": "mine"}).status_code == 401


def test_delete_feed_revokes_it(app, client, factories, api_as):
    user = factories.make_user()
    api = api_as(user)
    response = api.post("/api/v1/feeds", json={"scope": "mine"})
    url, feed_id = response.get_json()["url"], response.get_json()["id"]
    assert client.get(url).status_code == 200
    deleted = api.delete(f"/api/v1/feeds/{feed_id}")
    assert deleted.status_code == 204
    assert deleted.data == b""
    assert client.get(url).status_code == 404
    assert api.delete(f"/api/v1/feeds/{feed_id}").status_code == 404


def test_only_the_owner_may_delete_a_feed(app, client, factories, api_as):
    owner, other = factories.make_user(), factories.make_user()
    response = api_as(owner).post("/api/v1/feeds", json={"scope": "mine"})
    feed_id, url = response.get_json()["id"], response.get_json()["url"]
    assert api_as(other).delete(f"/api/v1/feeds/{feed_id}").status_code == 404
    assert api_as(other).delete("/api/v1/feeds/99999999999").status_code == 404
    assert client.get(url).status_code == 200


# -- /calendar/<token>.ics ---------------------------------------------------------------


def test_unknown_token_is_404(app, client):
    assert client.get("/calendar/not-a-token.ics").status_code == 404


def test_feed_answers_etag_and_304(app, client, factories, api_as, count_queries):
    community = factories.make_community("Hehe")
    for _ in range(3):
        factories.make_meeting(community)
    factories.make_calendar_series(community)
    url = feed_path(api_as(factories.make_user()), {"scope": "community", "community": "Hehe"})
    first = client.get(url)
    assert first.status_code == 200
    assert first.headers["Content-Type"] == ICS
    etag = first.headers["ETag"]
    assert etag
    with count_queries() as revalidated:
        again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    # The token, with the fingerprint of what the feed shows (the community's calendar
    # version): nothing is rendered.
    assert revalidated.n == 1, revalidated.statements


def test_feed_etag_changes_when_a_session_changes(app, client, factories, api_as):
    community = factories.make_community("Hehe")
    meeting = factories.make_meeting(community)
    url = feed_path(api_as(factories.make_user()), {"scope": "community", "community": "Hehe"})
    etag = client.get(url).headers["ETag"]
    factories.reschedule_occurrence(meeting, meeting.starts_at + timedelta(hours=1))
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    factories.make_meeting(community)
    assert client.get(url, headers={"If-None-Match": changed.headers["ETag"]}).status_code == 200


def test_feed_etag_changes_when_the_owner_signs_up(app, client, factories, api_as):
    resident = factories.make_user()
    meeting = factories.make_meeting()
    url = feed_path(api_as(resident), {"scope": "mine"})
    etag = client.get(url).headers["ETag"]
    factories.make_signup(meeting, resident)
    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert uids(response) == {meeting.uid}


def test_a_cadres_feed_carries_the_sessions_they_organise(app, client, factories, api_as):
    cadre = factories.make_user("cadre")
    organised = factories.make_meeting(organiser=cadre, kind="mediation")
    factories.make_meeting(organiser=factories.make_user("cadre"))  # someone else's
    series, _weeks = factories.make_calendar_series(organiser=cadre, title="周五说事日")
    url = feed_path(api_as(cadre), {"scope": "mine"})
    assert uids(client.get(url)) == {organised.uid, series.uid}


def test_revoked_and_rotated_tokens_are_404(app, client, factories, login_as):
    user = factories.make_user()
    login_as(user)
    page = client.get("/me/calendars")
    client.post(
        "/me/calendars",
        data={"scope": "mine", "csrf_token": csrf_token_from(page.get_data(as_text=True))},
    )
    feed = db.session.scalar(select(FeedToken).where(FeedToken.user_id == user.id))
    shown = client.get("/me/calendars").get_data(as_text=True)
    url = shown.split('id="new-feed-url"')[1].split('value="')[1].split('"')[0]
    path = url.removeprefix("http://consult.test")
    assert client.get(path).status_code == 200
    token = csrf_token_from(shown)
    asked = client.post(f"/me/calendars/{feed.id}/rotate", data={"csrf_token": token})
    assert "stops working" in asked.get_data(as_text=True)
    assert client.get(path).status_code == 200  # not yet: only once confirmed
    client.post(f"/me/calendars/{feed.id}/rotate", data={"csrf_token": token, "confirmed": "1"})
    assert client.get(path).status_code == 404
    rotated = client.get("/me/calendars").get_data(as_text=True)
    new_path = rotated.split('id="new-feed-url"')[1].split('value="')[1].split('"')[0]
    new_path = new_path.removeprefix("http://consult.test")
    assert new_path != path and client.get(new_path).status_code == 200
    new_feed = db.session.scalar(
        select(FeedToken).where(FeedToken.user_id == user.id, FeedToken.revoked_at.is_(None))
    )
    client.post(f"/me/calendars/{new_feed.id}/revoke", data={"csrf_token": token})
    assert client.get(new_path).status_code == 404


def test_feed_of_a_disabled_account_is_404(app, client, factories, api_as):
    user = factories.make_user()
    url = feed_path(api_as(user), {"scope": "mine"})
    user.active = False
    db.session.commit()
    assert client.get(url).status_code == 404


def test_community_feed_carries_only_that_communitys_public_sessions(
    app, client, factories, api_as
):
    hehe = factories.make_community("Hehe")
    other = factories.make_community("Yuelai")
    public = factories.make_meeting(hehe, title="圆桌会")
    private = factories.make_meeting(hehe, kind="mediation")
    elsewhere = factories.make_meeting(other)
    series, weeks = factories.make_calendar_series(hehe)
    cancelled = factories.cancel_occurrence(factories.make_meeting(hehe))
    too_old = factories.make_meeting(hehe, starts_in=-timedelta(days=120))
    too_far = factories.make_meeting(hehe, starts_in=timedelta(days=400))
    admin = factories.make_user("admin")
    url = feed_path(api_as(admin), {"scope": "community", "community": "Hehe"})
    response = client.get(url)
    found = uids(response)
    assert found == {public.uid, series.uid, cancelled.uid}
    assert private.uid not in found and elsewhere.uid not in found
    assert too_old.uid not in found and too_far.uid not in found
    events = {str(e["UID"]): e for e in vevents(parse(response.data))}
    assert events[cancelled.uid]["STATUS"] == "CANCELLED"
    assert "RRULE" in events[series.uid]


def test_feed_window_follows_configuration(app, client, factories, api_as):
    hehe = factories.make_community("Hehe")
    soon = factories.make_meeting(hehe, starts_in=timedelta(days=5))
    later = factories.make_meeting(hehe, starts_in=timedelta(days=20))
    app.config["FEED_DAYS_AHEAD"] = 10
    url = feed_path(api_as(factories.make_user()), {"scope": "community", "community": "Hehe"})
    assert uids(client.get(url)) == {soon.uid}
    app.config["FEED_DAYS_AHEAD"] = 30
    assert uids(client.get(url)) == {soon.uid, later.uid}


def test_mine_feed_has_the_owners_sessions_private_ones_included(app, client, factories, api_as):
    owner = factories.make_user("resident")
    mediation = factories.make_meeting(kind="mediation", title="邻里调解")
    factories.make_signup(mediation, owner)
    invited = factories.make_meeting(title="联席会议")
    factories.make_invitation(invited, email=owner.email)
    declined = factories.make_meeting()
    factories.make_invitation(declined, email=owner.email, partstat="DECLINED")
    withdrawn = factories.make_meeting()
    factories.make_signup(withdrawn, owner, status="cancelled")
    someone_elses = factories.make_meeting(kind="mediation")
    factories.make_signup(someone_elses, factories.make_user("resident"))
    factories.make_meeting()  # public, but not theirs
    series, weeks = factories.make_calendar_series()
    factories.make_signup(weeks[1], owner)
    url = feed_path(api_as(owner), {"scope": "mine"})
    response = client.get(url)
    events = vevents(parse(response.data))
    assert {str(e["UID"]) for e in events} == {mediation.uid, invited.uid, weeks[1].uid}
    (week,) = [e for e in events if str(e["UID"]) == weeks[1].uid]
    # Signed up for one week only: that occurrence as an event of its own (its own UID,
    # no RECURRENCE-ID: an override without its master is refused by CalDAV servers).
    assert "RRULE" not in week and "RECURRENCE-ID" not in week
    assert week.decoded("DTSTART") == weeks[1].starts_at
    private = next(e for e in events if str(e["UID"]) == mediation.uid)
    assert private["CLASS"] == "PRIVATE"


def test_mine_feed_shows_a_whole_series_invitation_as_the_series(app, client, factories, api_as):
    owner = factories.make_user("unit_rep")
    series, weeks = factories.make_calendar_series()
    factories.cancel_occurrence(weeks[2])
    invitation = factories.make_invitation(weeks[0], email=owner.email)
    invitation.whole_series = True
    db.session.commit()
    events = vevents(parse(client.get(feed_path(api_as(owner), {"scope": "mine"})).data))
    # The series, and its skipped week as a cancelled override (as cancelled one-offs).
    assert len(events) == 2
    master, skipped = events
    assert "RRULE" in master and "EXDATE" not in master
    assert master["STATUS"] == "CONFIRMED"
    assert skipped["STATUS"] == "CANCELLED"
    assert skipped.decoded("RECURRENCE-ID") == weeks[2].recurrence_id


def test_mine_feed_drops_a_private_session_the_owner_may_no_longer_see(
    app, client, factories, api_as
):
    owner = factories.make_user("resident")
    mediation = factories.make_meeting(kind="mediation")
    registration = factories.make_signup(mediation, owner)
    url = feed_path(api_as(owner), {"scope": "mine"})
    assert uids(client.get(url)) == {mediation.uid}
    registration.status = "cancelled"
    db.session.commit()
    assert uids(client.get(url)) == set()


def test_feed_names_itself(app, client, factories, api_as):
    factories.make_community("Hehe")
    url = feed_path(api_as(factories.make_user()), {"scope": "community", "community": "Hehe"})
    cal = parse(client.get(url).data)
    assert "Hehe" in str(cal["X-WR-CALNAME"])
    # A subscribed feed is no scheduling message: no METHOD (only mail has one).
    assert "METHOD" not in cal


# -- the feeds page ----------------------------------------------------------------------


def test_feeds_page_needs_sign_in(app, client):
    response = client.get("/me/calendars")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_feeds_page_shows_a_new_address_once(app, client, factories, login_as):
    factories.make_community("Hehe")
    login_as(factories.make_user())
    page = client.get("/me/calendars")
    assert page.status_code == 200
    created = client.post(
        "/me/calendars",
        data={
            "scope": "community",
            "community": "Hehe",
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )
    assert created.status_code == 302
    shown = client.get("/me/calendars").get_data(as_text=True)
    assert 'id="new-feed-url"' in shown
    assert "webcal://consult.test/calendar/" in shown
    again = client.get("/me/calendars").get_data(as_text=True)
    assert 'id="new-feed-url"' not in again
    assert "data-feed=" in again


def test_feeds_page_form_errors_keep_the_input_and_save_nothing(app, client, factories, login_as):
    factories.make_community("Hehe")
    login_as(factories.make_user())
    page = client.get("/me/calendars")
    response = client.post(
        "/me/calendars",
        data={
            "scope": "community",
            "community": "",
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "invalid-feedback" in html
    assert (
        'value="community" checked' in html
        or 'checked value="community"' in html
        or ('value="community"' in html and "checked" in html)
    )
    assert db.session.scalar(select(func.count()).select_from(FeedToken)) == 0


def test_feeds_page_rotate_and_revoke_are_for_the_owner_only(
    app, client, factories, api_as, login_as
):
    owner = factories.make_user()
    feed_id = api_as(owner).post("/api/v1/feeds", json={"scope": "mine"}).get_json()["id"]
    login_as(factories.make_user())
    token = csrf_token_from(client.get("/me/calendars").get_data(as_text=True))
    for action in ("rotate", "revoke"):
        response = client.post(f"/me/calendars/{feed_id}/{action}", data={"csrf_token": token})
        assert response.status_code == 404
    assert db.session.get(FeedToken, feed_id).revoked_at is None


def test_routes_are_in_the_openapi_document(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert "post" in paths["/api/v1/feeds"]
    assert "delete" in paths["/api/v1/feeds/{feed_id}"]
    invitations = paths["/api/v1/sessions/{meeting_id}/invitations"]["post"]
    assert "202" in invitations["responses"]
    ref = invitations["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"emails", "units", "registered", "whole_series"} <= set(schema["properties"])
