"""Feeds and session files kept in the cache under a fingerprint of what they show.

Each kind of thing a feed shows is changed through the application (the API, the pages,
the operations) or, for what no page changes, in the database; the ETag must change
and the new body must show the change. An unchanged feed keeps its ETag and answers
304 without being rendered again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from consult.calendar import views
from consult.community.operations import update_venue
from consult.extensions import cache, db
from consult.meetings.models import Invitation, Meeting
from tests.calendar.helpers import parse, unfolded, vevents
from tests.conftest import csrf_token_from


def feed_path(api, body: dict) -> str:
    response = api.post("/api/v1/feeds", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["url"]


@pytest.fixture
def renders(monkeypatch):
    """Count the calendars rendered (feeds and session files)."""
    counted = {"feed": 0, "session": 0}
    feed_calendar, session_calendar = views.feed_calendar, views.session_calendar

    def counting_feed(*args, **kwargs):
        counted["feed"] += 1
        return feed_calendar(*args, **kwargs)

    def counting_session(*args, **kwargs):
        counted["session"] += 1
        return session_calendar(*args, **kwargs)

    monkeypatch.setattr(views, "feed_calendar", counting_feed)
    monkeypatch.setattr(views, "session_calendar", counting_session)
    return counted


def events_by_uid(body: bytes) -> dict[str, list]:
    found: dict[str, list] = {}
    for event in vevents(parse(body)):
        found.setdefault(str(event["UID"]), []).append(event)
    return found


def local_stamp(moment: datetime) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%dT%H%M%S")


def ok(response) -> bool:
    assert response.status_code < 300, (response.status_code, response.get_json())
    return True


def csrf(client) -> str:
    return csrf_token_from(client.get("/me/calendars").get_data(as_text=True))


# -- a community feed --------------------------------------------------------------------


@pytest.fixture
def town(factories, api_as):
    """A community with a one-off session at a venue and a weekly series, its feed, and
    a cadre of the community with an API client."""
    community = factories.make_community("Hehe")
    hall = factories.make_venue(community, name="议事厅")
    meeting = factories.make_meeting(community, venue=hall, title="圆桌会")
    series, weeks = factories.make_calendar_series(community, title="周五说事日")
    subscriber = factories.make_user("resident", name="订阅人")
    subscriber.locale = "en"
    db.session.commit()
    cadre = factories.make_user("cadre")
    url = feed_path(api_as(subscriber), {"scope": "community", "community": "Hehe"})
    return {
        "community": community,
        "hall": hall,
        "meeting": meeting,
        "series": series,
        "weeks": weeks,
        "subscriber": subscriber,
        "cadre": cadre,
        "api": api_as(cadre),
        "url": url,
    }


def _title(t, client, login_as):
    assert ok(t["api"].patch(f"/api/v1/sessions/{t['meeting'].id}", json={"title": "新标题"}))
    return lambda body: str(events_by_uid(body)[t["meeting"].uid][0]["SUMMARY"]) == "新标题"


def _time(t, client, login_as):
    meeting = t["meeting"]
    starts = meeting.starts_at + timedelta(hours=1)
    ends = meeting.ends_at + timedelta(hours=1)
    body = {"starts_at": starts.isoformat(), "ends_at": ends.isoformat()}
    assert ok(t["api"].patch(f"/api/v1/sessions/{meeting.id}", json=body))
    return lambda body: f"DTSTART;TZID=Asia/Shanghai:{local_stamp(starts)}" in unfolded(body)


def _venue(t, client, login_as):
    body = {"venue": "二楼会议室"}
    assert ok(t["api"].patch(f"/api/v1/sessions/{t['meeting'].id}", json=body))
    return lambda body: "LOCATION:二楼会议室" in unfolded(body)


def _venue_address(t, client, login_as):
    hall = t["hall"]
    data = {"name": hall.name, "kind": hall.kind, "community_id": hall.community_id}
    update_venue(hall, {**data, "address": "和合路 12 号"}, t["cadre"])
    db.session.commit()
    return lambda body: "LOCATION:议事厅\\, 和合路 12 号" in unfolded(body)


def _cancellation(t, client, login_as):
    assert ok(t["api"].post(f"/api/v1/sessions/{t['meeting'].id}/cancel"))
    return lambda body: str(events_by_uid(body)[t["meeting"].uid][0]["STATUS"]) == "CANCELLED"


def _skipped_week(t, client, login_as):
    week = t["weeks"][2]
    login_as(t["cadre"])
    answer = client.post(
        f"/sessions/{week.id}/skip", data={"csrf_token": csrf(client), "confirmed": "1"}
    )
    assert answer.status_code == 302

    def shows(body):
        overrides = [e for e in events_by_uid(body)[t["series"].uid] if "RECURRENCE-ID" in e]
        return [str(e["STATUS"]) for e in overrides] == ["CANCELLED"]

    return shows


def _moved_week(t, client, login_as):
    week = t["weeks"][3]
    starts = week.starts_at + timedelta(hours=2)
    body = {"starts_at": starts.isoformat(), "ends_at": (week.ends_at + timedelta(hours=2))}
    body["ends_at"] = body["ends_at"].isoformat()
    assert ok(t["api"].patch(f"/api/v1/sessions/{week.id}", json=body))
    return lambda body: f"DTSTART;TZID=Asia/Shanghai:{local_stamp(starts)}" in unfolded(body)


def _series_title(t, client, login_as):
    t["series"].title = "周五议事日"
    db.session.commit()
    return lambda body: str(events_by_uid(body)[t["series"].uid][0]["SUMMARY"]) == "周五议事日"


def _new_session(t, client, login_as):
    created = t["api"].post(
        "/api/v1/sessions",
        json={
            "title": "新的议事会",
            "kind": "roundtable",
            "community": "Hehe",
            "starts_at": (t["meeting"].starts_at + timedelta(days=2)).isoformat(),
            "ends_at": (t["meeting"].ends_at + timedelta(days=2)).isoformat(),
        },
    )
    assert created.status_code == 201, created.get_json()
    return lambda body: "SUMMARY:新的议事会" in unfolded(body)


def _session_gone(t, client, login_as):
    uid = t["meeting"].uid
    db.session.delete(t["meeting"])
    db.session.commit()
    return lambda body: uid not in events_by_uid(body)


def _language(t, client, login_as):
    t["subscriber"].locale = "zh_CN"
    db.session.commit()
    return lambda body: "X-WR-CALNAME:Hehe 的议事会议" in unfolded(body)


def _community_name(t, client, login_as):
    t["community"].name = "和合"
    db.session.commit()
    return lambda body: "X-WR-CALNAME:和合 sessions" in unfolded(body)


COMMUNITY_CHANGES = {
    "title": _title,
    "time": _time,
    "venue": _venue,
    "venue address": _venue_address,
    "cancellation": _cancellation,
    "skipped week": _skipped_week,
    "moved week": _moved_week,
    "series title": _series_title,
    "new session": _new_session,
    "session gone": _session_gone,
    "language": _language,
    "community name": _community_name,
}


@pytest.mark.parametrize("change", list(COMMUNITY_CHANGES))
def test_a_community_feed_changes_with_what_it_shows(app, client, town, login_as, renders, change):
    url = town["url"]
    first = client.get(url)
    etag = first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    shows = COMMUNITY_CHANGES[change](town, client, login_as)
    db.session.expire_all()
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 200, change
    assert again.headers["ETag"] != etag
    assert shows(again.data), unfolded(again.data)
    assert not shows(first.data)
    rendered = renders["feed"]
    assert client.get(url, headers={"If-None-Match": again.headers["ETag"]}).status_code == 304
    assert client.get(url).data == again.data
    assert renders["feed"] == rendered  # kept: neither answer rendered it again


def test_an_organisers_name_and_address_change_the_feed(app, client, town):
    app.config["MAIL_REPLY_TO"] = "replies@consult.test"
    cadre = town["cadre"]
    town["meeting"].organiser_id = cadre.id
    db.session.commit()
    url = town["url"]
    etag = client.get(url).headers["ETag"]
    cadre.name = "李明"
    db.session.commit()
    renamed = client.get(url, headers={"If-None-Match": etag})
    assert renamed.status_code == 200
    assert "ORGANIZER;CN=李明:mailto:replies@consult.test" in unfolded(renamed.data)
    app.config["MAIL_REPLY_TO"] = None
    plain = client.get(url, headers={"If-None-Match": renamed.headers["ETag"]})
    assert plain.status_code == 200
    cadre.email = "liming@example.org"
    db.session.commit()
    moved = client.get(url, headers={"If-None-Match": plain.headers["ETag"]})
    assert moved.status_code == 200
    assert "ORGANIZER:mailto:liming@example.org" in unfolded(moved.data)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE meetings SET title = 'hand-written' WHERE id = :meeting",
        "UPDATE series SET title = 'hand-written' WHERE community_id = :community",
        "UPDATE venues SET address = 'hand-written' WHERE id = :venue",
    ],
)
def test_a_hand_written_change_is_seen_by_the_community_feed(app, client, town, statement):
    """The community's calendar version is raised by the database, whatever writes."""
    url = town["url"]
    etag = client.get(url).headers["ETag"]
    params = {
        "meeting": town["meeting"].id,
        "community": town["community"].id,
        "venue": town["hall"].id,
    }
    db.session.execute(text(statement), params)
    db.session.commit()
    db.session.expire_all()
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert "hand-written" in "\n".join(unfolded(again.data))


def test_an_unchanged_feed_answers_304_without_rendering(app, client, town, renders, count_queries):
    url = town["url"]
    first = client.get(url)
    assert renders["feed"] == 1
    etag = first.headers["ETag"]
    db.session.expire_all()
    with count_queries() as counted:
        again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    # The token, read with the community's calendar version (the fingerprint): nothing
    # rendered, no session loaded.
    assert counted.n == 1, counted.statements
    assert renders["feed"] == 1
    whole = client.get(url)
    assert whole.status_code == 200 and whole.headers["ETag"] == etag
    assert whole.data == first.data  # the body kept, DTSTAMP and all
    assert renders["feed"] == 1


def test_a_change_that_shows_nothing_keeps_the_etag(app, client, town, factories, renders):
    """A sign-up raises its session's change stamp (its places) but no feed shows places:
    the feed is rendered once more and keeps its ETag, so clients keep their copy."""
    url = town["url"]
    etag = client.get(url).headers["ETag"]
    factories.make_signup(town["meeting"], factories.make_user())
    town["subscriber"].phone = "13900000000"
    db.session.commit()
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    assert renders["feed"] == 2
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert renders["feed"] == 2


def test_subscribers_of_a_community_share_its_rendering(
    app, client, town, factories, api_as, renders
):
    url = town["url"]
    first = client.get(url)
    other = factories.make_user("resident")
    other.locale = "en"
    db.session.commit()
    second = client.get(feed_path(api_as(other), {"scope": "community", "community": "Hehe"}))
    assert second.headers["ETag"] == first.headers["ETag"] and second.data == first.data
    assert renders["feed"] == 1
    # Another language is another title, hence another feed.
    chinese = factories.make_user("resident")
    chinese.locale = "zh_CN"
    db.session.commit()
    third = client.get(feed_path(api_as(chinese), {"scope": "community", "community": "Hehe"}))
    assert third.headers["ETag"] != first.headers["ETag"]
    assert renders["feed"] == 2


def test_the_window_moves_a_day_at_a_time(app, client, factories, api_as, monkeypatch, renders):
    app.config["FEED_DAYS_BACK"] = 0
    community = factories.make_community("Hehe")
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    soon = factories.make_meeting(community, starts_in=noon + timedelta(days=3) - datetime.now(UTC))
    later = factories.make_meeting(
        community, starts_in=noon + timedelta(days=9) - datetime.now(UTC)
    )
    url = feed_path(api_as(factories.make_user()), {"scope": "community", "community": "Hehe"})
    monkeypatch.setattr(views, "utcnow", lambda: noon)
    first = client.get(url)
    assert set(events_by_uid(first.data)) == {soon.uid, later.uid}
    etag = first.headers["ETag"]
    # Later the same day: the same feed, not rendered again.
    monkeypatch.setattr(views, "utcnow", lambda: noon + timedelta(hours=11, minutes=59))
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert renders["feed"] == 1
    # Five days on, the first session has left the window (no day back).
    monkeypatch.setattr(views, "utcnow", lambda: noon + timedelta(days=5))
    moved = client.get(url, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["ETag"] != etag
    assert set(events_by_uid(moved.data)) == {later.uid}


def test_a_failing_cache_is_passed_by(app, client, town, monkeypatch, renders):
    def broken(*args, **kwargs):
        raise ConnectionError("the cache is away")

    monkeypatch.setattr(cache, "get", broken)
    monkeypatch.setattr(cache, "set", broken)
    first = client.get(town["url"])
    assert first.status_code == 200 and events_by_uid(first.data)
    again = client.get(town["url"], headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert renders["feed"] == 2  # nothing kept: rendered each time


# -- a personal feed ---------------------------------------------------------------------


@pytest.fixture
def mine(factories, api_as):
    community = factories.make_community("Hehe")
    first = factories.make_meeting(community, title="第一场")
    second = factories.make_meeting(community, title="第二场", starts_in=timedelta(days=9))
    owner = factories.make_user("resident", name="王芳")
    owner.locale = "en"
    db.session.commit()
    cadre = factories.make_user("cadre")
    owners_api = api_as(owner)
    signed = owners_api.post(f"/api/v1/sessions/{first.id}/registrations", json={})
    assert signed.status_code == 201
    return {
        "first": first,
        "second": second,
        "owner": owner,
        "api": owners_api,
        "cadre_api": api_as(cadre),
        "registration": signed.get_json()["id"],
        "url": feed_path(owners_api, {"scope": "mine"}),
    }


def _sign_up(m):
    assert ok(m["api"].post(f"/api/v1/sessions/{m['second'].id}/registrations", json={}))
    return lambda body: set(events_by_uid(body)) == {m["first"].uid, m["second"].uid}


def _cancel_sign_up(m):
    assert m["api"].delete(f"/api/v1/registrations/{m['registration']}").status_code == 204
    return lambda body: events_by_uid(body) == {}


def _swap_sign_ups(m):
    """One sign-up cancelled and another made: as many sessions as before."""
    assert m["api"].delete(f"/api/v1/registrations/{m['registration']}").status_code == 204
    assert ok(m["api"].post(f"/api/v1/sessions/{m['second'].id}/registrations", json={}))
    return lambda body: set(events_by_uid(body)) == {m["second"].uid}


def _invitation(m):
    body = {"emails": [m["owner"].email]}
    answer = m["cadre_api"].post(f"/api/v1/sessions/{m['second'].id}/invitations", json=body)
    assert answer.status_code == 202, answer.get_json()
    return lambda body: m["second"].uid in events_by_uid(body)


def _owners_name(m):
    m["owner"].name = "王芳芳"
    db.session.commit()
    return lambda body: "X-WR-CALNAME:My sessions (王芳芳)" in unfolded(body)


def _owners_language(m):
    m["owner"].locale = "zh_CN"
    db.session.commit()
    return lambda body: "X-WR-CALNAME:我的议事会议（王芳）" in unfolded(body)


MINE_CHANGES = {
    "sign-up": _sign_up,
    "sign-up cancelled": _cancel_sign_up,
    "sign-ups swapped": _swap_sign_ups,
    "invitation": _invitation,
    "owner's name": _owners_name,
    "owner's language": _owners_language,
}


@pytest.mark.parametrize("change", list(MINE_CHANGES))
def test_a_personal_feed_changes_with_what_it_shows(app, client, mine, renders, change):
    url = mine["url"]
    first = client.get(url)
    etag = first.headers["ETag"]
    assert set(events_by_uid(first.data)) == {mine["first"].uid}
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    shows = MINE_CHANGES[change](mine)
    db.session.expire_all()
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 200, change
    assert again.headers["ETag"] != etag
    assert shows(again.data), unfolded(again.data)
    rendered = renders["feed"]
    assert client.get(url, headers={"If-None-Match": again.headers["ETag"]}).status_code == 304
    assert renders["feed"] == rendered


def test_a_declined_invitation_leaves_the_personal_feed(app, client, mine):
    url = mine["url"]
    invitation = Invitation(meeting_id=mine["second"].id, email=mine["owner"].email)
    db.session.add(invitation)
    db.session.commit()
    invited = client.get(url)
    assert mine["second"].uid in events_by_uid(invited.data)
    invitation.partstat = "DECLINED"
    db.session.commit()
    declined = client.get(url, headers={"If-None-Match": invited.headers["ETag"]})
    assert declined.status_code == 200
    assert mine["second"].uid not in events_by_uid(declined.data)


def test_a_staff_owners_feed_follows_their_communities(app, client, factories, api_as):
    """A cadre's feed carries the private sessions they organise while they are staff of
    that community; moved to another community, no longer."""
    from consult.accounts.models import Membership

    hehe = factories.make_community("Hehe")
    anle = factories.make_community("Anle")
    cadre = factories.make_user("cadre")
    mediation = factories.make_meeting(hehe, kind="mediation", organiser=cadre)
    url = feed_path(api_as(cadre), {"scope": "mine"})
    first = client.get(url)
    assert mediation.uid in events_by_uid(first.data)
    membership = db.session.scalar(select(Membership).where(Membership.user_id == cadre.id))
    membership.community_id = anle.id
    db.session.commit()
    db.session.expire_all()
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert mediation.uid not in events_by_uid(again.data)


# -- a session's file --------------------------------------------------------------------


def test_a_session_file_has_an_etag_kept_until_the_session_changes(
    app, client, town, renders, count_queries
):
    meeting = town["meeting"]
    path = f"/sessions/{meeting.id}.ics"
    first = client.get(path)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert (
        first.headers["Content-Disposition"] == f'attachment; filename="session-{meeting.id}.ics"'
    )
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(path).data == first.data
    assert renders["session"] == 1
    assert ok(town["api"].patch(f"/api/v1/sessions/{meeting.id}", json={"title": "改了"}))
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert "SUMMARY:改了" in unfolded(changed.data)


def test_a_series_file_changes_with_any_of_its_weeks(app, client, town, renders):
    weeks = town["weeks"]
    path = f"/sessions/{weeks[0].id}.ics"
    etag = client.get(path).headers["ETag"]
    # The last week, far from the one asked for, is part of the whole series' file.
    moved = weeks[-1].starts_at + timedelta(hours=1)
    body = {"starts_at": moved.isoformat(), "ends_at": (weeks[-1].ends_at + timedelta(hours=1))}
    body["ends_at"] = body["ends_at"].isoformat()
    assert ok(town["api"].patch(f"/api/v1/sessions/{weeks[-1].id}", json=body))
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert f"DTSTART;TZID=Asia/Shanghai:{local_stamp(moved)}" in unfolded(changed.data)


def test_a_week_signed_up_for_alone_is_another_file(app, client, town, factories, login_as):
    week = town["weeks"][1]
    path = f"/sessions/{week.id}.ics"
    whole = client.get(path)
    resident = factories.make_user("resident")
    factories.make_signup(week, resident)
    login_as(resident)
    alone = client.get(path, headers={"If-None-Match": whole.headers["ETag"]})
    assert alone.status_code == 200 and alone.headers["ETag"] != whole.headers["ETag"]
    assert list(events_by_uid(alone.data)) == [week.uid]
    assert db.session.get(Meeting, week.id) is not None


def test_a_feed_keeps_one_body_in_the_cache(app, client, town):
    """The body a feed showed before a change leaves the cache when the new one is kept:
    what the cache holds grows with the feeds, not with their changes."""
    url = town["url"]
    before = client.get(url).headers["ETag"].strip('W/"')
    assert cache.get(f"ics:{before}") is not None
    assert ok(town["api"].patch(f"/api/v1/sessions/{town['meeting'].id}", json={"title": "改"}))
    after = client.get(url).headers["ETag"].strip('W/"')
    assert after != before
    assert cache.get(f"ics:{after}") is not None
    assert cache.get(f"ics:{before}") is None
