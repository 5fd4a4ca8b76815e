"""What a feed shows decides its ETag; its refresh properties are well-formed."""

from __future__ import annotations

import pytest

from consult.extensions import db
from tests.calendar.helpers import unfolded


def feed_path(api, body: dict) -> str:
    response = api.post("/api/v1/feeds", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["url"]


@pytest.mark.parametrize(
    "change",
    [
        "venue address",
        "venue name",
        "owner's language",
        "owner's name",
        "organiser",
        "status",
        "base url",
    ],
)
def test_the_etag_changes_with_anything_the_feed_shows(app, client, factories, api_as, change):
    community = factories.make_community("Hehe")
    hall = factories.make_venue(community, name="议事厅")
    cadre = factories.make_user("cadre", name="李明")
    meeting = factories.make_meeting(community, venue=hall)
    owner = factories.make_user("resident", name="王芳")
    owner.locale = "en"
    db.session.commit()
    factories.make_signup(meeting, owner)
    url = feed_path(api_as(owner), {"scope": "mine"})
    first = client.get(url)
    etag = first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    if change == "venue address":
        hall.address = "城关镇和合路 12 号"
    elif change == "venue name":
        hall.name = "二楼议事厅"
    elif change == "owner's language":
        owner.locale = "zh_CN"
    elif change == "owner's name":
        owner.name = "王芳芳"
    elif change == "organiser":
        meeting.organiser_id = cadre.id
    elif change == "status":
        meeting.status = "cancelled"
    else:
        app.config["BASE_URL"] = "https://consult.example.org"
    db.session.commit()
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 200, change
    assert again.headers["ETag"] != etag
    assert again.data != first.data
    assert client.get(url, headers={"If-None-Match": again.headers["ETag"]}).status_code == 304


def test_the_etag_does_not_change_when_nothing_shown_changes(app, client, factories, api_as):
    meeting = factories.make_meeting()
    owner = factories.make_user("resident")
    factories.make_signup(meeting, owner)
    url = feed_path(api_as(owner), {"scope": "mine"})
    etag = client.get(url).headers["ETag"]
    owner.phone = "13900000000"
    db.session.commit()
    # DTSTAMP (the time the body was made) differs; nothing shown does.
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_refresh_properties_are_durations(app, client, factories, api_as):
    factories.make_community("Hehe")
    url = feed_path(api_as(factories.make_user()), {"scope": "community", "community": "Hehe"})
    lines = unfolded(client.get(url).data)
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines
    assert "X-PUBLISHED-TTL:PT1H" in lines
