"""The session page kept in the cache (meetings.views.show): the same page as one
rendered afresh, every change of what it shows seen on the next request, never another
person's page nor their CSRF token, and the counter the database keeps for it
(communities.activity_version, migration 0012)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from consult.accounts.models import User
from consult.attendance import operations as attendance
from consult.calendar.operations import invite_people
from consult.community.models import AllianceMember, Community, Unit, Venue
from consult.community.operations import update_community
from consult.extensions import cache, db
from consult.meetings import models, views
from consult.meetings.models import Attendance, Invitation, Meeting, Registration
from consult.meetings.operations import update_meeting
from consult.minutes.models import AgendaItem, Minutes, Resolution
from consult.minutes.operations import approve_minutes, publish_minutes, save_minutes
from consult.types import utcnow
from tests.cases.builders import agenda_item, resolve
from tests.conftest import csrf_token_from, login

#: CSRF tokens are signed with the time: the rest of a page is compared.
TOKEN = re.compile(r'(name="[\w-]*csrf_token"[^>]*value=")[^"]*"')


def _get(client, url: str) -> str:
    """The page as a server answers it: each request starts from an empty session."""
    db.session.expire_all()
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return TOKEN.sub(r'\1"', response.get_data(as_text=True))


def _fresh(client, url: str) -> str:
    """The page rendered afresh: nothing kept in the cache."""
    cache.clear()
    return _get(client, url)


def _seen(client, url: str) -> str:
    """The page asked again after a change; it must be the one rendered afresh."""
    page = _get(client, url)
    assert page == _fresh(client, url)
    # Kept again for the next step: a stale page would then be served from the cache.
    assert _get(client, url) == page
    return page


def _sign_in(client, user) -> None:
    """Sign in, and take the welcome message away (it is shown once, on the next page)."""
    assert login(client, user.email).status_code == 302
    client.get("/")


def _reload(meeting: Meeting) -> Meeting:
    db.session.expire_all()
    return db.session.get(Meeting, meeting.id)


@pytest.fixture
def hehe(factories):
    return factories.make_community("Hehe", brand="Hehe New Neighbors")


@pytest.fixture
def staff(factories, hehe):
    return factories.make_user("cadre", community="Hehe")


@pytest.fixture
def week(factories, hehe):
    """The second week of a series of three, with places, at a venue, hosted by a unit."""
    venue = factories.make_venue(hehe, "Community hall")
    unit = factories.make_unit("Hehe property company")
    _series, weeks = factories.make_series(hehe, count=3, capacity=2, title="周五议事")
    for meeting in weeks:
        meeting.venue_id = venue.id
        meeting.host_unit_id = unit.id
    db.session.commit()
    return weeks


def test_a_kept_page_is_the_page_rendered_afresh_and_costs_few_statements(
    client, staff, week, factories, count_queries
):
    meeting = week[1]
    factories.make_signup(meeting, factories.make_user())
    factories.make_invitation(meeting, name="Guest")
    agenda_item(meeting, staff, title="楼道治理")
    _sign_in(client, staff)
    url = f"/sessions/{meeting.id}"
    cache.clear()
    db.session.expire_all()
    with count_queries() as first:
        page = _get(client, url)
    db.session.expire_all()
    with count_queries() as again:
        assert _get(client, url) == page
    assert _fresh(client, url) == page
    # The person and their memberships, then the session with its community's counters,
    # venue, organiser, host unit and series: nothing of the panels.
    assert again.n == 3, again.statements
    assert first.n > again.n + 8, first.statements
    assert "Hehe New Neighbors" in page and "Community hall" in page
    assert "Hehe property company" in page and "楼道治理" in page and "Guest" in page
    assert "data-staff-links" in page and 'data-panel="invite"' in page


def test_every_change_is_seen_on_the_next_request(app, client, staff, week, factories):
    meeting, later = week[1], week[2]
    url = f"/sessions/{meeting.id}"
    _sign_in(client, staff)
    page = _seen(client, url)
    assert "2 of 2 places left" in page and "Nobody has been invited yet." in page

    # The session edited (its own community's calendar version).
    update_meeting(_reload(meeting), {"title": "改过的议事", "capacity": 3}, staff)
    db.session.commit()
    page = _seen(client, url)
    assert "改过的议事" in page and "3 of 3 places left" in page

    # Someone else signs up, and one more waits (the list grows without the session).
    factories.make_signup(_reload(meeting), factories.make_user())
    page = _seen(client, url)
    assert "2 of 3 places left" in page
    factories.make_signup(_reload(meeting), factories.make_user(), status="waitlisted")
    assert "Waiting list: 1" in _seen(client, url)

    # The viewer's own sign-up and its cancellation.
    registration = attendance.sign_up(_reload(meeting), staff, staff)
    db.session.commit()
    page = _seen(client, url)
    assert 'data-mine="confirmed"' in page
    attendance.cancel_registration(db.session.get(Registration, registration.id), staff)
    db.session.commit()
    assert "data-mine=" not in _seen(client, url)

    # Invitations: to this week, then to the whole series from another week.
    invite_people(_reload(meeting), {"emails": ["a@example.org"]}, staff)
    db.session.commit()
    page = _seen(client, url)
    assert "a@example.org" in page
    invite_people(_reload(later), {"emails": ["b@example.org"], "whole_series": True}, staff)
    db.session.commit()
    page = _seen(client, url)
    assert "b@example.org" in page and "whole series" in page

    # An answer to an invitation.
    invitation = db.session.scalar(select(Invitation).where(Invitation.email == "a@example.org"))
    attendance.answer_invitation(invitation, "ACCEPTED")
    db.session.commit()
    assert 'data-answers="ACCEPTED"' in _seen(client, url)

    # An agenda item, then its resolution.
    item = agenda_item(_reload(meeting), staff, title="停车难")
    assert "停车难" in _seen(client, url)
    resolve(db.session.get(AgendaItem, item.id), staff, [], outcome="deferred", text="下次再议")
    assert "下次再议" in _seen(client, url)

    # Minutes saved.
    save_minutes(_reload(meeting), {"version": 0, "notes": {}}, staff)
    db.session.commit()
    assert "Minutes (Draft)" in _seen(client, url)

    # The venue, the host unit and the community renamed.
    venue = db.session.scalar(select(Venue).where(Venue.name == "Community hall"))
    venue.name = "Great hall"
    db.session.commit()
    assert "Great hall" in _seen(client, url)
    unit = db.session.scalar(select(Unit).where(Unit.name == "Hehe property company"))
    unit.name = "Hehe property services"
    db.session.commit()
    assert "Hehe property services" in _seen(client, url)
    hehe = db.session.scalar(select(Community).where(Community.name == "Hehe"))
    update_community(hehe, {"name": "Hehe East", "brand": "East Neighbors"}, staff)
    db.session.commit()
    page = _seen(client, url)
    assert "Hehe East" in page and "East Neighbors" in page

    # An alliance member: the invitation form offers the alliance's units.
    assert "invite-units" not in page
    factories.make_alliance_member(hehe, factories.make_unit("Hehe school"))
    assert "invite-units" in _seen(client, url)


def test_minutes_published_and_attendance_recorded_are_seen(client, staff, hehe, factories):
    meeting = factories.make_meeting(hehe, starts_in=timedelta(hours=2), title="今天的会")
    walk_in = factories.make_signup(meeting, name="王秀英")
    url = f"/sessions/{meeting.id}"
    _sign_in(client, staff)
    assert "data-attended" not in _seen(client, url)

    attendance.record_attendance(_reload(meeting), {("registration", walk_in.id): "present"}, staff)
    db.session.commit()
    assert 'data-attended="1"' in _seen(client, url)

    save_minutes(_reload(meeting), {"version": 0, "notes": {}}, staff)
    db.session.commit()
    assert "Write the minutes" in _seen(client, url)
    past = utcnow() - timedelta(hours=1)
    db.session.execute(
        update(Meeting)
        .where(Meeting.id == meeting.id)
        .values(starts_at=past, ends_at=past + timedelta(hours=2))
    )
    db.session.commit()
    approve_minutes(_reload(meeting), staff)
    publish_minutes(_reload(meeting), staff)
    db.session.commit()
    page = _seen(client, url)
    assert "Minutes (Published)" in page and "Write the minutes" not in page


def test_names_are_masked_until_the_person_agrees(app, staff, week, factories):
    meeting = week[1]
    person = factories.make_user(name="李四海")
    factories.make_signup(meeting, person)
    agenda_item(meeting, staff, title="李四海 asks about parking")
    url = f"/sessions/{meeting.id}"
    reader, chair = app.test_client(), app.test_client()
    _sign_in(reader, factories.make_user())
    _sign_in(chair, staff)
    assert "李四海 asks" not in _seen(reader, url)
    assert "李四海 asks" in _seen(chair, url)

    db.session.execute(update(User).where(User.id == person.id).values(named_in_minutes=True))
    db.session.commit()
    assert "李四海 asks" in _seen(reader, url)


def test_sign_up_closes_when_the_session_starts(client, staff, week, monkeypatch):
    meeting = week[1]
    url = f"/sessions/{meeting.id}"
    _sign_in(client, staff)
    begins = meeting.starts_at

    def at(moment):
        monkeypatch.setattr(views, "utcnow", lambda: moment)
        monkeypatch.setattr(models, "utcnow", lambda: moment)

    at(begins - timedelta(minutes=5))
    before = _seen(client, url)
    assert 'data-action="sign-up"' in before and 'data-action="sign-up-series"' in before
    at(begins - timedelta(minutes=4))
    assert _get(client, url) == before

    at(begins + timedelta(seconds=1))
    after = _seen(client, url)
    assert "Sign-up is closed: the session has started." in after
    assert 'data-action="sign-up"' not in after


def test_the_series_sign_up_counts_the_weeks_still_to_come(client, staff, week, monkeypatch):
    """The third week's page offers its series' coming weeks: fewer once one starts,
    though nothing on the page's own session changed."""
    first, _second, third = week
    url = f"/sessions/{third.id}"
    _sign_in(client, staff)
    monkeypatch.setattr(models, "utcnow", lambda: first.starts_at - timedelta(minutes=1))
    monkeypatch.setattr(views, "utcnow", lambda: first.starts_at - timedelta(minutes=1))
    assert "all 3 coming sessions" in _seen(client, url)
    monkeypatch.setattr(models, "utcnow", lambda: first.starts_at + timedelta(minutes=1))
    monkeypatch.setattr(views, "utcnow", lambda: first.starts_at + timedelta(minutes=1))
    assert "all 2 coming sessions" in _seen(client, url)


def test_viewers_never_share_a_page(app, staff, week, factories):
    meeting = week[1]
    url = f"/sessions/{meeting.id}"
    factories.make_community("Anle")
    people = {
        "staff": staff,
        "other staff": factories.make_user("cadre", community="Anle"),
        "resident": factories.make_user(),
        "visitor": None,
    }
    pages = {}
    for name, person in people.items():
        client = app.test_client()
        if person is not None:
            _sign_in(client, person)
        pages[name] = _get(client, url)
        assert _get(client, url) == pages[name]
        assert _fresh(client, url) == pages[name]
    assert "data-staff-links" in pages["staff"] and 'data-panel="invite"' in pages["staff"]
    for name in ("other staff", "resident", "visitor"):
        assert "data-staff-links" not in pages[name], name
        assert 'data-panel="invite"' not in pages[name], name
        assert 'data-action="edit"' not in pages[name], name
    assert 'data-action="sign-up"' in pages["resident"]
    assert (
        'data-action="sign-up"' not in pages["visitor"] and "Sign in to sign up" in pages["visitor"]
    )
    assert 'name="csrf_token"' not in pages["visitor"]


def test_each_reader_gets_their_own_csrf_token(app, staff, week, factories):
    meeting = week[1]
    url = f"/sessions/{meeting.id}"
    clients = {}
    for person in (staff, factories.make_user("secretary", community="Hehe")):
        clients[person.id] = client = app.test_client()
        _sign_in(client, person)
        client.get(url)  # rendered, then kept
    tokens = {}
    for person_id, client in clients.items():
        html = client.get(url).get_data(as_text=True)
        assert "@@" not in html
        tokens[person_id] = set(re.findall(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"', html))
        assert len(tokens[person_id]) == 1
    assert tokens[staff.id] != tokens[next(i for i in clients if i != staff.id)]
    for person_id, client in clients.items():
        token = csrf_token_from(client.get(url).get_data(as_text=True))
        response = client.post(
            f"/sessions/{meeting.id}/sign-up", data={"csrf_token": token}, follow_redirects=True
        )
        assert response.status_code == 200
        assert "You have a place" in response.get_data(as_text=True), person_id
    db.session.expire_all()
    signed = db.session.scalars(
        select(Registration.user_id).where(Registration.meeting_id == meeting.id)
    ).all()
    assert sorted(signed) == sorted(clients)


# -- the counter the database keeps ----------------------------------------------------


def _versions() -> dict[int, int]:
    db.session.expire_all()
    return dict(db.session.execute(select(Community.id, Community.activity_version)).all())


def _raised(before: dict[int, int], community_ids) -> None:
    after = _versions()
    for community_id, version in before.items():
        if community_id in community_ids:
            assert after[community_id] > version, community_id
        else:
            assert after[community_id] == version, community_id


def _rows(meeting, community, factories, staff):
    """For each table the counter follows: make a row, change it (in place)."""
    item = agenda_item(meeting, staff, title="议题")
    return {
        "registrations": (
            lambda: Registration(meeting_id=meeting.id, name="王", status="waitlisted"),
            lambda row: setattr(row, "phone", "13900000000"),
        ),
        "invitations": (
            lambda: Invitation(meeting_id=meeting.id, email="x@example.org"),
            lambda row: setattr(row, "partstat", "ACCEPTED"),
        ),
        "agenda_items": (
            lambda: AgendaItem(meeting_id=meeting.id, title="另一个", position=9),
            lambda row: setattr(row, "title", "改过的"),
        ),
        "minutes": (
            lambda: Minutes(meeting_id=meeting.id, status="draft", version=1, notes={}),
            lambda row: setattr(row, "notes", {"x": "y"}),
        ),
        "attendance": (
            lambda: Attendance(meeting_id=meeting.id, name="来宾", status="present"),
            lambda row: setattr(row, "status", "late"),
        ),
        "resolutions": (
            lambda: Resolution(agenda_item_id=item.id, text="决议", outcome="deferred"),
            lambda row: setattr(row, "text", "改过的决议"),
        ),
        "alliance_members": (
            lambda: AllianceMember(community_id=community.id, unit_id=factories.make_unit().id),
            lambda row: setattr(row, "rotation_position", 1),
        ),
    }


TABLES = [
    "registrations",
    "invitations",
    "agenda_items",
    "minutes",
    "attendance",
    "resolutions",
    "alliance_members",
]


@pytest.mark.parametrize("table", TABLES)
def test_a_row_raises_its_community_s_activity_version(factories, staff, hehe, table):
    anle = factories.make_community("Anle")
    meeting = factories.make_meeting(hehe)
    factories.make_meeting(anle)
    make, change = _rows(meeting, hehe, factories, staff)[table]
    before = _versions()
    row = make()
    db.session.add(row)
    db.session.commit()
    _raised(before, {hehe.id})

    before = _versions()
    change(row)
    db.session.commit()
    _raised(before, {hehe.id})

    before = _versions()
    db.session.delete(row)
    db.session.commit()
    _raised(before, {hehe.id})
    assert anle.id in before


def test_units_and_consent_raise_every_community_s_activity_version(factories, hehe):
    anle = factories.make_community("Anle")
    unit = factories.make_unit("Some unit")
    person = factories.make_user()
    everyone = {hehe.id, anle.id}

    before = _versions()
    db.session.execute(update(Unit).where(Unit.id == unit.id).values(name="Renamed unit"))
    db.session.commit()
    _raised(before, everyone)

    before = _versions()
    db.session.execute(update(User).where(User.id == person.id).values(named_in_minutes=True))
    db.session.commit()
    _raised(before, everyone)

    # Another change of a person (the sign-in bookkeeping) leaves the counters alone.
    before = _versions()
    db.session.execute(update(User).where(User.id == person.id).values(phone="13900000001"))
    db.session.commit()
    _raised(before, set())

    before = _versions()
    db.session.execute(text("DELETE FROM units WHERE id = :id"), {"id": unit.id})
    db.session.commit()
    _raised(before, everyone)


def test_a_private_session_is_asked_about_at_every_request(app, staff, hehe, factories):
    """Whether the reader may see the session is not kept: an invitation withdrawn
    hides the page kept for the one invited."""
    meeting = factories.make_meeting(hehe, kind="mediation", visibility="private")
    url = f"/sessions/{meeting.id}"
    invited, other = factories.make_user(), factories.make_user()
    invitation = factories.make_invitation(meeting, email=invited.email)
    clients = {}
    for person in (invited, other):
        clients[person.id] = app.test_client()
        _sign_in(clients[person.id], person)
    assert _seen(clients[invited.id], url)
    assert clients[other.id].get(url).status_code == 404

    db.session.delete(db.session.get(Invitation, invitation.id))
    db.session.commit()
    db.session.expire_all()
    assert clients[invited.id].get(url).status_code == 404
