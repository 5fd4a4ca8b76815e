"""The writing transaction of a sign-up request: one at a time per database file on SQLite.

SQLite allows one writer. A transaction that starts by reading and later writes fails at
once with "database is locked" when another writer got in between (WAL mode cannot
upgrade a stale read snapshot). So the request's work runs in a transaction begun with
BEGIN IMMEDIATE, which takes the write lock first: concurrent writers then wait on the
busy timeout instead of failing. PostgreSQL needs nothing here (the operations lock
the session's row). A lock or serialization failure that still happens is retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

from consult.extensions import db

T = TypeVar("T")

#: SQLSTATEs of PostgreSQL worth one more try: serialization failure, deadlock.
RETRY_SQLSTATES = {"40001", "40P01"}
ATTEMPTS = 4


def begin_write() -> None:
    """End the request's reading transaction and begin one that holds the write lock."""
    if db.session().in_transaction():
        # Only reads happened so far (the caller's sign-in, a token lookup).
        db.session.commit()
    db.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def _retryable(exc: OperationalError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in RETRY_SQLSTATES:
        return True
    return "database is locked" in str(orig) or "database is busy" in str(orig)


def run_write(work: Callable[[], T]) -> T:
    """Run ``work`` in a writing transaction and commit it; retry on lock failures.

    ``work`` loads what it needs itself: after a retry, earlier objects are stale.
    Any exception rolls everything back and is raised again.
    """
    for attempt in range(1, ATTEMPTS + 1):
        begin_write()
        try:
            result = work()
            db.session.commit()
            return result
        except OperationalError as exc:
            db.session.rollback()
            if attempt == ATTEMPTS or not _retryable(exc):
                raise
            time.sleep(0.05 * attempt)
        except BaseException:
            db.session.rollback()
            raise
    raise AssertionError("unreachable")  # pragma: no cover
