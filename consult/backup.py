"""`flask backup PATH`: a consistent copy of a live SQLite database (README, "Backups").

SQLite's online backup API copies the database page by page from a read transaction,
so the copy is the database as it was at one moment, while the site goes on writing
(WAL mode: readers and the writer do not block each other). PostgreSQL has its own
tool for that, pg_dump, and the command says so.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from consult.cli import cli_errors, fail
from consult.extensions import db


def backup_sqlite(source: str, target: Path) -> int:
    """Copy the SQLite database at ``source`` to ``target``; return its size in bytes.

    The copy is written beside ``target`` and renamed into place, so ``target`` is
    always either the previous backup or a whole new one; it is a single file
    (rollback journal, not WAL) whose integrity was checked.
    """
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            (verdict,) = dst.execute("PRAGMA integrity_check").fetchone()
        finally:
            dst.close()
    finally:
        src.close()
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise sqlite3.DatabaseError(f"the copy failed its integrity check: {verdict}")
    partial.replace(target)
    return target.stat().st_size


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_appcontext
@cli_errors
def backup_command(path: Path) -> None:
    """Write a consistent copy of the live SQLite database to PATH.

    On PostgreSQL, use pg_dump instead (the command says so and exits non-zero).
    """
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        fail(
            _(
                "The database is %(kind)s: back it up with pg_dump "
                "(for example pg_dump --format=custom --file=consult.dump DBNAME).",
                kind=url.get_backend_name(),
            )
        )
    source = url.database
    if not source or source == ":memory:" or not Path(source).is_file():
        fail(_("There is no SQLite database file to back up at %(path)s.", path=source or "-"))
    if Path(source).resolve() == path.resolve():
        fail(_("The backup cannot overwrite the database itself."))
    if not path.parent.is_dir():
        fail(_("No such folder: %(path)s", path=str(path.parent)))
    try:
        size = backup_sqlite(source, path)
    except (sqlite3.Error, OSError) as exc:
        fail(_("The backup failed: %(reason)s", reason=str(exc)))
    click.echo(
        _(
            "Backup of %(source)s written to %(path)s (%(size)d bytes).",
            source=source,
            path=str(path),
            size=size,
        )
    )
