"""`flask users create` and `flask tokens create`: what they promise, and every refusal."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from consult import create_app
from consult.accounts.models import ApiToken, Membership, User, hash_token
from consult.audit.models import AuditEntry
from consult.community.models import Community
from consult.extensions import db

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("CONSULT_TEST_DATABASE_URL")


def counts() -> tuple[int, int, int, int]:
    """Rows of every table a refused command could have touched."""
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (User, Community, Membership, AuditEntry)
    )


def assert_refused(result, *words: str) -> None:
    """Exit non-zero with exactly one line on stderr, naming ``words``, and no traceback."""
    assert result.exit_code != 0, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def create(runner, *args: str):
    return runner.invoke(args=["users", "create", *args])


def test_users_create_makes_the_account_and_its_new_community(runner):
    result = create(
        runner,
        "Li.Wei@Example.org",
        "--name",
        "李伟",
        "--role",
        "cadre",
        "--password",
        "long-enough",
        "--community",
        "和合社区",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User))
    assert (user.email, user.name, user.role) == ("li.wei@example.org", "李伟", "cadre")
    assert user.check_password("long-enough")
    assert [m.community.name for m in user.memberships] == ["和合社区"]
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert actions == {"user.create", "community.create"}


def test_users_create_joins_an_existing_community_without_a_second_one(runner, factories):
    factories.make_community("Hehe")
    result = create(
        runner,
        "a@example.org",
        "--name",
        "王芳",
        "--role",
        "resident",
        "--community",
        "Hehe",
        "--representative",
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count(Community.id))) == 1
    membership = db.session.scalar(select(Membership))
    assert membership.is_representative is True


def test_users_create_without_password_makes_an_account_that_cannot_sign_in(runner):
    result = create(runner, "b@example.org", "--name", "赵强", "--role", "resident")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User))
    assert user.password_hash is None
    assert user.check_password("") is False


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["dup@example.org", "--name", "刘洋", "--role", "resident"], ["already exists"]),
        (["DUP@example.org", "--name", "刘洋", "--role", "resident"], ["already exists"]),
        (["new@example.org", "--name", "刘洋", "--role", "mayor"], ["unknown role", "mayor"]),
        (["not-an-email", "--name", "刘洋", "--role", "resident"], ["not an email"]),
        (["a@@example.org", "--name", "刘洋", "--role", "resident"], ["not an email"]),
        (["new@example.org", "--name", "", "--role", "resident"], ["name"]),
        (["new@example.org", "--name", "   ", "--role", "resident"], ["name"]),
        (["new@example.org", "--name", "x" * 121, "--role", "resident"], ["120"]),
        (
            ["new@example.org", "--name", "刘洋", "--role", "resident", "--password", "short"],
            ["8 characters"],
        ),
        (
            ["new@example.org", "--name", "刘洋", "--role", "resident", "--community", " "],
            ["community"],
        ),
        (["new@example.org", "--name", "a\tb", "--role", "resident"], ["control character"]),
        (["new@example.org", "--name", "a\udcffb", "--role", "resident"], ["control character"]),
        (
            ["new@example.org", "--name", "刘洋", "--role", "resident", "--representative"],
            ["needs a community"],
        ),
        (["n\udcff@example.org", "--name", "刘洋", "--role", "resident"], ["not an email"]),
    ],
    ids=[
        "duplicate",
        "duplicate-other-case",
        "unknown-role",
        "malformed-email",
        "double-at",
        "empty-name",
        "blank-name",
        "long-name",
        "short-password",
        "blank-community",
        "tab-in-name",
        "not-utf8-name",
        "representative-nowhere",
        "not-utf8-email",
    ],
)
def test_users_create_refuses_bad_input_and_writes_nothing(runner, factories, args, words):
    factories.make_user(email="dup@example.org", community="Hehe")
    before = counts()
    result = create(runner, *args)
    assert_refused(result, *words)
    db.session.rollback()
    assert counts() == before


def test_a_refused_user_does_not_leave_a_new_community_behind(runner, factories):
    factories.make_user(email="dup@example.org", community="Hehe")
    result = create(
        runner,
        "dup@example.org",
        "--name",
        "周杰",
        "--role",
        "resident",
        "--community",
        "Brand new",
    )
    assert_refused(result, "already exists")
    assert db.session.scalar(select(Community.id).where(Community.name == "Brand new")) is None


def test_tokens_create_prints_a_working_token_as_the_last_line(runner, factories, client):
    user = factories.make_user(email="cadre@example.org", role="cadre")
    result = runner.invoke(args=["tokens", "create", "CADRE@example.org", "--name", "grid"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    row = db.session.scalar(select(ApiToken))
    # Stored hashed: the secret itself is nowhere in the database.
    assert row.token_hash == hash_token(token) != token
    assert (row.user_id, row.name) == (user.id, "grid")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["email"] == "cadre@example.org"


def test_tokens_create_refuses_an_unknown_email(runner, factories):
    factories.make_user(email="someone@example.org")
    result = runner.invoke(args=["tokens", "create", "nobody@example.org"])
    assert_refused(result, "nobody@example.org")
    assert db.session.scalar(select(func.count(ApiToken.id))) == 0


def test_tokens_create_refuses_an_email_that_is_not_utf8(runner, factories):
    factories.make_user(email="someone@example.org")
    assert_refused(runner.invoke(args=["tokens", "create", "some\udcffone@example.org"]))


def test_tokens_create_refuses_a_deactivated_account(runner, factories):
    user = factories.make_user(email="gone@example.org")
    user.active = False
    db.session.commit()
    result = runner.invoke(args=["tokens", "create", "gone@example.org"])
    assert_refused(result, "deactivated")
    assert db.session.scalar(select(func.count(ApiToken.id))) == 0


# -- a database that cannot answer: one line, not a traceback --------------------------


def unmigrated_app(url: str):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": True,
            "SECRET_KEY": "test",
            "RATELIMIT_ENABLED": False,
        }
    )


@pytest.mark.parametrize(
    "args",
    [
        ["users", "create", "a@example.org", "--name", "陈静", "--role", "resident"],
        ["tokens", "create", "a@example.org"],
    ],
    ids=["users-create", "tokens-create"],
)
def test_commands_on_a_database_never_migrated_say_so_in_one_line(tmp_path, args):
    application = unmigrated_app(f"sqlite:///{tmp_path / 'empty.db'}")
    result = application.test_cli_runner().invoke(args=args)
    assert_refused(result, "db upgrade", "no such table")


@pytest.mark.skipif(not PG_URL, reason="CONSULT_TEST_DATABASE_URL is not set (PostgreSQL)")
def test_commands_on_an_unmigrated_postgresql_database_say_so_in_one_line():
    server = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"consult_admin_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        application = unmigrated_app(server.set(database=name).render_as_string(False))
        result = application.test_cli_runner().invoke(
            args=["users", "create", "a@example.org", "--name", "陈静", "--role", "resident"]
        )
        assert_refused(result, "db upgrade")
        with application.app_context():
            db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_commands_against_an_unreachable_server_say_so_in_one_line():
    # Nothing listens on port 1: the connection is refused at once.
    application = unmigrated_app("postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = application.test_cli_runner().invoke(args=["tokens", "create", "a@example.org"])
    assert_refused(result, "database error")


@pytest.mark.real_commits  # a subprocess reads the database
def test_the_real_command_line_prints_one_line_and_exits_1(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'never-migrated.db'}",
        "SECRET_KEY": "test",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "wsgi",
            "users",
            "create",
            "a@example.org",
            "--name",
            "陈静",
            "--role",
            "resident",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: The database has no tables yet (no such table: users); "
        "run `flask --app wsgi db upgrade` first."
    ]
    assert done.stdout == ""
