"""The cases and issues API: bodies, status codes, roles, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from consult.cases.models import Case, CaseEvent, Issue
from consult.community.models import Community
from consult.extensions import db
from tests.cases.builders import agenda_item, audit_actions, new_case, new_issue, resolve

CASE = {
    "title": "楼道堆放杂物影响通行",
    "description": "3号楼2单元楼道长期堆放纸箱。",
    "community": "Hehe",
    "category": "concern",
    "reporter": "王秀兰",
}

#: A session that has started: only those resolve issues and close cases.
PAST = timedelta(hours=-2)


def _count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 201), ("cadre", 201), ("unit_rep", 201), ("secretary", 403), ("resident", 403)],
)
def test_who_may_post_a_case(api_as, factories, role, status):
    response = api_as(factories.make_user(role)).post("/api/v1/cases", json=CASE)
    assert response.status_code == status, response.json
    assert _count(Case) == (1 if status == 201 else 0)
    if status == 403:
        assert response.json["error"]["code"] == "forbidden"


def test_posting_without_a_token_is_401(api_as, factories):
    factories.make_community()
    response = api_as(None).post("/api/v1/cases", json=CASE)
    assert response.status_code == 401
    assert _count(Case) == 0


def test_a_new_case_is_open_at_level_1_from_the_grid(api_as, factories):
    cadre = factories.make_user("cadre")
    response = api_as(cadre).post("/api/v1/cases", json=CASE)
    assert response.status_code == 201
    body = response.json
    assert body["status"] == "open" and body["level"] == 1
    assert body["source"] == "grid"
    assert body["community"] == "Hehe" and body["category"] == "concern"
    assert body["resolution"] is None and body["issue"] is None
    assert body["title"] == CASE["title"] and body["reporter"] == "王秀兰"
    case = db.session.get(Case, body["id"])
    assert case.created_by_id == cadre.id
    assert [e.kind for e in case.events] == ["created"]
    assert audit_actions(case) == ["case.create"]


def test_source_may_be_given(api_as, factories):
    response = api_as(factories.make_user("cadre")).post(
        "/api/v1/cases", json={**CASE, "source": "hotline"}
    )
    assert response.json["source"] == "hotline"


def test_a_town_level_organiser_creates_a_community_on_first_use(api_as, factories):
    response = api_as(factories.make_user("cadre", community=None)).post(
        "/api/v1/cases", json={**CASE, "community": "城北社区"}
    )
    assert response.status_code == 201
    assert db.session.scalar(select(Community).where(Community.name == "城北社区")) is not None


def test_a_community_cadre_neither_invents_a_community_nor_acts_in_another(api_as, factories):
    factories.make_community("Xiguan")
    client = api_as(factories.make_user("cadre"))
    response = client.post("/api/v1/cases", json={**CASE, "community": "城北社区"})
    assert response.status_code == 422
    assert db.session.scalar(select(Community).where(Community.name == "城北社区")) is None
    response = client.post("/api/v1/cases", json={**CASE, "community": "Xiguan"})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count(Case.id))) == 0


def test_a_unit_rep_cannot_invent_a_community(api_as, factories):
    response = api_as(factories.make_user("unit_rep")).post(
        "/api/v1/cases", json={**CASE, "community": "Nowhere"}
    )
    assert response.status_code == 422
    assert "community" in response.json["error"]["fields"]
    assert db.session.scalar(select(Community).where(Community.name == "Nowhere")) is None


def test_a_reference_is_taken_once(api_as, factories):
    api = api_as(factories.make_user("cadre"))
    assert api.post("/api/v1/cases", json={**CASE, "reference": "GT-1"}).status_code == 201
    response = api.post("/api/v1/cases", json={**CASE, "reference": "GT-1"})
    assert response.status_code == 409
    assert _count(Case) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": 12}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"category": "complaint"}, "category"),
        ({"category": None}, "category"),
        ({"source": "rumour"}, "source"),
        ({"community": ""}, "community"),
        ({"reporter": "x" * 121}, "reporter"),
        ({"colour": "red"}, "colour"),
        ({"title": "bad\x00title"}, "title"),
    ],
)
def test_bad_case_bodies_are_422_and_create_nothing(api_as, factories, change, field):
    body = {**CASE, **change}
    body = {k: v for k, v in body.items() if not (v is None and k in ("title", "category"))}
    response = api_as(factories.make_user("cadre")).post("/api/v1/cases", json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"]
    assert _count(Case) == 0


def test_a_body_that_is_not_json_is_400(api_as, factories):
    response = api_as(factories.make_user("cadre")).post(
        "/api/v1/cases", data="{title:", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert _count(Case) == 0


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("cadre", 200), ("secretary", 200), ("resident", 404), ("unit_rep", 404)],
)
def test_an_unpublished_case_is_read_by_its_communitys_staff_only(api_as, factories, role, status):
    # Town-level administrators and Hehe's staff read it in full; residents and unit
    # representatives (not its reporter) do not see it at all before publication.
    case = new_case(factories.make_user("cadre"), reporter="王秀兰")
    response = api_as(factories.make_user(role)).get(f"/api/v1/cases/{case.id}")
    assert response.status_code == status, response.json
    if status == 404:
        assert response.json["error"]["code"] == "not_found"
        return
    assert {
        "id",
        "title",
        "status",
        "level",
        "category",
        "community",
        "resolution",
        "source",
        "issue",
    } <= set(response.json)
    assert response.json["reporter"] == "王秀兰"


def test_the_staff_of_another_community_do_not_see_the_case(api_as, factories):
    factories.make_community("Xiguan")
    case = new_case(factories.make_user("cadre"))
    response = api_as(factories.make_user("cadre", community="Xiguan")).get(
        f"/api/v1/cases/{case.id}"
    )
    assert response.status_code == 404


def test_reading_a_missing_case_is_404(api_as, factories):
    response = api_as(factories.make_user("cadre")).get("/api/v1/cases/999")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_the_case_names_the_resolution_that_closed_it(api_as, factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    issue = new_issue(cadre, [case])
    meeting = factories.make_meeting(kind="joint_meeting", starts_in=PAST)
    item = agenda_item(meeting, cadre, issue)
    resolution = resolve(item, cadre, [case])
    body = api_as(cadre).get(f"/api/v1/cases/{case.id}").json
    assert body["status"] == "resolved"
    assert body["resolution"] == {
        "id": resolution.id,
        "session": meeting.id,
        "agenda_item": item.id,
    }
    assert body["issue"] == issue.id


# -- escalation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("cadre", 200), ("secretary", 403), ("resident", 403), ("unit_rep", 403)],
)
def test_who_may_escalate(api_as, factories, role, status):
    case = new_case(factories.make_user("cadre"))
    response = api_as(factories.make_user(role)).post(f"/api/v1/cases/{case.id}/escalate", json={})
    assert response.status_code == status
    db.session.expire_all()
    assert db.session.get(Case, case.id).level == (2 if status == 200 else 1)


def test_escalation_climbs_one_level_at_a_time_up_to_4(api_as, factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    api = api_as(cadre)
    levels = []
    for reason in ("网格员无法解决", "需社区党委专题研究", "需镇党委协调"):
        response = api.post(f"/api/v1/cases/{case.id}/escalate", json={"reason": reason})
        assert response.status_code == 200
        levels.append(response.json["level"])
    assert levels == [2, 3, 4]
    response = api.post(f"/api/v1/cases/{case.id}/escalate")
    assert response.status_code == 422
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.level == 4
    events = [(e.kind, e.from_value, e.to_value, e.reason) for e in case.events]
    assert events[1:] == [
        ("level", "1", "2", "网格员无法解决"),
        ("level", "2", "3", "需社区党委专题研究"),
        ("level", "3", "4", "需镇党委协调"),
    ]
    assert audit_actions(case).count("case.escalate") == 3


def test_escalation_accepts_an_empty_body(api_as, factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    response = api_as(cadre).post(f"/api/v1/cases/{case.id}/escalate")
    assert response.status_code == 200 and response.json["level"] == 2


def test_escalating_resets_the_level_clock(api_as, factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    before = case.level_since
    api_as(cadre).post(f"/api/v1/cases/{case.id}/escalate", json={})
    db.session.expire_all()
    assert db.session.get(Case, case.id).level_since > before


@pytest.mark.parametrize(
    ("body", "status"),
    [({"reason": 5}, 422), ({"why": "x"}, 422), ({"reason": "x" * 2001}, 422)],
)
def test_bad_escalation_bodies(api_as, factories, body, status):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    assert api_as(cadre).post(f"/api/v1/cases/{case.id}/escalate", json=body).status_code == status
    db.session.expire_all()
    assert db.session.get(Case, case.id).level == 1


def test_escalating_a_missing_case_is_404(api_as, factories):
    response = api_as(factories.make_user("cadre")).post("/api/v1/cases/77/escalate", json={})
    assert response.status_code == 404


def test_a_resolved_case_cannot_be_escalated(api_as, factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    item = agenda_item(factories.make_meeting(starts_in=PAST), cadre, new_issue(cadre, [case]))
    resolve(item, cadre, [case])
    response = api_as(cadre).post(f"/api/v1/cases/{case.id}/escalate", json={})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(Case, case.id).level == 1


# -- issues ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 201), ("cadre", 201), ("secretary", 201), ("resident", 403), ("unit_rep", 403)],
)
def test_who_may_create_an_issue(api_as, factories, role, status):
    case = new_case(factories.make_user("cadre"))
    response = api_as(factories.make_user(role)).post(
        "/api/v1/issues", json={"title": "楼道治理", "community": "Hehe", "cases": [case.id]}
    )
    assert response.status_code == status
    assert _count(Issue) == (1 if status == 201 else 0)


def test_an_issue_groups_cases(api_as, factories):
    cadre = factories.make_user("cadre")
    first, second = new_case(cadre), new_case(cadre, title="电动车充电难")
    response = api_as(factories.make_user("secretary")).post(
        "/api/v1/issues",
        json={"title": "楼道治理", "community": "Hehe", "cases": [first.id, second.id]},
    )
    assert response.status_code == 201
    body = response.json
    assert body["status"] == "open" and body["title"] == "楼道治理"
    assert body["cases"] == [first.id, second.id]
    db.session.expire_all()
    assert {c.issue_id for c in db.session.scalars(select(Case))} == {body["id"]}
    assert [e.kind for e in db.session.get(Case, first.id).events] == ["created", "issue"]


def _issue_body(**change):
    return {"title": "议题", "community": "Hehe", "cases": [], **change}


@pytest.mark.parametrize(
    ("make_body", "field"),
    [
        (lambda ids, other: _issue_body(cases=[other]), "cases"),
        (lambda ids, other: _issue_body(cases=[ids[0], 999]), "cases"),
        (lambda ids, other: _issue_body(cases=[str(ids[0])]), "cases"),
        (lambda ids, other: _issue_body(cases=[1.5]), "cases"),
        (lambda ids, other: _issue_body(cases=ids[0]), "cases"),
        (lambda ids, other: {"title": "议题", "community": "Hehe"}, "cases"),
        (lambda ids, other: _issue_body(title="", cases=ids), "title"),
        (lambda ids, other: _issue_body(community="", cases=ids), "community"),
        (lambda ids, other: _issue_body(community="Nowhere", cases=ids), "community"),
        (lambda ids, other: _issue_body(cases=ids, extra=1), "extra"),
    ],
)
def test_bad_issue_bodies_are_422_and_change_nothing(api_as, factories, make_body, field):
    cadre = factories.make_user("cadre")
    ids = [new_case(cadre).id, new_case(cadre).id]
    # A case of another community, reported by town-level staff.
    other = new_case(factories.make_user("cadre", community=None), community="城北社区").id
    response = api_as(factories.make_user("secretary")).post(
        "/api/v1/issues", json=make_body(ids, other)
    )
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"]
    assert _count(Issue) == 0
    assert db.session.scalar(select(func.count(Case.id)).where(Case.issue_id.is_not(None))) == 0


def test_a_case_in_another_open_issue_is_refused(api_as, factories):
    cadre = factories.make_user("cadre")
    case, free = new_case(cadre), new_case(cadre)
    first = new_issue(cadre, [case])
    response = api_as(cadre).post("/api/v1/issues", json=_issue_body(cases=[free.id, case.id]))
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(Case, case.id).issue_id == first.id
    assert db.session.get(Case, free.id).issue_id is None
    assert _count(Issue) == 1


def test_a_resolved_case_cannot_join_an_issue(api_as, factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    resolve(
        agenda_item(factories.make_meeting(starts_in=PAST), cadre, new_issue(cadre, [case])),
        cadre,
        [case],
    )
    response = api_as(cadre).post("/api/v1/issues", json=_issue_body(cases=[case.id]))
    assert response.status_code == 422


def test_issue_of_a_new_community_with_no_cases(api_as, factories):
    # Only town-level staff may name a community that does not exist yet.
    response = api_as(factories.make_user("cadre")).post(
        "/api/v1/issues", json=_issue_body(community="西关社区")
    )
    assert response.status_code == 422
    assert response.json["error"]["code"] == "no_such_community"
    assert "community" in response.json["error"]["fields"]
    assert _count(Issue) == 0
    response = api_as(factories.make_user("cadre", community=None)).post(
        "/api/v1/issues", json=_issue_body(community="西关社区")
    )
    assert response.status_code == 201
    assert response.json["cases"] == [] and response.json["community"] == "西关社区"


def test_reading_an_issue(api_as, factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    issue = new_issue(cadre, [case])
    body = api_as(factories.make_user("secretary")).get(f"/api/v1/issues/{issue.id}").json
    assert body["cases"] == [case.id] and body["status"] == "open"
    # A resident who did not report it does not see the unpublished issue.
    assert api_as(factories.make_user()).get(f"/api/v1/issues/{issue.id}").status_code == 404
    assert api_as(cadre).get("/api/v1/issues/999").status_code == 404


def test_case_list_filters(api_as, factories):
    cadre = factories.make_user("cadre", community=None)  # town-level: every community
    new_case(cadre, category="conflict")
    new_case(cadre, community="城北社区", source="hotline")
    # Hehe's own cadre lists only Hehe's case.
    assert api_as(factories.make_user("cadre")).get("/api/v1/cases").json["total"] == 1
    api = api_as(cadre)
    assert api.get("/api/v1/cases").json["total"] == 2
    assert api.get("/api/v1/cases?category=conflict").json["total"] == 1
    assert api.get("/api/v1/cases?community=城北社区").json["items"][0]["source"] == "hotline"
    assert api.get("/api/v1/cases?community=Nowhere").json["total"] == 0
    assert api.get("/api/v1/cases?level=9").status_code == 422
    assert api_as(factories.make_user()).get("/api/v1/cases").status_code == 403


def test_the_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/api/v1/cases",
        "/api/v1/cases/{case_id}",
        "/api/v1/cases/{case_id}/escalate",
        "/api/v1/issues",
        "/api/v1/issues/{issue_id}/evaluations",
    ):
        assert path in paths, path


def test_events_record_who_and_why(api_as, factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    api_as(cadre).post(f"/api/v1/cases/{case.id}/escalate", json={"reason": "涉及多个部门"})
    event = db.session.scalar(select(CaseEvent).where(CaseEvent.kind == "level"))
    assert event.actor_id == cadre.id and event.reason == "涉及多个部门" and event.at is not None
