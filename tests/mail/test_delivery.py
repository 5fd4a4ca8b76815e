"""`flask mail send` and `flask mail worker` against real SMTP servers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from consult.extensions import db
from consult.mail.compose import Recipient, compose
from consult.mail.models import OutboxMessage
from consult.mail.outbox import queue_message
from consult.types import utcnow
from tests.mail.sink import free_port, running_sink

ROOT = Path(__file__).resolve().parents[2]


def queue(*addresses: str) -> list[int]:
    """Queue one small message per address; return the outbox ids."""
    ids = []
    for address in addresses:
        msg = compose(Recipient(address, "王芳"), "测试 Test", "正文 text", "<p>正文</p>")
        ids.append(queue_message(msg, "test").id)
    db.session.commit()
    return ids


def rows() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def send(runner):
    return runner.invoke(args=["mail", "send"])


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def use(app, sink) -> None:
    app.config["SMTP_HOST"] = sink.host
    app.config["SMTP_PORT"] = sink.port


# -- exit status ------------------------------------------------------------------------


def test_empty_queue_exits_0_without_a_mail_server(app, runner):
    app.config["SMTP_HOST"] = None
    result = send(runner)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_empty_queue_exits_0_even_when_the_server_is_down(app, runner):
    app.config["SMTP_HOST"], app.config["SMTP_PORT"] = "127.0.0.1", free_port()
    assert send(runner).exit_code == 0


def test_queued_mail_without_a_mail_server_fails_and_stays_queued(app, runner):
    app.config["SMTP_HOST"] = None
    queue("wang.fang@example.org", "li.qiang@example.org")
    result = send(runner)
    assert result.exit_code != 0
    line = one_line(result.stderr)
    assert "SMTP_HOST" in line and "2" in line
    assert "Traceback" not in result.output
    assert [(r.status, r.attempts) for r in rows()] == [("queued", 0), ("queued", 0)]


def test_unreachable_server_fails_then_delivers_once_when_it_is_back(app, runner):
    port = free_port()
    app.config["SMTP_HOST"], app.config["SMTP_PORT"] = "127.0.0.1", port
    queue("wang.fang@example.org")
    result = send(runner)
    assert result.exit_code != 0
    assert f"127.0.0.1:{port}" in one_line(result.stderr)
    assert [r.status for r in rows()] == ["queued"]
    with running_sink(port=port) as sink:
        assert send(runner).exit_code == 0
        assert len(sink.received()) == 1
        assert send(runner).exit_code == 0
        assert send(runner).exit_code == 0
        assert len(sink.received()) == 1
    (row,) = rows()
    assert row.status == "sent" and row.sent_at is not None and row.attempts == 1


def test_send_delivers_whatever_the_retry_schedule(app, runner):
    queue("wang.fang@example.org")
    (row,) = rows()
    row.next_attempt_at = utcnow() + timedelta(hours=5)
    row.attempts = 3
    db.session.commit()
    with running_sink() as sink:
        use(app, sink)
        worker = runner.invoke(args=["mail", "worker", "--once"])
        assert worker.exit_code == 0
        assert sink.received() == []
        assert send(runner).exit_code == 0
        assert len(sink.received()) == 1
    assert rows()[0].status == "sent"


def test_message_arrives_whole(app, runner):
    queue("wang.fang@example.org")
    with running_sink() as sink:
        use(app, sink)
        assert send(runner).exit_code == 0
        (msg,) = sink.received()
        ((mail_from, rcpt_tos),) = sink.envelopes
    assert mail_from == "consult@localhost"
    assert rcpt_tos == ["wang.fang@example.org"]
    assert str(msg["Subject"]) == "测试 Test"
    assert msg.get_body(("plain",)).get_content().strip() == "正文 text"
    assert msg["Message-ID"]


# -- retries -----------------------------------------------------------------------------


def test_temporary_refusal_is_retried_with_exponential_back_off(app, runner):
    queue("busy@example.org", "wang.fang@example.org")
    with running_sink(refuse={"busy@example.org": "451 4.3.0 Mailbox busy"}) as sink:
        use(app, sink)
        first = send(runner)
        assert first.exit_code != 0
        assert len(one_line(first.stderr)) < 300
        assert [m["To"].addresses[0].addr_spec for m in sink.received()] == [
            "wang.fang@example.org"
        ]
        busy, delivered = rows()
        assert delivered.status == "sent"
        assert (busy.status, busy.attempts) == ("queued", 1)
        assert "451" in busy.last_error
        wait_1 = busy.next_attempt_at - utcnow()
        assert timedelta(seconds=50) < wait_1 <= timedelta(seconds=60)
        assert send(runner).exit_code != 0
        busy = rows()[0]
        assert busy.attempts == 2
        wait_2 = busy.next_attempt_at - utcnow()
        assert timedelta(seconds=110) < wait_2 <= timedelta(seconds=120)
        # Not due yet: the worker leaves it alone.
        runner.invoke(args=["mail", "worker", "--once"])
        assert rows()[0].attempts == 2
    assert len(sink.received()) == 1


def test_permanent_refusal_fails_at_once(app, runner):
    queue("nobody@example.org")
    with running_sink(refuse={"nobody@example.org": "550 5.1.1 No such user"}) as sink:
        use(app, sink)
        assert send(runner).exit_code != 0
        (row,) = rows()
        assert (row.status, row.attempts) == ("failed", 1)
        assert "550" in row.last_error
        result = send(runner)
        assert result.exit_code == 0  # nothing is queued any more
    assert sink.received() == []


def test_message_fails_after_the_last_attempt(app, runner):
    app.config["MAIL_MAX_ATTEMPTS"] = 3
    queue("busy@example.org")
    with running_sink(refuse={"busy@example.org": "421 4.7.0 Try again later"}) as sink:
        use(app, sink)
        for _ in range(3):
            assert send(runner).exit_code != 0
        (row,) = rows()
        assert (row.status, row.attempts) == ("failed", 3)
        assert send(runner).exit_code == 0


# -- claims: never twice -----------------------------------------------------------------


def test_a_lapsed_claim_is_taken_up_again(app, runner):
    queue("wang.fang@example.org", "li.qiang@example.org")
    lapsed, held = rows()
    lapsed.status, lapsed.attempts = "sending", 1
    lapsed.next_attempt_at = utcnow() - timedelta(minutes=1)
    held.status, held.attempts = "sending", 1
    held.next_attempt_at = utcnow() + timedelta(minutes=5)
    db.session.commit()
    with running_sink() as sink:
        use(app, sink)
        assert send(runner).exit_code == 0
        received = [m["To"].addresses[0].addr_spec for m in sink.received()]
    # The other claim is still held by a running delivery: it is not sent again.
    assert received == ["wang.fang@example.org"]
    assert [r.status for r in rows()] == ["sent", "sending"]


@pytest.mark.real_commits  # threads, one connection each
def test_concurrent_deliveries_send_each_message_exactly_once(app):
    ids = queue(*(f"resident{n}@example.org" for n in range(30)))
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "test-secret",
        "BASE_URL": "http://consult.test",
        "SMTP_HOST": "127.0.0.1",
    }
    with running_sink(delay=0.03) as sink:
        env["SMTP_PORT"] = str(sink.port)
        runs = [
            subprocess.Popen(
                [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "mail", "send"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(3)
        ]
        outputs = [run.communicate(timeout=120) for run in runs]
        errors = "\n".join(err.decode()[-2500:] for _out, err in outputs)
        assert [run.returncode for run in runs] == [0, 0, 0], errors
        received = sink.received()
    message_ids = Counter(str(m["Message-ID"]) for m in received)
    assert len(received) == len(ids) == 30
    assert set(message_ids.values()) == {1}
    assert {r.status for r in rows()} == {"sent"}
    # The work was shared: more than one run delivered something.
    senders = [out.decode() for out, _err in outputs if b" 0 sent" not in out]
    assert len(senders) >= 2, outputs


def test_worker_delivers_due_mail_once(app, runner):
    queue("wang.fang@example.org")
    with running_sink() as sink:
        use(app, sink)
        result = runner.invoke(args=["mail", "worker", "--once", "--interval", "5"])
        assert result.exit_code == 0
        assert len(sink.received()) == 1
        runner.invoke(args=["mail", "worker", "--once"])
        assert len(sink.received()) == 1


def test_worker_reports_an_unreachable_server_and_keeps_the_mail(app, runner):
    app.config["SMTP_HOST"], app.config["SMTP_PORT"] = "127.0.0.1", free_port()
    queue("wang.fang@example.org")
    result = runner.invoke(args=["mail", "worker", "--once"])
    assert result.exit_code == 0
    assert "cannot reach" in result.stderr
    assert rows()[0].status == "queued"


@pytest.mark.parametrize("interval", ["0", "abc"])
def test_worker_refuses_a_bad_interval(app, runner, interval):
    result = runner.invoke(args=["mail", "worker", "--interval", interval])
    assert result.exit_code != 0
