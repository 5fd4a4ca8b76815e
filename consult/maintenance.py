"""`flask analyse`: gather the query planner's statistics (README, "Deploying").

A database just filled (a migration, an import, `demo load`) has none until PostgreSQL's
autovacuum gets to it, and the planner then guesses: queries of a few milliseconds take
hundreds. ANALYZE reads a sample of every table; it takes seconds even for a large town.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy import text

from consult.cli import cli_errors
from consult.extensions import db
from consult.transactions import run_write


def analyse_database() -> None:
    """Update the planner's statistics of every table (PostgreSQL and SQLite alike), in
    a write of its own."""
    run_write(lambda: db.session.execute(text("ANALYZE")))


@click.command("analyse")
@with_appcontext
@cli_errors
def analyse_command() -> None:
    """Update the query planner's statistics (after loading or importing much data)."""
    analyse_database()
    click.echo(
        _("Planner statistics updated (%(engine)s).", engine=db.engine.url.get_backend_name())
    )
