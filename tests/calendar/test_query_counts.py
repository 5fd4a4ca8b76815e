"""Lists and feeds run a fixed number of statements, however many rows they show."""

from __future__ import annotations

from datetime import timedelta

from consult.extensions import db
from tests.conftest import csrf_token_from


def fresh():
    """Forget what the tests' session holds: each request below reads for itself."""
    db.session.expire_all()


def test_feed_statements_do_not_grow_with_its_sessions(
    app, client, factories, api_as, count_queries
):
    community = factories.make_community("Hehe")
    venue = factories.make_venue(community, name="议事厅")
    cadre = factories.make_user("cadre")
    url = (
        api_as(factories.make_user())
        .post("/api/v1/feeds", json={"scope": "community", "community": "Hehe"})
        .get_json()["url"]
    )

    hall = factories.make_venue(community, name="二楼会议室")
    made = []

    def add(n):
        for _ in range(n):
            made.append(
                factories.make_meeting(
                    community, venue=hall, organiser=cadre, starts_in=timedelta(days=3 + len(made))
                )
            )
        _series, weeks = factories.make_calendar_series(community, venue=venue, organiser=cadre)
        factories.reschedule_occurrence(weeks[1], weeks[1].starts_at + timedelta(hours=1))

    add(1)
    fresh()
    with count_queries() as few:
        assert client.get(url).status_code == 200
    add(8)
    fresh()
    with count_queries() as many:
        assert client.get(url).status_code == 200
    # The token's row (with the community's calendar version: the fingerprint,
    # consult.calendar.cache), the feed loaded to render it, the one-offs, the series
    # and their occurrences.
    assert few.n == many.n == 5
    fresh()
    with count_queries() as cached:
        assert client.get(url).status_code == 200
    # Nothing changed: the token, which carries the fingerprint; the body comes from the
    # cache.
    assert cached.n == 1, cached.statements


def test_mine_feed_statements_do_not_grow(app, client, factories, api_as, count_queries):
    owner = factories.make_user()
    url = api_as(owner).post("/api/v1/feeds", json={"scope": "mine"}).get_json()["url"]

    def add(n):
        for _ in range(n):
            factories.make_signup(factories.make_meeting(kind="mediation"), owner)
        _series, weeks = factories.make_calendar_series()
        factories.make_signup(weeks[2], owner)

    add(1)
    fresh()
    with count_queries() as few:
        client.get(url)
    add(6)
    fresh()
    with count_queries() as many:
        client.get(url)
    # The token's row, the feed with its owner, the fingerprint, the single sessions, the
    # whole series (none).
    assert few.n == many.n == 5


def test_feeds_page_statements_do_not_grow(app, client, factories, api_as, login_as, count_queries):
    factories.make_community("Hehe")
    user = factories.make_user()
    api = api_as(user)
    api.post("/api/v1/feeds", json={"scope": "mine"})
    login_as(user)
    client.get("/me/calendars")
    fresh()
    with count_queries() as few:
        assert client.get("/me/calendars").status_code == 200
    for _ in range(5):
        api.post("/api/v1/feeds", json={"scope": "community", "community": "Hehe"})
    fresh()
    with count_queries() as many:
        html = client.get("/me/calendars").get_data(as_text=True)
    assert html.count("data-feed=") == 6
    # The account, the caller's memberships, the communities of the form, the feeds.
    assert few.n == many.n == 4, many.statements
    assert sum("membership" in s.lower() for s in many.statements) == 1, many.statements


def test_invite_page_statements_do_not_grow(app, client, factories, login_as, count_queries):
    community = factories.make_community("Hehe")
    unit = factories.make_unit("城关供电所")
    factories.make_alliance_member(community, unit)
    meeting = factories.make_meeting(community)
    factories.make_invitation(meeting, unit=unit)
    login_as(factories.make_user("cadre"))
    csrf_token_from(client.get(f"/sessions/{meeting.id}/invite").get_data(as_text=True))
    fresh()
    with count_queries() as few:
        client.get(f"/sessions/{meeting.id}/invite")
    for _ in range(10):
        factories.make_invitation(meeting, unit=unit)
    fresh()
    with count_queries() as many:
        html = client.get(f"/sessions/{meeting.id}/invite").get_data(as_text=True)
    assert html.count("data-invitation=") == 11
    # The account, its memberships (the community scope), the session, the alliance's
    # units, the invitations.
    assert few.n == many.n == 5
