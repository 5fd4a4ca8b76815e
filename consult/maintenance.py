"""`flask analyse`: gather the query planner's statistics (README, "Deploying").

A database just filled (a migration, an import, `demo load`) has none until PostgreSQL's
autovacuum gets to it, and the planner then guesses: queries of a few milliseconds take
hundreds. ANALYZE reads a sample of every table; it takes seconds even for a large town.

On PostgreSQL it also compacts the communities' table (``compact_counters``): its few
rows hold the change counters that every write raises, and a load in one transaction
leaves a dead version of each row per statement (some 1,100 at scale 100, 134 pages for
8 rows), which every request reading the counters then scans until a vacuum comes by.
"""

from __future__ import annotations

import logging

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from consult.cli import cli_errors
from consult.extensions import db
from consult.transactions import run_write

log = logging.getLogger(__name__)


def analyse_database() -> None:
    """Update the planner's statistics of every table (PostgreSQL and SQLite alike), in
    a write of its own, and compact the change counters' table (PostgreSQL)."""
    run_write(lambda: db.session.execute(text("ANALYZE")))
    compact_counters()


#: How long the rewrite waits for the communities' table (readers queue behind it).
COMPACT_LOCK_WAIT = "200ms"


def compact_counters() -> None:
    """Rewrite the communities' table without its dead row versions (PostgreSQL; SQLite
    updates rows in place). VACUUM runs outside any transaction; the table is a few rows
    and is locked for the moment of its rewrite. When a transaction holds it longer than
    COMPACT_LOCK_WAIT, it is left as it is (autovacuum frees its dead versions later)."""
    if db.engine.url.get_backend_name() != "postgresql":
        return
    db.session.close()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"SET lock_timeout = '{COMPACT_LOCK_WAIT}'"))
        try:
            conn.execute(text("VACUUM (FULL, ANALYZE) communities"))
        except OperationalError:
            log.warning("the communities' table is in use: not compacted")
        finally:
            conn.execute(text("RESET lock_timeout"))


@click.command("analyse")
@with_appcontext
@cli_errors
def analyse_command() -> None:
    """Update the query planner's statistics (after loading or importing much data)."""
    analyse_database()
    click.echo(
        _("Planner statistics updated (%(engine)s).", engine=db.engine.url.get_backend_name())
    )
