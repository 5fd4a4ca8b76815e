"""Two application instances with the same REDIS_URL keep one cache of calendars: what
one renders the other serves, and a change made through one is seen by the other.

Needs the Redis server on 127.0.0.1:6379 (skipped without it, failed under CI); uses a
database number and a key prefix of its own and removes its keys afterwards.
"""

from __future__ import annotations

import uuid

import pytest

from consult import create_app
from consult.accounts.operations import create_api_token
from consult.calendar import views
from consult.extensions import db
from tests.conftest import ApiClient
from tests.test_rate_limits import redis_or_skip

REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def prefix():
    redis_or_skip()
    import redis

    chosen = f"consult-test-{uuid.uuid4().hex[:12]}:"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield chosen
    finally:
        for key in client.scan_iter(match=f"{chosen}*"):
            client.delete(key)
        client.close()


@pytest.fixture
def renders(monkeypatch):
    counted = {"n": 0}
    feed_calendar = views.feed_calendar

    def counting(*args, **kwargs):
        counted["n"] += 1
        return feed_calendar(*args, **kwargs)

    monkeypatch.setattr(views, "feed_calendar", counting)
    return counted


def instance(app_config, **extra):
    return create_app({**app_config, **extra})


def api_on(application, user) -> ApiClient:
    token = create_api_token(user)
    db.session.commit()
    return ApiClient(application.test_client(), token)


def test_two_instances_with_one_redis_share_the_calendars(
    app, app_config, factories, prefix, renders
):
    one = instance(app_config, REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=prefix)
    two = instance(app_config, REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=prefix)
    assert one.config["CACHE_TYPE"] == two.config["CACHE_TYPE"] == "RedisCache"
    community = factories.make_community("Hehe")
    meeting = factories.make_meeting(community, title="圆桌会")
    factories.make_calendar_series(community)
    cadre = api_on(one, factories.make_user("cadre"))
    subscriber = api_on(one, factories.make_user("resident"))
    made = subscriber.post("/api/v1/feeds", json={"scope": "community", "community": "Hehe"})
    url = made.get_json()["url"]
    first, second = one.test_client(), two.test_client()

    rendered = first.get(url)
    assert rendered.status_code == 200 and renders["n"] == 1
    etag = rendered.headers["ETag"]
    # The other instance knows the feed: a 304, and the body, without rendering.
    assert second.get(url, headers={"If-None-Match": etag}).status_code == 304
    served = second.get(url)
    assert served.data == rendered.data and served.headers["ETag"] == etag
    assert renders["n"] == 1

    # A change made through the first instance...
    answer = cadre.patch(f"/api/v1/sessions/{meeting.id}", json={"title": "改期的圆桌会"})
    assert answer.status_code == 200, answer.get_json()
    changed = first.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert renders["n"] == 2
    # ... is seen by the second, which serves what the first rendered.
    seen = second.get(url, headers={"If-None-Match": etag})
    assert seen.status_code == 200
    assert seen.headers["ETag"] == changed.headers["ETag"] and seen.data == changed.data
    assert "SUMMARY:改期的圆桌会" in seen.get_data(as_text=True)
    assert renders["n"] == 2

    # And the other way round: a cancellation through the second, seen by the first.
    cadre_on_two = ApiClient(two.test_client(), cadre.token)
    assert cadre_on_two.post(f"/api/v1/sessions/{meeting.id}/cancel").status_code == 200
    cancelled = second.get(url, headers={"If-None-Match": changed.headers["ETag"]})
    assert cancelled.status_code == 200 and renders["n"] == 3
    assert "STATUS:CANCELLED" in cancelled.get_data(as_text=True)
    now_seen = first.get(url, headers={"If-None-Match": changed.headers["ETag"]})
    assert now_seen.status_code == 200 and now_seen.data == cancelled.data
    assert first.get(url, headers={"If-None-Match": cancelled.headers["ETag"]}).status_code == 304
    assert renders["n"] == 3

    import redis

    stored = list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{prefix}*"))
    assert any(b"etag:" in key for key in stored) and any(b"ics:" in key for key in stored)


def test_without_redis_each_instance_keeps_its_own(app, app_config, factories, renders):
    """The control: two instances without REDIS_URL each render the feed once."""
    one, two = instance(app_config), instance(app_config)
    assert one.config["CACHE_TYPE"] == "SimpleCache"
    factories.make_meeting(factories.make_community("Hehe"))
    subscriber = api_on(one, factories.make_user("resident"))
    made = subscriber.post("/api/v1/feeds", json={"scope": "community", "community": "Hehe"})
    url = made.get_json()["url"]
    etag = one.test_client().get(url).headers["ETag"]
    assert two.test_client().get(url, headers={"If-None-Match": etag}).status_code == 304
    assert renders["n"] == 2
