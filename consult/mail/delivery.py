"""Delivering the outbox over SMTP: claim, send, record; retry with back-off.

Each message is claimed before it is sent: its status becomes "sending" in a committed
transaction (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite, and a conditional UPDATE on both), so two deliveries running at once never
send the same message. While a message is being sent, ``next_attempt_at`` is when its
claim lapses: a run that died mid-way leaves the message to be taken up again then.

Delivery is at least once: a server that accepted the message but whose answer was
lost (the connection dropped after DATA), or a database that failed between the send
and the record of it, leads to a second copy. Every copy carries the same Message-ID
(chosen when the message was queued, kept in ``outbox.message_id``), by which receiving
servers and mail clients recognise it; a successful send is recorded before any other
work, which keeps that window as short as it can be.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Collection
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, delete, func, or_, select, update

from consult.calendar.ics import bare_address
from consult.enums import OutboxStatus
from consult.extensions import db
from consult.mail.models import OutboxMessage
from consult.transactions import in_write, rollback, run_write
from consult.types import utcnow

log = logging.getLogger(__name__)


def setting(name: str) -> int:
    """Return the delivery setting ``name`` (consult.config declares each)."""
    return int(current_app.config[name])


class MailNotConfigured(RuntimeError):
    """SMTP_HOST is not set."""


class MailServerUnavailable(RuntimeError):
    """The mail server cannot be reached (nothing was claimed)."""


@dataclass
class DeliveryReport:
    sent: int = 0
    #: Messages that will be tried again later.
    retrying: int = 0
    #: Messages given up (refused for good, or out of attempts).
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.retrying or self.failed or self.errors)


def retry_delay(attempts: int) -> timedelta:
    """Return the wait before the next attempt after ``attempts`` failed ones."""
    delay = setting("MAIL_RETRY_SECONDS") * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(delay, setting("MAIL_RETRY_MAX_SECONDS")))


def _claimable(now: datetime, due_only: bool, transport: str = "mail"):
    queued = OutboxMessage.status == OutboxStatus.QUEUED
    if due_only:
        queued = and_(queued, OutboxMessage.next_attempt_at <= now)
    lapsed = and_(
        OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.next_attempt_at <= now
    )
    return and_(OutboxMessage.transport == transport, or_(queued, lapsed))


def waiting_count(
    now: datetime | None = None,
    transport: str = "mail",
    due_only: bool = False,
    only: Collection[int] | None = None,
) -> int:
    """Return how many messages of ``transport`` ("mail" or "channel") wait for delivery
    (queued, or with a lapsed claim): all of them, or those whose retry time has come
    (``due_only``), or those of the ids ``only``."""
    query = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(_claimable(now or utcnow(), due_only, transport))
    )
    if only is not None:
        query = query.where(OutboxMessage.id.in_(only))
    return db.session.scalar(query) or 0


@dataclass(frozen=True)
class Claimed:
    """A message this run has claimed (read before the claim was committed)."""

    id: int
    recipients: list[str]
    body: str
    #: Attempts so far, this one included.
    attempts: int
    #: The notice channel it goes to (transport "channel").
    channel_id: int | None = None
    #: What it tells of, when it is composed now (consult.mail.notify.COMPOSERS).
    compose: str | None = None


#: What a claim attempt returns when it took nothing but the outbox changed under it.
_AGAIN = object()


def claim_next(
    due_only: bool,
    skip: Collection[int] = (),
    transport: str = "mail",
    only: Collection[int] | None = None,
) -> Claimed | None:
    """Claim the oldest deliverable message of ``transport`` (among the ids ``only``,
    when given) and return it (committed as "sending"). Call it outside any
    transaction, so that the claim is committed before the message is sent."""
    if in_write():
        raise RuntimeError("messages are claimed outside the write boundary, not inside it")
    while True:
        claimed = run_write(lambda: _claim_one(due_only, skip, transport, only))
        if claimed is not _AGAIN:
            return claimed


def _claim_one(due_only: bool, skip: Collection[int], transport: str, only: Collection[int] | None):
    """Claim one message in the current transaction; _AGAIN when another run took it
    first or it was given up."""
    now = utcnow()
    query = (
        select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts)
        .where(_claimable(now, due_only, transport))
        .order_by(OutboxMessage.id)
        .limit(1)
    )
    if skip:
        query = query.where(OutboxMessage.id.not_in(skip))
    if only is not None:
        query = query.where(OutboxMessage.id.in_(only))
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = db.session.execute(query).first()
    if row is None:
        return None
    if row.status == OutboxStatus.SENDING and row.attempts >= setting("MAIL_MAX_ATTEMPTS"):
        # Its last attempt was interrupted: give up rather than risk a loop.
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, _claimable(now, due_only, transport))
            .values(status="failed", last_error="Delivery was interrupted on the last attempt.")
            .execution_options(synchronize_session=False)
        )
        return _AGAIN
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id, _claimable(now, due_only, transport))
        .values(
            status="sending",
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=now + timedelta(seconds=setting("MAIL_CLAIM_SECONDS")),
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return _AGAIN
    recipients, body, channel_id, compose = db.session.execute(
        select(
            OutboxMessage.recipients,
            OutboxMessage.body,
            OutboxMessage.channel_id,
            OutboxMessage.compose,
        ).where(OutboxMessage.id == row.id)
    ).one()
    return Claimed(
        id=row.id,
        recipients=[r for r in recipients.split(",") if r],
        body=body,
        attempts=row.attempts + 1,
        channel_id=channel_id,
        compose=compose if not body else None,
    )


def _compose_claimed(message: Claimed) -> Claimed | None:
    """Compose a claimed message queued to be composed when sent, and keep it (a retry
    sends the same message); None when there is nothing to tell any more (the row is
    removed: a confirmation of a sign-up cancelled since, say)."""
    from consult.mail.notify import compose_queued
    from consult.mail.outbox import message_values

    mine = (OutboxMessage.id == message.id) & (OutboxMessage.status == OutboxStatus.SENDING)
    composed = compose_queued(message.compose or "")
    if composed is None:
        run_write(
            lambda: db.session.execute(
                delete(OutboxMessage).where(mine).execution_options(synchronize_session=False)
            )
        )
        return None
    values = message_values(composed)
    run_write(
        lambda: db.session.execute(
            update(OutboxMessage)
            .where(mine)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    )
    recipients = [r for r in values["recipients"].split(",") if r]
    return replace(message, recipients=recipients, body=values["body"], compose=None)


def _finish(message_id: int, **values) -> None:
    """Record the outcome of an attempt, if the claim is still this run's."""

    def work() -> None:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.SENDING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    run_write(work)


def mark_sent(message: Claimed) -> None:
    _finish(message.id, status="sent", sent_at=utcnow(), last_error=None)


def mark_failed(message: Claimed, error: str, permanent: bool) -> str:
    """Record a failed attempt: queued again after a back-off, or failed for good.
    Return the new status."""
    error = " ".join(error.split())[:1000]
    if permanent or message.attempts >= setting("MAIL_MAX_ATTEMPTS"):
        _finish(message.id, status="failed", last_error=error)
        return "failed"
    _finish(
        message.id,
        status="queued",
        last_error=error,
        next_attempt_at=utcnow() + retry_delay(message.attempts),
    )
    return "queued"


def connect() -> smtplib.SMTP:
    """Open a connection to SMTP_HOST:SMTP_PORT."""
    config = current_app.config
    host = config["SMTP_HOST"]
    if not host:
        raise MailNotConfigured("no mail server is configured (SMTP_HOST is not set)")
    port = int(config["SMTP_PORT"])
    try:
        smtp = smtplib.SMTP(host, port, timeout=setting("SMTP_TIMEOUT"))
        smtp.ehlo_or_helo_if_needed()
    except OSError as exc:  # smtplib.SMTPException included
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise MailServerUnavailable(
            f"cannot reach the mail server {host}:{port}: {reason}"
        ) from None
    return smtp


def _smtp_code(exc: smtplib.SMTPException) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return min(codes) if codes else None
    return getattr(exc, "smtp_code", None)


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{rcpt}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for rcpt, (code, msg) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error
        text = msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)
        return f"{exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"


def deliver(due_only: bool, only: Collection[int] | None = None) -> DeliveryReport:
    """Send the waiting messages: all of them, or (``due_only``) those whose retry time
    has come; of the ids ``only``, when given. Raise MailNotConfigured or
    MailServerUnavailable when nothing can be sent."""
    report = DeliveryReport()
    sender = bare_address(current_app.config["MAIL_FROM"])
    smtp = connect()
    tried: set[int] = set()
    try:
        while True:
            message = claim_next(due_only, tried, only=only)
            if message is None:
                break
            tried.add(message.id)
            if message.compose:
                try:
                    composed = _compose_claimed(message)
                except Exception as exc:  # noqa: BLE001 (one message, not the round)
                    rollback()
                    log.exception("outbox %s: could not compose the message", message.id)
                    status = mark_failed(
                        message, f"could not compose the message: {_describe(exc)}", False
                    )
                    report.retrying += status == "queued"
                    report.failed += status == "failed"
                    continue
                if composed is None:
                    continue
                message = composed
            try:
                refused = smtp.sendmail(sender, message.recipients, message.body)
            except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
                # The server answered with a refusal: 5xx for good, 4xx for now.
                code = _smtp_code(exc)
                permanent = code is not None and code >= 500
                status = mark_failed(message, _describe(exc), permanent=permanent)
                report.retrying += status == "queued"
                report.failed += status == "failed"
                _reset(smtp)
                continue
            except OSError as exc:
                # Disconnected or the network failed (SMTPException is an OSError too):
                # this message and the rest wait for the next run.
                status = mark_failed(message, _describe(exc), permanent=False)
                report.retrying += status == "queued"
                report.failed += status == "failed"
                report.errors.append(f"the connection to the mail server broke: {_describe(exc)}")
                break
            # Recorded before anything else: whatever fails after the send must not
            # leave the message to be sent again.
            mark_sent(message)
            report.sent += 1
            if refused:
                log.warning("outbox %s: some recipients refused: %s", message.id, refused)
    finally:
        try:
            smtp.quit()
        except OSError:
            smtp.close()
    return report


def _reset(smtp: smtplib.SMTP) -> None:
    with suppress(OSError):
        smtp.rset()
