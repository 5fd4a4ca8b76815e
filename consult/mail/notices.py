"""Short notices to people about their part: a place on a waiting list, a cancelled
sign-up, a new action, published minutes, a resolved concern, an issue to rate,
minutes waiting for approval, a concern raised by a resident.

Each function is called by an operation, inside its transaction, after the change is
flushed; it only adds OutboxMessage rows, each composed in its recipient's language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from babel.dates import format_date
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from consult.accounts.models import Membership, User
from consult.enums import Role
from consult.extensions import db
from consult.mail.compose import Recipient, compose, in_language, recipient_for_user, render_parts
from consult.mail.outbox import Composed, queue_message, queue_when_committed

#: (subject, paragraphs, link, label of the link), built in the recipient's language.
Notice = tuple[str, list[str], str | None, str | None]


def _base() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def signups_url() -> str:
    """The absolute address of one's own sign-ups page (mail links to it)."""
    return f"{_base()}/me/signups"


def _reachable(user) -> bool:
    return user is not None and bool(user.email) and user.active


def _composed(
    recipient: Recipient, kind: str, build: Callable[[str], Notice], meeting_id: int | None = None
) -> Composed:
    with in_language(recipient) as locale:
        subject, lines, url, link_label = build(locale)
        text, html = render_parts(
            "notice",
            recipient=recipient,
            subject=subject,
            lines=lines,
            url=url,
            link_label=link_label,
        )
    return compose(recipient, subject, text, html), kind, meeting_id


def _queue(
    recipient: Recipient, kind: str, build: Callable[[str], Notice], meeting_id: int | None = None
) -> None:
    queue_message(*_composed(recipient, kind, build, meeting_id))


def _for_users(
    users: Iterable,
    kind: str,
    build: Callable[[str], Notice],
    meeting_id: int | None = None,
    skip=None,
) -> list[Composed]:
    sent: set[int] = set()
    out = []
    for user in users:
        if not _reachable(user) or user.id in sent or (skip is not None and user.id == skip):
            continue
        sent.add(user.id)
        out.append(_composed(recipient_for_user(user), kind, build, meeting_id))
    return out


def _to_users(
    users: Iterable,
    kind: str,
    build: Callable[[str], Notice],
    meeting_id: int | None = None,
    skip=None,
) -> int:
    composed = _for_users(users, kind, build, meeting_id, skip)
    for item in composed:
        queue_message(*item)
    return len(composed)


def _session_date(meeting, locale: str) -> str:
    from consult.calendar.ics import local

    return format_date(local(meeting.starts_at, meeting.timezone).date(), "medium", locale=locale)


# -- sign-ups -------------------------------------------------------------------------


def waitlisted_message(registration, recipient: Recipient):
    """Compose the notice telling someone on a full session's waiting list their place
    in it (as it stands when the message is composed, at delivery)."""
    from consult.attendance.queries import waitlist_position

    meeting = registration.meeting
    position = waitlist_position(registration)

    def build(locale):
        return (
            _(
                "On the waiting list: %(title)s, %(date)s",
                title=meeting.title,
                date=_session_date(meeting, locale),
            ),
            [
                _(
                    "The session is full. You are number %(n)d on its waiting list; if a "
                    "place becomes free it is yours, and we write to you.",
                    n=position or 1,
                )
            ],
            signups_url(),
            _("My sign-ups"),
        )

    message, _kind, _meeting = _composed(recipient, "waitlisted", build, meeting.id)
    return message


def registration_waitlisted(registration) -> None:
    """Queue the notice of a place on the waiting list, in the sign-up's own transaction;
    it is composed when it is sent (``waitlisted_message``)."""
    from consult.mail.notify import queue_registration_mail

    queue_registration_mail(registration, "waitlisted")


def registration_cancelled(registration, actor) -> None:
    """Confirm a cancelled sign-up to the person it was for (composed once the
    cancellation is committed)."""
    from consult.mail.notify import still_registered

    registration_id, user_id = registration.id, registration.user_id
    if user_id is None:
        return
    by_self = actor is not None and actor.id == user_id
    by_name = getattr(actor, "name", "") or ""

    def compose_notice():
        current = still_registered(registration_id, user_id, "cancelled")
        if current is None:
            return []
        meeting = current.meeting

        def build(locale):
            if by_self:
                line = _("You cancelled your sign-up; your place goes to the next person waiting.")
            else:
                line = _(
                    "Your sign-up was cancelled by %(name)s.",
                    name=by_name or _("the organisers"),
                )
            return (
                _(
                    "Sign-up cancelled: %(title)s, %(date)s",
                    title=meeting.title,
                    date=_session_date(meeting, locale),
                ),
                [line],
                signups_url(),
                _("My sign-ups"),
            )

        return _for_users([current.user], "cancelled", build, meeting.id)

    queue_when_committed(compose_notice)


# -- accountability -------------------------------------------------------------------


def action_assigned(action, meeting) -> None:
    """Tell the unit's representatives (and the person named) of a new action."""
    people = []
    if action.assignee_id is not None:
        people.append(db.session.get(User, action.assignee_id))
    if action.unit_id is not None:
        people.extend(
            db.session.scalars(
                select(User)
                .where(
                    User.unit_id == action.unit_id,
                    User.role == Role.UNIT_REP,
                    User.active.is_(True),
                )
                .order_by(User.id)
            )
        )

    def build(locale):
        lines = [
            action.description,
            _(
                "Decided at: %(title)s, %(date)s",
                title=meeting.title,
                date=_session_date(meeting, locale),
            ),
        ]
        if action.due_on is not None:
            lines.append(
                _("Due on %(date)s", date=format_date(action.due_on, "medium", locale=locale))
            )
        return (
            _("A new action for you: %(what)s", what=action.description[:80]),
            lines,
            f"{_base()}/actions",
            _("Your actions"),
        )

    _to_users(people, "action", build, meeting.id)


def _community_cadres(community_id: int) -> list:
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.community_id == community_id,
                User.role == Role.CADRE,
                User.active.is_(True),
            )
            .order_by(User.id)
        )
    )


def concern_raised(case, resident) -> None:
    """Tell the community's cadres that a resident raised a concern online."""

    def build(locale):
        return (
            _("A resident raised a concern: %(title)s", title=case.title),
            [
                _(
                    "%(name)s raised it online in %(community)s. It starts at grid level 1.",
                    name=resident.name,
                    community=case.community.name,
                )
            ],
            f"{_base()}/cases/{case.id}",
            _("See the case"),
        )

    _to_users(_community_cadres(case.community_id), "concern", build)


def case_resolved(case, resolution, meeting) -> None:
    """Tell the person who raised a concern (with an account) that it is resolved."""
    creator = db.session.get(User, case.created_by_id) if case.created_by_id else None
    if creator is None or creator.role not in ("resident", "unit_rep"):
        return  # staff recorded it for someone without an account

    def build(locale):
        return (
            _("Your concern is resolved: %(title)s", title=case.title),
            [_("%(session)s decided:", session=meeting.title), resolution.text],
            f"{_base()}/cases/{case.id}",
            _("See the case"),
        )

    _to_users([creator], "case_resolved", build, meeting.id)


def issue_awaits_rating(issue, meeting) -> None:
    """Ask the community's residents' representatives to rate a resolved issue."""
    representatives = db.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.community_id == issue.community_id,
            Membership.is_representative.is_(True),
            User.active.is_(True),
        )
        .order_by(User.id)
    )

    def build(locale):
        return (
            _("Please rate the result: %(title)s", title=issue.title),
            [
                _(
                    "%(session)s resolved this issue. As a residents' representative, "
                    "say whether you are satisfied with the result.",
                    session=meeting.title,
                )
            ],
            f"{_base()}/issues/{issue.id}",
            _("Rate it"),
        )

    _to_users(representatives, "rate", build, meeting.id)


def minutes_published(meeting) -> None:
    """Send the published minutes' address to those who attended (with an account)."""
    from consult.meetings.models import Attendance, Invitation, Registration

    attended = (Attendance.meeting_id == meeting.id) & Attendance.status.in_(("present", "late"))
    people = list(
        db.session.scalars(
            select(User)
            .join(Registration, Registration.user_id == User.id)
            .join(Attendance, Attendance.registration_id == Registration.id)
            .where(attended)
            .order_by(User.id)
        )
    )
    people += list(
        db.session.scalars(
            select(User)
            .join(Invitation, Invitation.user_id == User.id)
            .join(Attendance, Attendance.invitation_id == Invitation.id)
            .where(attended)
            .order_by(User.id)
        )
    )

    def build(locale):
        return (
            _(
                "Minutes published: %(title)s, %(date)s",
                title=meeting.title,
                date=_session_date(meeting, locale),
            ),
            [_("The minutes of the session you attended are published.")],
            f"{_base()}/sessions/{meeting.id}/minutes",
            _("Read the minutes"),
        )

    _to_users(people, "minutes", build, meeting.id)


def minutes_await_approval(meeting, actor) -> None:
    """Tell the session's organiser (else the community's cadres) that minutes wait."""
    people = []
    organiser = meeting.organiser
    if organiser is not None and organiser.role in ("admin", "cadre"):
        people.append(organiser)
    else:
        people.extend(_community_cadres(meeting.community_id))

    def build(locale):
        return (
            _(
                "Minutes to approve: %(title)s, %(date)s",
                title=meeting.title,
                date=_session_date(meeting, locale),
            ),
            [
                _(
                    "%(name)s has written the minutes; they wait for your approval.",
                    name=getattr(actor, "name", ""),
                )
            ],
            f"{_base()}/sessions/{meeting.id}/minutes",
            _("Read and approve"),
        )

    _to_users(people, "approve", build, meeting.id, skip=getattr(actor, "id", None))
