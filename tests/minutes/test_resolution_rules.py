"""Nothing closes silently, and nothing is decided before a session has started.

A "resolved" outcome closes every case of the issue still being handled or says why
some stay open (``open_cases_reason`` / ``cases_left_open``);
the reason is on the timeline of the issue and of each case left open.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from consult.attendance.operations import check_in, hold_started_sessions
from consult.audit.models import AuditEntry
from consult.cases.models import Case, CaseEvent, Issue
from consult.extensions import db
from consult.meetings.models import Meeting
from consult.minutes.models import AgendaItem, Resolution
from consult.minutes.operations import save_minutes
from tests.cases.builders import agenda_item, new_case, new_issue, snapshot
from tests.conftest import csrf_token_from

PAST = timedelta(hours=-2)


@pytest.fixture
def hearing(factories):
    cadre = factories.make_user("cadre")
    cases = [new_case(cadre, title="楼道堆放杂物"), new_case(cadre, title="楼道灯坏")]
    issue = new_issue(cadre, cases)
    meeting = factories.make_meeting(kind="joint_meeting", starts_in=PAST)
    item = agenda_item(meeting, cadre, issue, title="楼道治理")
    return {"cadre": cadre, "cases": cases, "issue": issue, "meeting": meeting, "item": item}


def _post(api, item, **body):
    data = {"text": "物业公司一周内清理", "outcome": "resolved"} | body
    return api.post(f"/api/v1/agenda/{item.id}/resolution", json=data)


def _audit(obj, action):
    return db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_type == type(obj).__tablename__,
            AuditEntry.object_id == obj.id,
            AuditEntry.action == action,
        )
    ).all()


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_resolving_with_cases_left_open_and_no_reason_is_refused(api_as, hearing, reason):
    first, second = hearing["cases"]
    api = api_as(hearing["cadre"])
    before = snapshot()
    body = {"closes_cases": [first.id]}
    if reason is not None:
        body["open_cases_reason"] = reason
    response = _post(api, hearing["item"], **body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "cases_left_open"
    assert f"#{second.id}" in response.json["error"]["message"]
    assert "open_cases_reason" in response.json["error"]["fields"]
    assert snapshot() == before


def test_a_reason_lets_cases_stay_open_and_is_on_every_timeline(api_as, hearing):
    first, second = hearing["cases"]
    response = _post(
        api_as(hearing["cadre"]),
        hearing["item"],
        closes_cases=[first.id],
        open_cases_reason="灯需由供电公司更换，下次联席会议再议",
    )
    assert response.status_code == 201, response.json
    db.session.expire_all()
    issue = db.session.get(Issue, hearing["issue"].id)
    assert issue.status == "resolved"
    assert db.session.get(Case, first.id).status == "resolved"
    assert db.session.get(Case, second.id).status == "open"
    (entry,) = _audit(issue, "issue.cases_left_open")
    assert entry.data["cases"] == [second.id] and entry.data["choice"] == "reason"
    assert entry.data["reason"] == "灯需由供电公司更换，下次联席会议再议"
    assert len(_audit(db.session.get(Case, second.id), "case.left_open")) == 1
    assert not _audit(db.session.get(Case, first.id), "case.left_open")
    event = db.session.scalar(
        select(CaseEvent).where(CaseEvent.case_id == second.id, CaseEvent.kind == "left_open")
    )
    assert event.reason == "灯需由供电公司更换，下次联席会议再议"


def test_other_outcomes_and_closing_everything_need_no_reason(api_as, factories, hearing):
    api = api_as(hearing["cadre"])
    assert _post(api, hearing["item"], outcome="deferred").status_code == 201
    cadre = hearing["cadre"]
    cases = [new_case(cadre), new_case(cadre)]
    item = agenda_item(hearing["meeting"], cadre, new_issue(cadre, cases, title="停车"))
    response = _post(api, item, closes_cases=[c.id for c in cases])
    assert response.status_code == 201
    assert not _audit(db.session.get(Issue, item.issue_id), "issue.cases_left_open")


def test_a_session_that_has_not_started_resolves_nothing(api_as, factories, hearing):
    cadre = hearing["cadre"]
    coming = factories.make_meeting(kind="joint_meeting", starts_in=timedelta(days=2))
    case = new_case(cadre)
    item = agenda_item(coming, cadre, new_issue(cadre, [case], title="停车难"))
    api = api_as(cadre)
    before = snapshot()
    response = _post(api, item, closes_cases=[case.id])
    assert response.status_code == 409
    assert response.json["error"]["code"] == "not_started"
    assert snapshot() == before
    # Deferring before the start is fine: it closes nothing.
    assert _post(api, item, outcome="deferred").status_code == 201


def _resolution_page(client, item):
    return client.get(f"/agenda/{item.id}/resolution").get_data(as_text=True)


def test_the_page_ticks_the_open_cases_and_asks_for_a_choice(client, login_as, factories, hearing):
    item = hearing["item"]
    first, second = hearing["cases"]
    login_as(factories.make_user("secretary"))
    page = _resolution_page(client, item)
    for case in (first, second):
        box = re.search(rf'<input[^>]*value="{case.id}"[^>]*>', page).group(0)
        assert "checked" in box
    assert 'name="open_cases_choice"' in page and 'value="defer"' in page
    blank = {f"actions-{n}-{f}": "0" for n in range(3) for f in ("unit", "assignee")}
    form = {
        "csrf_token": csrf_token_from(page),
        "text": "先清理杂物",
        "outcome": "resolved",
        "closes_cases": [first.id],
        "referred_unit": "0",
        **blank,
    }
    before = snapshot()
    refused = client.post(f"/agenda/{item.id}/resolution", data=form)
    assert refused.status_code == 200
    assert f"#{second.id}" in refused.get_data(as_text=True)
    assert snapshot() == before
    done = client.post(f"/agenda/{item.id}/resolution", data=form | {"open_cases_choice": "defer"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Case, second.id).status == "open"
    (entry,) = _audit(db.session.get(Issue, hearing["issue"].id), "issue.cases_left_open")
    assert entry.data["choice"] == "defer" and entry.data["reason"]
    # The issue page tells it as a sentence, not as a code.
    page = client.get(f"/issues/{hearing['issue'].id}").get_data(as_text=True)
    shown = re.sub(r"<[^>]+>", " ", page.split('id="audit"')[1])
    assert "issue.cases_left_open" not in shown and "Cases left open" in shown


def test_minutes_are_approved_only_after_the_session_started(api_as, factories):
    cadre = factories.make_user("cadre")
    coming = factories.make_meeting(starts_in=timedelta(hours=3))
    item = agenda_item(coming, cadre, title="议程")
    save_minutes(coming, {"version": 0, "notes": {str(item.id): "准备"}}, cadre)
    db.session.commit()
    assert db.session.get(Meeting, coming.id).status == "scheduled"  # not held yet
    api = api_as(cadre)
    response = api.post(f"/api/v1/sessions/{coming.id}/minutes/approve", json={})
    assert response.status_code == 409
    assert api.post(f"/api/v1/sessions/{coming.id}/minutes/publish", json={}).status_code == 409
    started = factories.make_meeting(starts_in=timedelta(minutes=-5))
    item = agenda_item(started, cadre, title="议程")
    save_minutes(started, {"version": 0, "notes": {str(item.id): "记录"}}, cadre)
    db.session.commit()
    assert api.post(f"/api/v1/sessions/{started.id}/minutes/approve", json={}).status_code == 200


def test_an_early_check_in_does_not_make_a_session_held(app, factories):
    resident = factories.make_user()
    meeting = factories.make_meeting(starts_in=timedelta(hours=1))
    registration = factories.make_signup(meeting, resident)
    check_in(registration, resident)
    db.session.commit()
    meeting = db.session.get(Meeting, meeting.id)
    assert meeting.attended_count == 1 and meeting.status == "scheduled"
    # Once it has started, the sweep (run by `flask mail send`) makes it held.
    assert hold_started_sessions(now=meeting.starts_at - timedelta(minutes=1)) == 0
    assert hold_started_sessions(now=meeting.starts_at + timedelta(minutes=1)) == 1
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).status == "held"


def test_a_check_in_after_the_start_makes_it_held(app, factories):
    resident = factories.make_user()
    meeting = factories.make_meeting(starts_in=timedelta(minutes=-10))
    check_in(factories.make_signup(meeting, resident), resident)
    db.session.commit()
    assert db.session.get(Meeting, meeting.id).status == "held"
    assert db.session.scalar(select(AgendaItem)) is None
    assert db.session.scalar(select(Resolution)) is None
