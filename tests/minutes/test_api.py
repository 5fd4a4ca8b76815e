"""Agenda, resolution and minutes routes of the API."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from consult.cases.models import Case, Issue
from consult.extensions import db
from consult.meetings.models import Meeting, Registration
from consult.minutes.models import ActionItem, AgendaItem, Minutes, MinutesRevision, Resolution
from consult.minutes.operations import save_minutes
from tests.cases.builders import (
    ROLES,
    agenda_item,
    audit_actions,
    new_case,
    new_issue,
    resolve,
    snapshot,
)

# -- agenda ---------------------------------------------------------------------------

#: A session that has started: only those resolve issues and close cases.
PAST = timedelta(hours=-2)


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 201), ("cadre", 201), ("secretary", 201), ("resident", 403), ("unit_rep", 403)],
)
def test_who_may_add_to_an_agenda(api_as, factories, role, status):
    meeting = factories.make_meeting()
    response = api_as(factories.make_user(role)).post(
        f"/api/v1/sessions/{meeting.id}/agenda", json={"title": "居民议事"}
    )
    assert response.status_code == status
    assert db.session.scalar(select(func.count(AgendaItem.id))) == (status == 201)


def test_agenda_items_take_the_next_position(api_as, factories):
    cadre = factories.make_user("cadre")
    issue = new_issue(cadre, [new_case(cadre)])
    meeting = factories.make_meeting()
    api = api_as(factories.make_user("secretary"))
    first = api.post(f"/api/v1/sessions/{meeting.id}/agenda", json={"title": "通报上周工作"})
    second = api.post(
        f"/api/v1/sessions/{meeting.id}/agenda", json={"title": "楼道治理", "issue": issue.id}
    )
    assert first.status_code == second.status_code == 201
    assert {k: first.json[k] for k in ("position", "title", "issue")} == {
        "position": 1,
        "title": "通报上周工作",
        "issue": None,
    }
    assert {k: second.json[k] for k in ("position", "title", "issue")} == {
        "position": 2,
        "title": "楼道治理",
        "issue": issue.id,
    }
    listed = api.get(f"/api/v1/sessions/{meeting.id}/agenda").json["items"]
    assert [i["id"] for i in listed] == [first.json["id"], second.json["id"]]
    assert audit_actions(db.session.get(AgendaItem, first.json["id"])) == ["agenda.add"]


@pytest.mark.parametrize(
    ("make", "status", "field"),
    [
        (lambda ctx: {}, 422, "title"),
        (lambda ctx: {"title": ""}, 422, "title"),
        (lambda ctx: {"title": "x" * 201}, 422, "title"),
        (lambda ctx: {"title": "x", "issue": "1"}, 422, "issue"),
        (lambda ctx: {"title": "x", "issue": 999}, 422, "issue"),
        (lambda ctx: {"title": "x", "issue": ctx["foreign"]}, 422, "issue"),
        (lambda ctx: {"title": "x", "issue": ctx["on_agenda"]}, 409, "issue"),
        (lambda ctx: {"title": "x", "duration_minutes": 0}, 422, "duration_minutes"),
        (lambda ctx: {"title": "x", "position": 1}, 422, "position"),
    ],
)
def test_bad_agenda_items(api_as, factories, make, status, field):
    cadre = factories.make_user("cadre")
    town = factories.make_user("cadre", community=None)
    meeting = factories.make_meeting()
    ctx = {
        "foreign": new_issue(town, [new_case(town, community="城北社区")], community="城北社区").id,
        "on_agenda": agenda_item(meeting, cadre, new_issue(cadre, [new_case(cadre)])).issue_id,
    }
    api = api_as(cadre)
    before = db.session.scalar(select(func.count(AgendaItem.id)))
    response = api.post(f"/api/v1/sessions/{meeting.id}/agenda", json=make(ctx))
    assert response.status_code == status, response.json
    assert field in response.json["error"].get("fields", {field: 0})
    assert db.session.scalar(select(func.count(AgendaItem.id))) == before


def test_agenda_of_missing_cancelled_or_hidden_sessions(api_as, factories):
    cadre = factories.make_user("cadre")
    cancelled = factories.make_meeting(status="cancelled")
    api = api_as(cadre)
    assert api.post("/api/v1/sessions/999/agenda", json={"title": "x"}).status_code == 404
    assert (
        api.post(f"/api/v1/sessions/{cancelled.id}/agenda", json={"title": "x"}).status_code == 409
    )
    private = factories.make_meeting(kind="mediation")
    assert (
        api_as(factories.make_user()).get(f"/api/v1/sessions/{private.id}/agenda").status_code
        == 404
    )


# -- resolutions ----------------------------------------------------------------------


@pytest.fixture
def hearing(factories):
    """A joint meeting whose one agenda item carries an issue of two open cases."""
    cadre = factories.make_user("cadre")
    cases = [new_case(cadre, title="楼道堆放杂物"), new_case(cadre, title="楼道灯坏")]
    issue = new_issue(cadre, cases)
    meeting = factories.make_meeting(kind="joint_meeting", starts_in=timedelta(hours=-2))
    item = agenda_item(meeting, cadre, issue, title="楼道治理")
    return {"cadre": cadre, "cases": cases, "issue": issue, "meeting": meeting, "item": item}


def _resolve(api, item, **body):
    """Post a resolution; by default it closes every case of the issue still handled."""
    db.session.expire_all()
    still_open = [
        c.id for c in (item.issue.cases if item.issue else []) if c.status in ("open", "reopened")
    ]
    data = {
        "text": "物业公司一周内清理，社区每周巡查",
        "outcome": "resolved",
        "closes_cases": still_open,
    }
    data.update(body)
    return api.post(f"/api/v1/agenda/{item.id}/resolution", json=data)


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 201), ("cadre", 201), ("secretary", 201), ("resident", 403), ("unit_rep", 403)],
)
def test_who_may_record_a_resolution(api_as, factories, hearing, role, status):
    response = _resolve(api_as(factories.make_user(role)), hearing["item"])
    assert response.status_code == status


def test_a_resolution_closes_its_cases_and_resolves_the_issue(api_as, factories, hearing):
    unit = factories.make_unit("和合物业公司", kind="property_company")
    cases = hearing["cases"]
    response = _resolve(
        api_as(factories.make_user("secretary")),
        hearing["item"],
        closes_cases=[c.id for c in cases],
        actions=[
            {"description": "清理3号楼楼道", "unit": unit.id, "due_on": "2026-12-10"},
            {"description": "更换楼道灯"},
        ],
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["outcome"] == "resolved" and body["closes_cases"] == [c.id for c in cases]
    db.session.expire_all()
    resolution = db.session.get(Resolution, body["id"])
    assert [c.id for c in resolution.cases] == [c.id for c in cases]
    for case in cases:
        case = db.session.get(Case, case.id)
        assert case.status == "resolved" and case.resolution_id == resolution.id
        assert case.events[-1].resolution_id == resolution.id
    issue = db.session.get(Issue, hearing["issue"].id)
    assert issue.status == "resolved" and issue.resolution_id == resolution.id
    actions = db.session.scalars(select(ActionItem).order_by(ActionItem.id)).all()
    assert [(a.description, a.unit_id, str(a.due_on)) for a in actions] == [
        ("清理3号楼楼道", unit.id, "2026-12-10"),
        ("更换楼道灯", None, "None"),
    ]
    assert audit_actions(resolution) == ["resolution.create"]


def test_a_deferred_resolution_leaves_the_issue_open(api_as, hearing):
    response = _resolve(
        api_as(hearing["cadre"]),
        hearing["item"],
        outcome="deferred",
        closes_cases=[hearing["cases"][0].id],
    )
    assert response.status_code == 201
    db.session.expire_all()
    assert db.session.get(Issue, hearing["issue"].id).status == "open"
    assert db.session.get(Case, hearing["cases"][0].id).status == "resolved"
    assert db.session.get(Case, hearing["cases"][1].id).status == "open"


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda ctx: {"closes_cases": [ctx["cases"][0].id, ctx["elsewhere"].id]}, "closes_cases"),
        (lambda ctx: {"closes_cases": [ctx["cases"][0].id, ctx["done"].id]}, "closes_cases"),
        (lambda ctx: {"closes_cases": [ctx["cases"][0].id, 9999]}, "closes_cases"),
        (lambda ctx: {"closes_cases": [ctx["cases"][0].id, ctx["loose"].id]}, "closes_cases"),
        (lambda ctx: {"closes_cases": [str(ctx["cases"][0].id)]}, "closes_cases"),
        (lambda ctx: {"outcome": "solved"}, "outcome"),
        (lambda ctx: {"text": ""}, "text"),
        (lambda ctx: {"actions": [{"description": ""}]}, "actions"),
        (lambda ctx: {"actions": [{"description": "x", "unit": 999}]}, "actions.0.unit"),
        (lambda ctx: {"actions": [{"description": "x", "assignee": 999}]}, "actions.0.assignee"),
        (lambda ctx: {"actions": [{"description": "x", "due_on": "next week"}]}, "actions"),
        (lambda ctx: {"referred_unit": 999}, "referred_unit"),
        (lambda ctx: {"extra": True}, "extra"),
    ],
)
def test_a_bad_resolution_changes_nothing(api_as, factories, hearing, make, field):
    cadre = hearing["cadre"]
    other = new_issue(cadre, [new_case(cadre, title="别的议题")], title="别的议题")
    done_case = new_case(cadre, title="已解决")
    done_issue = new_issue(cadre, [done_case], title="已解决议题")
    resolve(
        agenda_item(factories.make_meeting(starts_in=PAST), cadre, done_issue), cadre, [done_case]
    )
    # A case of another open issue, a case resolved in another issue, a case in no issue.
    ctx = {
        "cases": hearing["cases"],
        "elsewhere": other.cases[0],
        "done": done_case,
        "loose": new_case(cadre, title="无议题"),
    }
    api = api_as(cadre)
    before = snapshot()
    response = _resolve(api, hearing["item"], **make(ctx))
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"]
    assert snapshot() == before


def test_closing_an_already_closed_case_of_the_issue_changes_nothing(api_as, factories, hearing):
    cadre = hearing["cadre"]
    first, second = hearing["cases"]
    # An earlier session closed the first case with a deferred outcome.
    earlier = agenda_item(
        factories.make_meeting(starts_in=PAST), cadre, hearing["issue"], title="初次讨论"
    )
    resolve(earlier, cadre, [first], outcome="deferred")
    api = api_as(cadre)
    before = snapshot()
    response = _resolve(api, hearing["item"], closes_cases=[second.id, first.id])
    assert response.status_code == 422
    assert "“Resolved” already" in response.json["error"]["message"]
    assert snapshot() == before
    db.session.expire_all()
    assert db.session.get(Case, second.id).status == "open"


def test_a_second_resolution_for_the_item_is_409(api_as, hearing):
    api = api_as(hearing["cadre"])
    assert _resolve(api, hearing["item"], outcome="deferred").status_code == 201
    before = snapshot()
    response = _resolve(api, hearing["item"], closes_cases=[hearing["cases"][0].id])
    assert response.status_code == 409
    assert snapshot() == before


def test_resolution_of_a_missing_item_is_404(api_as, factories):
    assert _resolve(api_as(factories.make_user("cadre")), AgendaItem(id=424242)).status_code == 404


def test_resolution_routes_are_documented(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/api/v1/sessions/{session_id}/agenda",
        "/api/v1/agenda/{item_id}/resolution",
        "/api/v1/sessions/{session_id}/minutes",
        "/api/v1/sessions/{session_id}/minutes/approve",
        "/api/v1/sessions/{session_id}/minutes/publish",
    ):
        assert path in paths, path


# -- minutes --------------------------------------------------------------------------


def _minutes_url(meeting):
    return f"/api/v1/sessions/{meeting.id}/minutes"


def test_minutes_start_empty_for_staff(api_as, factories, hearing):
    body = api_as(factories.make_user("secretary")).get(_minutes_url(hearing["meeting"])).json
    assert body == {
        "session": hearing["meeting"].id,
        "status": "draft",
        "version": 0,
        "notes": {},
        "html": {},
        "votes": {},
    }


def test_saving_minutes_renders_sanitised_html_and_marks_the_session_held(
    api_as, factories, hearing
):
    secretary = factories.make_user("secretary")
    api = api_as(secretary)
    key = str(hearing["item"].id)
    note = (
        "**王秀兰**反映楼道堆物。\n\n- 物业：一周内清理\n- 社区：每周巡查\n\n"
        "<script>alert(1)</script> [链接](javascript:alert(1)) [政府网](https://www.gov.cn)"
    )
    response = api.put(_minutes_url(hearing["meeting"]), json={"version": 0, "notes": {key: note}})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["version"] == 1 and body["status"] == "draft"
    assert body["notes"] == {key: note}
    html = body["html"][key]
    assert "<strong>王秀兰</strong>" in html and "<li>物业：一周内清理</li>" in html
    # Raw HTML stays text, and no link may run script.
    assert "<script" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert 'href="https://www.gov.cn"' in html and 'rel="noopener noreferrer nofollow"' in html
    db.session.expire_all()
    assert db.session.get(Meeting, hearing["meeting"].id).status == "held"
    revision = db.session.scalar(select(MinutesRevision))
    assert (revision.version, revision.author_id, revision.notes) == (1, secretary.id, {key: note})
    minutes = db.session.scalar(select(Minutes))
    assert audit_actions(minutes) == ["minutes.save"]


def test_a_stale_save_is_409_with_the_current_minutes_and_saves_nothing(api_as, factories, hearing):
    meeting, key = hearing["meeting"], str(hearing["item"].id)
    first, second = api_as(factories.make_user("secretary")), api_as(factories.make_user("cadre"))
    assert (
        first.put(
            _minutes_url(meeting), json={"version": 0, "notes": {key: "甲的记录"}}
        ).status_code
        == 200
    )
    response = second.put(_minutes_url(meeting), json={"version": 0, "notes": {key: "乙的记录"}})
    assert response.status_code == 409
    error = response.json["error"]
    assert error["code"] == "stale_version"
    assert error["current"]["version"] == 1 and error["current"]["notes"] == {key: "甲的记录"}
    assert error["current"]["html"][key] == "<p>甲的记录</p>\n"
    db.session.expire_all()
    assert db.session.scalar(select(Minutes.notes)) == {key: "甲的记录"}
    assert db.session.scalar(select(func.count(MinutesRevision.id))) == 1
    # Starting again from the current version works.
    response = second.put(
        _minutes_url(meeting), json={"version": 1, "notes": {key: "甲的记录\n\n乙补充"}}
    )
    assert response.status_code == 200 and response.json["version"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"notes": {}}, "version"),
        ({"version": "0", "notes": {}}, "version"),
        ({"version": 1.5, "notes": {}}, "version"),
        ({"version": -1, "notes": {}}, "version"),
        ({"version": 0}, "notes"),
        ({"version": 0, "notes": []}, "notes"),
        ({"version": 0, "notes": {"999": "x"}}, "notes"),
        ({"version": 0, "notes": {"ITEM": 5}}, "notes"),
        ({"version": 0, "notes": {}, "status": "published"}, "status"),
    ],
)
def test_bad_minutes_bodies(api_as, factories, hearing, body, field):
    key = str(hearing["item"].id)
    body = {
        k: ({key if kk == "ITEM" else kk: vv for kk, vv in v.items()} if isinstance(v, dict) else v)
        for k, v in body.items()
    }
    response = api_as(factories.make_user("secretary")).put(
        _minutes_url(hearing["meeting"]), json=body
    )
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"]
    assert db.session.scalar(select(func.count(Minutes.id))) == 0


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("cadre", 200), ("secretary", 200), ("resident", 403), ("unit_rep", 403)],
)
def test_who_may_save_minutes(api_as, factories, hearing, role, status):
    response = api_as(factories.make_user(role)).put(
        _minutes_url(hearing["meeting"]), json={"version": 0, "notes": {}}
    )
    assert response.status_code == status


def _save(secretary, meeting, notes, version=0):
    save_minutes(meeting, {"version": version, "notes": notes}, secretary)
    db.session.commit()


@pytest.mark.parametrize("role", ROLES)
def test_who_reads_minutes_in_each_status(api_as, factories, hearing, role):
    meeting, key = hearing["meeting"], str(hearing["item"].id)
    cadre = hearing["cadre"]
    api = api_as(factories.make_user(role))
    staff = role in ("admin", "cadre", "secretary")
    assert api.get(_minutes_url(meeting)).status_code == (200 if staff else 404)
    _save(cadre, meeting, {key: "记录"})
    assert api.get(_minutes_url(meeting)).status_code == (200 if staff else 404)
    organiser = api_as(cadre)
    assert organiser.post(_minutes_url(meeting) + "/approve").status_code == 200
    assert api.get(_minutes_url(meeting)).status_code == (200 if staff else 404)
    assert organiser.post(_minutes_url(meeting) + "/publish", json={}).status_code == 200
    response = api.get(_minutes_url(meeting))
    assert response.status_code == 200 and response.json["status"] == "published"


def test_published_minutes_of_a_private_session_stay_hidden(api_as, factories):
    cadre = factories.make_user("cadre")
    meeting = factories.make_meeting(kind="mediation", starts_in=PAST)
    item = agenda_item(meeting, cadre, title="邻里漏水纠纷调解")
    _save(cadre, meeting, {str(item.id): "双方达成一致"})
    api = api_as(cadre)
    api.post(_minutes_url(meeting) + "/approve")
    api.post(_minutes_url(meeting) + "/publish")
    outsider, party = factories.make_user(), factories.make_user()
    db.session.add(Registration(meeting_id=meeting.id, user_id=party.id, status="confirmed"))
    db.session.commit()
    assert api_as(outsider).get(_minutes_url(meeting)).status_code == 404
    assert api_as(party).get(_minutes_url(meeting)).status_code == 200


def test_residents_names_are_masked_for_residents(api_as, factories, hearing):
    meeting, key = hearing["meeting"], str(hearing["item"].id)
    cadre = hearing["cadre"]
    named = factories.make_user(name="李建国")
    named.named_in_minutes = True
    hidden = factories.make_user(name="王秀兰")
    for user in (named, hidden):
        db.session.add(Registration(meeting_id=meeting.id, user_id=user.id, status="confirmed"))
    db.session.add(
        Registration(meeting_id=meeting.id, name="张桂芳", phone="139", status="confirmed")
    )
    db.session.commit()
    _save(cadre, meeting, {key: "王秀兰、张桂芳和李建国发言；**王秀兰**要求清理。"})
    api = api_as(cadre)
    api.post(_minutes_url(meeting) + "/approve")
    api.post(_minutes_url(meeting) + "/publish")
    resident = api_as(factories.make_user()).get(_minutes_url(meeting)).json
    assert resident["notes"][key] == "王**、张**和李建国发言；**王****要求清理。"
    html = resident["html"][key]
    assert "王秀兰" not in html and "<strong>王**</strong>" in html
    assert "张桂芳" not in html and "李建国" in html
    staff = api.get(_minutes_url(meeting)).json
    assert "王秀兰" in staff["notes"][key]


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("cadre", 200), ("secretary", 403), ("resident", 403), ("unit_rep", 403)],
)
def test_who_approves_and_publishes(api_as, factories, hearing, role, status):
    meeting = hearing["meeting"]
    _save(hearing["cadre"], meeting, {str(hearing["item"].id): "记录"})
    api = api_as(factories.make_user(role))
    assert api.post(_minutes_url(meeting) + "/approve").status_code == status
    if status == 200:
        assert api.post(_minutes_url(meeting) + "/publish").status_code == 200


def test_the_workflow_refuses_steps_out_of_order(api_as, hearing):
    meeting, key = hearing["meeting"], str(hearing["item"].id)
    api = api_as(hearing["cadre"])
    assert api.post(_minutes_url(meeting) + "/approve").status_code == 409  # nothing saved
    _save(hearing["cadre"], meeting, {key: "记录"})
    assert api.post(_minutes_url(meeting) + "/publish").status_code == 409  # not approved
    assert api.post(_minutes_url(meeting) + "/approve", json={"x": 1}).status_code == 422
    response = api.post(_minutes_url(meeting) + "/approve")
    assert response.status_code == 200 and response.json["status"] == "approved"
    assert api.post(_minutes_url(meeting) + "/approve").status_code == 409
    # Saving approved minutes sends them back to draft.
    response = api.put(_minutes_url(meeting), json={"version": 1, "notes": {key: "修改"}})
    assert response.json["status"] == "draft" and response.json["version"] == 2
    api.post(_minutes_url(meeting) + "/approve")
    response = api.post(_minutes_url(meeting) + "/publish")
    assert response.status_code == 200 and response.json["status"] == "published"
    response = api.put(_minutes_url(meeting), json={"version": 2, "notes": {key: "再改"}})
    assert response.status_code == 409
    db.session.expire_all()
    minutes = db.session.scalar(select(Minutes))
    assert minutes.notes == {key: "修改"} and minutes.status == "published"
    assert audit_actions(minutes) == [
        "minutes.save",
        "minutes.approve",
        "minutes.unapprove",
        "minutes.save",
        "minutes.approve",
        "minutes.publish",
    ]


def test_minutes_of_missing_sessions_are_404(api_as, factories):
    api = api_as(factories.make_user("cadre"))
    assert api.get("/api/v1/sessions/999/minutes").status_code == 404
    assert (
        api.put("/api/v1/sessions/999/minutes", json={"version": 0, "notes": {}}).status_code == 404
    )
    assert api.post("/api/v1/sessions/999/minutes/approve").status_code == 404


def test_cancelled_sessions_stay_cancelled_when_minuted(api_as, factories):
    cadre = factories.make_user("cadre")
    meeting = factories.make_meeting(status="cancelled")
    api_as(cadre).put(_minutes_url(meeting), json={"version": 0, "notes": {}})
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).status == "cancelled"


@pytest.mark.real_commits  # threads, one connection each
def test_concurrent_saves_with_the_same_version_one_wins(app, factories, api_as, hearing):
    """Two real threads save version 0 at once: exactly one is saved, the other gets 409."""
    meeting, key = hearing["meeting"], str(hearing["item"].id)
    clients = [api_as(factories.make_user("secretary")) for _ in range(2)]
    url = _minutes_url(meeting)
    for round_ in range(3):
        version = db.session.scalar(select(Minutes.version)) or 0
        db.session.rollback()
        barrier = threading.Barrier(2)
        results: list = [None, None]

        def save(n, version=version, barrier=barrier, results=results, round_=round_):
            barrier.wait()
            response = clients[n].put(
                url, json={"version": version, "notes": {key: f"第{round_}轮 写者{n}"}}
            )
            results[n] = (response.status_code, response.json)

        threads = [threading.Thread(target=save, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        statuses = sorted(r[0] for r in results)
        assert statuses == [200, 409], results
        winner = next(r[1] for r in results if r[0] == 200)
        loser = next(r[1] for r in results if r[0] == 409)
        assert loser["error"]["current"]["version"] == version + 1
        assert loser["error"]["current"]["notes"] == winner["notes"]
        db.session.expire_all()
        assert db.session.scalar(select(Minutes.version)) == version + 1
        assert db.session.scalar(select(Minutes.notes)) == winner["notes"]
        db.session.rollback()
    assert db.session.scalar(select(func.count(MinutesRevision.id))) == 3


@pytest.mark.real_commits  # threads, one connection each
def test_concurrent_resolutions_close_a_case_once(app, factories, api_as, hearing):
    """Two resolutions of two items of the same issue race to close the same case."""
    cadre = hearing["cadre"]
    second_item = agenda_item(
        factories.make_meeting(kind="roundtable", starts_in=PAST),
        cadre,
        hearing["issue"],
        title="同一议题",
    )
    case_id = hearing["cases"][0].id
    clients = [api_as(factories.make_user("secretary")) for _ in range(2)]
    urls = [f"/api/v1/agenda/{item.id}/resolution" for item in (hearing["item"], second_item)]
    barrier = threading.Barrier(2)
    results = [None, None]

    def close(n):
        barrier.wait()
        response = clients[n].post(
            urls[n], json={"text": "先行处理", "outcome": "deferred", "closes_cases": [case_id]}
        )
        results[n] = response.status_code

    threads = [threading.Thread(target=close, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == [201, 422]
    db.session.rollback()
    assert db.session.scalar(select(func.count(Resolution.id))) == 1
    case = db.session.get(Case, case_id)
    assert case.status == "resolved"
    assert [e.to_value for e in case.events if e.kind == "status"] == ["resolved"]
