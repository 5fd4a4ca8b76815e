"""Administration of notice channels and of the outbox (mail and notices)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from consult.community import queries as community_queries
from consult.enums import OutboxStatus, OutboxTransport
from consult.errors import RefusedInput, refuse_on
from consult.extensions import db
from consult.i18n import default_language
from consult.lists import page_arg, paginate
from consult.mail.models import OutboxMessage
from consult.notices.forms import ChannelForm
from consult.notices.models import Channel
from consult.notices.operations import add_channel, remove_channel, resend_message
from consult.permissions import require
from consult.transactions import rollback

bp = Blueprint("notices", __name__, url_prefix="/admin")

PER_PAGE = 50


@bp.before_request
def admins_only():
    """Send anonymous visitors to sign in; refuse everyone but administrators."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    require(current_user, "admin.manage")
    return None


@bp.route("/channels")
def channels():
    """List the notice channels, addresses and secrets masked."""
    rows = db.session.scalars(
        select(Channel).options(joinedload(Channel.community)).order_by(Channel.id)
    ).all()
    return render_template(
        "notices/channels.html",
        channels=rows,
        form=ChannelForm(
            community_queries.community_choices(),
            current_app.config["LANGUAGES"],
            default_language(),
        ),
    )


@bp.route("/channels/new", methods=["GET", "POST"])
def channel_new():
    """Add a group robot, a JSON webhook or an SMS gateway."""
    form = ChannelForm(
        community_queries.community_choices(), current_app.config["LANGUAGES"], default_language()
    )
    if form.validate_on_submit():
        try:
            channel = add_channel(form.to_data(), current_user)
        except RefusedInput as exc:
            refuse_on(form, exc)
        else:
            flash(_("Channel added."), "success")
            return redirect(url_for(".channels") + f"#channel-{channel.id}")
    return render_template("notices/channel_new.html", form=form)


@bp.route("/channels/<id:channel_id>/remove", methods=["POST"])
def channel_remove(channel_id):
    """Remove a channel; notices still waiting for it are marked failed."""
    channel = db.get_or_404(Channel, channel_id)
    remove_channel(channel, current_user)
    flash(_("Channel removed."), "success")
    return redirect(url_for(".channels"))


@bp.route("/outbox")
def outbox():
    """List the outbox: mail and notices, what waits, what went and what failed."""
    status = request.args.get("status")
    transport = request.args.get("transport")
    query = (
        select(OutboxMessage)
        .options(joinedload(OutboxMessage.channel))
        .order_by(OutboxMessage.id.desc())
    )
    if status in OutboxStatus:
        query = query.where(OutboxMessage.status == status)
    if transport in OutboxTransport:
        query = query.where(OutboxMessage.transport == transport)
    page = paginate(query, page_arg(), PER_PAGE)
    return render_template(
        "notices/outbox.html",
        page=page,
        status=status,
        transport=transport,
        statuses=OutboxStatus,
        transports=OutboxTransport,
    )


@bp.route("/outbox/<id:message_id>/resend", methods=["POST"])
def outbox_resend(message_id):
    """Queue a failed message again (the next delivery run sends it)."""
    message = db.get_or_404(OutboxMessage, message_id)
    try:
        resend_message(message, current_user)
    except RefusedInput as exc:
        rollback()
        flash(exc.message, "danger")
    else:
        flash(_("The message is queued again."), "success")
    return redirect(url_for(".outbox", status=request.args.get("status") or None))
