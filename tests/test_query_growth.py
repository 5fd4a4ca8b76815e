"""Constant queries: the key pages and API lists run as many SQL statements for a town
five times as full as for the town itself.

One town is built block by block through the real operations (and the factories):
each block adds people, units and venues, a community, sessions of every kind (this
month's, a weekly series, a private mediation, a past joint meeting with its agenda,
resolution, actions and published minutes), cases at every stage, an issue and its
evaluation, sign-ups and invitations. Lists stay shorter than one page at ×1, so that
something loaded item by item shows at ×5 as more statements. Every URL is requested
twice at each size (the first request after the data changed, then again), and
neither count may be larger at ×5 than at ×1.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from consult.attendance import operations as attendance
from consult.calendar.operations import create_feed
from consult.cases.models import Case
from consult.cases.operations import escalate_case, evaluate_issue
from consult.extensions import db
from consult.minutes.operations import approve_minutes, publish_minutes, save_minutes
from consult.types import utcnow
from tests.cases.builders import agenda_item, new_case, new_issue, resolve
from tests.conftest import login

#: The town at ×1 has this many blocks, at ×5 five times as many.
BLOCKS = 1
#: Statements that are bookkeeping of their own and not part of what a page reads: the
#: record of an API token's use, written at most once a minute per token.
BOOKKEEPING = re.compile(r"^\s*UPDATE\s+api_tokens\b", re.IGNORECASE)


@dataclass
class Town:
    """The fixed part of the town, by id: who signs in, what the measured URLs name.

    Every request starts from an empty session (as each request of a server does), so
    the objects are looked up again whenever they are needed.
    """

    ids: dict[str, int]
    community_feed: str
    personal_feed: str
    blocks: int = 0

    def __getattr__(self, name: str):
        from consult.accounts.models import User
        from consult.community.models import Community
        from consult.meetings.models import Meeting

        ids = self.__dict__.get("ids", {})
        if name not in ids:
            raise AttributeError(name)
        model = {"hehe": Community, "session": Meeting, "past": Meeting}.get(name, User)
        return db.session.get(model, ids[name])


def _past(hours: int) -> timedelta:
    return timedelta(hours=-hours)


def build_town(factories) -> Town:
    hehe = factories.make_community("Hehe")
    admin = factories.make_user("admin", email="admin@growth.test")
    cadre = factories.make_user("cadre", email="cadre@growth.test")
    secretary = factories.make_user("secretary", email="secretary@growth.test")
    resident = factories.make_user("resident", email="resident@growth.test")
    representative = factories.make_user("resident", email="rep@growth.test", representative=True)
    unit = factories.make_unit("Growth property company", kind="property_company")
    unit_rep = factories.make_user("unit_rep", email="unitrep@growth.test")
    unit_rep.unit_id = unit.id
    db.session.commit()
    # Coming, with sign-ups, invitations and an agenda.
    session = factories.make_meeting(
        hehe, kind="roundtable", starts_in=timedelta(days=2), capacity=40, organiser=cadre
    )
    # Held, with attendance and resolutions (its minutes stay a draft).
    past = factories.make_meeting(
        hehe, kind="joint_meeting", starts_in=_past(3), organiser=cadre, title="Joint meeting"
    )
    _feed, community_feed = create_feed({"scope": "community", "community": "Hehe"}, admin)
    _feed, personal_feed = create_feed({"scope": "mine"}, resident)
    db.session.commit()
    people = {
        "hehe": hehe,
        "admin": admin,
        "cadre": cadre,
        "secretary": secretary,
        "resident": resident,
        "representative": representative,
        "unit_rep": unit_rep,
        "session": session,
        "past": past,
    }
    return Town(
        ids={name: row.id for name, row in people.items()},
        community_feed=community_feed,
        personal_feed=personal_feed,
    )


def add_block(factories, town: Town) -> None:
    """Add one block of everything to the town."""
    k = town.blocks = town.blocks + 1
    hehe, cadre = town.hehe, town.cadre
    other = factories.make_community(f"Community {k}", brand=f"Brand {k}")
    venue = factories.make_venue(hehe, name=f"Room {k}", capacity=30)
    unit = factories.make_unit(f"Unit {k}", kind="enterprise")
    factories.make_alliance_member(hehe, unit, position=k)
    people = [factories.make_user("resident", name=f"居民{k}-{i}") for i in range(4)]
    representative = factories.make_user(
        "resident", name=f"代表{k}", representative=True, community="Hehe"
    )
    factories.make_user("cadre", community=other.name)

    # Sessions: this week's, a full one with a waiting list, a private mediation, a
    # weekly series, one of another community, a cancelled one.
    soon = factories.make_meeting(
        hehe,
        kind="friday_talk",
        starts_in=timedelta(days=2, hours=k),
        venue=venue,
        capacity=2,
        organiser=cadre,
    )
    mediation = factories.make_meeting(hehe, kind="mediation", starts_in=timedelta(days=3))
    factories.make_invitation(mediation, email=town.resident.email, name=town.resident.name)
    factories.make_calendar_series(hehe, title=f"Friday Talk Day {k}", venue=venue)
    factories.make_meeting(other, kind="deliberation", starts_in=timedelta(days=2, hours=k))
    factories.cancel_occurrence(factories.make_meeting(hehe, starts_in=timedelta(days=4)))

    # Sign-ups: the measured session's list grows; the full one gets a waiting list;
    # the measured resident signs up for this block's session (their feed grows).
    for person in people[:3]:
        attendance.sign_up(town.session, person, person)
    attendance.sign_up_proxy(
        town.session, {"name": f"王{k}", "phone": f"1390000{k:04d}"}, town.secretary
    )
    for person in people:
        attendance.sign_up(soon, person, person)
    attendance.sign_up(soon, town.resident, town.resident)
    db.session.commit()
    factories.make_invitation(town.session, name=f"Guest {k}")
    factories.make_invitation(town.session, unit=unit)
    agenda_item(town.session, cadre, title=f"Topic {k}")

    # Cases at every stage: open (one overdue), escalated, in an issue, resolved and
    # closed by a resolution of published minutes, evaluated by a representative.
    open_case = new_case(cadre, title=f"楼道堆物 {k}", reporter=people[0].name)
    db.session.execute(
        update(Case)
        .where(Case.id == open_case.id)
        .values(level_since=utcnow() - timedelta(days=30))
    )
    escalate_case(new_case(town.unit_rep, category="urgent", title=f"路灯不亮 {k}"), cadre)
    new_case(town.admin, category="conflict", community=other.name, title=f"邻里纠纷 {k}")
    closing = [new_case(cadre, title=f"停车难 {k}-{i}", reporter=people[1].name) for i in (1, 2)]
    issue = new_issue(cadre, closing, title=f"停车治理 {k}")
    past = factories.make_meeting(
        hehe,
        kind="joint_meeting",
        starts_in=_past(24 * k + 5),
        organiser=cadre,
        title=f"联席会议 {k}",
    )
    item = agenda_item(past, cadre, issue, title=f"停车 {k}")
    resolve(
        item,
        cadre,
        closing,
        text=f"物业 {k} 周内划线",
        actions=[
            {"description": f"划线 {k}", "unit": unit.id, "due_on": "2030-12-31"},
            {"description": f"回访 {k}", "assignee": town.unit_rep.id, "due_on": "2030-12-31"},
        ],
    )
    save_minutes(past, {"version": 0, "notes": {}}, cadre)
    approve_minutes(past, cadre)
    publish_minutes(past, cadre)
    db.session.commit()
    evaluate_issue(issue, {"rating": "satisfied"}, representative)
    # The measured past session: more on its agenda, more people who came.
    measured_item = agenda_item(town.past, cadre, title=f"议题 {k}")
    resolve(measured_item, cadre, [], outcome="deferred", text=f"下次再议 {k}")
    attendance.add_walk_in(town.past, {"name": f"来宾{k}"}, town.secretary)
    db.session.commit()


def grow(factories, town: Town, blocks: int) -> None:
    while town.blocks < blocks:
        add_block(factories, town)


def _local_day(town: Town) -> str:
    return town.session.starts_at.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


def urls(town: Town) -> list[tuple[str, str]]:
    """(who asks, URL): every key page and API list."""
    s, p, hehe = town.ids["session"], town.ids["past"], town.ids["hehe"]
    return [
        ("admin", "/"),
        ("cadre", "/"),
        ("secretary", "/"),
        ("resident", "/"),
        ("representative", "/"),
        ("unit_rep", "/"),
        ("visitor", "/"),
        ("admin", "/sessions"),
        ("resident", "/sessions"),
        ("cadre", f"/sessions/{s}"),
        ("cadre", f"/sessions/{p}"),
        ("resident", f"/sessions/{s}"),
        ("admin", f"/sessions/calendar?date={_local_day(town)}"),
        ("cadre", f"/sessions/calendar?date={_local_day(town)}"),
        ("admin", "/cases"),
        ("cadre", "/cases/overdue"),
        ("admin", "/issues"),
        ("representative", "/issues"),
        ("representative", "/issues/to-rate"),
        ("unit_rep", "/cases"),
        ("admin", "/stats"),
        ("cadre", f"/sessions/{s}/registrations"),
        ("cadre", f"/sessions/{p}/attendance"),
        ("cadre", f"/sessions/{p}/minutes"),
        ("resident", "/me/signups"),
        ("unit_rep", "/actions"),
        ("visitor", "/public/"),
        ("visitor", f"/public/{hehe}"),
        ("visitor", f"/public/{hehe}/resolutions.json"),
        ("visitor", f"/board/{hehe}"),
        ("visitor", f"/calendar/{town.community_feed}.ics"),
        ("visitor", f"/calendar/{town.personal_feed}.ics"),
        ("api", "/api/v1/sessions"),
        ("api", "/api/v1/cases"),
        ("api", "/api/v1/cases?status=resolved"),
        ("api", "/api/v1/stats"),
        ("api", f"/api/v1/sessions/{s}/registrations"),
    ]


def _clients(app, api_as, town: Town) -> dict:
    clients = {"visitor": app.test_client()}
    for role in ("admin", "cadre", "secretary", "resident", "representative", "unit_rep"):
        client = app.test_client()
        assert login(client, getattr(town, role).email).status_code == 302
        clients[role] = client
    clients["api"] = api_as(town.admin)
    return clients


@dataclass
class Measured:
    """The statements of a URL's first and second request."""

    first: list[str]
    second: list[str]

    @property
    def counts(self) -> tuple[int, int]:
        return len(self.first), len(self.second)


def measure(clients, count_queries, town: Town) -> dict[tuple[str, str], Measured]:
    """Return, per URL, the statements of its first and of its second request."""
    measured = {}
    for who, url in urls(town):
        runs = []
        for _ in range(2):
            # A request starts with an empty session, as on a server (the test's
            # application context, shared with the requests, would keep what it loaded).
            db.session.remove()
            with count_queries() as counted:
                response = clients[who].get(url)
            assert response.status_code == 200, (who, url, response.status_code)
            runs.append([s for s in counted.statements if not BOOKKEEPING.match(s)])
        measured[(who, url)] = Measured(*runs)
    db.session.remove()
    return measured


def _shape(statement: str) -> str:
    return re.sub(r"\s+", " ", statement).strip()[:150]


def _grew(small: tuple[int, int], large: tuple[int, int]) -> bool:
    return any(b > a for a, b in zip(small, large, strict=True))


def growth(small: Measured, large: Measured) -> str:
    """Say which statements a larger town repeats more often."""
    before, after = Counter(map(_shape, small.first)), Counter(map(_shape, large.first))
    return "; ".join(
        f"{after[shape] - before[shape]:+d} x {shape}"
        for shape in sorted(after, key=lambda shape: before[shape] - after[shape])[:3]
        if after[shape] > before[shape]
    )


def test_no_page_runs_more_statements_for_a_larger_town(
    app, factories, api_as, count_queries, capsys
):
    town = build_town(factories)
    clients = _clients(app, api_as, town)
    measure(clients, count_queries, town)  # first use of every route and template
    grow(factories, town, BLOCKS)
    small = measure(clients, count_queries, town)
    grow(factories, town, 5 * BLOCKS)
    large = measure(clients, count_queries, town)

    table = "\n".join(
        "{:4d} {:4d}  ->{:4d} {:4d}  {:<14} {}".format(*small[key].counts, *large[key].counts, *key)
        for key in small
    )
    with capsys.disabled():
        print(f"\nSQL statements (first, second request) at x1 -> x5:\n{table}")
    grown = [
        f"{who} {url}: {small[(who, url)].counts} at x1, {large[(who, url)].counts} at x5 "
        f"({growth(small[(who, url)], large[(who, url)])})"
        for who, url in small
        if _grew(small[(who, url)].counts, large[(who, url)].counts)
    ]
    assert not grown, "statements grow with the data:\n" + "\n".join(grown)
