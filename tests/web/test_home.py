"""The home page says what waits for the signed-in person, by role."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from consult.attendance.operations import cancel_registration, sign_up
from consult.cases.models import Issue
from consult.cases.operations import evaluate_issue
from consult.extensions import db
from consult.minutes.models import ActionItem
from consult.minutes.operations import approve_minutes, report_action, save_minutes
from consult.types import utcnow
from tests.cases.builders import agenda_item, new_case, new_issue, resolve
from tests.web.helpers import html_of

ZH = {"Accept-Language": "zh-CN"}


def waiting(response) -> dict[str, tuple[int, str]]:
    """Return {list key: (count, the card's HTML)} of the home page."""
    html = html_of(response)
    cards = re.findall(r'data-waiting-list="(\w+)"(.*?)</div>\s*</div>\s*</div>', html, re.S)
    return {
        key: (int(re.search(r'data-count="(\d+)"', body).group(1)), body) for key, body in cards
    }


def _minutes(meeting, user, approve=False):
    save_minutes(meeting, {"version": 0, "notes": {}}, user)
    if approve:
        approve_minutes(meeting, user)
    db.session.commit()


def test_visitors_see_no_waiting_lists(client):
    assert "data-waiting" not in html_of(client.get("/"))


def test_a_cadre_sees_minutes_to_approve_and_overdue_cases(client, factories, login_as):
    hehe = factories.make_community("Hehe")
    other = factories.make_community("城北社区")
    cadre = factories.make_user("cadre", community="Hehe")
    past = factories.make_meeting(hehe, title="上周圆桌会", starts_in=timedelta(days=-2))
    done = factories.make_meeting(hehe, title="已批准的会", starts_in=timedelta(days=-9))
    elsewhere = factories.make_meeting(other, title="城北的会", starts_in=timedelta(days=-2))
    for meeting in (past, elsewhere):
        _minutes(meeting, cadre)
    _minutes(done, cadre, approve=True)
    late = new_case(cadre, title="积水严重")
    new_case(cadre, title="刚收到的")
    late.level_since = utcnow() - timedelta(days=10)
    db.session.commit()
    login_as(cadre)

    lists = waiting(client.get("/", headers=ZH))

    assert list(lists) == ["minutes_to_approve", "overdue_cases"]
    count, body = lists["minutes_to_approve"]
    assert count == 1 and "上周圆桌会" in body and f"/sessions/{past.id}/minutes" in body
    assert "已批准的会" not in body and "城北的会" not in body
    count, body = lists["overdue_cases"]
    assert count == 1 and "积水严重" in body and "刚收到的" not in body
    assert "待批准的纪要" in html_of(client.get("/", headers=ZH))


def test_a_secretary_sees_this_weeks_sessions_and_unfinished_minutes(client, factories, login_as):
    hehe = factories.make_community("Hehe")
    secretary = factories.make_user("secretary", community="Hehe")
    factories.make_meeting(hehe, title="周五说事", starts_in=timedelta(days=2))
    factories.make_meeting(hehe, title="下月的会", starts_in=timedelta(days=20))
    factories.make_meeting(hehe, title="无纪要的会", starts_in=timedelta(days=-3))
    drafted = factories.make_meeting(hehe, title="草稿纪要的会", starts_in=timedelta(days=-4))
    approved = factories.make_meeting(hehe, title="纪要已批准", starts_in=timedelta(days=-5))
    _minutes(drafted, factories.make_user("cadre"))
    _minutes(approved, factories.make_user("cadre"), approve=True)
    login_as(secretary)

    lists = waiting(client.get("/"))

    assert list(lists) == ["sessions_this_week", "unfinished_minutes"]
    count, body = lists["sessions_this_week"]
    assert count == 1 and "周五说事" in body and "下月的会" not in body
    count, body = lists["unfinished_minutes"]
    assert count == 2 and "无纪要的会" in body and "草稿纪要的会" in body
    assert "纪要已批准" not in body


def test_a_representative_sees_the_issues_to_rate_until_rated(client, factories, login_as):
    hehe = factories.make_community("Hehe")
    cadre = factories.make_user("cadre")
    rep = factories.make_user("resident", representative=True)
    case = new_case(cadre)
    issue = new_issue(cadre, [case], title="楼道堆物")
    new_issue(cadre, [new_case(cadre)], title="尚未解决")
    meeting = factories.make_meeting(hehe, starts_in=timedelta(days=-1))
    resolve(agenda_item(meeting, cadre, issue), cadre, [case])
    login_as(rep)

    count, body = waiting(client.get("/"))["issues_to_rate"]
    assert count == 1 and "楼道堆物" in body and f"/issues/{issue.id}" in body
    assert "尚未解决" not in body

    evaluate_issue(db.session.get(Issue, issue.id), {"rating": "satisfied"}, rep)
    db.session.commit()
    assert waiting(client.get("/"))["issues_to_rate"][0] == 0


def test_a_unit_representative_sees_the_units_open_actions(client, factories, login_as):
    hehe = factories.make_community("Hehe")
    unit = factories.make_unit("物业公司甲", kind="property_company")
    other = factories.make_unit("别的单位")
    cadre = factories.make_user("cadre")
    rep = factories.make_user("unit_rep")
    rep.unit_id = unit.id
    db.session.commit()
    case = new_case(cadre)
    meeting = factories.make_meeting(hehe, starts_in=timedelta(days=-1))
    resolve(
        agenda_item(meeting, cadre, new_issue(cadre, [case])),
        cadre,
        [case],
        actions=[
            {"description": "清理楼道", "unit": unit.id, "due_on": "2030-01-10"},
            {"description": "修好路灯", "unit": unit.id},
            {"description": "别人的事", "unit": other.id},
        ],
    )
    done = db.session.query(ActionItem).filter_by(description="修好路灯").one()
    report_action(done, {"note": "已修"}, rep)
    db.session.commit()
    login_as(rep)

    lists = waiting(client.get("/"))

    count, body = lists["open_actions"]
    assert count == 1 and "清理楼道" in body and "2030-01-10" in body
    assert "修好路灯" not in body and "别人的事" not in body


def test_a_resident_sees_the_next_sign_ups(client, factories, login_as):
    hehe = factories.make_community("Hehe")
    resident = factories.make_user("resident")
    soon = factories.make_meeting(hehe, title="下周圆桌会", starts_in=timedelta(days=3))
    full = factories.make_meeting(hehe, title="满员的会", capacity=1, starts_in=timedelta(days=4))
    dropped = factories.make_meeting(hehe, title="取消报名的会", starts_in=timedelta(days=1))
    sign_up(full, factories.make_user("resident"))
    for meeting in (soon, full, dropped):
        sign_up(meeting, resident)
    db.session.commit()
    registration = next(r for r in dropped.registrations if r.user_id == resident.id)
    cancel_registration(registration, resident)
    db.session.commit()
    login_as(resident)

    count, body = waiting(client.get("/", headers=ZH))["next_sign_ups"]

    assert count == 2
    assert body.index("下周圆桌会") < body.index("满员的会")  # soonest first
    assert "取消报名的会" not in body
    assert "候补" in body  # the full session's place is on the waiting list


@pytest.mark.parametrize("role", ["admin", "cadre", "secretary"])
def test_staff_without_sign_ups_see_no_empty_sign_up_list(client, factories, login_as, role):
    login_as(factories.make_user(role))
    assert "next_sign_ups" not in waiting(client.get("/"))
