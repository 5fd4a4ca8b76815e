"""`flask mail send` (API.md)."""

from __future__ import annotations

import click


@click.group("mail", help="Deliver queued mail.")
def mail_cli() -> None:
    pass
