"""The statistics dashboard: published figures with their filters, SVG charts, CSV export."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from xml.etree import ElementTree

import pytest

from consult.cases.models import Issue
from consult.cases.operations import escalate_case, evaluate_issue
from consult.extensions import db
from consult.meetings.models import Attendance
from consult.stats.dashboard import TABLES, headline_figures, table
from consult.stats.queries import StatsFilter, programme_stats
from consult.types import utcnow
from tests.cases.builders import agenda_item, new_case, new_issue, resolve
from tests.web.helpers import figures, html_of, text_of

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def town(factories):
    """Hehe: 4 grid cases (two resolved at a mediation at levels 1 and 2, one overdue at
    level 1, one hotline conflict resolved at a roundtable); Chengbei: one open case.
    Three representatives rate the mediation's issue; attendance at two sessions."""
    cadre = factories.make_user("cadre")
    reps = [factories.make_user(representative=True) for _ in range(3)]
    hehe = factories.make_community("Hehe")
    factories.make_community("城北社区")
    c1 = new_case(cadre, title="c1")
    c2 = new_case(cadre, category="urgent", title="c2")
    c3 = new_case(cadre, category="conflict", source="hotline", title="c3")
    late = new_case(cadre, category="conflict", title="late")
    # Staff act only on their own community: Chengbei's case is reported by its own cadre.
    new_case(factories.make_user("cadre", community="城北社区"), community="城北社区", title="c5")
    escalate_case(c2, cadre, "协商")
    late.level_since = utcnow() - timedelta(days=30)
    for case in (c1, c2, c3):
        case.reported_at = case.created_at - timedelta(days=2)
    db.session.commit()

    mediation = factories.make_meeting(hehe, kind="mediation", starts_in=timedelta(days=-3))
    roundtable = factories.make_meeting(hehe, kind="roundtable", starts_in=timedelta(days=-2))
    factories.make_meeting(hehe, kind="friday_talk")
    i1 = new_issue(cadre, [c1, c2], title="i1")
    i2 = new_issue(cadre, [c3], title="i2")
    resolve(agenda_item(mediation, cadre, i1), cadre, [c1, c2])
    resolve(agenda_item(roundtable, cadre, i2), cadre, [c3])
    for rep, rating in zip(reps, ("satisfied", "satisfied", "unsatisfied"), strict=True):
        evaluate_issue(db.session.get(Issue, i1.id), {"rating": rating}, rep)
    for meeting, statuses in (
        (mediation, ("present", "late")),
        (roundtable, ("present", "present", "absent")),
    ):
        for n, status in enumerate(statuses):
            db.session.add(Attendance(meeting_id=meeting.id, name=f"居民{n}", status=status))
        meeting.status = "held"
    db.session.commit()
    return {"hehe": hehe, "cadre": cadre}


def _rows(name: str, f: StatsFilter | None = None) -> dict:
    return dict(table(name, f or StatsFilter(), "Asia/Shanghai").rows)


def test_tables_count_what_the_records_say(town):
    assert _rows("overdue")["1"] == [0, 1, 0]  # the conflict at level 1, 30 days old
    assert sum(sum(v) for v in _rows("overdue").values()) == 1
    held = _rows("sessions_held")
    assert held["mediation"] == [1, 0] and held["roundtable"] == [1, 0]
    assert held["friday_talk"] == [0, 1] and held["deliberation"] == [0, 0]
    assert _rows("evaluations") == {"1": [2, 0, 1]}
    attendance = _rows("attendance")
    assert [sum(v[0] for v in attendance.values()), sum(v[1] for v in attendance.values())] == [
        3,
        1,
    ]
    days = _rows("resolution_days")
    assert days["1"][0] == 2 and days["2"][0] == 1 and days["3"] == [0, None, None]
    assert 1.9 < days["2"][1] < 2.1  # reported two days before it was resolved
    by_level = _rows("cases_by_level")
    by_category = _rows("cases_by_category")
    assert sum(sum(v) for v in by_level.values()) == 5
    assert sum(v[1] for v in by_level.values()) == 1  # c2, escalated to level 2
    assert sum(v[0] for v in by_category.values()) == 2  # concerns: c1, c5
    assert all(re.fullmatch(r"\d{4}-\d{2}", month) for month in by_level)


def test_tables_follow_the_filters(town):
    hehe = StatsFilter(community_id=town["hehe"].id)
    assert sum(sum(v) for v in _rows("cases_by_level", hehe).values()) == 4
    grid = StatsFilter(source="grid")
    assert _rows("resolution_days", grid)["1"][0] == 1  # c3 (hotline) left out
    assert sum(sum(v) for v in _rows("overdue", StatsFilter(source="hotline")).values()) == 0
    mediation = StatsFilter(session_kind="mediation")
    assert list(_rows("sessions_held", mediation)) == ["mediation"]
    assert _rows("evaluations", mediation) == {"1": [2, 0, 1]}
    assert _rows("evaluations", StatsFilter(session_kind="roundtable")) == {}
    future = StatsFilter(start=utcnow() + timedelta(days=30))
    assert all(not any(v) for v in _rows("sessions_held", future).values())
    assert _rows("attendance", future) == {}


def test_issue_counts_follow_the_source_filter(client, factories, login_as, town):
    def issues(source):
        return programme_stats(StatsFilter(source=source), issues_by_source=True)["issues"]

    assert issues("grid") == {"total": 1, "resolved": 1}
    assert issues("hotline") == {"total": 1, "resolved": 1}
    assert issues("online") == {"total": 0, "resolved": 0}
    login_as(factories.make_user("resident"))
    shown = figures(client.get("/stats?source=online"))
    assert shown["issues.total"] == 0 and shown["cases.total"] == 0
    # The API keeps its rule: the source filters cases only.
    assert programme_stats(StatsFilter(source="online"))["issues"]["total"] == 2


def test_headline_figures_keep_their_own_filter(town):
    shown = {h.key: h for h in headline_figures(StatsFilter(source="online"))}
    grid = programme_stats(StatsFilter(source="grid"))["cases"]["by_level"]
    assert (
        [shown[f"level_{n}"].value for n in (1, 2, 3, 4)]
        == [grid[str(n)] for n in (1, 2, 3, 4)]
        == [1, 1, 0, 0]
    )
    assert shown["disputes"].value == 1 and shown["issues"].value == 2
    assert shown["mediation_conflicts"].value == 0 and shown["mediation_urgent"].value == 1
    assert shown["level_1"].args == {"source": "grid"}


def test_dashboard_shows_figures_filters_and_charts(client, factories, login_as, town):
    login_as(factories.make_user("resident"))
    response = client.get("/stats?community=Hehe", headers=ZH)
    assert response.status_code == 200
    shown = figures(response)
    assert [shown[f"headline.level_{n}"] for n in (1, 2, 3, 4)] == [1, 1, 0, 0]
    assert shown["headline.mediation_urgent"] == 1
    html = html_of(response)
    text = text_of(response)
    assert "网格员" in text and "筛选条件" in text
    # Each figure links to the filter that produces it, keeping the community.
    card = re.search(r'data-headline="level_1".*?href="([^"]+)"', html, re.S).group(1)
    assert "source=grid" in card and "community=Hehe" in card
    for name in TABLES:
        assert f'data-chart="{name}"' in html
        assert f'href="/stats/{name}.csv?community=Hehe"' in html
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == len(TABLES)
    for svg in svgs:
        root = ElementTree.fromstring(svg)  # noqa: S314 (our own page; checks it is well-formed)
        assert root.get("role") == "img"
        labelled = root.get("aria-labelledby").split()
        ids = {el.get("id"): el.text for el in root.iter() if el.get("id")}
        assert all(ids.get(i) for i in labelled)
        assert root.find(f"{SVG_NS}title").text
    # Bars are proportional: one mediation and one roundtable held, equally long.
    sessions = re.search(r'<svg[^>]*id="chart-sessions_held".*?</svg>', html, re.S).group(0)
    widths = [
        float(w) for w in re.findall(r'<rect class="chart-s0"[^>]*width="([\d.]+)"', sessions)
    ]
    assert len(widths) == 2 and widths[0] == widths[1]
    assert "<script" not in re.sub(r'<script src="[^"]+"></script>', "", html)


def test_dashboard_in_english_has_no_untranslated_filter_names(client, factories, login_as, town):
    login_as(factories.make_user("cadre"))
    text = text_of(client.get("/stats", headers=EN))
    assert "Filter: source grid collection; resolved cases at level 1." in text
    assert "Urgent problems solved in mediation" in text


@pytest.mark.parametrize("name", TABLES)
def test_every_chart_table_exports_as_csv(client, factories, login_as, town, name):
    login_as(factories.make_user("cadre"))
    response = client.get(f"/stats/{name}.csv", headers=EN)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff") and "\r\n" in body
    lines = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    expected = table(name, StatsFilter(), "Asia/Shanghai")
    assert len(lines) == 1 + len(expected.rows)
    assert len(lines[0]) == 1 + len(expected.columns) + (0 if expected.average else 1)
    for line, (_key, values) in zip(lines[1:], expected.rows, strict=True):
        assert line[1 : 1 + len(values)] == ["" if v is None else str(v) for v in values]


def test_csv_is_in_the_readers_language_and_filtered(client, factories, login_as, town):
    login_as(factories.make_user("cadre"))
    body = client.get("/stats/overdue.csv?source=hotline", headers=ZH).get_data(as_text=True)
    lines = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert lines[0][0] == "网格层级" and "矛盾纠纷" in lines[0]
    assert all(line[-1] == "0" for line in lines[1:])


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/stats/nothing.csv", 404),
        ("/stats/overdue.csv?from=2025-13-01", 400),
        ("/stats/overdue.csv?community=Atlantis", 400),
        ("/stats/overdue.csv?from=2025-02-01&to=2025-01-01", 400),
    ],
)
def test_csv_refuses_bad_requests(client, factories, login_as, url, status):
    login_as(factories.make_user("cadre"))
    assert client.get(url).status_code == status


def test_csv_needs_a_signed_in_user(client):
    response = client.get("/stats/overdue.csv")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
