"""GET /api/v1/stats on data built through the operations, with every filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from consult.cases.models import Case, Issue
from consult.cases.operations import escalate_case, evaluate_issue
from consult.extensions import db
from consult.minutes.operations import save_minutes
from consult.stats.queries import StatsFilter, programme_stats
from tests.cases.builders import ROLES, agenda_item, new_case, new_issue, resolve

T0 = datetime(2026, 9, 1, tzinfo=UTC)


def _at(obj, when):
    """Date a row created by an operation (operations stamp the current time)."""
    obj.created_at = when
    db.session.commit()


@pytest.fixture
def town(factories):
    """Two communities; cases resolved at mediation and joint meetings, at several levels.

    Hehe: c1 concern (L1, resolved at a joint meeting, issue resolved then closed by the
    representatives), c2 conflict (L2, resolved at a mediation), c3 urgent (L3, resolved at
    the mediation), c4 concern (open, hotline), c5 conflict (reopened after evaluation).
    Chengbei: c6 conflict (L1, resolved at its own mediation), c7 urgent (open).
    """
    cadre = factories.make_user("cadre", community=None)  # town-level: two communities
    reps = [factories.make_user(representative=True) for _ in range(3)]
    hehe = factories.make_community("Hehe")
    chengbei = factories.make_community("城北社区")

    c1 = new_case(cadre, title="c1")
    c2 = new_case(cadre, category="conflict", title="c2")
    c3 = new_case(cadre, category="urgent", title="c3")
    c4 = new_case(cadre, source="hotline", title="c4")
    c5 = new_case(cadre, category="conflict", title="c5")
    c6 = new_case(cadre, community="城北社区", category="conflict", title="c6")
    c7 = new_case(cadre, community="城北社区", category="urgent", source="walk_in", title="c7")
    escalate_case(c2, cadre, "协商")
    for _ in range(2):
        escalate_case(c3, cadre, "专题研究")
    db.session.commit()
    for n, case in enumerate((c1, c2, c3, c4, c5, c6, c7)):
        _at(case, T0 + timedelta(days=n))

    joint = factories.make_meeting(hehe, kind="joint_meeting", starts_in=timedelta(days=-20))
    mediation = factories.make_meeting(hehe, kind="mediation", starts_in=timedelta(days=-10))
    mediation_cb = factories.make_meeting(chengbei, kind="mediation", starts_in=timedelta(days=-5))
    factories.make_meeting(hehe, kind="roundtable", status="cancelled")
    factories.make_meeting(hehe, kind="friday_talk")

    i1 = new_issue(cadre, [c1], title="i1")
    i2 = new_issue(cadre, [c2, c3], title="i2")
    i3 = new_issue(cadre, [c5], title="i3")
    i4 = new_issue(cadre, [c6], community="城北社区", title="i4")
    for n, issue in enumerate((i1, i2, i3, i4)):
        _at(issue, T0 + timedelta(days=n))

    resolve(agenda_item(joint, cadre, i1), cadre, [c1])
    resolve(agenda_item(mediation, cadre, i2), cadre, [c2, c3])
    resolve(agenda_item(mediation, cadre, i3, title="i3"), cadre, [c5])
    resolve(agenda_item(mediation_cb, cadre, i4), cadre, [c6], outcome="deferred")
    for rep in reps:
        evaluate_issue(db.session.get(Issue, i1.id), {"rating": "satisfied"}, rep)
        evaluate_issue(db.session.get(Issue, i3.id), {"rating": "unsatisfied"}, rep)
    save_minutes(mediation, {"version": 0, "notes": {}}, cadre)
    save_minutes(joint, {"version": 0, "notes": {}}, cadre)
    db.session.commit()
    return {"hehe": hehe, "chengbei": chengbei}


def test_the_town_is_what_the_fixture_says(town):
    states = dict(db.session.execute(select(Case.title, Case.status)).all())
    assert states == {
        "c1": "closed",
        "c2": "resolved",
        "c3": "resolved",
        "c4": "open",
        "c5": "reopened",
        "c6": "resolved",
        "c7": "open",
    }
    issues = dict(db.session.execute(select(Issue.title, Issue.status)).all())
    assert issues == {"i1": "closed", "i2": "resolved", "i3": "reopened", "i4": "open"}


def test_no_filter(town):
    assert programme_stats(StatsFilter()) == {
        "cases": {
            "total": 7,
            "resolved": 4,
            "by_level": {"1": 2, "2": 1, "3": 1, "4": 0},
            "by_category": {"concern": 1, "conflict": 2, "urgent": 1},
        },
        "issues": {"total": 4, "resolved": 2},
        "sessions": {"total": 4, "held": 2},
    }


def _get(api, **params):
    response = api.get("/api/v1/stats", query_string=params)
    assert response.status_code == 200, response.json
    return response.json


def test_filters_through_the_api(api_as, factories, town):
    api = api_as(factories.make_user())
    assert _get(api) == programme_stats(StatsFilter())
    hehe = _get(api, community="Hehe")
    assert hehe["cases"]["total"] == 5 and hehe["cases"]["resolved"] == 3
    assert hehe["issues"] == {"total": 3, "resolved": 2}
    assert hehe["sessions"] == {"total": 3, "held": 2}
    chengbei = _get(api, community="城北社区")
    assert chengbei["cases"] == {
        "total": 2,
        "resolved": 1,
        "by_level": {"1": 1, "2": 0, "3": 0, "4": 0},
        "by_category": {"concern": 0, "conflict": 1, "urgent": 0},
    }
    assert chengbei["issues"] == {"total": 1, "resolved": 0}

    hotline = _get(api, source="hotline")
    assert hotline["cases"]["total"] == 1 and hotline["cases"]["resolved"] == 0
    grid = _get(api, source="grid")
    assert grid["cases"]["total"] == 5 and grid["cases"]["by_level"] == {
        "1": 2,
        "2": 1,
        "3": 1,
        "4": 0,
    }
    # source filters cases only (the API's rule); the dashboard's issues follow it.
    assert grid["issues"] == hotline["issues"] == {"total": 4, "resolved": 2}
    dashboard = programme_stats(StatsFilter(source="hotline"), issues_by_source=True)
    assert dashboard["issues"] == {"total": 0, "resolved": 0}  # c4 is in no issue

    mediation = _get(api, session_kind="mediation")
    assert mediation["cases"] == {
        "total": 3,
        "resolved": 3,
        "by_level": {"1": 1, "2": 1, "3": 1, "4": 0},
        "by_category": {"concern": 0, "conflict": 2, "urgent": 1},
    }
    # i2 was resolved at a mediation; i4's resolution was deferred, i3 was reopened.
    assert mediation["issues"] == {"total": 1, "resolved": 1}
    assert mediation["sessions"] == {"total": 2, "held": 1}
    joint = _get(api, session_kind="joint_meeting")
    assert joint["cases"]["by_category"] == {"concern": 1, "conflict": 0, "urgent": 0}
    assert joint["issues"] == {"total": 1, "resolved": 1}
    assert _get(api, session_kind="deliberation")["cases"]["total"] == 0

    both = _get(api, community="Hehe", session_kind="mediation")
    assert both["cases"]["by_category"] == {"concern": 0, "conflict": 1, "urgent": 1}


def test_period_filters(api_as, factories, town):
    api = api_as(factories.make_user("cadre"))
    # Cases were created on T0 + 0..6 days, issues on T0 + 0..3 days.
    window = _get(
        api,
        **{
            "from": (T0 + timedelta(days=1)).isoformat(),
            "to": (T0 + timedelta(days=3)).isoformat(),
        },
    )
    assert window["cases"]["total"] == 2  # c2, c3: from inclusive, to exclusive
    assert window["cases"]["by_level"] == {"1": 0, "2": 1, "3": 1, "4": 0}
    assert window["issues"] == {"total": 2, "resolved": 1}
    # Offsets are honoured: 08:00 in Shanghai on day 1 is midnight UTC.
    local = datetime(2026, 9, 2, 8, 0).isoformat() + "+08:00"
    assert _get(api, **{"from": local})["cases"]["total"] == 6
    later = _get(api, **{"from": "2030-01-01T00:00:00+00:00"})
    assert later["cases"]["total"] == 0 and later["issues"]["total"] == 0
    assert later["sessions"]["total"] == 0
    recent = _get(api, **{"from": (datetime.now(UTC) - timedelta(days=12)).isoformat()})
    assert recent["sessions"]["total"] == 3  # two mediations and the Friday Talk Day


def test_counts_follow_the_evaluation(api_as, factories, town):
    api = api_as(factories.make_user("cadre"))
    before = _get(api)
    # c5 was reopened: it counts again once a new resolution resolves it.
    cadre = factories.make_user("cadre")
    issue = db.session.scalar(select(Issue).where(Issue.title == "i3"))
    meeting = factories.make_meeting(kind="deliberation", starts_in=timedelta(days=-1))
    resolve(agenda_item(meeting, cadre, issue), cadre, list(issue.cases))
    after = _get(api)
    assert after["cases"]["resolved"] == before["cases"]["resolved"] + 1
    assert after["issues"]["resolved"] == before["issues"]["resolved"] + 1
    assert _get(api, session_kind="deliberation")["cases"]["by_category"]["conflict"] == 1


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_statistics(api_as, factories, role):
    assert api_as(factories.make_user(role)).get("/api/v1/stats").status_code == 200


def test_anonymous_callers_are_refused(client):
    assert client.get("/api/v1/stats").status_code == 401


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"from": "2026-09-01T00:00:00"}, 422),
        ({"from": "yesterday"}, 422),
        ({"to": "2026-09-01T00:00:00+08:00", "from": "2026-10-01T00:00:00+08:00"}, 422),
        ({"source": "rumour"}, 422),
        ({"session_kind": "party"}, 422),
    ],
)
def test_bad_filters(api_as, factories, params, status):
    factories.make_community("Hehe")
    response = api_as(factories.make_user()).get("/api/v1/stats", query_string=params)
    assert response.status_code == status
    assert "error" in response.json


def test_an_unknown_community_is_a_filter_that_matches_nothing(api_as, factories):
    factories.make_case()
    response = api_as(factories.make_user()).get(
        "/api/v1/stats", query_string={"community": "Nowhere"}
    )
    assert response.status_code == 200
    assert response.json["cases"]["total"] == 0
    assert response.json["sessions"]["total"] == 0


def test_stats_are_aggregates(api_as, factories, town, count_queries):
    api = api_as(factories.make_user())
    with count_queries() as counted:
        _get(api, source="grid", session_kind="mediation")
    statements = [s for s in counted.statements if "api_tokens" not in s]
    # The communities' change counters (consult.community.versions), then one aggregate
    # query each for cases, issues and sessions.
    assert len(statements) == 4
    assert "communities" in statements[0]
    assert all("count(" in s.lower() for s in statements)
    with count_queries() as again:
        _get(api, source="grid", session_kind="mediation")
    # Nothing changed: the figures come from the cache, under the same counters.
    assert [s for s in again.statements if "api_tokens" not in s] == statements[:1]


def test_stats_follow_a_change_of_any_case(api_as, factories, town):
    """The figures kept in the cache follow any write, a hand-written one included."""
    api = api_as(factories.make_user())
    before = _get(api, community="Hehe")["cases"]["total"]
    assert before > 0
    moved = db.session.scalar(select(func.min(Case.id)).where(Case.community_id == town["hehe"].id))
    db.session.execute(
        text("UPDATE cases SET community_id = :other WHERE id = :id"),
        {"other": town["chengbei"].id, "id": moved},
    )
    db.session.commit()
    assert _get(api, community="Hehe")["cases"]["total"] == before - 1


def test_resolved_cases_keep_their_level(factories, town):
    # Escalation is refused once resolved, so the level counted is the level of resolution.
    case = db.session.scalar(select(Case).where(Case.title == "c2"))
    from consult.cases.operations import CaseError

    with pytest.raises(CaseError):
        escalate_case(case, None, "too late")
    db.session.rollback()
    assert db.session.scalar(select(func.count(Case.id)).where(Case.level == 2)) == 1
