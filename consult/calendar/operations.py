"""Writes about calendars: feed tokens and invitations. Operations flush; the caller commits."""

from __future__ import annotations

from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from consult import audit
from consult.accounts.models import User, new_token
from consult.calendar.models import FeedToken
from consult.calendar.queries import alliance_units_among, series_with_occurrences
from consult.community.models import Unit
from consult.community.operations import community_by_name
from consult.enums import FeedScope
from consult.errors import RefusedInput
from consult.extensions import db
from consult.mail.compose import Recipient
from consult.mail.messages import Member, invitation_message
from consult.mail.notify import ACTIVE_REGISTRATIONS
from consult.mail.outbox import queue_message
from consult.meetings.models import Invitation, Meeting, Registration
from consult.types import utcnow

#: Most addresses one request may invite.
MAX_INVITEES = 500


class CalendarError(RefusedInput):
    """Refused input about feeds or invitations (message, field at fault, HTTP status)."""


# -- feeds -------------------------------------------------------------------------------


def create_feed(data: dict, user) -> tuple[FeedToken, str]:
    """Create a feed for ``user`` from {"scope": "mine"} or {"scope": "community",
    "community": name}; return it and its secret (shown once, stored hashed)."""
    scope = data.get("scope")
    if scope not in FeedScope:
        raise CalendarError(_l("Choose the feed's scope: mine or community."), "scope")
    community = None
    name = data.get("community")
    if scope == "community":
        if not isinstance(name, str) or not name.strip():
            raise CalendarError(_l("Name the community of the feed."), "community")
        community = community_by_name(name)
    elif name not in (None, ""):
        raise CalendarError(_l("Only community feeds name a community."), "community")
    token, token_hash = new_token()
    feed = FeedToken(
        user_id=user.id,
        scope=scope,
        community_id=community.id if community else None,
        token_hash=token_hash,
    )
    db.session.add(feed)
    db.session.flush()
    audit.record("feed.create", feed, user, scope=scope, community=getattr(community, "name", None))
    return feed, token


def revoke_feed(feed: FeedToken, user) -> None:
    """Revoke a feed: its URL answers 404 from now on."""
    if feed.revoked_at is None:
        feed.revoked_at = utcnow()
        db.session.flush()
        audit.record("feed.revoke", feed, user)


def rotate_feed(feed: FeedToken, user) -> tuple[FeedToken, str]:
    """Replace a feed by a new one with the same scope and a new secret; revoke the old."""
    revoke_feed(feed, user)
    data = {"scope": feed.scope}
    if feed.scope == "community":
        data["community"] = feed.community.name
    new, token = create_feed(data, user)
    audit.record("feed.rotate", new, user, replaces=feed.id)
    return new, token


# -- invitations -------------------------------------------------------------------------


def normalise_address(value) -> str:
    """Return a checked, lower-cased email address, or raise CalendarError."""
    if not isinstance(value, str) or not value.strip():
        raise CalendarError(_l("An email address is empty."), "emails")
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise CalendarError(
            _l("Not an email address: %(value)s", value=value.strip()[:254]), "emails"
        ) from None
    return checked.normalized.lower()


#: An address to invite: (email, name, account, unit).
Invitee = tuple[str, str | None, User | None, Unit | None]


def _unit_addresses(meeting: Meeting, unit_ids: Iterable[int]) -> list[Invitee]:
    unit_ids = list(unit_ids)
    allowed = alliance_units_among(meeting.community_id, unit_ids)
    out = []
    for unit_id in unit_ids:
        unit = allowed.get(unit_id)
        if unit is None:
            raise CalendarError(_l("That unit is not in this community's alliance."), "units")
        reps = db.session.scalars(
            select(User).where(User.unit_id == unit.id, User.active.is_(True)).order_by(User.id)
        ).all()
        if reps:
            out.extend((rep.email, rep.name, rep, unit) for rep in reps)
        elif unit.contact_email:
            out.append((unit.contact_email, unit.name, None, unit))
        else:
            raise CalendarError(
                _l("%(unit)s has no representative with an email address.", unit=unit.name),
                "units",
            )
    return out


def _registered_addresses(meeting: Meeting) -> list[Invitee]:
    rows = db.session.scalars(
        select(User)
        .join(Registration, Registration.user_id == User.id)
        .where(
            Registration.meeting_id == meeting.id,
            Registration.status.in_(ACTIVE_REGISTRATIONS),
            User.active.is_(True),
        )
        .order_by(Registration.created_at, Registration.id)
    ).all()
    return [(user.email, user.name, user, None) for user in rows]


def _existing_invitation(meeting: Meeting, email: str, whole_series: bool) -> Invitation | None:
    found = db.session.scalar(
        select(Invitation).where(Invitation.meeting_id == meeting.id, Invitation.email == email)
    )
    if found is not None or meeting.series_id is None or not whole_series:
        return found
    # A whole-series invitation may hang on another occurrence of the series.
    return db.session.scalar(
        select(Invitation)
        .join(Meeting, Meeting.id == Invitation.meeting_id)
        .where(
            Meeting.series_id == meeting.series_id,
            Invitation.email == email,
            Invitation.whole_series.is_(True),
        )
        .order_by(Invitation.id)
        .limit(1)
    )


def invite_people(meeting: Meeting, data: dict, user) -> list[Invitation]:
    """Invite people to a session and queue one invitation (METHOD:REQUEST) each.

    ``data``: "emails" (addresses), "units" (alliance unit ids: their representatives),
    "registered" (everyone signed up), "whole_series" (for an occurrence: the whole
    series; default true). An address already invited gets the invitation again,
    never a second row. Nothing is saved or queued when any input is refused.
    """
    closed = meeting.invitations_closed_reason()
    if closed == "cancelled":
        raise CalendarError(_l("This session is cancelled."), None, status=409)
    if closed == "over":
        raise CalendarError(_l("This session is over."), None, status=409)
    whole_series = meeting.series_id is not None and data.get("whole_series", True) is not False
    people: list[Invitee] = []
    typed = [normalise_address(value) for value in data.get("emails") or []]
    if typed:
        accounts = {
            u.email.lower(): u
            for u in db.session.scalars(select(User).where(func.lower(User.email).in_(typed)))
        }
        people.extend((email, None, accounts.get(email), None) for email in typed)
    people.extend(_unit_addresses(meeting, data.get("units") or []))
    if data.get("registered"):
        registered = _registered_addresses(meeting)
        if not registered:
            raise CalendarError(_l("Nobody has signed up for this session yet."), "registered")
        people.extend(registered)
    if not people:
        raise CalendarError(_l("Choose at least one person to invite."), "emails")

    invitations: dict[str, Invitation] = {}
    for email, name, account, unit in people:
        email = email.strip().lower()
        if email in invitations:
            continue
        if len(invitations) >= MAX_INVITEES:
            raise CalendarError(
                _l("At most %(n)d people can be invited at once.", n=MAX_INVITEES), "emails"
            )
        invitation = _existing_invitation(meeting, email, whole_series)
        if invitation is None:
            invitation = Invitation(
                meeting_id=meeting.id,
                email=email,
                partstat="NEEDS-ACTION",
                whole_series=whole_series,
            )
            db.session.add(invitation)
        invitation.whole_series = invitation.whole_series or whole_series
        invitation.invited_by_id = getattr(user, "id", None)
        if account is not None:
            invitation.user = account
            invitation.name = account.name
        elif name and not invitation.name:
            invitation.name = name
        if unit is not None:
            invitation.unit_id = unit.id
        invitations[email] = invitation
    db.session.flush()

    series = series_with_occurrences(meeting.series_id) if whole_series else None
    for invitation in invitations.values():
        recipient = Recipient(
            email=invitation.email,
            name=invitation.name,
            locale=invitation.user.locale if invitation.user is not None else None,
        )
        member = Member(recipient, invitation, None, invitation.whole_series)
        queue_message(invitation_message(meeting, member, series), "invitation", meeting.id)
    audit.record(
        "meeting.invite",
        meeting,
        user,
        invited=len(invitations),
        units=sorted({i.unit_id for i in invitations.values() if i.unit_id}),
        registered=bool(data.get("registered")),
    )
    return list(invitations.values())
