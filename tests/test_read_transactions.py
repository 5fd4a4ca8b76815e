"""PostgreSQL: a request that only reads sends no BEGIN and no ROLLBACK; writes still run
in one transaction each, and connections go back to the pool as they came."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event, select

from consult.accounts.models import ApiToken
from consult.extensions import db

# The requests' own transactions are what is looked at: nothing may wrap them.
pytestmark = pytest.mark.real_commits


@pytest.fixture(autouse=True)
def _postgres_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL reads outside a transaction; SQLite's reads are unchanged")


@contextlib.contextmanager
def _statements():
    """Collect (first word, whether its connection committed each statement by itself)
    of every statement the engine sends meanwhile."""
    seen: list[tuple[str, bool]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement.split()[0].upper(), conn.connection.dbapi_connection.autocommit))

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def _pooled_in_transactions() -> list[bool]:
    """Whether each connection waiting in the pool runs statements in transactions."""
    pooled = [db.engine.raw_connection() for _ in range(db.engine.pool.checkedin())]
    try:
        return [not connection.dbapi_connection.autocommit for connection in pooled]
    finally:
        for connection in pooled:
            connection.close()


def test_a_read_runs_without_a_transaction_and_a_write_in_one(api_as, factories):
    meeting = factories.make_meeting(capacity=5)
    url = f"/api/v1/sessions/{meeting.id}/registrations"
    api = api_as(factories.make_user())
    assert api.get("/api/v1/me").status_code == 200  # the token's use is recorded now
    db.session.remove()
    with _statements() as read:
        assert api.get("/api/v1/sessions").status_code == 200
    db.session.remove()
    with _statements() as written:
        response = api.post(url)
    assert response.status_code == 201
    assert read and {verb for verb, _ in read} == {"SELECT"}
    assert all(alone for _, alone in read), read
    assert "INSERT" in [verb for verb, _ in written]
    assert not any(alone for _, alone in written), written
    db.session.remove()
    pooled = _pooled_in_transactions()
    assert pooled and all(pooled)


def test_a_write_after_a_read_in_one_request_takes_a_transaction(api_as, factories):
    """A token's first use is recorded after the read that used it: in a transaction of
    its own, committed, and the connection goes back to the pool with transactions."""
    resident = factories.make_user()
    api, resident_id = api_as(resident), resident.id
    db.session.remove()
    with _statements() as seen:
        assert api.get("/api/v1/me").status_code == 200
    assert ("SELECT", True) in seen
    writes = [(verb, alone) for verb, alone in seen if verb in ("UPDATE", "SET")]
    assert writes == [("SET", False), ("UPDATE", False)], seen
    db.session.remove()
    used = db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.user_id == resident_id))
    assert used is not None
    db.session.remove()
    pooled = _pooled_in_transactions()
    assert pooled and all(pooled)


def test_a_read_that_fails_leaves_nothing_open(api_as, factories):
    """A read refused (404) or answered with an error leaves no transaction and no
    connection reading alone behind it."""
    api = api_as(factories.make_user())
    assert api.get("/api/v1/me").status_code == 200
    db.session.remove()
    with _statements() as seen:
        assert api.get("/api/v1/sessions/999999999").status_code == 404
    assert seen and all(alone for _, alone in seen)
    db.session.remove()
    pooled = _pooled_in_transactions()
    assert pooled and all(pooled)


def _connection(database_url: str, autocommit: bool):
    import psycopg
    from sqlalchemy import make_url

    url = make_url(database_url).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=autocommit)


def test_a_connection_taken_from_the_pool_has_transactions_or_is_replaced(database_url):
    """Should a connection go back to the pool without transactions (its server end gone
    when it went back), the pool gives them back when it is taken again, or replaces
    it: no write ever runs statement by statement."""
    from sqlalchemy.exc import DisconnectionError

    from consult.transactions import _transactions_back, _transactions_before_use

    live = _connection(database_url, autocommit=True)
    try:
        _transactions_before_use(live, None, None)
        assert live.autocommit is False
    finally:
        live.close()
    gone = _connection(database_url, autocommit=True)
    gone.close()
    _transactions_back(gone, None)  # back in the pool: nothing raised, nothing changed
    assert gone.autocommit is True
    with pytest.raises(DisconnectionError):
        _transactions_before_use(gone, None, None)
