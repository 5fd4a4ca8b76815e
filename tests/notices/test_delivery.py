"""Notices go through the outbox to real robots on a loopback port, which check each
robot's documented payload and signature (tests/notices/robots.py)."""

from __future__ import annotations

import logging
from datetime import timedelta

from consult.extensions import db
from consult.types import utcnow
from tests.notices.conftest import notices
from tests.notices.robots import free_port

SECRETS = {
    "/dingtalk": "SECd1ng-t4lk-s3cret",
    "/feishu": "f31shu-s3cret",
    "/hook": "w3bh00k-s3cret",
}


def new_session(api, title="周五议事日", community="Hehe", **extra):
    body = {
        "kind": "friday_talk",
        "title": title,
        "community": community,
        "starts_at": "2030-12-06T15:00:00+08:00",
        "ends_at": "2030-12-06T17:00:00+08:00",
        "venue": "社区大厅",
        **extra,
    }
    response = api.post("/api/v1/sessions", json=body)
    assert response.status_code == 201, response.json
    return response.json


def every_robot(robots, make_channel, factories, community="Hehe"):
    factories.make_community(community)
    robots.secrets.update(SECRETS)
    return {
        "wecom": make_channel(
            "wecom", robots.url("/wecom/cgi-bin/webhook/send?key=wk-123456"), community
        ),
        "dingtalk": make_channel(
            "dingtalk",
            robots.url("/dingtalk/robot/send?access_token=dt-token-99"),
            community,
            secret=SECRETS["/dingtalk"],
        ),
        "feishu": make_channel(
            "feishu",
            robots.url("/feishu/open-apis/bot/v2/hook/fs-hook-77"),
            community,
            secret=SECRETS["/feishu"],
        ),
        "webhook": make_channel(
            "webhook",
            robots.url("/hook/consult"),
            community,
            secret=SECRETS["/hook"],
            language="en",
        ),
    }


def test_each_robot_gets_its_documented_payload_and_signature(
    app, runner, api_as, factories, robots, make_channel, monkeypatch
):
    # The robots are added without a language: they speak DEFAULT_LANGUAGE, here the
    # installation's default (zh_CN) rather than the suite's English.
    monkeypatch.setitem(app.config, "DEFAULT_LANGUAGE", "zh_CN")
    every_robot(robots, make_channel, factories)
    session = new_session(api_as(factories.make_user("cadre")))
    # Queued with the change, not sent by it.
    assert robots.received == []
    assert [n.status for n in notices()] == ["queued"] * 4

    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, (result.output, result.stderr)
    assert "Notices: 4 sent" in result.output
    assert [(r.path, r.problem) for r in robots.received if r.problem] == []
    link = f"http://consult.test/sessions/{session['id']}"

    (wecom,) = robots.at("/wecom")
    content = wecom.body["markdown"]["content"]
    assert content.startswith("### ") and "周五议事日" in content and link in content
    assert "社区大厅" in content

    (ding,) = robots.at("/dingtalk")
    assert ding.query["access_token"] == ["dt-token-99"]
    assert set(ding.query) == {"access_token", "timestamp", "sign"}
    assert ding.body["markdown"]["title"].endswith("周五议事日")
    assert f"({link})" in ding.body["markdown"]["text"]

    (feishu,) = robots.at("/feishu")
    assert feishu.body["msg_type"] == "interactive"
    assert feishu.body["timestamp"].isdigit()
    assert "周五议事日" in feishu.body["card"]["header"]["title"]["content"]
    assert link in feishu.body["card"]["elements"][0]["text"]["content"]

    (hook,) = robots.at("/hook")
    assert hook.body["event"] == "session_created" and hook.body["session"] == session["id"]
    assert hook.body["url"] == link
    # The webhook speaks English; the robots the default language, Chinese.
    assert hook.body["title"] == "New session: 周五议事日"
    assert "New session" not in content and "新会议" in content
    assert [n.status for n in notices()] == ["sent"] * 4

    # Delivered once: a second run sends nothing.
    again = runner.invoke(args=["mail", "send"])
    assert again.exit_code == 0 and len(robots.received) == 4


def test_a_wrong_signature_is_refused_by_the_robot_and_retried(
    app, runner, api_as, factories, robots, make_channel
):
    robots.secrets["/dingtalk"] = "SECthe-right-one"
    make_channel("dingtalk", robots.url("/dingtalk/robot/send?access_token=t"), secret="SECwrong")
    new_session(api_as(factories.make_user("cadre")))
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 1
    assert robots.at("/dingtalk")[0].problem == "sign mismatch"
    (notice,) = notices()
    assert notice.status == "queued" and notice.attempts == 1
    assert "errcode 310000" in notice.last_error
    assert "SECwrong" not in notice.last_error


def test_an_erroring_robot_loses_nothing_and_is_retried_with_back_off(
    app, runner, api_as, factories, robots, make_channel
):
    every_robot(robots, make_channel, factories)
    robots.failing["/feishu"] = 500
    api = api_as(factories.make_user("cadre"))
    new_session(api)
    before = utcnow()
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 1
    assert "HTTP 500" in result.stderr and "Error:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    by_status = {n.channel.kind: n for n in notices()}
    assert by_status["feishu"].status == "queued" and by_status["feishu"].attempts == 1
    assert by_status["feishu"].next_attempt_at >= before + timedelta(seconds=59)
    assert {k: n.status for k, n in by_status.items() if k != "feishu"} == dict.fromkeys(
        ("wecom", "dingtalk", "webhook"), "sent"
    )
    # The worker leaves it alone until its retry time...
    runner.invoke(args=["mail", "worker", "--once"])
    assert len(robots.at("/feishu")) == 1
    # ...and `mail send` delivers it now, once, when the robot is back.
    del robots.failing["/feishu"]
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.stderr
    assert len(robots.at("/feishu")) == 2 and len(robots.at("/wecom")) == 1
    assert {n.status for n in notices()} == {"sent"}


def test_an_unreachable_channel_never_blocks_the_change_and_fails_after_the_limit(
    app, runner, api_as, factories, make_channel, caplog
):
    app.config["MAIL_MAX_ATTEMPTS"] = 2
    secret_url = f"http://127.0.0.1:{free_port()}/robot/send?access_token=TOP-SECRET-TOKEN"
    make_channel("dingtalk", secret_url, secret="SECTOP-SECRET-KEY")
    session = new_session(api_as(factories.make_user("cadre")))
    assert session["id"]
    caplog.set_level(logging.DEBUG)
    first = runner.invoke(args=["mail", "send"])
    assert first.exit_code == 1 and "cannot connect" in first.stderr
    (notice,) = notices()
    assert (notice.status, notice.attempts) == ("queued", 1)
    second = runner.invoke(args=["mail", "send"])
    assert second.exit_code == 1
    (notice,) = notices()
    assert (notice.status, notice.attempts) == ("failed", 2)
    everything = caplog.text + first.output + first.stderr + second.stderr + notice.last_error
    assert "TOP-SECRET" not in everything
    # A third run has nothing left to try.
    third = runner.invoke(args=["mail", "send"])
    assert third.exit_code == 0


def test_notices_go_out_without_a_mail_server(app, runner, api_as, factories, robots, make_channel):
    app.config["SMTP_HOST"] = None
    meeting = factories.make_meeting()  # before the channel: no "new session" notice
    make_channel("wecom", robots.url("/wecom/send?key=k"))
    factories.make_invitation(meeting, "guest@example.org")
    api_as(factories.make_user("cadre")).post(f"/api/v1/sessions/{meeting.id}/cancel")
    result = runner.invoke(args=["mail", "send"])
    # The cancellation notice is posted; the invitee's mail waits for a mail server.
    assert len(robots.at("/wecom")) == 1
    assert result.exit_code == 1 and "no mail server" in result.stderr
    assert "Notices: 1 sent" in result.output


def test_sms_gateway_reminds_desk_sign_ups_with_the_template(
    app, runner, factories, robots, make_channel
):
    robots.secrets["/sms"] = "sms-key"
    make_channel(
        "sms",
        robots.url("/sms/send"),
        secret="sms-key",
        template="【和合社区】{name}，{title} {time} 在{place}举行。{link}",
    )
    venue = factories.make_venue(factories.make_community())
    meeting = factories.make_meeting(starts_in=timedelta(hours=3), venue=venue, title="议事会")
    desk = factories.make_signup(meeting, name="王秀英")
    desk.phone = "13800001111"
    factories.make_signup(meeting, name="李建国")  # no phone: nothing to send
    db.session.commit()
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.stderr
    (sms,) = robots.at("/sms")
    assert sms.problem is None
    assert sms.body["phone"] == "13800001111"
    message = sms.body["message"]
    assert message.startswith("【和合社区】王秀英，议事会 ") and "在Community hall举行" in message
    assert message.endswith(f"http://consult.test/sessions/{meeting.id}")
    # Reminded once.
    runner.invoke(args=["mail", "send"])
    assert len(robots.at("/sms")) == 1


def test_long_minutes_are_cut_to_what_each_robot_takes(
    app, runner, factories, robots, make_channel
):
    from consult.minutes.operations import approve_minutes, publish_minutes, save_minutes
    from tests.cases.builders import agenda_item, resolve

    meeting = factories.make_meeting(kind="roundtable", starts_in=-timedelta(hours=2))
    every_robot(robots, make_channel, factories)  # after the session: no "new session" notice
    cadre = factories.make_user("cadre")
    for n in range(40):
        resolve(
            agenda_item(meeting, cadre, title=f"{n}号楼" + "加装电梯与停车位改造方案" * 12),
            cadre,
            [],
            outcome="deferred",
        )
    save_minutes(meeting, {"version": 0, "notes": {}}, cadre)
    approve_minutes(meeting, cadre)
    publish_minutes(meeting, cadre)
    db.session.commit()
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.stderr
    assert [(r.path, r.problem) for r in robots.received if r.problem] == []
    (wecom,) = robots.at("/wecom")
    content = wecom.body["markdown"]["content"]
    assert 4000 < len(content.encode()) <= 4096 and content.endswith("…")
    (feishu,) = robots.at("/feishu")
    assert "• 2. 1号楼" in feishu.body["card"]["elements"][0]["text"]["content"]
