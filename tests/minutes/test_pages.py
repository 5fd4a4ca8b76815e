"""The agenda builder, the minutes editor (with its conflict view), resolutions and actions."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from flask import g, render_template_string
from sqlalchemy import func, select

from consult.cases.models import Case, Issue
from consult.extensions import db
from consult.meetings.models import Attendance, Registration
from consult.minutes.models import ActionItem, AgendaItem, Minutes, MinutesRevision, Resolution
from consult.minutes.operations import approve_minutes, publish_minutes, save_minutes
from consult.types import utcnow
from tests.cases.builders import agenda_item, new_case, new_issue, resolve, snapshot
from tests.conftest import csrf_token_from, login

#: A session that has started: only those resolve issues and close cases.
PAST = timedelta(hours=-2)


def _token(client, url="/cases"):
    return csrf_token_from(client.get(url).get_data(as_text=True))


@pytest.fixture
def town(factories):
    cadre = factories.make_user("cadre", name="刘书记")
    secretary = factories.make_user("secretary", name="陈秘书")
    meeting = factories.make_meeting(
        kind="joint_meeting", title="联席会议", starts_in=timedelta(hours=-1)
    )
    return {"cadre": cadre, "secretary": secretary, "meeting": meeting}


# -- the panel on the session page ----------------------------------------------------


def test_the_session_page_shows_the_agenda_with_links_for_staff(client, login_as, town):
    meeting = town["meeting"]
    item = agenda_item(meeting, town["cadre"], title="楼道治理")
    login_as(town["secretary"])
    html = client.get(f"/sessions/{meeting.id}").get_data(as_text=True)
    panel = re.search(r'<section class="mt-4" id="agenda".*?</section>', html, re.S).group(0)
    assert f'data-agenda-item="{item.id}"' in panel and "楼道治理" in panel
    assert f"/sessions/{meeting.id}/agenda" in panel
    assert f"/sessions/{meeting.id}/minutes/edit" in panel
    assert f"/cases/new?session={meeting.id}" in panel
    assert f"/agenda/{item.id}/resolution" in panel


def test_residents_see_the_agenda_without_staff_links(app, factories, town):
    meeting = town["meeting"]
    agenda_item(meeting, town["cadre"], title="楼道治理")
    resident = factories.make_user()
    with app.test_request_context():
        from flask_login import login_user

        login_user(resident)
        html = render_template_string('{% include "minutes/_agenda.html" %}', meeting=meeting)
    assert "楼道治理" in html
    assert "/agenda" not in html.replace('id="agenda"', "").replace("agenda-title", "")
    assert "/cases/new" not in html and "/minutes/edit" not in html


# -- agenda builder -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("cadre", 200), ("secretary", 200), ("resident", 403), ("unit_rep", 403)],
)
def test_who_builds_agendas(client, login_as, factories, town, role, status):
    login_as(factories.make_user(role))
    assert client.get(f"/sessions/{town['meeting'].id}/agenda").status_code == status


def test_the_builder_offers_backlog_overdue_cases_and_open_actions(
    client, login_as, factories, town
):
    cadre, meeting = town["cadre"], town["meeting"]
    backlog = new_issue(cadre, [new_case(cadre, title="电动车充电难")], title="充电桩建设")
    late = new_case(cadre, title="下水道堵塞")
    late.level_since = utcnow() - timedelta(days=5)
    db.session.commit()
    earlier = factories.make_meeting(kind="roundtable", starts_in=timedelta(days=-14))
    old_case = new_case(cadre, title="路灯不亮")
    old_item = agenda_item(earlier, cadre, new_issue(cadre, [old_case], title="路灯"))
    resolve(
        old_item,
        cadre,
        [old_case],
        outcome="deferred",
        actions=[{"description": "更换三盏路灯", "due_on": "2026-12-01"}],
    )
    action = db.session.scalar(select(ActionItem))
    login_as(town["secretary"])
    url = f"/sessions/{meeting.id}/agenda"
    html = client.get(url).get_data(as_text=True)
    assert f'data-issue="{backlog.id}"' in html
    assert f'data-case="{late.id}"' in html
    assert f'data-action="{action.id}"' in html
    token = csrf_token_from(html)
    add = f"/sessions/{meeting.id}/agenda/add"
    client.post(add, data={"csrf_token": token, "issue": backlog.id})
    client.post(add, data={"csrf_token": token, "case": late.id})
    client.post(add, data={"csrf_token": token, "carried_action": action.id})
    client.post(add, data={"csrf_token": token, "title": "其他事项", "duration_minutes": 10})
    items = db.session.scalars(
        select(AgendaItem).where(AgendaItem.meeting_id == meeting.id).order_by(AgendaItem.position)
    ).all()
    assert [i.title for i in items] == [
        "充电桩建设",
        "下水道堵塞",
        "Follow-up: 更换三盏路灯",
        "其他事项",
    ]
    assert [i.position for i in items] == [1, 2, 3, 4]
    assert items[0].issue_id == backlog.id
    # The overdue case went on the agenda through a new issue of its own.
    assert db.session.get(Case, late.id).issue_id == items[1].issue_id
    assert items[2].carried_action_id == action.id and items[3].duration_minutes == 10
    html = client.get(url).get_data(as_text=True)
    assert f'data-issue="{backlog.id}"' not in html.split('id="backlog"')[1]
    assert f'data-action="{action.id}"' not in html.split('id="carried"')[1]
    # Adding the same issue twice is refused with a message, and adds nothing.
    response = client.post(
        add, data={"csrf_token": token, "issue": backlog.id}, follow_redirects=True
    )
    assert "already" in response.get_data(as_text=True)
    assert (
        db.session.scalar(
            select(func.count(AgendaItem.id)).where(AgendaItem.meeting_id == meeting.id)
        )
        == 4
    )


def test_items_are_reordered_and_timed(client, login_as, town):
    meeting = town["meeting"]
    first, second, third = (
        agenda_item(meeting, town["cadre"], title=title) for title in ("甲", "乙", "丙")
    )
    login_as(town["secretary"])
    token = _token(client, f"/sessions/{meeting.id}/agenda")
    client.post(f"/agenda/{third.id}/move", data={"csrf_token": token, "direction": "up"})
    client.post(f"/agenda/{first.id}/move", data={"csrf_token": token, "direction": "up"})
    client.post(f"/agenda/{first.id}/move", data={"csrf_token": token, "direction": "down"})
    client.post(
        f"/agenda/{second.id}/duration", data={"csrf_token": token, "duration_minutes": "25"}
    )
    response = client.post(
        f"/agenda/{second.id}/duration",
        data={"csrf_token": token, "duration_minutes": "0"},
        follow_redirects=True,
    )
    assert "between 1 and 600" in response.get_data(as_text=True)
    db.session.expire_all()
    order = db.session.scalars(
        select(AgendaItem.title)
        .where(AgendaItem.meeting_id == meeting.id)
        .order_by(AgendaItem.position)
    ).all()
    # 丙 up: 甲 丙 乙; 甲 up: nothing (first); 甲 down: 丙 甲 乙.
    assert order == ["丙", "甲", "乙"]
    assert db.session.get(AgendaItem, second.id).duration_minutes == 25
    html = client.get(f"/sessions/{meeting.id}/agenda").get_data(as_text=True)
    assert "Planned: 25 minutes" in html


@pytest.mark.parametrize("rows", [1, 12])
def test_agenda_page_query_count_does_not_grow(
    client, login_as, factories, town, count_queries, rows
):
    cadre, meeting = town["cadre"], town["meeting"]
    for k in range(rows):
        case = new_case(cadre, title=f"案件{k}")
        case.level_since = utcnow() - timedelta(days=10)
        db.session.commit()
        agenda_item(meeting, cadre, new_issue(cadre, [case], title=f"议题{k}"))
        new_issue(cadre, [new_case(cadre)], title=f"待议{k}")
    login_as(town["secretary"])
    url = f"/sessions/{meeting.id}/agenda"
    with count_queries() as counted:
        html = client.get(url).get_data(as_text=True)
    assert html.count("data-agenda-item=") == rows
    # agenda (+ its resolutions' cases and actions), overdue cases, backlog, open actions
    # and the caller's memberships (the community scope); the session itself is in the
    # test's identity map already
    assert counted.n == 5, counted.statements


# -- resolution form ------------------------------------------------------------------


def test_recording_a_resolution_from_the_page(client, login_as, factories, town):
    cadre, meeting = town["cadre"], town["meeting"]
    unit = factories.make_unit("和合物业公司", kind="property_company")
    cases = [new_case(cadre, title="楼道堆物"), new_case(cadre, title="楼道灯坏")]
    issue = new_issue(cadre, cases)
    item = agenda_item(meeting, cadre, issue, title="楼道治理")
    login_as(town["secretary"])
    url = f"/agenda/{item.id}/resolution"
    page = client.get(url).get_data(as_text=True)
    assert f'value="{cases[0].id}"' in page and "和合物业公司" in page
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token_from(page),
            "text": "物业一周内清理",
            "outcome": "resolved",
            "closes_cases": [cases[0].id, cases[1].id],
            "referred_unit": "0",
            "actions-0-description": "清理楼道",
            "actions-0-unit": str(unit.id),
            "actions-0-assignee": "0",
            "actions-0-due_on": "2026-12-10",
            "actions-1-description": "",
            "actions-1-unit": "0",
            "actions-1-assignee": "0",
            "actions-2-description": "",
            "actions-2-unit": "0",
            "actions-2-assignee": "0",
        },
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    resolution = db.session.scalar(select(Resolution))
    assert f'data-resolution="{resolution.id}"' in html
    assert [c.id for c in resolution.cases] == [c.id for c in cases]
    action = db.session.scalar(select(ActionItem))
    assert (action.description, action.unit_id, action.due_on) == (
        "清理楼道",
        unit.id,
        date(2026, 12, 10),
    )
    assert db.session.get(Issue, issue.id).status == "resolved"
    # A second visit is sent to the minutes: the item has its resolution.
    assert client.get(url).status_code == 302


def test_a_refused_resolution_keeps_the_input_and_changes_nothing(
    client, login_as, factories, town
):
    cadre, meeting = town["cadre"], town["meeting"]
    case = new_case(cadre)
    item = agenda_item(meeting, cadre, new_issue(cadre, [case]))
    earlier = agenda_item(
        factories.make_meeting(starts_in=PAST),
        cadre,
        db.session.get(Issue, case.issue_id),
        title="先前讨论",
    )
    login_as(town["secretary"])
    url = f"/agenda/{item.id}/resolution"
    token = _token(client, url)
    # Meanwhile another session closes the case.
    resolve(earlier, cadre, [db.session.get(Case, case.id)], outcome="deferred")
    before = snapshot()
    response = client.post(
        url,
        data={
            "csrf_token": token,
            "text": "保留的决议文字",
            "outcome": "resolved",
            "closes_cases": [case.id],
            "referred_unit": "0",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "保留的决议文字" in html
    assert "is not a valid choice" in html or "resolved already" in html
    assert snapshot() == before


# -- minutes editor -------------------------------------------------------------------


def _editor(client, meeting):
    html = client.get(f"/sessions/{meeting.id}/minutes/edit").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', html)
    if version is None:
        version = re.search(r'name="version"[^>]*value="(\d+)"', html)
    return csrf_token_from(html), version.group(1), html


def test_the_editor_shows_attendance_and_saves_revisions(client, login_as, factories, town):
    meeting = town["meeting"]
    item = agenda_item(meeting, town["cadre"], title="楼道治理")
    resident = factories.make_user(name="王秀兰")
    registration = Registration(meeting_id=meeting.id, user_id=resident.id, status="confirmed")
    db.session.add(registration)
    db.session.flush()
    db.session.add_all(
        [
            Attendance(meeting_id=meeting.id, registration_id=registration.id, status="present"),
            Attendance(meeting_id=meeting.id, name="赵大爷", status="late"),
        ]
    )
    db.session.commit()
    login_as(town["secretary"])
    token, version, html = _editor(client, meeting)
    assert version == "0" and "王秀兰" in html and "赵大爷" in html
    url = f"/sessions/{meeting.id}/minutes/edit"
    client.post(url, data={"csrf_token": token, "version": "0", f"note_{item.id}": "第一稿"})
    token, version, html = _editor(client, meeting)
    assert version == "1" and "第一稿" in html
    client.post(
        url, data={"csrf_token": token, "version": "1", f"note_{item.id}": "第一稿\n补充：物业到场"}
    )
    revisions = db.session.scalars(select(MinutesRevision).order_by(MinutesRevision.version)).all()
    assert [(r.version, r.author_id) for r in revisions] == [
        (1, town["secretary"].id),
        (2, town["secretary"].id),
    ]
    diff = client.get(f"/sessions/{meeting.id}/minutes/diff?from=1&to=2").get_data(as_text=True)
    assert 'data-kind="add">+补充：物业到场' in diff
    assert client.get(f"/sessions/{meeting.id}/minutes/diff?from=1&to=9").status_code == 404


def _switch():
    """Forget what the previous request cached: requests of this thread share the test's
    application context, and so ``g`` (Flask-Login's user, Flask-WTF's token) between
    browsers."""
    for key in list(g):
        g.pop(key)


def test_a_stale_save_shows_both_texts_and_loses_nothing(client, login_as, factories, town, app):
    meeting = town["meeting"]
    item = agenda_item(meeting, town["cadre"], title="楼道治理")
    colleague = factories.make_user("secretary", name="周秘书")
    login_as(town["secretary"])
    token, version, _html = _editor(client, meeting)
    # Another secretary saves first, from another browser.
    other = app.test_client()
    _switch()
    login(other, colleague.email)
    _switch()
    other_token, other_version, _ = _editor(other, meeting)
    url = f"/sessions/{meeting.id}/minutes/edit"
    _switch()
    assert (
        other.post(
            url,
            data={
                "csrf_token": other_token,
                "version": other_version,
                f"note_{item.id}": "周秘书的记录",
            },
        ).status_code
        == 302
    )
    _switch()
    response = client.post(
        url, data={"csrf_token": token, "version": version, f"note_{item.id}": "陈秘书的记录"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert 'id="conflict"' in html and "周秘书" in html
    assert "周秘书的记录" in html and "陈秘书的记录" in html
    # The text box keeps this secretary's text; the form now starts from the current version.
    assert re.search(r"<textarea[^>]*>\s*陈秘书的记录</textarea>", html)
    assert re.search(r'name="version"[^>]*value="1"', html)
    db.session.expire_all()
    assert db.session.scalar(select(Minutes.notes)) == {str(item.id): "周秘书的记录"}
    merged = "周秘书的记录\n陈秘书的记录"
    token = csrf_token_from(html)
    assert (
        client.post(
            url, data={"csrf_token": token, "version": "1", f"note_{item.id}": merged}
        ).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.scalar(select(Minutes.notes)) == {str(item.id): merged}
    authors = db.session.scalars(
        select(MinutesRevision.author_id).order_by(MinutesRevision.version)
    ).all()
    assert authors == [colleague.id, town["secretary"].id]


@pytest.mark.parametrize(
    ("role", "status"), [("secretary", 200), ("resident", 403), ("unit_rep", 403)]
)
def test_who_edits_minutes(client, login_as, factories, town, role, status):
    login_as(factories.make_user(role))
    assert client.get(f"/sessions/{town['meeting'].id}/minutes/edit").status_code == status


def test_approve_publish_and_the_published_page(client, login_as, factories, town):
    meeting, cadre = town["meeting"], town["cadre"]
    item = agenda_item(meeting, cadre, title="楼道治理")
    named = factories.make_user(name="李建国")
    named.named_in_minutes = True
    hidden = factories.make_user(name="王秀兰")
    for user in (named, hidden):
        registration = Registration(meeting_id=meeting.id, user_id=user.id, status="confirmed")
        db.session.add(registration)
        db.session.flush()
        db.session.add(
            Attendance(meeting_id=meeting.id, registration_id=registration.id, status="present")
        )
    db.session.commit()
    save_minutes(
        meeting, {"version": 0, "notes": {str(item.id): "王秀兰和李建国发言"}}, town["secretary"]
    )
    db.session.commit()
    resident = factories.make_user()
    login_as(resident)
    url = f"/sessions/{meeting.id}/minutes"
    assert client.get(url).status_code == 404  # a draft
    client.post("/logout", data={"csrf_token": _token(client, "/")})
    login_as(cadre)
    token = _token(client, url)
    html = client.post(
        f"{url}/approve", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert 'data-status="approved"' in html
    html = client.post(
        f"{url}/publish", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert 'data-status="published"' in html and "王秀兰" in html
    assert 'data-action="minutes.publish"' in html
    assert client.get(f"{url}/edit").status_code == 302
    client.post("/logout", data={"csrf_token": token})
    login_as(resident)
    html = client.get(url).get_data(as_text=True)
    assert "王**" in html and "王秀兰" not in html and "李建国" in html
    assert 'id="audit"' not in html and 'id="revisions"' not in html
    printed = client.get(f"{url}/print").get_data(as_text=True)
    assert "@media print" in printed and "王**" in printed and "王秀兰" not in printed


def test_published_minutes_of_a_public_session_are_public(client, factories, town):
    meeting = town["meeting"]
    item = agenda_item(meeting, town["cadre"])
    save_minutes(meeting, {"version": 0, "notes": {str(item.id): "记录"}}, town["secretary"])
    approve_minutes(meeting, town["cadre"])
    publish_minutes(meeting, town["cadre"])
    db.session.commit()
    assert client.get(f"/sessions/{meeting.id}/minutes").status_code == 200
    private = factories.make_meeting(kind="mediation")
    assert client.get(f"/sessions/{private.id}/minutes").status_code == 404


def test_approving_without_minutes_says_so(client, login_as, town):
    login_as(town["cadre"])
    url = f"/sessions/{town['meeting'].id}/minutes"
    response = client.post(
        f"{url}/approve", data={"csrf_token": _token(client, url)}, follow_redirects=True
    )
    assert "No minutes have been saved" in response.get_data(as_text=True)


def test_a_secretary_cannot_approve(client, login_as, town):
    meeting = town["meeting"]
    item = agenda_item(meeting, town["cadre"])
    save_minutes(meeting, {"version": 0, "notes": {str(item.id): "记录"}}, town["secretary"])
    db.session.commit()
    login_as(town["secretary"])
    url = f"/sessions/{meeting.id}/minutes"
    assert (
        client.post(f"{url}/approve", data={"csrf_token": _token(client, url)}).status_code == 403
    )
    assert db.session.scalar(select(Minutes.status)) == "draft"


@pytest.mark.parametrize("rows", [1, 10])
def test_minutes_page_query_count_does_not_grow(
    client, login_as, factories, town, count_queries, rows
):
    meeting, cadre = town["meeting"], town["cadre"]
    notes = {}
    for k in range(rows):
        case = new_case(cadre, title=f"案件{k}")
        item = agenda_item(meeting, cadre, new_issue(cadre, [case], title=f"议题{k}"))
        resolve(item, cadre, [case], actions=[{"description": f"行动{k}"}])
        notes[str(item.id)] = f"记录{k}"
        user = factories.make_user(name=f"居民{k}")
        registration = Registration(meeting_id=meeting.id, user_id=user.id, status="confirmed")
        db.session.add(registration)
        db.session.flush()
        db.session.add(
            Attendance(meeting_id=meeting.id, registration_id=registration.id, status="present")
        )
    db.session.commit()
    save_minutes(meeting, {"version": 0, "notes": notes}, town["secretary"])
    db.session.commit()
    login_as(cadre)
    url = f"/sessions/{meeting.id}/minutes"
    with count_queries() as counted:
        html = client.get(url).get_data(as_text=True)
    assert html.count("data-resolution=") == rows
    # minutes, agenda, resolutions' cases, actions, attendance, sign-ups, names to mask
    # (none for staff: 0), revisions, audit, the session's community, the caller's
    # memberships (the community scope)
    assert counted.n == 10, counted.statements


# -- actions --------------------------------------------------------------------------


def test_unit_reps_see_their_units_actions_and_report_them_done(client, login_as, factories, town):
    cadre, meeting = town["cadre"], town["meeting"]
    ours = factories.make_unit("和合物业公司", kind="property_company")
    theirs = factories.make_unit("城北供水公司")
    case = new_case(cadre)
    item = agenda_item(meeting, cadre, new_issue(cadre, [case]))
    resolve(
        item,
        cadre,
        [case],
        actions=[
            {"description": "清理楼道", "unit": ours.id, "due_on": "2026-12-10"},
            {"description": "检修水管", "unit": theirs.id},
        ],
    )
    mine, other = db.session.scalars(select(ActionItem).order_by(ActionItem.id)).all()
    rep = factories.make_user("unit_rep", name="物业孙经理")
    rep.unit_id = ours.id
    db.session.commit()
    login_as(rep)
    html = client.get("/actions").get_data(as_text=True)
    assert f'data-action="{mine.id}"' in html and f'data-action="{other.id}"' not in html
    token = csrf_token_from(html)
    # Another unit's action is not even seen.
    assert (
        client.post(
            f"/actions/{other.id}/done", data={"csrf_token": token, "note": "x"}
        ).status_code
        == 404
    )
    response = client.post(
        f"/actions/{mine.id}/done", data={"csrf_token": token, "note": ""}, follow_redirects=True
    )
    assert "Say what was done" in response.get_data(as_text=True)
    client.post(f"/actions/{mine.id}/done", data={"csrf_token": token, "note": "已清运纸箱12箱"})
    db.session.expire_all()
    mine = db.session.get(ActionItem, mine.id)
    assert (mine.status, mine.done_note, mine.done_by_id) == ("done", "已清运纸箱12箱", rep.id)
    assert db.session.get(ActionItem, other.id).status == "open"
    html = client.get("/actions?status=done").get_data(as_text=True)
    assert "已清运纸箱12箱" in html
    response = client.post(
        f"/actions/{mine.id}/done",
        data={"csrf_token": token, "note": "again"},
        follow_redirects=True,
    )
    assert "already" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("cadre", 200), ("unit_rep", 200), ("secretary", 403), ("resident", 403)],
)
def test_who_sees_the_actions_page(client, login_as, factories, role, status):
    login_as(factories.make_user(role))
    assert client.get("/actions").status_code == status


def test_actions_api(api_as, factories, town):
    cadre = town["cadre"]
    unit = factories.make_unit()
    case = new_case(cadre)
    resolve(
        agenda_item(town["meeting"], cadre, new_issue(cadre, [case])),
        cadre,
        [case],
        actions=[{"description": "清理楼道", "unit": unit.id}],
    )
    action = db.session.scalar(select(ActionItem))
    rep = factories.make_user("unit_rep")
    stranger = factories.make_user("unit_rep")
    rep.unit_id = unit.id
    db.session.commit()
    url = f"/api/v1/actions/{action.id}/done"
    assert api_as(stranger).post(url, json={"note": "x"}).status_code == 404
    assert api_as(rep).post(url, json={}).status_code == 422
    response = api_as(rep).post(url, json={"note": "已完成"})
    assert response.status_code == 200 and response.json["status"] == "done"
    assert api_as(rep).post(url, json={"note": "again"}).status_code == 409


@pytest.mark.parametrize("rows", [1, 15])
def test_actions_page_query_count_does_not_grow(
    client, login_as, factories, town, count_queries, rows
):
    cadre = town["cadre"]
    unit = factories.make_unit()
    case = new_case(cadre)
    resolve(
        agenda_item(town["meeting"], cadre, new_issue(cadre, [case])),
        cadre,
        [case],
        actions=[{"description": f"行动{k}", "unit": unit.id} for k in range(rows)],
    )
    rep = factories.make_user("unit_rep")
    rep.unit_id = unit.id
    db.session.commit()
    login_as(rep)
    with count_queries() as counted:
        html = client.get("/actions").get_data(as_text=True)
    assert html.count("data-action=") == rows
    assert counted.n == 2, counted.statements
