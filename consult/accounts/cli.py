"""`flask users create` and `flask tokens create` (README, "Command line")."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from consult.accounts.models import User
from consult.accounts.operations import create_api_token, create_user, normalise_email
from consult.cli import cli_errors, fail
from consult.enums import Role
from consult.extensions import db
from consult.transactions import run_write


@click.group("users", help="Manage accounts.")
def users_cli() -> None:
    pass


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Full name, as shown to others.")
@click.option("--role", required=True, help=f"One of: {', '.join(Role)}.")
@click.option("--password", default=None, help="Password for signing in (optional).")
@click.option("--community", default=None, help="Community the user belongs to (created if new).")
@click.option("--representative", is_flag=True, help="Mark as a residents' representative.")
@with_appcontext
@cli_errors
def create_user_command(email, name, role, password, community, representative) -> None:
    """Create a user."""
    data = {
        "email": email,
        "name": name,
        "role": role,
        "password": password,
        "community": community,
        "representative": representative,
    }
    user = run_write(lambda: create_user(data))
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")


@click.group("tokens", help="Manage API tokens.")
def tokens_cli() -> None:
    pass


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", default=None, help="A label for the token.")
@with_appcontext
@cli_errors
def create_token_command(email, name) -> None:
    """Print a new API token for EMAIL as the last line of output."""

    def work():
        user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
        if user is None:
            fail(f"No user with email {email}.")
        return user, create_api_token(user, name)

    user, token = run_write(work)
    click.echo(f"API token for {user.email} (shown once, keep it secret):")
    click.echo(token)
