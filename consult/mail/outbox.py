"""Queueing mail: a message is an OutboxMessage row written in the caller's transaction,
so it exists exactly when the change that caused it is committed."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import insert, inspect

from consult.enums import OutboxStatus, OutboxTransport
from consult.extensions import db, table_of
from consult.mail.compose import envelope_recipients
from consult.mail.models import OutboxMessage
from consult.transactions import after_commit, end_read_transaction, in_write, run_write

log = logging.getLogger(__name__)

_PENDING = "consult.mail.pending"


def _pending() -> dict:
    """Messages queued in the current transaction, by key (see ``queue_message``)."""
    session = db.session()
    transaction = session.get_transaction()
    if transaction is None:
        return {}
    entry = session.info.get(_PENDING)
    if entry is None or entry[0]() is not transaction:
        entry = (weakref.ref(transaction), {})
        session.info[_PENDING] = entry
    return entry[1]


#: The INSERT of a message composed when it is sent, built once: a sign-up writes one,
#: and the ORM's unit of work would cost more than the row.
_TO_COMPOSE = insert(table_of(OutboxMessage)).returning(table_of(OutboxMessage).c.id)


def queue_to_compose(kind: str, compose: str, recipient: str, meeting_id: int | None) -> None:
    """Add a message to the outbox that is composed when it is sent (``compose`` names
    what it tells of; consult.mail.notify.COMPOSERS composes it), in the caller's
    transaction: it exists exactly when the change is committed, and the request spends
    nothing on templates, calendars and QR codes."""
    row_id = db.session.execute(
        _TO_COMPOSE,
        {
            "status": OutboxStatus.QUEUED,
            "attempts": 0,
            "kind": kind,
            "recipients": recipient,
            "subject": "",
            "body": "",
            "compose": compose,
            "meeting_id": meeting_id,
            "transport": OutboxTransport.MAIL,
        },
    ).scalar_one()
    from consult.mail.queue import note_queued

    note_queued(db.session(), OutboxTransport.MAIL, [row_id])


def message_values(message: EmailMessage, message_id: str | None = None) -> dict:
    """Return the outbox columns of a composed ``message``, its Message-ID set (the one
    given, else a new one)."""
    message_id = message_id or _message_id(message)
    del message["Message-ID"]
    message["Message-ID"] = message_id
    return {
        "recipients": ",".join(envelope_recipients(message)),
        "subject": str(message["Subject"] or "")[:255],
        "body": message.as_string(),
        "message_id": message_id,
    }


def queue_message(
    message: EmailMessage,
    kind: str,
    meeting_id: int | None = None,
    key: tuple | None = None,
) -> OutboxMessage:
    """Add ``message`` to the outbox (flushed with the caller's transaction, never committed).

    ``key`` names what the message is about; a second message with the same key in the
    same transaction replaces the first instead of adding another (an operation that
    changes several occurrences of a series mails each person once, with the final state).
    """
    pending = _pending()
    row = pending.get(key) if key is not None else None
    replacing = row is not None and _still_queued(row)
    # One Message-ID per outbox row, chosen now and sent unchanged on every attempt: a
    # message delivered twice (delivery is at least once) is recognisably the same one.
    values = {
        "kind": kind,
        "meeting_id": meeting_id,
        **message_values(message, row.message_id if replacing and row.message_id else None),
    }
    if replacing:
        for name, value in values.items():
            setattr(row, name, value)
    else:
        row = OutboxMessage(status="queued", attempts=0, **values)
        db.session.add(row)
        if key is not None:
            pending[key] = row
    db.session.flush()
    return row


#: A composed message and how to queue it: (message, kind, meeting id).
Composed = tuple[EmailMessage, str, int | None]
_LATER = "consult.mail.later"


def queue_when_committed(compose: Callable[[], list[Composed]]) -> None:
    """Queue the messages ``compose`` returns, composed once the change is committed.

    Composing a message (templates, a calendar, a QR code) takes a while: inside the
    write boundary it waits until the transaction has committed and released its locks
    (SQLite's write lock, a session's row), then ``compose`` reads what it needs afresh
    and its messages are queued in a short transaction of their own (one for every
    message of the transaction). ``compose`` checks that what it tells of still holds,
    and returns no message otherwise. Outside the boundary (a script, a test that
    commits itself) the messages are composed and queued now, in the caller's
    transaction.
    """
    if not in_write():
        for message, kind, meeting_id in compose():
            queue_message(message, kind, meeting_id)
        return
    session = db.session()
    transaction = session.get_transaction()
    if transaction is None:  # nothing written yet: nothing to batch with
        after_commit(lambda: _queue_composed([compose]))
        return
    entry = session.info.get(_LATER)
    if entry is None or entry[0]() is not transaction:
        composers: list[Callable[[], list[Composed]]] = []
        entry = (weakref.ref(transaction), composers)
        session.info[_LATER] = entry
        after_commit(lambda: _queue_composed(composers))
    entry[1].append(compose)


def _queue_composed(composers: list[Callable[[], list[Composed]]]) -> None:
    composed: list[Composed] = []
    for compose in composers:
        try:
            composed += compose()
        except Exception:
            log.exception("could not compose a message after its change was committed")
    end_read_transaction()
    if composed:
        run_write(lambda: [queue_message(*item) for item in composed])


def _message_id(message: EmailMessage) -> str:
    """The message's own Message-ID, or a new one in the sender's domain."""
    existing = str(message.get("Message-ID") or "").strip()
    if existing.startswith("<") and existing.endswith(">"):
        return existing
    from flask import current_app

    from consult.calendar.ics import bare_address

    domain = bare_address(current_app.config["MAIL_FROM"]).partition("@")[2] or "localhost"
    return make_msgid(domain=domain)


def pending_with(match) -> list[tuple[tuple, OutboxMessage]]:
    """Return the (key, message) pairs queued in this transaction whose key matches."""
    return [(k, row) for k, row in _pending().items() if match(k) and _still_queued(row)]


def withdraw(key: tuple) -> None:
    """Remove a message queued in this transaction (superseded by another)."""
    row = _pending().pop(key, None)
    if row is None or not _still_queued(row):
        return
    state = inspect(row)
    if state.pending:
        db.session.expunge(row)
    else:
        db.session.delete(row)
    db.session.flush()


def _still_queued(row: OutboxMessage) -> bool:
    state = inspect(row)
    return (state.pending or state.persistent) and not state.deleted
