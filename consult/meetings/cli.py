"""`flask sessions extend`: make the rows of every series' occurrences up to the horizon."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import with_appcontext

from consult.meetings import operations
from consult.transactions import run_write
from consult.types import utcnow


@click.group("sessions", help="Sessions and series.")
def sessions_cli() -> None:
    pass


@sessions_cli.command("extend")
@click.option(
    "--days",
    type=click.IntRange(1, 3660),
    default=None,
    help="Horizon in days from now (default: SERIES_HORIZON_DAYS, 183).",
)
@with_appcontext
def extend_command(days) -> None:
    """Make every active series' occurrences exist as sessions up to the horizon.

    Run it daily from cron, e.g. `15 3 * * * cd /srv/consult && flask --app wsgi sessions extend`.
    """
    horizon = utcnow() + timedelta(days=days or operations.horizon_days())
    made = run_write(lambda: operations.extend_all_series(horizon))
    click.echo(f"{made} occurrences made, up to {horizon:%Y-%m-%d}.")
