"""What every command of the command line shares: refusals as one line, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NoReturn

import click
from flask import current_app
from flask_babel import force_locale
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from consult.errors import RefusedInput
from consult.transactions import rollback

#: SQLSTATE of PostgreSQL's "relation does not exist".
UNDEFINED_TABLE = "42P01"


class CommandError(click.ClickException):
    """A refusal of the command line: printed as "Error: <message>", exit status 1."""


def fail(message: str) -> NoReturn:
    """Undo what the command started, print one line on stderr and exit non-zero."""
    rollback()
    raise CommandError(one_line(message))


def one_line(text: str) -> str:
    """Return the first non-blank line of ``text`` (database messages span several)."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def describe_database_error(exc: SQLAlchemyError) -> str:
    """Say in one line what the database refused, and what to do about a new database."""
    orig = getattr(exc, "orig", None)
    detail = one_line(orig if orig is not None else exc) or type(exc).__name__
    sqlstate = getattr(orig, "sqlstate", None)
    if "no such table" in detail or sqlstate == UNDEFINED_TABLE:
        return (
            f"The database has no tables yet ({detail}); run `flask --app wsgi db upgrade` first."
        )
    if isinstance(exc, IntegrityError):
        return f"The database refused the change: {detail}"
    return f"Database error: {detail}"


def cli_errors(command: Callable) -> Callable:
    """Turn refused input and database errors into one line on stderr and exit status 1.

    Whatever the command had written is rolled back. Messages are in the default
    language (a command has no browser to ask). Put it under ``with_appcontext`` (or use
    it on an ``AppGroup`` command) so that the database session exists.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            try:
                return command(*args, **kwargs)
            except RefusedInput as exc:
                rollback()
                raise CommandError(one_line(exc.message)) from None
            except SQLAlchemyError as exc:
                rollback()
                raise CommandError(describe_database_error(exc)) from None
            except UnicodeEncodeError:
                # An argument held bytes that are not UTF-8 (the shell passes them through).
                rollback()
                raise CommandError("An argument is not valid UTF-8 text.") from None

    return wrapper
