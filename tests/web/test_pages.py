"""Home, profile and statistics pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from consult.community.models import AllianceMember
from consult.extensions import db
from consult.minutes.models import AgendaItem, Resolution
from consult.stats.queries import StatsFilter, programme_stats
from consult.types import utcnow
from tests.web.helpers import as_new_request, figures, html_of, text_of

ZH = {"Accept-Language": "zh-CN"}


def resolve(meeting, *cases, issue=None):
    """Close ``cases`` (and ``issue``) by a resolution of ``meeting``, as a session would."""
    item = AgendaItem(
        meeting_id=meeting.id,
        position=len(meeting.agenda_items) + 1,
        title="议题",
        issue_id=issue.id if issue else None,
    )
    db.session.add(item)
    db.session.flush()
    resolution = Resolution(agenda_item_id=item.id, text="已解决", outcome="resolved")
    db.session.add(resolution)
    db.session.flush()
    for case in cases:
        case.status, case.resolution_id, case.resolved_at = "resolved", resolution.id, utcnow()
    if issue is not None:
        issue.status, issue.resolution_id, issue.resolved_at = "resolved", resolution.id, utcnow()
    db.session.commit()
    return resolution


# -- home ---------------------------------------------------------------------------------


def test_home_for_visitors_explains_and_offers_sign_in(client):
    response = client.get("/", headers=ZH)
    assert response.status_code == 200
    html = html_of(response)
    assert "全镇各社区的协商议事会议" in text_of(response)
    assert re.search(r'<a class="btn btn-primary btn-lg" href="/login">登录</a>', html)
    assert "data-shortcut=" not in html


def test_home_lists_the_sessions_one_may_see(client, factories, login_as):
    hehe = factories.make_community("Hehe")
    hall = factories.make_venue(hehe, name="和合议事厅")
    # 07:00 UTC is 15:00 in Shanghai.
    start = (utcnow() + timedelta(days=3)).replace(hour=7, minute=0, second=0, microsecond=0)
    talk = factories.make_meeting(
        hehe, kind="friday_talk", venue=hall, title="周五说事", starts_in=start - utcnow()
    )
    mediation = factories.make_meeting(hehe, kind="mediation", title="邻里调解")
    factories.make_meeting(
        hehe, kind="roundtable", title="上月圆桌会", starts_in=timedelta(days=-30)
    )
    factories.make_meeting(hehe, kind="roundtable", title="取消的圆桌会", status="cancelled")

    visitor = text_of(client.get("/", headers=ZH))
    assert "周五说事" in visitor and "邻里调解" not in visitor
    assert "上月圆桌会" not in visitor and "取消的圆桌会" not in visitor

    login_as(factories.make_user("cadre"))
    response = client.get("/", headers=ZH)
    text, html = text_of(response), html_of(response)
    assert "周五说事" in text and "邻里调解" in text  # staff see private sessions
    assert text.index("周五说事") < text.index("邻里调解")  # soonest first
    assert "周五说事日" in text and "Hehe" in text and "和合议事厅" in text
    assert "15:00" in text
    assert f'href="/sessions/{talk.id}"' in html and f'href="/sessions/{mediation.id}"' in html


@pytest.mark.parametrize(
    ("role", "present", "absent"),
    [
        (
            "unit_rep",
            {"cases.new", "minutes.actions", "cases.index", "calendar.feeds"},
            {"meetings.new", "admin.index", "cases.issues"},
        ),
        (
            "cadre",
            {"meetings.new", "cases.new", "cases.issues", "minutes.actions"},
            {"admin.index"},
        ),
        (
            "resident",
            {"meetings.index", "web.stats", "calendar.feeds"},
            {"meetings.new", "cases.new", "cases.index", "minutes.actions"},
        ),
    ],
)
def test_home_shows_the_role_shortcuts(app, client, factories, login_as, role, present, absent):
    login_as(factories.make_user(role))
    html = html_of(client.get("/"))
    shortcuts = set(re.findall(r'data-shortcut="([^"]+)"', html))
    assert present <= shortcuts
    assert not absent & shortcuts


def test_home_query_count_does_not_grow_with_sessions(client, factories, login_as, count_queries):
    hehe = factories.make_community("Hehe")
    login_as(factories.make_user("resident"))
    factories.make_meeting(hehe, venue=factories.make_venue(hehe))
    as_new_request()
    with count_queries() as one:
        assert client.get("/").status_code == 200
    for n in range(6):
        factories.make_meeting(
            hehe,
            kind="deliberation",
            starts_in=timedelta(days=n + 1),
            venue=factories.make_venue(hehe, name=f"Room {n}"),
        )
    as_new_request()
    with count_queries() as many:
        page = client.get("/")
    assert page.status_code == 200
    assert len(re.findall(r'data-session="', html_of(page))) == 7
    # The user, the sessions with their communities and venues, and what waits for the
    # resident: their memberships (representative?) and how many sign-ups they have.
    assert one.n == many.n == 4, many.statements


# -- profile ------------------------------------------------------------------------------


def test_profile_shows_the_account(client, factories, login_as):
    factories.make_community("Xingfu", brand="幸福家园")
    user = factories.make_user("resident", name="李雷", community="Xingfu", representative=True)
    login_as(user)
    response = client.get("/me", headers=ZH)
    assert response.status_code == 200
    text = text_of(response)
    assert "李雷" in text and user.email in text and "居民" in text
    assert "Xingfu" in text and "幸福家园" in text and "居民代表" in text
    assert 'href="/me/calendars"' in html_of(response)


# -- statistics ---------------------------------------------------------------------------


@pytest.fixture
def town(factories):
    """Three communities (two branded), units, sessions, cases and issues."""
    hehe = factories.make_community("Hehe", brand="和合新邻")
    xingfu = factories.make_community("Xingfu", brand="幸福家园")
    factories.make_community("Anle")
    units = {
        kind: [factories.make_unit(kind=kind) for _ in range(n)]
        for kind, n in (
            ("government_agency", 2),
            ("enterprise", 1),
            ("owners_committee", 3),
            ("property_company", 1),
        )
    }
    for unit in (units["government_agency"][0], *units["owners_committee"][:2]):
        db.session.add(AllianceMember(community_id=hehe.id, unit_id=unit.id))
    db.session.commit()
    roundtable = factories.make_meeting(
        hehe, kind="roundtable", status="held", starts_in=timedelta(days=-3)
    )
    mediation = factories.make_meeting(xingfu, kind="mediation", starts_in=timedelta(days=-2))
    factories.make_meeting(xingfu, kind="roundtable", status="cancelled")
    c1 = factories.make_case(hehe, "concern", level=1)
    c2 = factories.make_case(hehe, "concern", level=1)
    c3 = factories.make_case(hehe, "conflict", level=3, source="hotline")
    factories.make_case(hehe, "urgent", level=2)
    c5 = factories.make_case(xingfu, "concern", level=1, source="walk_in")
    c6 = factories.make_case(xingfu, "conflict", level=4)
    issue = factories.make_issue(hehe, cases=[c1, c2])
    factories.make_issue(xingfu)
    resolve(roundtable, c1, c2, issue=issue)
    resolve(roundtable, c3)
    resolve(mediation, c6)
    # 2025-01-10 23:00 in Shanghai: still the 10th there.
    c5.created_at = datetime(2025, 1, 10, 15, 0, tzinfo=UTC)
    db.session.commit()
    return {"hehe": hehe, "xingfu": xingfu}


def test_statistics_need_a_signed_in_user(client):
    response = client.get("/stats")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_statistics_show_the_figures_of_the_records(client, factories, login_as, town):
    login_as(factories.make_user("resident"))
    response = client.get("/stats")
    assert response.status_code == 200
    shown = figures(response)
    assert shown["cases.total"] == 6 and shown["cases.resolved"] == 4
    assert [shown[f"cases.by_level.{lv}"] for lv in (1, 2, 3, 4)] == [2, 0, 1, 1]
    assert shown["cases.by_category.concern"] == 2
    assert shown["cases.by_category.conflict"] == 2
    assert shown["cases.by_category.urgent"] == 0
    assert shown["issues.total"] == 2 and shown["issues.resolved"] == 1
    assert shown["sessions.total"] == 2 and shown["sessions.held"] == 1
    assert shown["alliance.units.total"] == 7
    assert shown["alliance.agencies_and_organisations"] == 3
    assert shown["alliance.owners_committee"] == 3
    assert shown["alliance.property_company"] == 1
    assert shown["alliance.communities"] == 3 and shown["alliance.brands"] == 2
    # The page and the API's query agree.
    stats = programme_stats(StatsFilter())
    assert shown["cases.total"] == stats["cases"]["total"]
    assert shown["issues.resolved"] == stats["issues"]["resolved"]


def test_statistics_name_the_four_levels(client, factories, login_as, town):
    login_as(factories.make_user("cadre"))
    text = text_of(client.get("/stats", headers=ZH))
    for name in ("网格员", "网格党组织", "社区党委", "镇党委"):
        assert name in text
    for name in ("民生诉求", "矛盾纠纷", "急难愁盼", "业主委员会", "物业公司", "社区品牌"):
        assert name in text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {"community": "Hehe"},
            {
                "cases.total": 4,
                "cases.resolved": 3,
                "sessions.total": 1,
                "issues.total": 1,
                "alliance.units.total": 3,
                "alliance.owners_committee": 2,
            },
        ),
        ({"source": "grid"}, {"cases.total": 4, "cases.resolved": 3}),
        (
            {"session_kind": "mediation"},
            {"cases.total": 1, "cases.by_level.4": 1, "sessions.total": 1, "issues.total": 0},
        ),
        (
            {"from": "2025-01-01", "to": "2025-01-10"},
            {"cases.total": 1, "cases.resolved": 0, "sessions.total": 0},
        ),
        ({"from": "2025-01-11"}, {"cases.total": 5}),
        ({"community": "Xingfu", "source": "walk_in"}, {"cases.total": 1}),
    ],
)
def test_statistics_filter(client, factories, login_as, town, query, expected):
    login_as(factories.make_user("resident"))
    response = client.get("/stats", query_string=query)
    assert response.status_code == 200
    shown = figures(response)
    for key, value in expected.items():
        assert shown[key] == value, key
    html = html_of(response)
    for field, value in query.items():  # the filter is shown as chosen
        assert re.search(
            rf'(<option selected value="{value}">|name="{field}"[^>]*value="{value}")', html
        ), field


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2025-13-45"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2025-02-01", "to": "2025-01-01"}, "to"),
        ({"from": "0001-01-01"}, "from"),
        ({"to": "9999-12-31"}, "to"),
        ({"source": "pigeon"}, "source"),
        ({"session_kind": "party"}, "session_kind"),
        ({"community": "Atlantis"}, "community"),
    ],
)
def test_statistics_filter_refuses_bad_input(client, factories, login_as, town, query, field):
    login_as(factories.make_user("resident"))
    response = client.get("/stats", query_string=query)
    assert response.status_code == 200
    html = html_of(response)
    assert re.search(rf'class="form-(?:control|select) is-invalid" id="{field}"', html)
    assert "data-figure=" not in html
    if field in ("from", "to"):  # the typed date is kept for correction
        assert f'value="{query[field]}"' in html


def test_statistics_query_count_is_fixed(client, factories, login_as, count_queries, town):
    login_as(factories.make_user("resident"))
    as_new_request()
    with count_queries() as few:
        assert client.get("/stats").status_code == 200
    as_new_request()
    with count_queries() as filtered:
        assert client.get("/stats?community=Hehe&source=grid&from=2025-01-01").status_code == 200
    for n in range(5):
        factories.make_community(f"Community {n}", brand=f"Brand {n}")
        factories.make_case(town["hehe"], "urgent", level=2)
        factories.make_unit(kind="enterprise")
    as_new_request()
    with count_queries() as many:
        response = client.get("/stats")
    assert figures(response)["cases.total"] == 11
    # The user, the communities of the filter, cases, issues, sessions, units, communities;
    # three documents for the published figures; one query per chart; the resident's
    # memberships, which the navigation reads for the representatives' "To rate" entry.
    assert few.n == filtered.n == many.n == 7 + 3 * 3 + 7 + 1, many.statements
