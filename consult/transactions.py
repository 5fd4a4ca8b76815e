"""The write boundary: every page, API route and command writes through ``run_write``.

One transaction per write: begin it (on SQLite with BEGIN IMMEDIATE, which takes the
write lock first, so concurrent writers queue on the busy timeout instead of failing
with "database is locked" when a reading transaction tries to become a writing one),
run the work, commit once. A serialisation failure, a deadlock or a busy database
rolls everything back and runs the work again, a bounded number of times; any other
exception (a refusal, a 404, a bug) rolls everything back and is raised again.

On a SQLite file, writers of every process queue on an OS file lock beside the database
(``writers_queue``) before BEGIN IMMEDIATE: a writer waiting for SQLite's own lock polls
it with growing sleeps (1, 2, 5, 10 ms and more), so that with two workers signing
people up the lock often stood free while the next writer slept; on the file lock a
waiting writer takes its turn within a fraction of a millisecond.

Requests get it without asking: ``install`` wraps every view so that a request with an
unsafe method (POST, PUT, PATCH, DELETE) runs whole inside ``run_write`` (as Indico's
request handler and Warehouse's per-request transaction do), and an answer with an
error status rolls back. Requests with a safe method (GET, HEAD, OPTIONS) may only
read: a flush during one is a bug and raises ``ReadOnlyRequest``; on PostgreSQL they
read without a transaction (``reads_without_transaction``). Commands call
``run_write`` themselves, once per unit of work.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import psycopg
from flask import Flask, current_app, g, has_request_context, request, session
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, event, inspect
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session

from consult.extensions import SQLITE_BUSY_MS, db

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How many times a write runs before a lock or serialisation failure is given up.
ATTEMPTS = 5
#: SQLSTATEs worth one more try: serialization_failure, deadlock_detected.
RETRY_SQLSTATES = frozenset({"40001", "40P01"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Where the nesting depth of the boundary is kept, on the database session.
DEPTH = "consult.write_depth"
READ_ONLY = "consult.read_only"
#: Set when the transaction flushed objects or ran an INSERT, UPDATE or DELETE.
WROTE = "consult.wrote"
#: What runs once the current write has committed (``after_commit``).
AFTER_COMMIT = "consult.after_commit"
#: Where ``note_locked`` notes, on an object's state, the transaction that locked it.
LOCKED_IN = "consult.locked_in"
#: Where ``at_end_of_write`` keeps what a writing request does last (on ``g``).
AT_END_OF_WRITE = "consult_at_end_of_write"


class ReadOnlyRequest(RuntimeError):
    """A request with a safe method tried to write."""


class _Undo(Exception):  # noqa: N818  (a signal, not an error)
    """Carries a view's error answer out of the transaction, which is rolled back."""

    def __init__(self, response):
        super().__init__(response.status)
        self.response = response


def retryable(exc: BaseException) -> bool:
    """Return whether ``exc`` is a transient lock or serialisation failure."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in RETRY_SQLSTATES:
        return True
    text = str(orig)
    return "database is locked" in text or "database is busy" in text


def end_read_transaction() -> None:
    """Commit whatever only read so far, keeping loaded objects (the caller) usable."""
    current = db.session()
    if not current.in_transaction():
        return
    expire = current.expire_on_commit
    current.expire_on_commit = False
    try:
        current.commit()
    finally:
        current.expire_on_commit = expire


def begin(wait: float | None = None) -> None:
    """Begin the writing transaction (BEGIN IMMEDIATE on SQLite).

    ``wait``: the longest time (seconds) its locks are waited for, instead of the
    database's own timeout (SQLite's busy timeout; on PostgreSQL a ``lock_timeout``
    for this transaction).
    """
    current = db.session()
    connection = None
    if current.in_transaction() and db.engine.dialect.name == "postgresql":
        # Read committed: each statement reads what is committed when it starts, so what
        # the request read so far (the caller's token) goes on into the write, without
        # a commit, a return of the connection to the pool and a check of it again;
        # unless it read without a transaction: the write then takes one of its own.
        connection = current.connection()
        if _autocommitting(connection.connection.dbapi_connection):
            connection = None
    if connection is None:
        end_read_transaction()
        options: dict[str, str | int | bool] = {"sqlite_begin": "IMMEDIATE", WRITING: True}
        if wait is not None:
            options["sqlite_busy_ms"] = max(1, int(wait * 1000))
        connection = current.connection(execution_options=options)
    if wait is not None and connection.dialect.name == "postgresql":
        ms = max(1, int(wait * 1000))
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")


#: A PostgreSQL connection outside any transaction.
IDLE = TransactionStatus.IDLE
#: The execution option of a connection that ``begin`` takes for a write.
WRITING = "consult_writing"


def reads_without_transaction(engine: Engine) -> None:
    """Have requests with a safe method read from PostgreSQL without BEGIN and ROLLBACK:
    two round trips of the four of an API list asked again (BEGIN, the token, the
    counters, ROLLBACK). Read committed gives each statement its own snapshot inside a
    transaction or outside one, and a read takes no lock, so a read sees what it saw
    before. A write begun during such a request (``begin``: the token's use, say) takes
    a transaction of its own, and a connection goes back to the pool as it came.
    Called once per engine, when the application is made."""
    if engine.dialect.name != "postgresql":
        return
    event.listen(engine, "begin", _read_without_transaction)
    event.listen(engine.pool, "checkin", _transactions_back)
    event.listen(engine.pool, "checkout", _transactions_before_use)


def _read_without_transaction(connection: Connection) -> None:
    if connection.get_execution_options().get(WRITING) or not has_request_context():
        return
    if request.method not in SAFE_METHODS:
        return
    dbapi_connection = connection.connection.dbapi_connection
    # A connection inside a transaction already (a test's) is left as it is.
    if dbapi_connection is not None and dbapi_connection.info.transaction_status == IDLE:
        dbapi_connection.autocommit = True


def _autocommitting(dbapi_connection) -> bool:
    """Whether the connection commits each statement by itself (reads without a
    transaction)."""
    return bool(getattr(dbapi_connection, "autocommit", False))


def _transactions_back(dbapi_connection, record) -> None:
    """A connection that read without a transaction gets transactions back when it goes
    back to the pool. One whose server end is gone keeps its mode until it is taken
    again, when ``_transactions_before_use`` has the pool replace it."""
    if dbapi_connection is not None:
        with contextlib.suppress(psycopg.Error):
            _give_transactions_back(dbapi_connection)


def _transactions_before_use(dbapi_connection, record, proxy) -> None:
    """A connection comes out of the pool with transactions, or is replaced."""
    try:
        _give_transactions_back(dbapi_connection)
    except psycopg.Error as exc:
        raise DisconnectionError("a connection could not be given transactions back") from exc


def _give_transactions_back(dbapi_connection) -> None:
    if _autocommitting(dbapi_connection):
        dbapi_connection.autocommit = False


#: How long a writer waiting for the file lock sleeps between two looks, at first and at
#: most (seconds): short enough that the lock rarely stands free, long enough to cost
#: no CPU worth the name.
QUEUE_FIRST_SLEEP = 0.0001
QUEUE_LONGEST_SLEEP = 0.001


def _queue_path() -> str | None:
    """The writers' lock file of a SQLite database file, or None (PostgreSQL, memory)."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return os.path.abspath(database) + ".writers"


@contextlib.contextmanager
def writers_queue(wait: float | None = None) -> Iterator[None]:
    """Hold the SQLite database's writers' lock (``flock`` on ``<database>.writers``)
    for the block; no lock on PostgreSQL, whose writers wait for each other's rows.

    Waits at most ``wait`` seconds (default: the busy timeout), then fails as SQLite
    does, with "database is locked", which the write boundary retries. A process that
    dies holding it loses it with its open files."""
    path = _queue_path()
    if path is None:
        yield
        return
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + (SQLITE_BUSY_MS / 1000 if wait is None else wait)
        pause = QUEUE_FIRST_SLEEP
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OperationalError(
                        "BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, QUEUE_LONGEST_SLEEP)
        yield
    finally:
        os.close(fd)  # closing the file gives the lock back


def note_locked(obj) -> None:
    """Note that ``obj`` was read, its row locked, in the current writing transaction."""
    inspect(obj).info[LOCKED_IN] = db.session().get_transaction()


def locked_here(obj, attributes) -> bool:
    """Whether ``obj`` was read with its row locked in the current transaction
    (``note_locked``) and still holds ``attributes`` as read then."""
    state = inspect(obj)
    current = db.session().get_transaction()
    return (
        current is not None
        and state.info.get(LOCKED_IN) is current
        and not set(attributes) & state.unloaded
    )


def rollback() -> None:
    """Undo the transaction; a connection that is gone took it with it."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        db.session.rollback()
    except SQLAlchemyError:
        db.session.close()


def in_write() -> bool:
    """Return whether the current code runs inside the write boundary."""
    return db.session().info.get(DEPTH, 0) > 0


def run_write(work: Callable[[], T], attempts: int = ATTEMPTS, wait: float | None = None) -> T:
    """Run ``work`` in one writing transaction and commit it; retry transient failures.

    ``work`` loads what it needs itself: after a retry, objects loaded before are stale.
    Inside the boundary already (a command's step within a request, say), ``work``
    simply runs: the outer boundary commits. ``wait`` bounds the wait for locks
    (seconds; see ``begin``).
    """
    current = db.session()
    if current.info.get(DEPTH, 0) > 0:
        return work()
    for attempt in range(1, attempts + 1):
        try:
            with writers_queue(wait):
                # BEGIN IMMEDIATE itself waits for the lock, and may find the database busy.
                begin(wait)
                current.info[DEPTH] = 1
                current.info[WROTE] = False
                current.info[AFTER_COMMIT] = []
                try:
                    result = work()
                    if current.info[WROTE]:
                        db.session.commit()
                    else:
                        # Nothing was written: end the transaction, keep what was loaded.
                        end_read_transaction()
                except BaseException:
                    rollback()  # before the next writer's turn
                    raise
            steps = current.info.pop(AFTER_COMMIT, [])
        except DBAPIError as exc:
            rollback()
            if attempt == attempts or not retryable(exc):
                raise
            log.info("write retried after %s (attempt %d)", type(exc.orig).__name__, attempt)
            # Back off a little, with jitter, so that the losers do not collide again.
            time.sleep(0.02 * attempt + random.random() * 0.03)  # noqa: S311
            continue
        except BaseException:
            rollback()
            raise
        finally:
            current.info[DEPTH] = 0
            current.info.pop(AFTER_COMMIT, None)
        _run_after_commit(steps)
        return result
    raise AssertionError("unreachable")  # pragma: no cover


def after_commit(step: Callable[[], object]) -> None:
    """Run ``step`` once the current write has committed, outside its transaction.

    For work that follows from a write but need not hold its locks (composing mail,
    say): it runs when the write boundary has committed and released them, before
    ``run_write`` returns (for a request: before the answer). What ``step`` writes, it
    writes through ``run_write`` itself. A write that rolls back (or is retried) drops
    the steps it asked for; a step that fails is logged, the write stays committed.
    """
    steps = db.session().info.get(AFTER_COMMIT)
    if steps is None or not in_write():
        raise RuntimeError("after_commit is for work inside the write boundary")
    steps.append(step)


def _run_after_commit(steps: list[Callable[[], object]]) -> None:
    for step in steps:
        try:
            step()
        except Exception:
            log.exception("work after a commit failed; the write itself is committed")
            rollback()


def _forget_after_commit(current: Session, previous_transaction) -> None:
    """A rolled-back transaction (not a savepoint) drops what was to follow its commit."""
    if previous_transaction.nested or previous_transaction.parent is not None:
        return
    if current.info.get(AFTER_COMMIT):
        current.info[AFTER_COMMIT] = []


def _run_view(view, args, kwargs):
    if request.method in SAFE_METHODS:
        current = db.session()
        current.info[READ_ONLY] = True
        try:
            return view(*args, **kwargs)
        finally:
            current.info[READ_ONLY] = False
    flashes = list(session.get("_flashes", []))

    def work():
        # A retry runs the view again: what the failed attempt flashed is forgotten.
        if flashes:
            session["_flashes"] = list(flashes)
        else:
            session.pop("_flashes", None)
        response = current_app.make_response(view(*args, **kwargs))
        if response.status_code >= 400:
            raise _Undo(response)
        _finish_write()
        return response

    try:
        return run_write(work)
    except _Undo as undone:
        return undone.response


def at_end_of_write(finish: Callable[[], object]) -> None:
    """Have ``finish`` run inside this request's writing transaction, after its view
    answered successfully and before the commit (again on each retry). Nothing runs for
    a request that only reads, or whose view fails: the caller sees to those."""
    g.setdefault(AT_END_OF_WRITE, []).append(finish)


def _finish_write() -> None:
    for finish in g.get(AT_END_OF_WRITE, ()):
        finish()


def writes_within(view):
    """Run only ``view`` itself in the write boundary, for an API view whose arguments
    are parsed and whose answer is serialised by the wrappers around it: its locks are
    not held while they work. The view refuses by raising (ApiError, abort); what it
    returns is its answer, committed."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        def work():
            result = view(*args, **kwargs)
            _finish_write()
            return result

        return run_write(work)

    # Copied onto the wrappers around it: ``install`` leaves the view as it is.
    wrapper.consult_boundary = True
    return wrapper


def writes(view):
    """Run ``view`` inside the write boundary for unsafe methods, read-only otherwise."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        return _run_view(view, args, kwargs)

    wrapper.consult_boundary = True
    return wrapper


def _refuse_writes_in_reads(current: Session) -> None:
    if current.info.get(READ_ONLY) and has_request_context():
        raise ReadOnlyRequest(
            f"{request.method} {request.path} tried to write; reads must not write"
        )


def _on_flush(current: Session, flush_context, instances) -> None:
    if current.new or current.deleted or any(current.is_modified(o) for o in current.dirty):
        _refuse_writes_in_reads(current)
        current.info[WROTE] = True


def _on_execute(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _refuse_writes_in_reads(state.session)
        state.session.info[WROTE] = True


def install(app: Flask) -> None:
    """Put every view of ``app`` behind the boundary (call after the blueprints)."""
    for endpoint, view in list(app.view_functions.items()):
        if not getattr(view, "consult_boundary", False):
            app.view_functions[endpoint] = writes(view)
    if not event.contains(Session, "before_flush", _on_flush):
        event.listen(Session, "before_flush", _on_flush)
        event.listen(Session, "do_orm_execute", _on_execute)
        event.listen(Session, "after_soft_rollback", _forget_after_commit)
