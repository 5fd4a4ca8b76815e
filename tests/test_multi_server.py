"""Two servers, one application: two gunicorn instances (2 workers each) on one
PostgreSQL database and one Redis behave as a single server does.

- sign-ups sent at once to both never overbook a session, and the waiting list keeps
  one order;
- failed sign-ins spread over both are limited at the same count as against one
  (RATELIMIT_STORAGE_URI in Redis);
- a calendar feed rendered by one is served by the other from the cache in Redis
  (REDIS_URL), and a change made through one is seen through the other at once.

Needs PostgreSQL (CONSULT_TEST_DATABASE_URL) and the Redis server on 127.0.0.1:6379;
uses a Redis database of its own, emptied before and after.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import uuid

import pytest
from sqlalchemy import select

from consult.extensions import db
from consult.meetings.models import Registration
from tests.attendance.load import (
    Server,
    all_at_once,
    booking,
    request,
    residents_with_tokens,
    sign_in_attempt,
)
from tests.conftest import worker_redis_url
from tests.test_rate_limits import redis_or_skip

PG_URL = os.environ.get("CONSULT_TEST_DATABASE_URL")

pytestmark = [
    # The servers read what the test commits.
    pytest.mark.real_commits,
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="CONSULT_TEST_DATABASE_URL is not set (PostgreSQL)"),
]

#: The servers' Redis database (emptied by the fixture): one for each test worker.
REDIS_URL = worker_redis_url(1)
#: Failed sign-ins allowed per account (the per-address limit is set out of the way).
ACCOUNT_LIMIT = 4


@pytest.fixture(scope="module")
def servers(database_url, tmp_path_factory):
    """Two gunicorn instances, A and B, sharing the test database and one Redis."""
    redis_or_skip()
    import redis

    store = redis.Redis.from_url(REDIS_URL)
    store.flushdb()
    logs = tmp_path_factory.mktemp("servers")
    env = {
        "REDIS_URL": REDIS_URL,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "LOGIN_ACCOUNT_RATE_LIMIT": f"{ACCOUNT_LIMIT} per minute",
        # One public address for both, as behind the reverse proxy.
        "BASE_URL": "http://consult.test",
    }
    started = [
        Server(database_url, logs / f"gunicorn-{name}.log", workers=2, env=env) for name in "AB"
    ]
    try:
        for server in started:
            server.wait_ready()
        yield started
    finally:
        for server in started:
            server.stop()
        store.flushdb()
        store.close()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


# -- a. sign-ups ----------------------------------------------------------------------

PEOPLE = 16
PLACES = 3


def test_sign_ups_at_both_never_overbook_and_keep_one_waiting_list(app, factories, servers):
    a, b = servers
    meeting_id = factories.make_meeting(capacity=PLACES).id
    people = residents_with_tokens(PEOPLE)
    db.session.remove()
    path = f"/api/v1/sessions/{meeting_id}/registrations"

    def sign_up(n: int, token: str):
        server = servers[n % 2]
        return lambda: request(server.port, "POST", path, body=b"{}", headers=_bearer(token))

    started = time.monotonic()
    results = all_at_once([sign_up(n, token) for n, (_id, token) in enumerate(people)])
    elapsed = time.monotonic() - started
    assert not [r for r in results if isinstance(r, Exception)], results
    assert [status for status, _body in results] == [201] * PEOPLE, results
    answers = [json.loads(body) for _status, body in results]
    confirmed = [x for x in answers if x["status"] == "confirmed"]
    waiting = [x for x in answers if x["status"] == "waitlisted"]
    assert len(confirmed) == PLACES
    # Each waiting sign-up was told a place of its own.
    assert sorted(x["position"] for x in waiting) == list(range(1, PEOPLE - PLACES + 1))

    with db.engine.connect() as conn:
        state = booking(conn, meeting_id)
    assert not state.overbooked
    assert (state.counter, state.confirmed, state.waitlisted) == (PLACES, PLACES, PEOPLE - PLACES)
    # The places told are the order of the waiting list (sign-up time), whichever
    # server took each sign-up.
    rows = db.session.scalars(select(Registration).where(Registration.meeting_id == meeting_id))
    queue = sorted(
        (r for r in rows if r.status == "waitlisted"), key=lambda r: (r.created_at, r.id)
    )
    by_id = {x["id"]: x for x in answers}
    assert [by_id[r.id]["position"] for r in queue] == list(range(1, PEOPLE - PLACES + 1))
    db.session.remove()

    # A place freed through B goes to the first of the list, as A then says.
    first = queue[0].id
    token_of = {user_id: token for user_id, token in people}
    leaving = confirmed[0]["id"]
    leaver = db.session.get(Registration, leaving).user_id
    db.session.remove()
    status, _ = request(
        b.port, "DELETE", f"/api/v1/registrations/{leaving}", headers=_bearer(token_of[leaver])
    )
    assert status == 204
    status, body = request(
        a.port, "GET", f"/api/v1/sessions/{meeting_id}", headers=_bearer(token_of[leaver])
    )
    assert status == 200
    assert (json.loads(body)["confirmed"], json.loads(body)["waitlisted"]) == (
        PLACES,
        PEOPLE - PLACES - 1,
    )
    assert db.session.get(Registration, first).status == "confirmed"
    # Both servers took sign-ups, with more than one worker process each.
    for server in servers:
        assert len(server.worker_pids(f"POST {path}")) >= 1, server.log()[-2000:]
        assert "Traceback" not in server.log()
    assert elapsed < 30


# -- b. the sign-in limit ---------------------------------------------------------------


def test_failed_sign_ins_spread_over_both_are_limited_as_on_one(app, factories, servers):
    a, _b = servers
    spread, single = (f"limit-{uuid.uuid4().hex[:8]}@example.org" for _ in range(2))
    factories.make_user(email=spread)
    factories.make_user(email=single)
    db.session.remove()
    attempts = 2 * ACCOUNT_LIMIT
    # Alternately A and B, so each of the four worker processes takes some.
    across = [sign_in_attempt(servers[n % 2].port, spread) for n in range(attempts)]
    one = [sign_in_attempt(a.port, single) for _ in range(attempts)]
    expected = [200] * ACCOUNT_LIMIT + [429] * ACCOUNT_LIMIT
    assert across == expected
    assert one == expected


# -- c. the calendar cache --------------------------------------------------------------


def _get(port: int, path: str, etag: str | None = None) -> tuple[int, str | None, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"If-None-Match": etag} if etag else {})
        response = conn.getresponse()
        return response.status, response.getheader("ETag"), response.read().decode()
    finally:
        conn.close()


def test_a_feed_cached_by_one_is_renewed_by_a_change_made_through_the_other(
    app, factories, servers
):
    import redis

    a, b = servers
    meeting = factories.make_meeting(title="周五议事日 old title")
    meeting_id = meeting.id
    resident = factories.make_api_token(factories.make_user())
    cadre = factories.make_api_token(factories.make_user("cadre"))
    db.session.remove()
    status, body = request(
        a.port,
        "POST",
        "/api/v1/feeds",
        body=b'{"scope": "community", "community": "Hehe"}',
        headers=_bearer(resident),
    )
    assert status == 201, body
    feed = json.loads(body)["url"]

    status, first, ics = _get(a.port, feed)
    assert status == 200 and "old title" in ics
    # Kept in Redis: B serves A's rendering (a revalidation answers 304).
    store = redis.Redis.from_url(REDIS_URL)
    assert list(store.scan_iter(match="consult:*"))
    assert _get(b.port, feed, first)[0] == 304
    assert _get(a.port, feed, first)[0] == 304

    # Changed through B ...
    status, body = request(
        b.port,
        "PATCH",
        f"/api/v1/sessions/{meeting_id}",
        body=json.dumps({"title": "周五议事日 new title"}).encode(),
        headers=_bearer(cadre),
    )
    assert status == 200, body
    # ... seen through A at once: a new ETag and the new content.
    status, second, ics = _get(a.port, feed, first)
    assert status == 200
    assert second != first
    assert "new title" in ics and "old title" not in ics
    assert _get(b.port, feed, second)[0] == 304
    store.close()
