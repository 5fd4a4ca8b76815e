"""No silent moments: the people concerned hear by mail when they join a waiting list,
cancel, get an action, when minutes wait for approval or are published, when their
concern is resolved and when an issue waits for their rating.

Read back from the real SMTP sink.
"""

from __future__ import annotations

from datetime import timedelta

from consult.attendance.operations import cancel_registration, check_in, sign_up
from consult.extensions import db
from consult.minutes.operations import approve_minutes, publish_minutes, save_minutes
from tests.cases.builders import agenda_item, new_case, new_issue, resolve

PAST = timedelta(hours=-2)


def _to(messages, user):
    return [m for m in messages if user.email in str(m["To"])]


def _text(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def test_waiting_list_and_cancellation_are_confirmed(app, factories, mailbox):
    meeting = factories.make_meeting(capacity=1, title="周五说事日")
    first, second = factories.make_user(), factories.make_user()
    sign_up(meeting, first, first)
    waiting = sign_up(meeting, second, second)
    db.session.commit()
    received = mailbox.send()
    (notice,) = _to(received, second)
    assert str(notice["Subject"]).startswith("On the waiting list: 周五说事日")
    assert "number 1 on its waiting list" in _text(notice)
    assert "/me/signups" in _text(notice)
    # The confirmation mail of the first links to the sign-ups page too.
    assert "http://consult.test/me/signups" in _text(_to(received, first)[0])
    cancel_registration(waiting, second)
    db.session.commit()
    (cancelled,) = _to(mailbox.send()[len(received) :], second)
    assert str(cancelled["Subject"]).startswith("Sign-up cancelled: 周五说事日")


def test_a_resolution_tells_the_unit_the_reporter_and_the_representatives(app, factories, mailbox):
    cadre = factories.make_user("cadre")
    unit = factories.make_unit("和合物业公司", kind="property_company")
    rep = factories.make_user("unit_rep")
    rep.unit_id = unit.id
    reporter = factories.make_user("unit_rep", name="物业孙经理")
    representative = factories.make_user(representative=True, name="赵敏")
    other_resident = factories.make_user()
    db.session.commit()
    raised = new_case(reporter, title="楼道灯坏")
    recorded = new_case(cadre, title="楼道堆物")  # recorded by staff: nobody to tell
    meeting = factories.make_meeting(kind="joint_meeting", title="联席会议", starts_in=PAST)
    item = agenda_item(meeting, cadre, new_issue(cadre, [raised, recorded], title="楼道治理"))
    resolve(
        item,
        cadre,
        [raised, recorded],
        text="物业一周内修好",
        actions=[{"description": "更换楼道灯", "unit": unit.id, "due_on": "2026-12-31"}],
    )
    received = mailbox.send()
    (action,) = _to(received, rep)
    assert str(action["Subject"]).startswith("A new action for you: 更换楼道灯")
    assert "/actions" in _text(action)
    (resolved,) = _to(received, reporter)
    assert str(resolved["Subject"]) == "Your concern is resolved: 楼道灯坏"
    assert "物业一周内修好" in _text(resolved)
    (rate,) = _to(received, representative)
    assert str(rate["Subject"]) == "Please rate the result: 楼道治理"
    assert f"/issues/{item.issue_id}" in _text(rate)
    assert not _to(received, other_resident) and not _to(received, cadre)


def test_minutes_wait_for_the_cadre_then_reach_those_who_attended(app, factories, mailbox):
    cadre = factories.make_user("cadre")
    secretary = factories.make_user("secretary", name="陈秘书")
    meeting = factories.make_meeting(
        title="议事会", starts_in=timedelta(minutes=-30), organiser=cadre
    )
    came, absent = factories.make_user(), factories.make_user()
    check_in(factories.make_signup(meeting, came), secretary)
    factories.make_signup(meeting, absent)
    item = agenda_item(meeting, cadre, title="议程")
    save_minutes(meeting, {"version": 0, "notes": {str(item.id): "记录"}}, secretary)
    db.session.commit()
    received = mailbox.send()
    (approve,) = _to(received, cadre)
    assert str(approve["Subject"]).startswith("Minutes to approve: 议事会")
    assert "陈秘书" in _text(approve)
    approve_minutes(meeting, cadre)
    publish_minutes(meeting, cadre)
    db.session.commit()
    later = mailbox.send()[len(received) :]
    (published,) = _to(later, came)
    assert str(published["Subject"]).startswith("Minutes published: 议事会")
    assert f"/sessions/{meeting.id}/minutes" in _text(published)
    assert not _to(later, absent)


def test_a_concern_raised_online_reaches_the_communitys_cadres_in_their_language(
    app, factories, mailbox
):
    from consult.cases.operations import raise_concern

    factories.make_community("幸福社区")
    cadre = factories.make_user("cadre", community="和合社区", name="王丽华")
    cadre.locale = "zh_CN"
    english_cadre = factories.make_user("cadre", community="和合社区")
    english_cadre.locale = "en"
    elsewhere = factories.make_user("cadre", community="幸福社区")
    resident = factories.make_user(community="和合社区", name="张秀英")
    db.session.commit()
    case = raise_concern(
        {"title": "楼道灯坏了", "community": "和合社区", "category": "concern"}, resident
    )
    db.session.commit()
    received = mailbox.send()
    (chinese,) = _to(received, cadre)
    assert str(chinese["Subject"]) == "居民反映诉求：楼道灯坏了"
    assert "张秀英" in _text(chinese) and f"/cases/{case.id}" in _text(chinese)
    (english,) = _to(received, english_cadre)
    assert str(english["Subject"]) == "A resident raised a concern: 楼道灯坏了"
    assert not _to(received, elsewhere) and not _to(received, resident)
