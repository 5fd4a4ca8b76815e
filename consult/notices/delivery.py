"""Delivering the outbox's channel notices: claim, post, record; retry with back-off.

The claim, the back-off and the limit of attempts are the outbox's own
(consult.mail.delivery), so notices and mail follow the same rules.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from flask import current_app
from sqlalchemy import select

from consult.enums import OutboxStatus, OutboxTransport
from consult.extensions import db
from consult.mail.delivery import DeliveryReport, claim_next, mark_failed, mark_sent
from consult.mail.models import OutboxMessage
from consult.notices.models import Channel
from consult.notices.transport import NoticeFailed, build_request, send
from consult.transactions import end_read_transaction


def _waiting_ids(channel_id: int) -> set[int]:
    return set(
        db.session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.transport == OutboxTransport.CHANNEL,
                OutboxMessage.channel_id == channel_id,
                OutboxMessage.status == OutboxStatus.QUEUED,
            )
        )
    )


def deliver_notices(due_only: bool, only: Collection[int] | None = None) -> DeliveryReport:
    """Post the waiting notices: all of them, or (``due_only``) those whose retry time
    has come; of the ids ``only``, when given. A channel that cannot be reached is not
    tried again in the same run."""
    report = DeliveryReport()
    timeout = float(current_app.config["NOTICE_TIMEOUT"])
    skip: set[int] = set()
    while True:
        message = claim_next(due_only, skip, transport="channel", only=only)
        if message is None:
            break
        skip.add(message.id)
        channel = db.session.get(Channel, message.channel_id) if message.channel_id else None
        if channel is None:
            mark_failed(message, "The channel was removed.", permanent=True)
            report.failed += 1
            continue
        try:
            request = build_request(channel, json.loads(message.body), ",".join(message.recipients))
            send(channel, request, timeout)
        except (NoticeFailed, ValueError) as exc:
            status = mark_failed(message, str(exc), permanent=False)
            report.retrying += status == "queued"
            report.failed += status == "failed"
            report.errors.append(str(exc))
            if "cannot connect" in str(exc) or "no answer" in str(exc):
                skip |= _waiting_ids(channel.id)
            continue
        mark_sent(message)
        report.sent += 1
    # What was read last (a channel, the waiting notices) is not held across the wait.
    end_read_transaction()
    return report
