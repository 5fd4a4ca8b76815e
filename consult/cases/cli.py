"""`flask --app wsgi cases import FILE`: the grid platform's export."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from consult.cases.importer import import_export
from consult.cli import cli_errors, fail
from consult.transactions import run_write


@click.group("cases", help="Resident cases.")
def cases_cli() -> None:
    pass


@cases_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
@cli_errors
def import_command(path) -> None:
    """Import FILE (the grid platform's CSV export): every row, or none."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        fail(f"Cannot read {path}: {exc.strerror}")
    result = run_write(
        lambda: import_export(raw, current_app.config["CONSULT_TIMEZONE"], None)
    )
    click.echo(f"{len(result.new)} new, {result.already} already imported.")
