"""`flask --app wsgi cases import FILE`: the grid platform's export."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _

from consult.cases.importer import import_export
from consult.cli import cli_errors, fail
from consult.transactions import run_write


@click.group("cases", help="Resident cases.")
def cases_cli() -> None:
    pass


@cases_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--community",
    default=None,
    help="Import into this community only: rows without one belong to it, rows "
    "naming another are refused.",
)
@with_appcontext
@cli_errors
def import_command(path, community) -> None:
    """Import FILE (the grid platform's export: CSV in UTF-8, GB18030/GBK or UTF-16, or
    .xlsx): every row, or none."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        fail(f"Cannot read {path}: {exc.strerror}")
    result = run_write(
        lambda: import_export(raw, current_app.config["CONSULT_TIMEZONE"], None, community)
    )
    click.echo(
        _(
            "%(new)d new, %(old)d already imported (read as %(encoding)s).",
            new=len(result.new),
            old=result.already,
            encoding=result.encoding,
        )
    )
