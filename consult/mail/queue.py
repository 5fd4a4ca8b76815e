"""Delivering the outbox through a job queue in Redis (RQ), when MAIL_QUEUE=rq.

The outbox still decides: a message is a row written in the transaction that caused it,
and it is sent by whichever delivery claims it first, in a committed write
(consult.mail.delivery). The queue only says, as soon as the rows are committed, that
they wait: after each write that queued mail or notices, one job per batch of rows goes
onto the queue ``consult-mail`` in REDIS_URL, and `flask mail rq-worker` processes (as
many as wanted, on any machine) take the jobs and deliver those rows. A job whose rows
another delivery already claimed, sent or withdrew does nothing, so that however many
workers run, no message is sent twice; and a job lost with Redis loses no message, since
the rounds of `flask mail send` (cron) or `flask mail worker` deliver whatever still
waits, due reminders and retries after a failure included.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence

import redis
from flask import Flask, current_app, has_app_context
from rq import Queue, SimpleWorker
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from consult.enums import OutboxStatus, OutboxTransport
from consult.extensions import db
from consult.mail.delivery import (
    MailNotConfigured,
    MailServerUnavailable,
    deliver,
    waiting_count,
)
from consult.mail.models import OutboxMessage
from consult.transactions import after_commit, in_write

log = logging.getLogger(__name__)

QUEUE_NAME = "consult-mail"
#: Rows per job: one job's messages go through one connection to the mail server, and
#: a large mailing (an invitation to a whole alliance) is shared among the workers.
BATCH = 20
#: A job no worker started within this time is dropped (its rows wait for the rounds).
JOB_TTL = 24 * 3600
#: How long a job's outcome is kept in Redis, done or failed (seconds).
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600
_NOTED = "consult.mail.queue.noted"
_CLIENT = "consult.mail.queue"


def install(app: Flask) -> None:
    """Have every write that queues mail or notices enqueue their delivery once it has
    committed (it does nothing unless the application's MAIL_QUEUE is "rq")."""
    if not event.contains(Session, "after_flush", _note_new_messages):
        event.listen(Session, "after_flush", _note_new_messages)


def _note_new_messages(session: Session, flush_context) -> None:
    """Remember the outbox rows this flush inserted (or queued again); the first of a
    transaction asks for their jobs to be enqueued after its commit."""
    if not has_app_context() or current_app.config.get("MAIL_QUEUE") != "rq":
        return
    rows = [obj for obj in session.new if isinstance(obj, OutboxMessage)] + [
        obj for obj in session.dirty if isinstance(obj, OutboxMessage) and _queued_again(obj)
    ]
    for transport in (OutboxTransport.MAIL, OutboxTransport.CHANNEL):
        ids = [row.id for row in rows if (row.transport or OutboxTransport.MAIL) == transport]
        if ids:
            note_queued(session, transport, ids)


def note_queued(session: Session, transport: str, ids: list[int]) -> None:
    """Note outbox rows (of ``transport``) the current write queued; the first of a
    transaction asks for their jobs to be enqueued after its commit. Nothing happens
    unless MAIL_QUEUE is "rq"."""
    # Outside the write boundary (a script) no step follows the commit: the rounds
    # deliver those rows.
    if not has_app_context() or current_app.config.get("MAIL_QUEUE") != "rq" or not in_write():
        return
    transaction = session.get_transaction()
    entry = session.info.get(_NOTED)
    if entry is None or entry[0]() is not transaction:
        noted: dict[str, list[int]] = {OutboxTransport.MAIL: [], OutboxTransport.CHANNEL: []}
        entry = (weakref.ref(transaction), noted)
        session.info[_NOTED] = entry
        after_commit(lambda: enqueue(noted[OutboxTransport.MAIL], noted[OutboxTransport.CHANNEL]))
    entry[1][transport].extend(ids)


def _queued_again(row: OutboxMessage) -> bool:
    """Whether this flush made a message "queued" again (a failed one sent again)."""
    return OutboxStatus.QUEUED in inspect(row).attrs.status.history.added


def connection(app: Flask | None = None, blocking: bool = False) -> redis.Redis:
    """Return the Redis client of the job queue (REDIS_URL). ``blocking``: a client of its
    own without a read timeout, for a worker that waits for jobs."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    url = app.config["REDIS_URL"]
    if blocking:
        return redis.Redis.from_url(url, socket_connect_timeout=5)
    client = app.extensions.get(_CLIENT)
    if client is None:
        # A Redis that stops answering delays a write's answer by at most this.
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        app.extensions[_CLIENT] = client
    return client


def job_timeout() -> int:
    """Seconds a job may run: every message of a batch at the slowest the servers may be."""
    config = current_app.config
    return max(int(config["SMTP_TIMEOUT"]), int(config["NOTICE_TIMEOUT"])) * (BATCH + 2)


def enqueue(mail: Sequence[int], notices: Sequence[int]) -> int:
    """Put jobs delivering these outbox rows on the queue (BATCH rows a job); return how
    many. A Redis that fails is logged: the rows stay in the outbox for the rounds."""
    jobs: list[tuple[list[int], list[int]]] = [
        (list(mail[i : i + BATCH]), []) for i in range(0, len(mail), BATCH)
    ] + [([], list(notices[i : i + BATCH])) for i in range(0, len(notices), BATCH)]
    if not jobs:
        return 0
    try:
        queue = Queue(QUEUE_NAME, connection=connection())
        timeout = job_timeout()
        queue.enqueue_many(
            [
                Queue.prepare_data(
                    deliver_outbox,
                    args=(mail_ids, notice_ids),
                    timeout=timeout,
                    ttl=JOB_TTL,
                    result_ttl=RESULT_TTL,
                    failure_ttl=FAILURE_TTL,
                    description=f"deliver outbox {(mail_ids + notice_ids)[0]}…",
                )
                for mail_ids, notice_ids in jobs
            ]
        )
    except redis.RedisError as exc:
        log.warning(
            "could not enqueue the delivery of outbox rows %s (%s); the next round sends them",
            list(mail) + list(notices),
            exc,
        )
        return 0
    return len(jobs)


def deliver_outbox(mail: Sequence[int] = (), notices: Sequence[int] = ()) -> dict:
    """The job: deliver these outbox rows, those still waiting and due; rows another
    delivery claimed (or sent, or that were withdrawn) are left alone. Return what
    happened, as counts."""
    if not has_app_context():
        raise RuntimeError("outbox jobs run in `flask mail rq-worker` (the application's context)")
    from consult.notices.delivery import deliver_notices

    done: dict = {}
    if notices and waiting_count(transport=OutboxTransport.CHANNEL, due_only=True, only=notices):
        report = deliver_notices(due_only=True, only=notices)
        done["notices"] = {
            "sent": report.sent,
            "retrying": report.retrying,
            "failed": report.failed,
        }
    if mail and waiting_count(due_only=True, only=mail):
        try:
            report = deliver(due_only=True, only=mail)
        except (MailNotConfigured, MailServerUnavailable) as exc:
            # Nothing was claimed: the rows wait for the next round.
            log.warning("mail not delivered: %s; it stays queued", exc)
            done["mail"] = {"error": str(exc)}
        else:
            done["mail"] = {
                "sent": report.sent,
                "retrying": report.retrying,
                "failed": report.failed,
            }
    return done


class AppWorker(SimpleWorker):
    """An RQ worker that runs each job in the process itself (no fork: the database's
    connection pool stays the process's own) inside a fresh application context."""

    #: The application whose context each job gets (set by `flask mail rq-worker`).
    app: Flask | None = None

    def subscribe(self) -> None:
        """Listen for RQ's commands (shutdown, stop a job) as RQ does, but waking every
        second: redis-py's PubSub thread is waited for when the worker stops, and RQ's
        own minute between wake-ups held every stop for up to a minute."""
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    def perform_job(self, job, queue, execution) -> bool:
        app = self.app or current_app._get_current_object()  # type: ignore[attr-defined]
        with app.app_context():
            try:
                return super().perform_job(job, queue, execution)
            finally:
                db.session.remove()


def worker(app: Flask, name: str | None = None) -> AppWorker:
    """Return a worker of the queue ``consult-mail`` for ``app``."""
    client = connection(app, blocking=True)
    made = AppWorker([Queue(QUEUE_NAME, connection=client)], connection=client, name=name)
    made.app = app
    return made
