"""`flask mail send`, `flask mail worker`, `flask mail rq-worker` and `flask mail receive`
(README, "Command line")."""

from __future__ import annotations

import signal
import sys
import time

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from consult.attendance.operations import hold_started_sessions
from consult.extensions import db
from consult.mail.delivery import (
    DeliveryReport,
    MailNotConfigured,
    MailServerUnavailable,
    deliver,
    waiting_count,
)
from consult.mail.reminders import queue_due_reminders
from consult.notices.delivery import deliver_notices
from consult.notices.notify import queue_due_sms_reminders
from consult.transactions import rollback, run_write


def _fail(message: str) -> None:
    """Print one line on stderr and exit non-zero."""
    rollback()
    click.echo(f"Error: {' '.join(message.split())}", err=True)
    raise SystemExit(1)


def _queue_reminders() -> int:
    """Queue the reminders that are due, in a transaction of their own; sessions that
    have started with someone checked in early become held in the same stroke."""

    def work() -> int:
        hold_started_sessions()
        return queue_due_reminders() + queue_due_sms_reminders()

    return run_write(work)


def _summary(report: DeliveryReport) -> str:
    parts = [f"{report.sent} sent"]
    if report.retrying:
        parts.append(f"{report.retrying} to retry later")
    if report.failed:
        parts.append(f"{report.failed} failed")
    return ", ".join(parts)


@click.group("mail", help="Deliver queued mail.")
def mail_cli() -> None:
    pass


@mail_cli.command("send")
@with_appcontext
def send_command() -> None:
    """Queue due reminders, then deliver every queued message now.

    Exits 0 when everything went out (or nothing was queued), non-zero with a one-line
    reason otherwise; undelivered messages stay queued. Run it every minute, e.g. from
    cron: `* * * * * cd /srv/consult && .venv/bin/flask --app wsgi mail send`.
    """
    try:
        _send()
    except SQLAlchemyError as exc:
        _fail(f"database error: {getattr(exc, 'orig', None) or exc}")


def _send() -> None:
    reminders = _queue_reminders()
    if reminders:
        click.echo(f"Queued {reminders} reminder(s).")
    notices = None
    if waiting_count(transport="channel"):
        notices = deliver_notices(due_only=False)
        click.echo(f"Notices: {_summary(notices)}.")
    waiting = waiting_count()
    if not waiting:
        if notices is None:
            click.echo("No mail to send.")
        _notices_delivered(notices)
        return
    try:
        report = deliver(due_only=False)
    except MailNotConfigured as exc:
        _fail(f"{waiting} message(s) queued, but {exc}; they stay queued.")
    except MailServerUnavailable as exc:
        _fail(f"{exc}; {waiting} message(s) stay queued.")
    click.echo(f"Mail: {_summary(report)}.")
    if not report.ok:
        reason = report.errors[0] if report.errors else "the mail server refused some messages"
        _fail(f"not every message was delivered ({_summary(report)}): {reason}.")
    _notices_delivered(notices)


def _notices_delivered(report: DeliveryReport | None) -> None:
    """Exit non-zero when a channel did not take every notice (they stay queued)."""
    if report is not None and not report.ok:
        reason = report.errors[0] if report.errors else "a channel refused some notices"
        _fail(f"not every notice was delivered ({_summary(report)}): {reason}.")


@mail_cli.command("worker")
@click.option(
    "--interval",
    default=60,
    show_default=True,
    type=click.IntRange(1, 86400),
    help="Seconds between two rounds.",
)
@click.option("--once", is_flag=True, help="Run one round and stop.")
@with_appcontext
def worker_command(interval: int, once: bool) -> None:
    """Every INTERVAL seconds: queue due reminders and deliver the messages that are due."""
    stopping = False

    def _stop(signum, frame):
        nonlocal stopping
        stopping = True

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        while True:
            _round()
            if once or stopping:
                return
            deadline = time.monotonic() + interval
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(1.0, deadline - time.monotonic()))
            if stopping:
                return
    finally:
        signal.signal(signal.SIGTERM, previous)


def _round() -> None:
    """Queue due reminders and deliver what is due; report problems on stderr."""
    try:
        _queue_reminders()
        notices = deliver_notices(due_only=True)
        if notices.sent or not notices.ok:
            click.echo(f"Notices: {_summary(notices)}.")
        report = deliver(due_only=True)
        if report.sent or not report.ok:
            click.echo(f"Mail: {_summary(report)}.")
    except (MailNotConfigured, MailServerUnavailable) as exc:
        rollback()
        click.echo(f"Mail not delivered: {exc}.", err=True)
    except SQLAlchemyError as exc:
        # The database may be restarting: try again next round.
        rollback()
        click.echo(
            f"Mail not delivered: database error: {getattr(exc, 'orig', None) or exc}", err=True
        )
    finally:
        db.session.remove()


@mail_cli.command("rq-worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@click.option("--name", help="The worker's name in Redis (default: a new one).")
@with_appcontext
def rq_worker_command(burst: bool, name: str | None) -> None:
    """Deliver mail and notices as the job queue in Redis asks (MAIL_QUEUE=rq).

    Takes the jobs that writes put on the queue `consult-mail` of REDIS_URL, one at a
    time, until stopped (SIGTERM or SIGINT: the current job is finished first). Run as
    many as wanted, on any machine: each message is claimed in the database before it
    is sent, so none is sent twice. Due reminders and retries after a failure still come
    from `flask mail send` (cron) or one `flask mail worker`.
    """
    import redis
    from flask import current_app
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from consult.mail.queue import QUEUE_NAME, worker

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with force_locale(app.config["BABEL_DEFAULT_LOCALE"]):
        if app.config.get("MAIL_QUEUE") != "rq":
            _fail(
                _(
                    "MAIL_QUEUE is not rq: no job is queued for this worker; mail is "
                    "delivered by `flask mail send` or `flask mail worker`."
                )
            )
        try:
            runner = worker(app, name=name)
            runner.connection.ping()
        except (redis.RedisError, ValueError) as exc:
            _fail(_("the job queue cannot be reached: %(detail)s", detail=exc))
        click.echo(
            _(
                "Delivering jobs of the queue %(queue)s as %(name)s.",
                queue=QUEUE_NAME,
                name=runner.name,
            ),
            err=True,
        )
    # RQ's handlers stop the worker after its current job; the caller's come back after.
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        runner.work(burst=burst, logging_level="INFO")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        db.session.remove()


#: sysexits.h EX_TEMPFAIL: mail servers (Postfix, Exim, sendmail) keep the message and
#: deliver it to the pipe again later, instead of bouncing it.
EX_TEMPFAIL = 75


@mail_cli.command("receive")
@with_appcontext
def receive_command() -> None:
    """Read one mail message on standard input and record the calendar reply it carries.

    Meant for a mail server's pipe alias (README, "Calendar replies"). A REPLY from an
    invitee records their answer as the signed link does; anything else is logged and
    ignored (exit 0). Exit 75 (try again later) when the database cannot be reached.
    """
    from flask import current_app
    from flask_babel import force_locale, ngettext
    from flask_babel import gettext as _

    from consult.mail.receive import MAX_BYTES, record_replies

    raw = sys.stdin.buffer.read(MAX_BYTES + 1)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        try:
            answered = run_write(lambda: record_replies(raw))
        except SQLAlchemyError as exc:
            detail = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
            click.echo(
                _(
                    "Error: the database cannot be reached (%(detail)s); "
                    "the message will be delivered again.",
                    detail=detail,
                ),
                err=True,
            )
            raise SystemExit(EX_TEMPFAIL) from None
        click.echo(
            ngettext("%(num)d answer recorded.", "%(num)d answers recorded.", len(answered)),
            err=True,
        )
