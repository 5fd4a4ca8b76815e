"""`flask backup PATH`: a consistent copy while the site writes, and a restore from it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from consult import create_app
from consult.extensions import db

#: The backup reads the database through connections of its own.
pytestmark = pytest.mark.real_commits

ROOT = Path(__file__).resolve().parents[1]


def _migrated_sqlite(path: Path) -> str:
    url = f"sqlite:///{path}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "k"})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    return url


def _flask(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url, "SECRET_KEY": "k"}
    return subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


class Writer(threading.Thread):
    """Create accounts (an account and its membership in one transaction) until stopped."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.written = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        from consult.accounts.operations import create_user

        app = create_app({"SQLALCHEMY_DATABASE_URI": self.url, "TESTING": True, "SECRET_KEY": "k"})
        try:
            with app.app_context():
                while not self.stop.is_set():
                    create_user(
                        {
                            "email": f"writer{self.written}@example.org",
                            "name": f"居民{self.written}",
                            "role": "resident",
                            "community": "Hehe",
                        }
                    )
                    db.session.commit()
                    self.written += 1
                db.engine.dispose()
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            self.error = exc


def test_a_backup_taken_during_writes_restores_whole(tmp_path):
    url = _migrated_sqlite(tmp_path / "live.db")
    writer = Writer(url)
    writer.start()
    deadline = time.monotonic() + 30
    while writer.written < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.written >= 5, writer.error
    live = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "k"})
    runner = live.test_cli_runner()
    backups = []
    for n in range(3):
        target = tmp_path / f"backup-{n}.db"
        done = runner.invoke(args=["backup", str(target)])
        assert done.exit_code == 0, done.output
        assert str(target) in done.output
        backups.append(target)
        time.sleep(0.2)
    writer.stop.set()
    writer.join(timeout=30)
    assert writer.error is None, writer.error
    total = writer.written

    counts = []
    for target in backups:
        # A single self-contained file, sound, at the schema's head revision.
        assert not Path(f"{target}-wal").exists()
        with sqlite3.connect(target) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            users = conn.execute("SELECT count(*) FROM users").fetchone()[0]
            members = conn.execute("SELECT count(*) FROM memberships").fetchone()[0]
            # Never half a transaction: each account has its membership.
            assert users == members
            counts.append(users)
        # Restore: the copy is the database file of an application that works.
        restored = tmp_path / f"restored-{target.name}"
        restored.write_bytes(target.read_bytes())
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{restored}", "TESTING": True, "SECRET_KEY": "k"}
        )
        check = app.test_cli_runner().invoke(args=["db", "check"])
        assert check.exit_code == 0, check.output
        with app.app_context():
            from consult.accounts.models import User

            assert db.session.scalar(select(func.count(User.id))) == users
            db.engine.dispose()
        assert app.test_client().get("/healthz").status_code == 200
    assert 5 <= counts[0] <= counts[1] <= counts[2] <= total
    # The writes went on while the backups were taken.
    assert total > counts[0]


def test_a_backup_replaces_the_previous_one_whole(tmp_path):
    url = _migrated_sqlite(tmp_path / "live.db")
    target = tmp_path / "backup.db"
    target.write_text("an older backup")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "k"})
    done = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert done.exit_code == 0, done.output
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_a_backup_that_cannot_be_written_says_why_in_one_line(tmp_path):
    url = _migrated_sqlite(tmp_path / "live.db")
    done = _flask("backup", str(tmp_path / "missing-folder" / "backup.db"), database_url=url)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: No such folder: {tmp_path / 'missing-folder'}"
    ]
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "k"})
    itself = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "live.db")])
    assert itself.exit_code == 1 and "cannot overwrite the database" in itself.output


def test_on_postgresql_it_says_to_use_pg_dump(tmp_path):
    # No connection is needed to know the kind of database.
    done = _flask(
        "backup",
        str(tmp_path / "x.db"),
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/consult",
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pg_dump" in lines[0], done.stderr
    assert not (tmp_path / "x.db").exists()
