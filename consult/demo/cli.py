"""`flask demo load`: fill an empty database with the demo town (README, "Quick start")."""

from __future__ import annotations

import re

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from consult.cli import cli_errors, fail
from consult.demo.builder import SHARED_PASSWORD, DemoError, database_is_empty, load_demo
from consult.maintenance import compact_counters
from consult.transactions import run_write

#: Larger towns take minutes and are of no use for a demonstration or a load test.
MAX_SCALE = 100


@click.group("demo", help="The demo town.")
def demo_cli() -> None:
    pass


def parse_scale(raw: str) -> int:
    """Return the --scale value as an integer from 1 to MAX_SCALE, or fail with one line."""
    text = raw.strip()
    if not re.fullmatch(r"[0-9]+", text) or not 1 <= int(text) <= MAX_SCALE:
        fail(
            _(
                "--scale must be a whole number from 1 to %(max)s, not %(value)r.",
                max=MAX_SCALE,
                value=raw,
            )
        )
    return int(text)


@demo_cli.command("load")
@click.option(
    "--scale",
    default="1",
    metavar="N",
    help="Multiply every volume (units, people, sessions, cases) by N.",
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="Do nothing, successfully, when the database already holds data.",
)
@with_appcontext
@cli_errors
def load_command(scale: str, if_empty: bool) -> None:
    """Fill an empty database with the demo town and print its demo accounts."""
    n = parse_scale(scale)

    def work():
        # Inside the write boundary: SQLite's write lock is taken first, so that two
        # loads cannot both find the database empty.
        if not database_is_empty():
            if if_empty:
                return None
            fail(
                _(
                    "The database is not empty (it holds communities, sessions or cases); "
                    "the demo town loads only into an empty database."
                )
            )
        try:
            return load_demo(n)
        except DemoError as exc:
            fail(str(exc))

    result = run_write(work)
    if result is not None:
        # The load raised the change counters once per statement, in one transaction.
        compact_counters()
    if result is None:
        click.echo(_("The database already holds data (the demo town is loaded): nothing to do."))
        return
    counts = result.counts
    click.echo(
        _(
            "Loaded the demo town (scale %(scale)s): %(communities)s communities, "
            "%(units)s units, %(users)s accounts, %(sessions)s sessions, "
            "%(cases)s cases.",
            scale=n,
            **{k: counts[k] for k in ("communities", "units", "users", "sessions", "cases")},
        )
    )
    click.echo(_("Demo accounts (role: email password):"))
    for role, email, password in result.accounts:
        click.echo(f"{role}: {email} {password}")
    click.echo(
        _(
            "Every other demo account signs in with the password %(password)s.",
            password=SHARED_PASSWORD,
        )
    )
