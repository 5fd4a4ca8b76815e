"""A small town for the public pages: published and unpublished minutes, a private
mediation, and residents whose full names appear in every kind of text."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest

from consult.cases import operations as cases_ops
from consult.cases.models import CaseEvent
from consult.extensions import db
from consult.minutes import operations as minutes_ops
from consult.types import utcnow

#: Residents' full names: none of them may ever appear on a public route.
FULL_NAMES = ("王秀兰", "李建国", "赵桂芳", "陈美玲", "张伟东", "孙丽娟", "周永康")
#: Texts of private or unpublished records: none of them may appear either.
SECRETS = (
    "漏水调解",
    "停车位纠纷",
    "13800001111",
    "家住三栋二单元",
    "调解笔记",
    "草稿会议记录",
    "私下协商",
)


@dataclass
class Town:
    hehe: object
    xiguan: object
    cadre: object
    published: object
    resolution: object
    case_lit: object
    case_noise: object
    case_private_raised: object
    private: object
    private_future: object
    private_cancelled: object
    unpublished: object
    coming: object
    cancelled: object
    series: object
    weeks: list
    unit: object
    other_published: object
    ids: dict = field(default_factory=dict)


def _publish(meeting, cadre, notes: str) -> None:
    items = minutes_ops.current_minutes(meeting)
    assert items is None
    agenda = meeting.agenda_items
    minutes_ops.save_minutes(meeting, {"version": 0, "notes": {str(agenda[0].id): notes}}, cadre)
    minutes_ops.approve_minutes(meeting, cadre)
    minutes_ops.publish_minutes(meeting, cadre)


def _case(cadre, community, title, category, reporter, meeting=None, phone=None, description=""):
    return cases_ops.create_case(
        {
            "title": title,
            "description": description,
            "community": community.name,
            "category": category,
            "reporter": reporter,
            "phone": phone,
        },
        cadre,
        meeting=meeting,
    )


def _backdate(case, created_days_ago: float, escalated_days_ago: float | None = None):
    """Put a case's opening (and escalation) in the past, so days per level are known."""
    now = utcnow()
    case.created_at = now - timedelta(days=created_days_ago)
    for event in db.session.query(CaseEvent).filter_by(case_id=case.id):
        if event.kind == "created":
            event.at = case.created_at
        elif event.kind == "level" and escalated_days_ago is not None:
            event.at = now - timedelta(days=escalated_days_ago)


@pytest.fixture
def town(app, factories) -> Town:
    f = factories
    hehe = f.make_community("和合社区", brand="和合新邻")
    xiguan = f.make_community("西关社区", brand="西关同心")
    cadre = f.make_user("cadre", community=None, name="刘主任")  # town-level: both communities
    # Only the cadre signs in: the others need no (slow to hash) password.
    resident = f.make_user("resident", community="和合社区", name="王秀兰", password=None)
    f.make_user("resident", community="和合社区", name="陈美玲", password=None)
    reps = [
        f.make_user(
            "resident",
            community="和合社区",
            representative=True,
            name=f"代表{i}号居民",
            password=None,
        )
        for i in range(3)
    ]
    unit = f.make_unit("城关物业公司", kind="property_company")
    hall = f.make_venue(hehe, "党群服务中心大厅")

    # The private mediation: it has published minutes, and must never show.
    private = f.make_meeting(
        hehe, kind="mediation", starts_in=timedelta(days=-6), title="周永康漏水调解", venue=hall
    )
    case_private = _case(
        cadre,
        hehe,
        "张伟东家漏水调解",
        "conflict",
        "张伟东",
        phone="13800001111",
        description="张伟东家住三栋二单元",
    )
    issue_private = cases_ops.create_issue(
        {"title": "张伟东漏水调解", "community_obj": hehe, "cases": [case_private.id]}, cadre
    )
    item = minutes_ops.add_agenda_item(private, {"issue": issue_private.id}, cadre)
    minutes_ops.create_resolution(
        item,
        {
            "text": "张伟东与邻居私下协商赔偿",
            "outcome": "resolved",
            "closes_cases": [case_private.id],
        },
        cadre,
    )
    db.session.commit()
    _publish(private, cadre, "调解笔记：张伟东、周永康到场")
    # A case raised at the private session, later put to a public session's issue.
    case_private_raised = _case(
        cadre, hehe, "周永康在调解会上反映漏水调解", "conflict", "周永康", meeting=private
    )
    db.session.commit()

    # The public roundtable whose minutes are published.
    published = f.make_meeting(
        hehe,
        kind="roundtable",
        starts_in=timedelta(days=-3),
        title="王秀兰参加的圆桌会",
        venue=hall,
    )
    f.make_signup(published, resident)
    f.make_signup(published, name="赵桂芳")
    case_lit = _case(
        cadre,
        hehe,
        "李建国反映楼道灯不亮",
        "concern",
        "李建国",
        phone="13800001111",
        description="李建国家住三栋二单元",
    )
    cases_ops.escalate_case(case_lit, cadre, "需要物业配合")
    case_noise = _case(cadre, hehe, "王秀兰与陈美玲的噪音纠纷", "conflict", "王秀兰")
    issue = cases_ops.create_issue(
        {
            "title": "楼道灯与噪音（王秀兰）",
            "community_obj": hehe,
            "cases": [case_lit.id, case_noise.id, case_private_raised.id],
        },
        cadre,
    )
    db.session.flush()
    _backdate(case_lit, 5, escalated_days_ago=2)
    _backdate(case_noise, 1)
    item = minutes_ops.add_agenda_item(
        published, {"issue": issue.id, "title": "王秀兰、赵桂芳反映的问题"}, cadre
    )
    resolution = minutes_ops.create_resolution(
        item,
        {
            "text": "王秀兰同意调整作息，陈美玲配合；物业修灯。",
            "outcome": "resolved",
            "closes_cases": [case_lit.id, case_noise.id, case_private_raised.id],
            "actions": [
                {
                    "description": "为赵桂芳家门口修灯",
                    "unit": unit.id,
                    "due_on": (date.today() + timedelta(days=7)).isoformat(),
                },
                {"description": "回访陈美玲", "assignee": resident.id},
            ],
        },
        cadre,
    )
    db.session.commit()
    _publish(published, cadre, "王秀兰、李建国发言，赵桂芳补充。")
    for rep, rating in zip(reps, ("satisfied", "basically_satisfied", "unsatisfied"), strict=True):
        cases_ops.evaluate_issue(issue, {"rating": rating, "comment": "王秀兰说好"}, rep)
    minutes_ops.report_action(resolution.actions[0], {"note": "已修好"}, cadre)
    db.session.commit()

    # A public session whose minutes are approved but not published.
    unpublished = f.make_meeting(
        hehe, kind="friday_talk", starts_in=timedelta(days=-2), title="周五说事日"
    )
    case_parking = _case(cadre, hehe, "孙丽娟停车位纠纷", "conflict", "孙丽娟")
    issue_parking = cases_ops.create_issue(
        {"title": "停车问题", "community_obj": hehe, "cases": [case_parking.id]}, cadre
    )
    item = minutes_ops.add_agenda_item(unpublished, {"issue": issue_parking.id}, cadre)
    minutes_ops.create_resolution(
        item,
        {
            "text": "孙丽娟停车位纠纷已协商",
            "outcome": "resolved",
            "closes_cases": [case_parking.id],
        },
        cadre,
    )
    db.session.commit()
    agenda = unpublished.agenda_items
    minutes_ops.save_minutes(
        unpublished, {"version": 0, "notes": {str(agenda[0].id): "草稿会议记录：孙丽娟"}}, cadre
    )
    minutes_ops.approve_minutes(unpublished, cadre)
    db.session.commit()

    # Coming sessions: public, private, cancelled, and a weekly series.
    coming = f.make_meeting(
        hehe,
        kind="deliberation",
        starts_in=timedelta(days=4),
        title="民主协商议事会",
        venue=hall,
        capacity=30,
    )
    minutes_ops.add_agenda_item(coming, {"title": "听取王秀兰的意见"}, cadre)
    minutes_ops.add_agenda_item(coming, {"title": "小区加装电梯"}, cadre)
    db.session.commit()
    private_future = f.make_meeting(
        hehe, kind="mediation", starts_in=timedelta(days=3), title="私下协商：张伟东漏水调解"
    )
    private_cancelled = f.make_meeting(
        hehe,
        kind="mediation",
        starts_in=timedelta(days=5),
        title="漏水调解（取消）",
        status="cancelled",
    )
    cancelled = f.make_meeting(
        hehe,
        kind="roundtable",
        starts_in=timedelta(days=6),
        title="社区圆桌会",
        status="cancelled",
        venue=hall,
    )
    series, weeks = f.make_series(
        hehe, kind="friday_talk", count=4, starts_in=timedelta(days=1), title="周五说事日"
    )
    f.cancel_occurrence(weeks[2])

    # Another community's published resolution: its own page only.
    other = f.make_meeting(
        xiguan, kind="roundtable", starts_in=timedelta(days=-4), title="西关圆桌会"
    )
    other_case = _case(cadre, xiguan, "西关路灯", "concern", None)
    other_issue = cases_ops.create_issue(
        {"title": "西关路灯", "community_obj": xiguan, "cases": [other_case.id]}, cadre
    )
    item = minutes_ops.add_agenda_item(other, {"issue": other_issue.id}, cadre)
    minutes_ops.create_resolution(
        item,
        {"text": "西关路灯修复", "outcome": "resolved", "closes_cases": [other_case.id]},
        cadre,
    )
    db.session.commit()
    _publish(other, cadre, "西关")
    db.session.commit()

    return Town(
        hehe=hehe,
        xiguan=xiguan,
        cadre=cadre,
        published=published,
        resolution=resolution,
        case_lit=case_lit,
        case_noise=case_noise,
        case_private_raised=case_private_raised,
        private=private,
        private_future=private_future,
        private_cancelled=private_cancelled,
        unpublished=unpublished,
        coming=coming,
        cancelled=cancelled,
        series=series,
        weeks=weeks,
        unit=unit,
        other_published=other,
    )
