"""A session is never overbooked: 40 sign-ups at once for 10 places, on a real server.

The real run sends 40 concurrent API sign-ups (40 residents, their own tokens, one
thread each, released together by a barrier) to gunicorn with 4 worker processes on
the test database. The control run shows that the same check catches an overbooking:
40 real connections claim places the naive way (count, then insert; no conditional
UPDATE, no lock) in a scratch copy of the database whose CHECK on the counter is gone.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.pool import NullPool

from consult.extensions import db
from consult.meetings.models import Registration
from tests.attendance.load import Server, all_at_once, booking, request, residents_with_tokens

#: Sign-ups race in threads, each on a connection of its own.
pytestmark = pytest.mark.real_commits

PEOPLE = 40
PLACES = 10


@pytest.fixture
def server(app, database_url, tmp_path):
    # The app fixture's teardown empties the tables after the server is gone.
    db.session.remove()
    live = Server(database_url, tmp_path / "gunicorn.log", workers=4)
    try:
        live.wait_ready()
        yield live
    finally:
        live.stop()


def test_forty_concurrent_sign_ups_never_overbook(app, factories, server):
    meeting_id = factories.make_meeting(capacity=PLACES).id
    people = residents_with_tokens(PEOPLE)
    db.session.remove()
    path = f"/api/v1/sessions/{meeting_id}/registrations"

    def sign_up(token):
        return lambda: request(
            server.port,
            "POST",
            path,
            body=b"{}",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )

    started = time.monotonic()
    results = all_at_once([sign_up(token) for _user, token in people])
    elapsed = time.monotonic() - started

    failures = [r for r in results if isinstance(r, Exception)]
    assert not failures, failures
    statuses = [status for status, _body in results]
    bodies = [body for _status, body in results]
    assert all(status < 500 for status in statuses), (statuses, server.log()[-3000:])
    assert not any("database is locked" in body for body in bodies)
    assert statuses == [201] * PEOPLE, bodies
    answers = [json.loads(body) for body in bodies]
    confirmed = [a for a in answers if a["status"] == "confirmed"]
    waiting = [a for a in answers if a["status"] == "waitlisted"]
    assert len(confirmed) == PLACES
    assert all(a["position"] is None for a in confirmed)
    assert sorted(a["position"] for a in waiting) == list(range(1, PEOPLE - PLACES + 1))

    with db.engine.connect() as conn:
        state = booking(conn, meeting_id)
    assert not state.overbooked
    assert (state.counter, state.confirmed, state.waitlisted) == (PLACES, PLACES, PEOPLE - PLACES)
    # One registration per person, and the waiting list's order is the sign-up order.
    rows = db.session.scalars(
        select(Registration).where(Registration.meeting_id == meeting_id)
    ).all()
    assert sorted(r.user_id for r in rows) == sorted(user_id for user_id, _token in people)
    by_id = {a["id"]: a for a in answers}
    queue = sorted(
        (r for r in rows if r.status == "waitlisted"), key=lambda r: (r.created_at, r.id)
    )
    assert [by_id[r.id]["position"] for r in queue] == list(range(1, PEOPLE - PLACES + 1))

    log = server.log()
    assert "database is locked" not in log and "Traceback" not in log
    # Several processes really served the sign-ups at once.
    assert len(server.worker_pids(f"POST {path}")) >= 2, log[-3000:]
    assert elapsed < 30


# -- the control run --------------------------------------------------------------------


def _scratch_engine_sqlite(database_url: str, tmp_path):
    """Copy the SQLite test database to a scratch file that ignores CHECK constraints."""
    source = database_url.removeprefix("sqlite:///")
    target = tmp_path / "scratch.db"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    engine = create_engine(f"sqlite:///{target}", poolclass=NullPool, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _no_checks(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA ignore_check_constraints=ON")

    return engine, lambda: target.unlink(missing_ok=True)


def _scratch_engine_postgres(database_url: str, meeting_id: int):
    """Copy the session into a scratch schema whose tables carry no CHECK constraints."""
    schema = f"scratch_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        for table in ("meetings", "registrations"):
            # LIKE copies columns, types, NOT NULL and defaults, but no CHECK or key.
            conn.execute(
                text(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING DEFAULTS)")
            )
        conn.execute(
            text(
                f"INSERT INTO {schema}.meetings SELECT * FROM public.meetings "  # noqa: S608
                "WHERE id = :m"
            ),
            {"m": meeting_id},
        )
    engine = create_engine(
        database_url, poolclass=NullPool, connect_args={"options": f"-c search_path={schema}"}
    )

    def drop():
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    return engine, drop


def test_control_the_check_catches_a_naive_claim(app, factories, database_url, tmp_path):
    meeting_id = factories.make_meeting(capacity=PLACES).id
    people = residents_with_tokens(PEOPLE)
    db.session.remove()
    if database_url.startswith("sqlite"):
        engine, drop = _scratch_engine_sqlite(database_url, tmp_path)
    else:
        engine, drop = _scratch_engine_postgres(database_url, meeting_id)
    try:
        connections = [engine.connect() for _ in range(PEOPLE)]

        def naive_sign_up(conn, user_id):
            def run():
                # Read how many are confirmed ...
                with conn.begin():
                    taken = conn.execute(
                        text(
                            "SELECT count(*) FROM registrations "
                            "WHERE meeting_id = :m AND status = 'confirmed'"
                        ),
                        {"m": meeting_id},
                    ).scalar_one()
                # ... the request does its other work meanwhile ...
                time.sleep(0.02)
                # ... then write what was decided on the stale count.
                status = "confirmed" if taken < PLACES else "waitlisted"
                writer = conn.execution_options(sqlite_begin="IMMEDIATE")
                with writer.begin():
                    writer.execute(
                        text(
                            "INSERT INTO registrations "
                            "(meeting_id, user_id, status, created_at, updated_at) "
                            "VALUES (:m, :u, :s, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                        ),
                        {"m": meeting_id, "u": user_id, "s": status},
                    )
                    if status == "confirmed":
                        writer.execute(
                            text(
                                "UPDATE meetings SET confirmed_count = confirmed_count + 1 "
                                "WHERE id = :m"
                            ),
                            {"m": meeting_id},
                        )
                return status

            return run

        started = time.monotonic()
        results = all_at_once(
            [
                naive_sign_up(conn, user_id)
                for conn, (user_id, _token) in zip(connections, people, strict=True)
            ]
        )
        elapsed = time.monotonic() - started
        for conn in connections:
            conn.close()
        assert not [r for r in results if isinstance(r, Exception)], results
        with engine.connect() as conn:
            state = booking(conn, meeting_id)
    finally:
        engine.dispose()
        drop()
    # The same check as the real run's finds the overbooking.
    assert state.overbooked, state
    assert state.confirmed > PLACES and state.counter > PLACES
    assert state.confirmed + state.waitlisted == PEOPLE
    assert elapsed < 30
