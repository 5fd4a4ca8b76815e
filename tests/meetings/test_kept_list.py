"""The list of sessions kept in the cache (meetings.views.index): the same page as one
rendered afresh, every change seen on the next request, never another person's list,
and a list of the coming sessions that follows the clock."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from consult.community.models import Community
from consult.community.operations import update_community
from consult.extensions import cache, db
from consult.meetings import operations, views
from consult.meetings.models import Meeting
from tests.conftest import login
from tests.meetings.conftest import body, local_start

#: The CSRF token of the sign-out form is signed with the time: the rest of a page is
#: compared.
TOKEN = re.compile(r'name="csrf_token" value="[^"]*"')


def _create(cadre, start=None, **overrides) -> Meeting:
    start = start or local_start()
    data = {**body(start), "starts_at": start, "ends_at": start + timedelta(hours=2)}
    meeting = operations.create_meeting({**data, **overrides}, cadre)
    db.session.commit()
    return meeting


def _get(client, url: str) -> str:
    """The page as a server answers it: each request starts from an empty session."""
    db.session.expire_all()
    response = client.get(url)
    assert response.status_code == 200
    return TOKEN.sub("", response.get_data(as_text=True))


def _fresh(client, url: str) -> str:
    """The page rendered afresh: nothing kept in the cache."""
    cache.clear()
    return _get(client, url)


def _sign_in(client, user) -> None:
    """Sign in, and take the welcome message away (it is shown once, on the next page)."""
    assert login(client, user.email).status_code == 302
    client.get("/")


def _titles(html: str) -> list[str]:
    return re.findall(r'<span class="fw-semibold[^"]*">([^<]*)</span>', html)


@pytest.fixture
def town(cadre):
    """Two pages of coming sessions in two communities and two zones, with places, a
    private one, a cancelled one; and a past one."""
    start = local_start(days=3)
    for n in range(22):
        _create(
            cadre,
            start + timedelta(hours=5 * n),
            title=f"会议{n:02d}",
            community="Anle" if n % 3 == 0 else "Hehe",
            kind="deliberation" if n % 4 == 0 else "roundtable",
            capacity=None if n % 5 == 0 else 30,
            venue=f"Room {n % 4}",
        )
    _create(
        cadre, start + timedelta(hours=1), title="柏林的会", timezone="Europe/Berlin", venue="A"
    )
    _create(cadre, start + timedelta(hours=2), title="调解会", kind="mediation", venue="B")
    cancelled = _create(cadre, start + timedelta(hours=3), title="取消的会", venue="C")
    operations.cancel_meeting(cancelled, cadre)
    db.session.commit()
    _create(cadre, local_start(days=-30), title="上月的会")
    return start


URLS = [
    "/sessions",
    "/sessions?page=2",
    "/sessions?when=past",
    "/sessions?when=all&kind=roundtable",
    "/sessions?community={anle}&when=all",
    "/sessions?lang=zh_CN",
]


def test_a_kept_list_is_the_page_rendered_afresh(client, cadre, town, count_queries):
    _sign_in(client, cadre)
    anle = db.session.scalar(select(Community.id).where(Community.name == "Anle"))
    for url in (u.format(anle=anle) for u in URLS):
        cache.clear()
        first = _get(client, url)
        db.session.expire_all()
        with count_queries() as kept:
            second = _get(client, url)
        assert second == first, url
        assert _fresh(client, url) == first, url
        # The counters and one start time (none for every session): no page of
        # sessions, no count.
        reads = [s for s in kept.statements if "FROM meetings" in s]
        assert len(reads) == (0 if "when=all" in url else 1), kept.statements
        assert all("LIMIT" in s and "count(" not in s for s in reads), reads
    page = _get(client, "/sessions?lang=en")
    assert page.count("data-session=") == 20 and "会议00" in page and "上月的会" not in page
    assert "(Europe/Berlin)" in page and 'data-status="cancelled"' in page
    assert "30 of 30 places left" in page


def test_a_repeated_request_runs_a_fixed_few_statements(app, cadre, town, factories, count_queries):
    for who in (cadre, factories.make_user(), None):
        client = app.test_client()
        if who is not None:
            _sign_in(client, who)
        _get(client, "/sessions")
        cache.clear()
        db.session.expire_all()
        with count_queries() as first:
            _get(client, "/sessions")
        db.session.expire_all()
        with count_queries() as again:
            _get(client, "/sessions")
        # Signed in: the person, their memberships (what they see as staff), the change
        # counters (with, for a resident, their sign-ups and invitations) and the start
        # of the first session shown. A visitor: the counters and the start.
        assert again.n == (4 if who is not None else 2), again.statements
        # Afresh: besides, the communities of the filter, the page of sessions, the
        # count (kept under the counters read already), and the sessions of this hour
        # that began already.
        assert first.n == again.n + 4, first.statements


def test_every_change_is_seen_on_the_next_request(client, cadre, town, factories):
    _sign_in(client, cadre)
    meeting = db.session.scalar(select(Meeting).where(Meeting.title == "会议01"))
    page = _get(client, "/sessions")
    assert "会议01" in page and "30 of 30 places left" in page

    _create(cadre, town - timedelta(hours=1), title="新加的会")
    page = _get(client, "/sessions")
    assert _titles(page)[0] == "新加的会" and page == _fresh(client, "/sessions")

    db.session.execute(
        text("UPDATE meetings SET title = '改过的会' WHERE id = :id"), {"id": meeting.id}
    )
    db.session.commit()
    page = _get(client, "/sessions")
    assert "改过的会" in page and "会议01" not in page

    factories.make_signup(db.session.get(Meeting, meeting.id), factories.make_user())
    page = _get(client, "/sessions")
    assert "29 of 30 places left" in page and page == _fresh(client, "/sessions")

    operations.cancel_meeting(db.session.get(Meeting, meeting.id), cadre)
    db.session.commit()
    page = _get(client, "/sessions")
    assert page.count('data-status="cancelled"') == 2

    hehe = db.session.scalar(select(Community).where(Community.name == "Hehe"))
    update_community(hehe, {"name": "Hehe New", "brand": None}, cadre)
    db.session.commit()
    page = _get(client, "/sessions")
    assert "Hehe New ·" in page and f'<option value="{hehe.id}">Hehe New</option>' in page


def test_a_private_session_shows_for_those_who_may_see_it_only(app, cadre, town, factories):
    people = {
        "hehe staff": factories.make_user("cadre", community="Hehe"),
        "anle staff": factories.make_user("cadre", community="Anle"),
        "invited": factories.make_user(),
        "other": factories.make_user(),
    }
    clients = {}
    for name, person in people.items():
        clients[name] = app.test_client()
        _sign_in(clients[name], person)
    clients["visitor"] = app.test_client()
    private = db.session.scalar(select(Meeting).where(Meeting.title == "调解会"))
    assert private.visibility == "private"

    # The staff of its community first: what they are shown is kept, for them alone.
    sees = {name: "调解会" in _get(c, "/sessions") for name, c in clients.items()}
    assert sees == {
        "hehe staff": True,
        "anle staff": False,
        "invited": False,
        "other": False,
        "visitor": False,
    }

    factories.make_invitation(db.session.get(Meeting, private.id), email=people["invited"].email)
    page = _get(clients["invited"], "/sessions")
    assert "调解会" in page and page == _fresh(clients["invited"], "/sessions")
    assert "调解会" not in _get(clients["other"], "/sessions")


def test_the_language_of_the_list_follows_the_reader(client, cadre, town):
    _sign_in(client, cadre)
    english = _get(client, "/sessions")
    assert "All communities" in english
    _get(client, "/sessions?lang=zh_CN")
    chinese = _get(client, "/sessions")
    assert "所有社区" in chinese and "All communities" not in chinese
    _get(client, "/sessions?lang=en")
    assert _get(client, "/sessions") == english


def test_a_session_leaves_the_coming_ones_when_it_starts(
    client, cadre, factories, monkeypatch, count_queries
):
    first = _create(cadre, local_start(days=3), title="先开的会")
    _create(cadre, local_start(days=4), title="后开的会")
    _sign_in(client, factories.make_user())
    begins = db.session.get(Meeting, first.id).starts_at

    monkeypatch.setattr(views, "utcnow", lambda: begins - timedelta(minutes=5))
    before = _get(client, "/sessions")
    assert _titles(before) == ["先开的会", "后开的会"]
    assert "先开的会" not in _get(client, "/sessions?when=past")
    # A minute later the same sessions are to come: the same list, kept.
    monkeypatch.setattr(views, "utcnow", lambda: begins - timedelta(minutes=4))
    db.session.expire_all()
    with count_queries() as kept:
        assert _get(client, "/sessions") == before
    assert len([s for s in kept.statements if "FROM meetings" in s]) == 1

    monkeypatch.setattr(views, "utcnow", lambda: begins + timedelta(seconds=1))
    after = _get(client, "/sessions")
    assert _titles(after) == ["后开的会"] and after == _fresh(client, "/sessions")
    past = _get(client, "/sessions?when=past")
    assert _titles(past) == ["先开的会"] and past == _fresh(client, "/sessions?when=past")


@pytest.mark.parametrize(
    "query", ["page=abc", "page=0", "community=999999", "kind=nonsense", "when=nonsense", "x=1"]
)
def test_odd_arguments_answer_the_usual_list(client, cadre, town, query):
    html = _get(client, f"/sessions?{query}")
    if query.startswith("community"):
        assert "No sessions match." in html
    else:
        assert _titles(html)[:3] == _titles(_get(client, "/sessions"))[:3]
    # Its links carry the query as asked: not kept as the plain list's.
    assert query not in _get(client, "/sessions")
    assert _get(client, f"/sessions?{query}") == _fresh(client, f"/sessions?{query}")


def test_a_list_kept_by_another_release_is_never_served(client, cadre, town, monkeypatch):
    """Kept values are keyed by the code that rendered them: after a deployment, a cache
    that outlived it (Redis) answers nothing the old templates rendered."""
    from consult.community import versions

    _sign_in(client, cadre)
    cache.clear()
    monkeypatch.setattr(versions, "CODE", "the-old-release")
    first = _get(client, "/sessions?lang=en")
    # What the old release kept is what it answers with while it runs.
    for name in list(cache.cache._cache):  # the in-process cache of the tests
        kept = cache.get(name)
        if isinstance(kept, str) and "data-session=" in kept:
            cache.set(name, kept.replace("会议00", "旧模板"))
    assert "旧模板" in _get(client, "/sessions?lang=en")
    # The next release reads none of it.
    monkeypatch.setattr(versions, "CODE", "the-new-release")
    again = _get(client, "/sessions?lang=en")
    assert "旧模板" not in again and again == first
