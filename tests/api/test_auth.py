"""API authentication: Bearer tokens (hashed, revocable), the browser session for reading."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from consult.accounts.models import ApiToken, User
from consult.accounts.operations import create_api_token, revoke_api_token
from consult.extensions import db
from consult.types import utcnow


def assert_401(response) -> None:
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "unauthorized"
    assert body["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer    ",
        "Basic dXNlcjpwdw==",
        "Token abc",
        "Bearer not-a-token",
        "Bearer " + "x" * 5000,
    ],
    ids=[
        "none",
        "empty",
        "bearer-alone",
        "bearer-blank",
        "basic",
        "other-scheme",
        "unknown-token",
        "huge-token",
    ],
)
def test_requests_without_a_valid_token_get_401(client, factories, header):
    factories.make_user()
    headers = {} if header is None else {"Authorization": header}
    assert_401(client.get("/api/v1/me", headers=headers))


def test_a_valid_token_authenticates_its_user(api_as, factories):
    user = factories.make_user(role="secretary", email="mi@example.org")
    response = api_as(user).get("/api/v1/me")
    assert response.status_code == 200
    assert response.get_json()["email"] == "mi@example.org"
    assert response.get_json()["role"] == "secretary"


def test_tokens_are_stored_hashed(factories):
    user = factories.make_user()
    token = create_api_token(user)
    db.session.commit()
    stored = db.session.scalar(select(ApiToken.token_hash))
    assert token not in stored
    assert len(stored) == 64


def test_a_revoked_token_is_refused(client, factories):
    user = factories.make_user()
    token = create_api_token(user)
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    revoke_api_token(db.session.scalar(select(ApiToken)), user)
    db.session.commit()
    assert_401(client.get("/api/v1/me", headers=headers))


def test_the_token_of_a_deactivated_account_is_refused(api_as, factories):
    user = factories.make_user()
    api = api_as(user)
    user.active = False
    db.session.commit()
    assert_401(api.get("/api/v1/me"))


def test_last_used_at_is_recorded_at_most_once_a_minute(api_as, factories, count_queries):
    user = factories.make_user()
    api = api_as(user)
    row = db.session.scalar(select(ApiToken))
    assert row.last_used_at is None

    started = utcnow()
    assert api.get("/api/v1/me").status_code == 200
    db.session.expire_all()
    first = db.session.scalar(select(ApiToken.last_used_at))
    assert first is not None and first >= started - timedelta(seconds=1)

    with count_queries() as counted:
        assert api.get("/api/v1/me").status_code == 200
    assert not [s for s in counted.statements if s.lstrip().upper().startswith("UPDATE")]
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken.last_used_at)) == first

    # A minute later the next use is recorded again.
    row = db.session.scalar(select(ApiToken))
    row.last_used_at = first - timedelta(minutes=2)
    db.session.commit()
    assert api.get("/api/v1/me").status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken.last_used_at)) >= first


@contextmanager
def _token_row_locked():
    """Hold, on a connection of its own, the lock that recording a token's use needs:
    SQLite's write lock, or the token's row on PostgreSQL."""
    with db.engine.connect() as conn:
        conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(select(ApiToken.id).with_for_update())
            else:
                conn.exec_driver_sql("UPDATE api_tokens SET revoked_at = NULL WHERE 1 = 0")
            yield


def _recorded_use():
    db.session.expire_all()
    return db.session.scalar(select(ApiToken.last_used_at))


@pytest.mark.real_commits  # another connection holds the lock
def test_a_failure_to_record_costs_only_the_timestamp(api_as, factories, caplog):
    user = factories.make_user(email="busy@example.org")
    api = api_as(user)
    with _token_row_locked():
        started = time.monotonic()
        response = api.get("/api/v1/me")
        waited = time.monotonic() - started
    assert response.status_code == 200
    assert response.get_json()["email"] == "busy@example.org"
    # It waited a moment for the database, not the database's own timeout (30 s).
    assert waited < 10
    assert _recorded_use() is None
    assert "could not record the use of API token" in caplog.text
    # The database free again, the next use is recorded.
    assert api.get("/api/v1/me").status_code == 200
    assert _recorded_use() is not None


def test_a_write_records_its_use_in_its_own_transaction(api_as, factories):
    user = factories.make_user(name="原名")
    api = api_as(user)
    updates = {}

    def seen(conn, cursor, statement, parameters, context, executemany):
        words = statement.split()
        if words[0].upper() == "UPDATE":
            updates[words[1].lower()] = conn.get_transaction()

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        started = utcnow()
        assert api.patch("/api/v1/me", json={"name": "新名"}).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    # One transaction holds the change and the token's use: no second one, no wait.
    assert set(updates) == {"users", "api_tokens"}
    assert updates["users"] is updates["api_tokens"]
    assert _recorded_use() >= started - timedelta(seconds=1)
    assert db.session.get(User, user.id).name == "新名"


def test_a_write_commits_even_when_its_use_cannot_be_recorded(api_as, factories):
    user = factories.make_user(name="原名")
    api = api_as(user)
    busy = {"sqlite": sqlite3.OperationalError("database is locked")}

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            dialect = conn.dialect.name
            if dialect == "postgresql":
                from psycopg.errors import LockNotAvailable

                raise LockNotAvailable("canceling statement due to lock timeout")
            raise busy[dialect]

    event.listen(db.engine, "before_cursor_execute", refuse)
    try:
        response = api.patch("/api/v1/me", json={"name": "新名"})
    finally:
        event.remove(db.engine, "before_cursor_execute", refuse)
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "新名"
    assert _recorded_use() is None


def test_an_authenticated_read_costs_two_statements(api_as, factories, count_queries):
    user = factories.make_user()
    api = api_as(user)
    api.get("/api/v1/me")  # records last_used_at
    with count_queries() as counted:
        assert api.get("/api/v1/me").status_code == 200
    # The token with its user, then /me's own read of the communities.
    assert counted.n == 2, counted.statements


def test_the_browser_session_may_read(client, factories, login_as):
    user = factories.make_user(email="fang@example.org")
    login_as(user)
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.get_json()["email"] == "fang@example.org"


def test_the_browser_session_may_not_write(client, factories, login_as):
    user = factories.make_user(name="原名")
    login_as(user)
    response = client.patch("/api/v1/me", json={"name": "新名"})
    assert_401(response)
    assert "Bearer" in response.get_json()["error"]["message"]
    db.session.expire_all()
    assert user.name == "原名"


def test_the_openapi_document_needs_no_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"].startswith("3.")


def test_an_unknown_route_is_404_even_without_a_token(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_healthz_answers_with_one_select_and_no_authentication(client, count_queries):
    with count_queries() as counted:
        response = client.get("/healthz", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert [s.strip().upper() for s in counted.statements] == ["SELECT 1"]
