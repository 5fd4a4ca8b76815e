"""The migrations, on a fresh SQLite file and on a scratch PostgreSQL database, and the
invariants the schema promises, enforced by the database itself."""

from __future__ import annotations

import os
import uuid
from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import check, downgrade, upgrade
from sqlalchemy import create_engine, inspect, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from consult import create_app
from consult.accounts.models import User
from consult.cases.models import Case
from consult.community.models import Agreement, AllianceMember, Venue
from consult.extensions import db
from consult.meetings.models import Meeting, Registration

PG_URL = os.environ.get("CONSULT_TEST_DATABASE_URL")


def schema_differences() -> list:
    """Compare the database with the models, as `flask db check` does."""
    options = current_migrate_options()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=options)
        return compare_metadata(context, db.metadata)


def current_migrate_options() -> dict:
    from flask import current_app

    configured = current_app.extensions["migrate"].configure_args
    keys = ("compare_type", "render_as_batch")
    return {key: configured[key] for key in keys if key in configured}


def table_names() -> set[str]:
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def run_the_migrations_both_ways(url: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "test"})
    with app.app_context():
        try:
            assert table_names() == set()
            upgrade()
            assert table_names() == set(db.metadata.tables) | {"alembic_version"}
            assert schema_differences() == []
            check()  # `flask db check`: exits non-zero on any difference

            downgrade(revision="base")
            assert table_names() == {"alembic_version"}
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 0

            upgrade()
            assert table_names() == set(db.metadata.tables) | {"alembic_version"}
            assert schema_differences() == []
        finally:
            db.session.remove()
            db.engine.dispose()


def test_migrations_on_a_fresh_sqlite_file(tmp_path):
    run_the_migrations_both_ways(f"sqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="CONSULT_TEST_DATABASE_URL is not set (PostgreSQL)")
def test_migrations_on_a_scratch_postgresql_database():
    server = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"consult_admin_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        run_the_migrations_both_ways(server.set(database=name).render_as_string(False))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_0009_gives_existing_rows_their_creation_time_as_change_stamp(tmp_path):
    """Rows made before 0009 get updated_at = created_at, also in tables that others refer
    to; the downgrade drops the column and keeps the rows."""
    url = f"sqlite:///{tmp_path / 'stamps.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "test"})
    created = "2025-03-01 08:00:00.000000"
    with app.app_context():
        try:
            upgrade(revision="0008")
            with db.engine.begin() as conn:
                conn.execute(
                    text("INSERT INTO communities (id, name, created_at) VALUES (1, '和合', :at)"),
                    {"at": created},
                )
                conn.execute(
                    text(
                        "INSERT INTO venues (id, community_id, name, kind, created_at)"
                        " VALUES (1, 1, '议事厅', 'hall', :at)"
                    ),
                    {"at": created},
                )
                conn.execute(
                    text(
                        "INSERT INTO users (id, email, name, role, named_in_minutes, active,"
                        " session_generation, created_at)"
                        " VALUES (1, 'a@example.org', '王芳', 'resident', 0, 1, 0, :at)"
                    ),
                    {"at": created},
                )
                # A session at the venue: the venue cannot be copied and dropped.
                conn.execute(
                    text(
                        "INSERT INTO meetings (id, uid, kind, title, description, community_id,"
                        " venue_id, starts_at, ends_at, timezone, confirmed_count, status,"
                        " visibility, sequence, created_at, updated_at) VALUES (1, 'm1@test',"
                        " 'roundtable', '圆桌会', '', 1, 1, :at, '2025-03-01 10:00:00.000000',"
                        " 'Asia/Shanghai', 0, 'scheduled', 'public', 0, :at, :at)"
                    ),
                    {"at": created},
                )
            upgrade(revision="0009")
            with db.engine.connect() as conn:
                for table in ("venues", "users"):
                    stamp = conn.execute(text(f"SELECT updated_at FROM {table}")).scalar()  # noqa: S608
                    assert stamp == created, table
                columns = {c["name"]: c for c in inspect(conn).get_columns("registrations")}
                assert columns["updated_at"]["nullable"] is False
            downgrade(revision="0008")
            with db.engine.connect() as conn:
                for table in ("users", "venues", "registrations", "invitations"):
                    names = {c["name"] for c in inspect(conn).get_columns(table)}
                    assert "updated_at" not in names, table
                assert conn.execute(text("SELECT name FROM venues")).scalar() == "议事厅"
                assert conn.execute(text("SELECT venue_id FROM meetings")).scalar() == 1
        finally:
            db.session.remove()
            db.engine.dispose()


# -- what the database refuses by itself ---------------------------------------------------


def refused(statement=None) -> None:
    """Flush (or run ``statement``) and expect the database to refuse it; roll back."""
    with pytest.raises(IntegrityError):
        if statement is None:
            db.session.flush()
        else:
            db.session.execute(statement)
    db.session.rollback()


def test_a_second_registration_of_the_same_person_for_the_same_session(factories):
    user, meeting = factories.make_user(), factories.make_meeting()
    db.session.add(Registration(meeting_id=meeting.id, user_id=user.id, status="confirmed"))
    db.session.commit()
    db.session.add(Registration(meeting_id=meeting.id, user_id=user.id, status="waitlisted"))
    refused()
    assert len(db.session.get(Meeting, meeting.id).registrations) == 1


def test_confirmed_count_above_capacity(factories):
    meeting = factories.make_meeting(capacity=2)
    db.session.execute(update(Meeting).where(Meeting.id == meeting.id).values(confirmed_count=2))
    db.session.commit()
    refused(update(Meeting).where(Meeting.id == meeting.id).values(confirmed_count=3))
    refused(update(Meeting).where(Meeting.id == meeting.id).values(confirmed_count=-1))
    # Nor may the capacity shrink below the places already confirmed.
    refused(update(Meeting).where(Meeting.id == meeting.id).values(capacity=1))
    assert db.session.get(Meeting, meeting.id).confirmed_count == 2


@pytest.mark.parametrize("level", [0, 5])
def test_a_case_level_outside_one_to_four(factories, level):
    case = factories.make_case(level=4)
    refused(update(Case).where(Case.id == case.id).values(level=level))
    assert db.session.get(Case, case.id).level == 4


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_a_resolved_case_without_a_resolution(factories, status):
    case = factories.make_case()
    refused(update(Case).where(Case.id == case.id).values(status=status))
    assert db.session.get(Case, case.id).status == "open"


def test_an_unknown_role_or_a_second_account_with_the_same_email(factories):
    user = factories.make_user(email="one@example.org")
    refused(update(User).where(User.id == user.id).values(role="mayor"))
    db.session.add(User(email="one@example.org", name="重复", role="resident"))
    refused()


def test_venue_capacity_and_owner(factories):
    community = factories.make_community()
    venue = factories.make_venue(community, capacity=10)
    refused(update(Venue).where(Venue.id == venue.id).values(capacity=-1))
    refused(update(Venue).where(Venue.id == venue.id).values(community_id=None))
    db.session.add(Venue(community_id=community.id, name=venue.name, kind="hall"))
    refused()


def test_an_agreement_ending_before_it_is_signed(factories):
    community, unit = factories.make_community(), factories.make_unit()
    db.session.add(
        Agreement(
            community_id=community.id,
            unit_id=unit.id,
            signed_on=date(2025, 3, 1),
            ends_on=date(2025, 2, 28),
        )
    )
    refused()


def test_two_units_with_the_same_turn_in_a_rotation(factories):
    community = factories.make_community()
    first, second = factories.make_unit(), factories.make_unit()
    db.session.add(AllianceMember(community_id=community.id, unit_id=first.id, rotation_position=1))
    db.session.commit()
    db.session.add(
        AllianceMember(community_id=community.id, unit_id=second.id, rotation_position=1)
    )
    refused()
    db.session.add(
        AllianceMember(community_id=community.id, unit_id=second.id, rotation_position=0)
    )
    refused()
