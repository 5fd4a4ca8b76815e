"""`flask channels add|list|remove` (README, "Group-chat notices")."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from consult.cli import cli_errors, fail
from consult.enums import ChannelKind
from consult.extensions import db
from consult.notices.models import Channel
from consult.notices.operations import add_channel, remove_channel
from consult.transactions import run_write


@click.group("channels", help="Manage the group-chat robots, webhooks and SMS gateways.")
def channels_cli() -> None:
    pass


@channels_cli.command("add")
@click.option("--community", default=None, help="Community name (omitted: the whole town).")
@click.option("--kind", required=True, help=f"One of: {', '.join(ChannelKind)}.")
@click.option("--url", required=True, help="The robot's webhook address (kept secret).")
@click.option("--secret", default=None, help="The signing secret (DingTalk, Feishu, ...).")
@click.option("--language", default=None, help="Language of the notices (default: zh_CN).")
@click.option("--name", default=None, help="A label, e.g. the group chat's name.")
@click.option(
    "--template",
    default=None,
    help="SMS: reminder text with {title}, {time}, {place}, {link}, {name}.",
)
@with_appcontext
@cli_errors
def add_command(community, kind, url, secret, language, name, template) -> None:
    """Add a notice channel; print its id as the last line."""
    data = {
        "community": community,
        "kind": kind,
        "url": url,
        "secret": secret,
        "language": language,
        "name": name,
        "template": template,
    }
    channel = run_write(lambda: add_channel(data, None))
    where = channel.community.name if channel.community else _("the whole town")
    click.echo(
        _(
            "Added %(kind)s channel for %(where)s: %(url)s",
            kind=channel.kind,
            where=where,
            url=channel.masked_url,
        )
    )
    click.echo(channel.id)


@channels_cli.command("list")
@with_appcontext
@cli_errors
def list_command() -> None:
    """List the channels (addresses and secrets masked)."""
    channels = db.session.scalars(
        select(Channel).options(joinedload(Channel.community)).order_by(Channel.id)
    ).all()
    if not channels:
        click.echo(_("No channel."))
        return
    for c in channels:
        where = c.community.name if c.community else _("(town)")
        secret = c.masked_secret or "-"
        click.echo(f"{c.id}\t{c.kind}\t{where}\t{c.language}\t{c.masked_url}\t{secret}\t{c.name}")


@channels_cli.command("remove")
@click.argument("channel_id", type=click.IntRange(1, 2**31 - 1))
@with_appcontext
@cli_errors
def remove_command(channel_id) -> None:
    """Remove channel CHANNEL_ID (its waiting notices are marked failed)."""

    def work() -> None:
        channel = db.session.get(Channel, channel_id)
        if channel is None:
            fail(_("No channel %(id)s.", id=channel_id))
        remove_channel(channel, None)

    run_write(work)
    click.echo(_("Removed channel %(id)s.", id=channel_id))
