"""At-least-once delivery made visible: one Message-ID per outbox message, on every copy."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from consult.extensions import db
from consult.mail import delivery
from consult.mail.compose import Recipient, compose
from consult.mail.models import OutboxMessage
from consult.mail.outbox import queue_message
from tests.mail.sink import running_sink


def _queue(to: str = "wang.fang@example.org", key=None, subject: str = "Hello") -> OutboxMessage:
    row = queue_message(compose(Recipient(to), subject, "text", "<p>html</p>"), "test", key=key)
    return row


def test_the_message_id_is_chosen_when_queued_and_stored(app):
    row = _queue()
    db.session.commit()
    assert row.message_id.startswith("<") and row.message_id.endswith(">")
    assert f"Message-ID: {row.message_id}" in row.body


def test_a_message_replaced_in_its_transaction_keeps_its_message_id(app):
    db.session.execute(select(1))  # as in an operation: the transaction has begun
    first = _queue(key=("reminder", 1), subject="First")
    message_id = first.message_id
    second = _queue(key=("reminder", 1), subject="Final")
    db.session.commit()
    assert second.id == first.id and second.subject == "Final"
    assert second.message_id == message_id
    assert second.body.count("Message-ID:") == 1 and message_id in second.body


def test_a_server_that_drops_after_data_gets_copies_with_one_message_id(app, runner):
    row = _queue()
    db.session.commit()
    message_id, row_id = row.message_id, row.id
    with running_sink(drop_after_data=3) as sink:
        app.config.update(SMTP_HOST=sink.host, SMTP_PORT=sink.port)
        exits = [runner.invoke(args=["mail", "send"]).exit_code for _ in range(4)]
        received = sink.received()
    # Three runs lose the server's answer and try again; the fourth is acknowledged.
    assert exits == [1, 1, 1, 0]
    assert len(received) == 4
    assert {str(m["Message-ID"]) for m in received} == {message_id}
    db.session.expire_all()
    row = db.session.get(OutboxMessage, row_id)
    assert (row.status, row.attempts) == ("sent", 4)
    # Nothing is left to send: a fifth run sends no fifth copy.
    with running_sink() as sink:
        app.config.update(SMTP_HOST=sink.host, SMTP_PORT=sink.port)
        assert runner.invoke(args=["mail", "send"]).exit_code == 0
        assert sink.received() == []


def test_a_send_is_recorded_before_any_other_work(app, monkeypatch):
    """A failure right after the server accepted the message does not send it again."""
    _queue(to="ok@example.org")
    row = queue_message(compose(Recipient("refused@example.org"), "Two", "t", "<p>h</p>"), "test")
    # Two recipients, one refused: sendmail succeeds and reports the refusal.
    row.recipients = "ok@example.org,refused@example.org"
    db.session.commit()

    def explode(*args, **kwargs):
        raise RuntimeError("the work after the send failed")

    monkeypatch.setattr(delivery.log, "warning", explode)
    with running_sink(refuse={"refused@example.org": "550 5.1.1 no such user"}) as sink:
        app.config.update(SMTP_HOST=sink.host, SMTP_PORT=sink.port)
        with pytest.raises(RuntimeError):
            delivery.deliver(due_only=False)
    db.session.expire_all()
    statuses = db.session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id))
    assert list(statuses) == ["sent", "sent"]
