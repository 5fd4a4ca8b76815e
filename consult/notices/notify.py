"""Notices caused by changes to sessions and minutes, queued in the outbox.

Each function is called by an operation inside its transaction, after the change is
flushed; it only adds outbox rows (transport "channel"), one per channel, in the
channel's language. Delivery is `flask mail send` or the worker, so an unreachable
robot never holds up the change. Private sessions are never posted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from consult.enums import ChannelKind, RegistrationStatus, SessionStatus, Visibility
from consult.extensions import db
from consult.mail.models import OutboxMessage
from consult.mail.reminders import claim_reminder
from consult.meetings.models import Meeting, Registration, Series
from consult.notices import content
from consult.notices.content import Notice
from consult.notices.models import Channel
from consult.types import utcnow

#: Channels that post to a group chat (an SMS gateway texts one person at a time).
GROUP_KINDS = ("wecom", "dingtalk", "feishu", "webhook")


def group_channels(community_id: int) -> list[Channel]:
    """The channels of a community and the town-wide ones, oldest first."""
    return list(
        db.session.scalars(
            select(Channel)
            .where(
                Channel.kind.in_(GROUP_KINDS),
                or_(Channel.community_id == community_id, Channel.community_id.is_(None)),
            )
            .order_by(Channel.id)
        )
    )


def queue_notice(channel: Channel, notice: Notice, recipients: str = "") -> OutboxMessage:
    """Add a notice for ``channel`` to the outbox (flushed, never committed)."""
    row = OutboxMessage(
        transport="channel",
        channel_id=channel.id,
        kind=notice.event[:30],
        recipients=recipients,
        subject=notice.title[:255],
        body=json.dumps(notice.as_dict(), ensure_ascii=False),
        meeting_id=notice.session,
        status="queued",
        attempts=0,
        next_attempt_at=utcnow(),
    )
    db.session.add(row)
    return row


def _post(community_id: int, build: Callable[[str], Notice]) -> int:
    """Queue the notice ``build(language)`` for every group channel; return how many."""
    by_language: dict[str, Notice] = {}
    channels = group_channels(community_id)
    for channel in channels:
        notice = by_language.get(channel.language)
        if notice is None:
            notice = by_language[channel.language] = build(channel.language)
        queue_notice(channel, notice)
    if channels:
        db.session.flush()
    return len(channels)


def _public(meeting: Meeting) -> bool:
    return meeting.visibility == Visibility.PUBLIC


def session_created(meeting: Meeting) -> int:
    """Post a new one-off session."""
    if not _public(meeting):
        return 0
    return _post(meeting.community_id, lambda lang: content.session_created(meeting, lang))


def series_created(series: Series, first: Meeting) -> int:
    """Post a new series (with its first session's link)."""
    if series.visibility != Visibility.PUBLIC or first is None:
        return 0
    return _post(series.community_id, lambda lang: content.series_created(series, first, lang))


def session_changed(
    meeting: Meeting, old_starts: datetime, old_ends: datetime, old_venue: str | None
) -> int:
    """Post a change of a session's time or place."""
    if not _public(meeting):
        return 0
    return _post(
        meeting.community_id,
        lambda lang: content.session_changed(meeting, lang, old_starts, old_ends, old_venue),
    )


def session_cancelled(meeting: Meeting) -> int:
    """Post a cancelled session (one occurrence of a series included)."""
    if not _public(meeting):
        return 0
    return _post(meeting.community_id, lambda lang: content.session_cancelled(meeting, lang))


def series_cancelled(series: Series, cancelled: int) -> int:
    """Post a cancelled series, naming how many coming sessions it takes away."""
    if series.visibility != Visibility.PUBLIC:
        return 0
    first = db.session.scalar(
        select(Meeting)
        .where(Meeting.series_id == series.id, Meeting.starts_at > utcnow())
        .order_by(Meeting.starts_at)
    ) or db.session.scalar(
        select(Meeting).where(Meeting.series_id == series.id).order_by(Meeting.starts_at)
    )
    if first is None:
        return 0
    return _post(
        series.community_id, lambda lang: content.series_cancelled(series, first, cancelled, lang)
    )


def minutes_published(meeting: Meeting) -> int:
    """Post published minutes: each resolution, its vote and the cases it closed."""
    if not _public(meeting):
        return 0
    from consult.minutes.queries import agenda_items

    items = agenda_items(meeting)
    return _post(meeting.community_id, lambda lang: content.minutes_published(meeting, items, lang))


# -- SMS reminders ---------------------------------------------------------------------


def sms_channel(community_id: int) -> Channel | None:
    """The community's SMS gateway, else the town's."""
    return db.session.scalar(
        select(Channel)
        .where(
            Channel.kind == ChannelKind.SMS,
            or_(Channel.community_id == community_id, Channel.community_id.is_(None)),
        )
        .order_by(Channel.community_id.is_(None), Channel.id)
    )


def queue_due_sms_reminders(now: datetime | None = None) -> int:
    """Queue an SMS reminder to each confirmed desk sign-up (a phone number, no account)
    whose session comes within the reminder lead; return how many.

    Like mail reminders, each registration is claimed by a conditional UPDATE of
    ``reminder_sent_at`` first, so two runs at once never text anyone twice. The
    caller commits.
    """
    from consult.mail.reminders import reminder_lead

    now = now or utcnow()
    due = db.session.execute(
        select(Registration.id, Meeting.community_id)
        .join(Meeting, Meeting.id == Registration.meeting_id)
        .where(
            Registration.user_id.is_(None),
            Registration.phone.is_not(None),
            Registration.status == RegistrationStatus.CONFIRMED,
            Registration.reminder_sent_at.is_(None),
            Meeting.status == SessionStatus.SCHEDULED,
            Meeting.starts_at > now,
            Meeting.starts_at <= now + reminder_lead(),
        )
        .order_by(Meeting.starts_at, Registration.id)
    ).all()
    queued = 0
    gateways: dict[int, Channel | None] = {}
    for registration_id, community_id in due:
        if community_id not in gateways:
            gateways[community_id] = sms_channel(community_id)
        channel = gateways[community_id]
        if channel is None:
            continue
        if not claim_reminder(registration_id, now):
            continue
        registration = db.session.scalar(
            select(Registration)
            .where(Registration.id == registration_id)
            .options(joinedload(Registration.meeting).joinedload(Meeting.venue))
        )
        meeting = registration.meeting
        text = content.reminder_text(channel.template, registration, channel.language)
        notice = Notice(
            "reminder",
            meeting.title,
            [text],
            content.session_link(meeting.id),
            meeting.id,
            None,
            text,
        )
        queue_notice(channel, notice, recipients=registration.phone)
        queued += 1
    db.session.flush()
    return queued
