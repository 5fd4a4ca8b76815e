"""`flask channels add|list|remove` and the administration's channel and outbox
pages: addresses and secrets are shown masked, refusals are one line, failed messages
can be sent again."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from consult.audit.models import AuditEntry
from consult.extensions import db
from consult.mail.models import OutboxMessage
from consult.notices.models import Channel
from tests.conftest import csrf_token_from
from tests.notices.conftest import notices

URL = "https://oapi.dingtalk.example.invalid/robot/send?access_token=abcdef0123456789"
SECRET = "SECabcdef0123456789abcdef"


def test_add_list_remove(app, runner, factories, monkeypatch):
    # A channel added without --language speaks DEFAULT_LANGUAGE; the installation's
    # default (zh_CN) here, not the suite's English.
    monkeypatch.setitem(app.config, "DEFAULT_LANGUAGE", "zh_CN")
    factories.make_community("Hehe")
    added = runner.invoke(
        args=[
            "channels",
            "add",
            "--community",
            "Hehe",
            "--kind",
            "dingtalk",
            "--url",
            URL,
            "--secret",
            SECRET,
        ]
    )
    assert added.exit_code == 0, added.output
    channel_id = int(added.output.strip().splitlines()[-1])
    town = runner.invoke(
        args=[
            "channels",
            "add",
            "--kind",
            "webhook",
            "--url",
            "https://hooks.example.invalid/consult",
            "--language",
            "en",
        ]
    )
    assert town.exit_code == 0
    channel = db.session.get(Channel, channel_id)
    assert (
        channel.kind,
        channel.community.name,
        channel.url,
        channel.secret,
        channel.language,
    ) == ("dingtalk", "Hehe", URL, SECRET, "zh_CN")

    listed = runner.invoke(args=["channels", "list"])
    assert listed.exit_code == 0
    assert "abcdef0123" not in listed.output and SECRET not in listed.output
    assert "oapi.dingtalk.example.invalid" in listed.output
    lines = listed.output.strip().splitlines()
    assert lines[0].startswith(f"{channel_id}\tdingtalk\tHehe\tzh_CN")
    assert "\twebhook\t" in lines[1] and "\ten\t" in lines[1]
    # Nothing secret in the audit log either.
    assert all(
        SECRET not in str(e.data) and "abcdef0123" not in str(e.data)
        for e in db.session.scalars(select(AuditEntry))
    )

    removed = runner.invoke(args=["channels", "remove", str(channel_id)])
    assert removed.exit_code == 0
    db.session.expire_all()
    assert db.session.get(Channel, channel_id) is None
    assert db.session.scalar(select(func.count(Channel.id))) == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--kind", "slack", "--url", URL], "kind"),
        (["--kind", "wecom", "--url", "ftp://example.invalid/x"], "http"),
        (["--kind", "wecom", "--url", "not a url"], "http"),
        (["--kind", "wecom", "--url", URL, "--community", "Nowhere"], "Nowhere"),
        (["--kind", "wecom", "--url", URL, "--language", "fr"], "language"),
    ],
)
def test_refused_input_is_one_line_and_adds_nothing(app, runner, args, words):
    result = runner.invoke(args=["channels", "add", *args])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and words in lines[0]
    assert "Traceback" not in result.output + result.stderr
    assert db.session.scalar(select(func.count(Channel.id))) == 0


def test_removing_an_unknown_channel(app, runner):
    result = runner.invoke(args=["channels", "remove", "99"])
    assert result.exit_code == 1 and result.stderr.strip().startswith("Error:")


def test_removing_a_channel_fails_its_waiting_notices(app, runner, api_as, factories, make_channel):
    factories.make_community("Hehe")
    channel = make_channel("wecom", URL, "Hehe")
    api_as(factories.make_user("cadre")).post(
        "/api/v1/sessions",
        json={
            "kind": "roundtable",
            "title": "圆桌会",
            "community": "Hehe",
            "starts_at": "2030-12-06T15:00:00+08:00",
            "ends_at": "2030-12-06T17:00:00+08:00",
        },
    )
    assert runner.invoke(args=["channels", "remove", str(channel.id)]).exit_code == 0
    (notice,) = notices()
    assert notice.status == "failed" and notice.channel_id is None


def test_only_admins_see_the_pages(client, login_as, factories):
    assert client.get("/admin/channels").status_code == 302
    login_as(factories.make_user("cadre"))
    assert client.get("/admin/channels").status_code == 403
    assert client.get("/admin/outbox").status_code == 403


def test_admin_adds_lists_and_removes_a_channel(client, login_as, factories):
    community = factories.make_community("Hehe")
    login_as(factories.make_user("admin"))
    page = client.get("/admin/channels/new")
    assert page.status_code == 200
    token = csrf_token_from(page.get_data(as_text=True))
    refused = client.post(
        "/admin/channels/new",
        data={
            "csrf_token": token,
            "kind": "feishu",
            "community": community.id,
            "url": "javascript:alert(1)",
            "language": "zh_CN",
        },
    )
    assert refused.status_code == 200 and "http://" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Channel.id))) == 0
    saved = client.post(
        "/admin/channels/new",
        data={
            "csrf_token": token,
            "kind": "feishu",
            "community": community.id,
            "name": "居民群",
            "url": "https://open.feishu.example.invalid/open-apis/bot/v2/hook/0123456789abcdef",
            "secret": "feishu-secret-value",
            "language": "en",
        },
    )
    assert saved.status_code == 302
    listing = client.get("/admin/channels").get_data(as_text=True)
    assert "居民群" in listing and "open.feishu.example.invalid" in listing
    assert "0123456789ab" not in listing and "feishu-secret-value" not in listing
    channel = db.session.scalar(select(Channel))
    assert (channel.kind, channel.community_id, channel.language) == ("feishu", community.id, "en")
    removed = client.post(f"/admin/channels/{channel.id}/remove", data={"csrf_token": token})
    assert removed.status_code == 302
    assert db.session.scalar(select(func.count(Channel.id))) == 0


def test_outbox_page_sends_a_failed_message_again(
    app, runner, client, login_as, factories, make_channel, robots
):
    factories.make_community("Hehe")
    app.config["MAIL_MAX_ATTEMPTS"] = 1
    meeting = factories.make_meeting(title="周五议事")  # before the channel: no notice of it
    make_channel("wecom", robots.url("/wecom/send?key=k"), "Hehe")
    robots.failing["/wecom"] = 502
    api_cadre = factories.make_user("cadre")
    from consult.meetings.operations import cancel_meeting

    cancel_meeting(meeting, api_cadre)
    db.session.commit()
    assert runner.invoke(args=["mail", "send"]).exit_code == 1
    (notice,) = notices()
    assert notice.status == "failed"

    login_as(factories.make_user("admin"))
    page = client.get("/admin/outbox?status=failed")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "HTTP 502" in html and "key=k" not in html
    token = csrf_token_from(html)
    assert (
        client.post(f"/admin/outbox/{notice.id}/resend", data={"csrf_token": token}).status_code
        == 302
    )
    (notice,) = notices()
    assert (notice.status, notice.attempts) == ("queued", 0)
    del robots.failing["/wecom"]
    assert runner.invoke(args=["mail", "send"]).exit_code == 0
    assert [n.status for n in notices()] == ["sent"]
    assert len(robots.at("/wecom")) == 2
    # A sent message cannot be sent again.
    client.post(f"/admin/outbox/{notice.id}/resend", data={"csrf_token": token})
    assert db.session.scalar(select(OutboxMessage.status)) == "sent"
