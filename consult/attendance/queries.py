"""Reads about sign-ups, invitations, attendance and the host rotation.

Shared by the pages and the API; none of them writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, inspect, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from consult.community.models import AllianceMember, Community, Unit
from consult.enums import RegistrationStatus, SessionKind, SessionStatus, Visibility
from consult.extensions import db
from consult.meetings.models import Attendance, Invitation, Meeting, Registration, Series
from consult.permissions import can, visible_meetings_clause
from consult.types import utcnow

# -- sign-ups -------------------------------------------------------------------------


def waitlist_count(meeting_id: int) -> int:
    """Return how many people wait for a place in a session."""
    return (
        db.session.scalar(
            select(func.count(Registration.id)).where(
                Registration.meeting_id == meeting_id,
                Registration.status == RegistrationStatus.WAITLISTED,
            )
        )
        or 0
    )


#: Where ``note_position`` notes, on a registration's state, its place as placed.
_PLACED = "consult.placed_position"


def note_position(registration: Registration, position: int) -> None:
    """Note the place on the waiting list a sign-up was just given (known under the
    session's lock): the next ``waitlist_position`` of it in this transaction answers
    it without a query, once."""
    inspect(registration).info[_PLACED] = (db.session().get_transaction(), position)


def waitlist_position(registration: Registration) -> int | None:
    """Return the registration's place on the waiting list (1 = next), or None."""
    if registration.status != RegistrationStatus.WAITLISTED:
        return None
    noted = inspect(registration).info.pop(_PLACED, None)
    if noted is not None and noted[0] is db.session().get_transaction():
        return noted[1]
    ahead = db.session.scalar(
        select(func.count(Registration.id)).where(
            Registration.meeting_id == registration.meeting_id,
            Registration.status == RegistrationStatus.WAITLISTED,
            or_(
                Registration.created_at < registration.created_at,
                and_(
                    Registration.created_at == registration.created_at,
                    Registration.id < registration.id,
                ),
            ),
        )
    )
    return (ahead or 0) + 1


def waitlist_positions(registrations) -> dict[int, int]:
    """Return {registration id: place on its waiting list} for the waiting ones among
    ``registrations``, in one query (``waitlist_position`` for many)."""
    waiting = [r.id for r in registrations if r.status == "waitlisted"]
    if not waiting:
        return {}
    mine, ahead = aliased(Registration), aliased(Registration)
    rows = db.session.execute(
        select(mine.id, func.count(ahead.id))
        .outerjoin(
            ahead,
            and_(
                ahead.meeting_id == mine.meeting_id,
                ahead.status == "waitlisted",
                or_(
                    ahead.created_at < mine.created_at,
                    and_(ahead.created_at == mine.created_at, ahead.id < mine.id),
                ),
            ),
        )
        .where(mine.id.in_(waiting))
        .group_by(mine.id)
    )
    return {registration_id: ahead_of_it + 1 for registration_id, ahead_of_it in rows}


def registrations_in_order(meeting_id: int) -> list[tuple[Registration, int | None]]:
    """Return the session's live sign-ups: confirmed, then the waiting list, in order.

    Each comes with its waiting-list position (None when confirmed).
    """
    rows = db.session.scalars(
        select(Registration)
        .where(
            Registration.meeting_id == meeting_id,
            Registration.status != RegistrationStatus.CANCELLED,
        )
        .options(joinedload(Registration.user))
        .order_by(Registration.status, Registration.created_at, Registration.id)
    ).all()
    # "confirmed" sorts before "waitlisted"; number the waiting ones.
    out: list[tuple[Registration, int | None]] = []
    position = 0
    for registration in rows:
        if registration.status == RegistrationStatus.WAITLISTED:
            position += 1
            out.append((registration, position))
        else:
            out.append((registration, None))
    return out


def user_registration(meeting_id: int, user) -> Registration | None:
    """Return ``user``'s registration for the session (cancelled ones included), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        select(Registration).where(
            Registration.meeting_id == meeting_id, Registration.user_id == user.id
        )
    )


def coming_unregistered_count(series_id: int, user) -> int:
    """Count the series' coming occurrences ``user`` may see and has not signed up for."""
    mine = select(Registration.meeting_id).where(
        Registration.user_id == user.id, Registration.status != RegistrationStatus.CANCELLED
    )
    return (
        db.session.scalar(
            select(func.count(Meeting.id)).where(
                Meeting.series_id == series_id,
                Meeting.open_for_signup_clause(),
                Meeting.id.not_in(mine),
                visible_meetings_clause(user),
            )
        )
        or 0
    )


def invitations_of(meeting_id: int) -> list[Invitation]:
    """Return the session's invitations with their answers, by name then address."""
    return list(
        db.session.scalars(
            select(Invitation)
            .where(Invitation.meeting_id == meeting_id)
            .options(joinedload(Invitation.unit))
            .order_by(func.coalesce(Invitation.name, Invitation.email), Invitation.id)
        )
    )


@dataclass
class Panel:
    """What the session page shows about sign-ups, answers and attendance."""

    meeting: Meeting
    closed: str | None
    waitlisted: int = 0
    mine: Registration | None = None
    position: int | None = None
    series_open: int = 0
    #: Invitations by answer (PARTSTAT), for staff.
    partstats: dict[str, int] = field(default_factory=dict)
    staff: bool = False
    organiser: bool = False


def panel(meeting: Meeting, user) -> Panel:
    """Gather the session page's sign-up panel for ``user``."""
    data = Panel(meeting=meeting, closed=meeting.signup_closed_reason())
    data.waitlisted = (
        db.session.scalar(
            select(func.count(Registration.id)).where(
                Registration.meeting_id == meeting.id,
                Registration.status == RegistrationStatus.WAITLISTED,
            )
        )
        or 0
    )
    if getattr(user, "is_authenticated", False):
        data.mine = user_registration(meeting.id, user)
        if data.mine is not None and data.mine.status == RegistrationStatus.CANCELLED:
            data.mine = None
        if data.mine is not None:
            data.position = waitlist_position(data.mine)
        if meeting.series_id is not None and data.closed is None:
            data.series_open = coming_unregistered_count(meeting.series_id, user)
    data.staff = can(user, "registration.list", meeting)
    data.organiser = can(user, "registration.proxy", meeting)
    if data.staff:
        data.partstats = dict(
            db.session.execute(
                select(Invitation.partstat, func.count(Invitation.id))
                .where(Invitation.meeting_id == meeting.id)
                .group_by(Invitation.partstat)
            ).all()
        )
    return data


# -- attendance -----------------------------------------------------------------------


@dataclass
class SheetRow:
    """One line of the attendance list: a registrant, an invitee or a walk-in."""

    kind: str  # "registration", "invitation" or "attendance" (a walk-in)
    target_id: int
    name: str
    detail: str = ""
    #: Registration status (confirmed, waitlisted) or the invitation's PARTSTAT.
    answer: str = ""
    position: int | None = None
    attendance: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.target_id}"


def attendance_sheet(meeting: Meeting) -> list[SheetRow]:
    """Return everyone expected at the session, then the walk-ins, with their attendance."""
    marks = db.session.scalars(
        select(Attendance).where(Attendance.meeting_id == meeting.id).order_by(Attendance.id)
    ).all()
    by_registration = {a.registration_id: a.status for a in marks if a.registration_id}
    by_invitation = {a.invitation_id: a.status for a in marks if a.invitation_id}
    rows: list[SheetRow] = []
    for registration, position in registrations_in_order(meeting.id):
        rows.append(
            SheetRow(
                "registration",
                registration.id,
                registration.display_name,
                registration.phone or "",
                registration.status,
                position,
                by_registration.get(registration.id),
            )
        )
    for invitation in invitations_of(meeting.id):
        detail = invitation.unit.name if invitation.unit is not None else invitation.email
        rows.append(
            SheetRow(
                "invitation",
                invitation.id,
                invitation.name or invitation.email,
                detail if detail != (invitation.name or invitation.email) else "",
                invitation.partstat,
                None,
                by_invitation.get(invitation.id),
            )
        )
    for mark in marks:
        if mark.registration_id is None and mark.invitation_id is None:
            rows.append(
                SheetRow("attendance", mark.id, mark.name or "", "", "walk_in", None, mark.status)
            )
    return rows


def attendance_of(registration: Registration) -> Attendance | None:
    """Return what attendance recorded for a registrant, or None."""
    return db.session.scalar(
        select(Attendance).where(
            Attendance.meeting_id == registration.meeting_id,
            Attendance.registration_id == registration.id,
        )
    )


# -- host rotation --------------------------------------------------------------------


def rotation_of(community_id: int) -> list[AllianceMember]:
    """Return the community's units in their hosting order."""
    return list(
        db.session.scalars(
            select(AllianceMember)
            .where(
                AllianceMember.community_id == community_id,
                AllianceMember.rotation_position.is_not(None),
            )
            .options(joinedload(AllianceMember.unit))
            .order_by(AllianceMember.rotation_position)
        )
    )


def outside_rotation(community_id: int) -> list[AllianceMember]:
    """Return the community's alliance units that take no turn in hosting."""
    return list(
        db.session.scalars(
            select(AllianceMember)
            .join(AllianceMember.unit)
            .where(
                AllianceMember.community_id == community_id,
                AllianceMember.rotation_position.is_(None),
            )
            .options(joinedload(AllianceMember.unit))
            .order_by(Unit.name)
        )
    )


def _hosted_joint_meetings(community_id: int):
    return select(Meeting).where(
        Meeting.community_id == community_id,
        Meeting.kind == SessionKind.JOINT_MEETING,
        Meeting.host_unit_id.is_not(None),
        Meeting.status != SessionStatus.CANCELLED,
    )


def hosting_history(community_id: int, limit: int = 50) -> list[Meeting]:
    """Return the community's joint meetings with a host, the latest first."""
    return list(
        db.session.scalars(
            _hosted_joint_meetings(community_id)
            .options(selectinload(Meeting.host_unit))
            .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
            .limit(limit)
        )
    )


def last_hosted(community_id: int) -> Meeting | None:
    """Return the community's latest joint meeting (scheduled or held) that has a host."""
    return db.session.scalar(
        _hosted_joint_meetings(community_id)
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
        .limit(1)
    )


def next_host(community: Community | int) -> Unit | None:
    """Propose the unit whose turn it is to host the community's next joint meeting.

    The turn passes, in rotation order, to the unit after the host of the latest joint
    meeting; the first unit opens the rotation (also when that host has left it).
    None when no unit is in the rotation.
    """
    community_id = community if isinstance(community, int) else community.id
    rotation = rotation_of(community_id)
    if not rotation:
        return None
    last = last_hosted(community_id)
    units = [member.unit for member in rotation]
    ids = [unit.id for unit in units]
    if last is None or last.host_unit_id not in ids:
        return units[0]
    return units[(ids.index(last.host_unit_id) + 1) % len(units)]


def series_open_to(series_id: int, user) -> tuple[Series, list[Meeting]] | None:
    """Load a series for ``user`` to sign up for, with its coming occurrences they may see.

    None when the series does not exist, or is private and nothing of it is theirs (the
    caller answers 404, and checks the right to sign up).
    """
    from consult.attendance.operations import coming_occurrences

    series = db.session.get(Series, series_id)
    if series is None:
        return None
    occurrences = coming_occurrences(series, visible_meetings_clause(user))
    if not occurrences and series.visibility == Visibility.PRIVATE:
        return None
    return series, occurrences


@dataclass
class MySignup:
    """One of a person's sign-ups, for their "my sign-ups" page."""

    registration: Registration
    meeting: Meeting
    position: int | None = None


def my_signups(user) -> tuple[list[MySignup], list[MySignup]]:
    """Return a person's sign-ups not cancelled: (coming, soonest first; past, latest first)."""
    rows = db.session.scalars(
        select(Registration)
        .join(Meeting, Meeting.id == Registration.meeting_id)
        .where(Registration.user_id == user.id, Registration.status != RegistrationStatus.CANCELLED)
        .options(joinedload(Registration.meeting).joinedload(Meeting.venue))
        .order_by(Meeting.starts_at)
    ).all()
    now = utcnow()
    positions = waitlist_positions(r for r in rows if r.meeting.ends_at >= now)
    coming, past = [], []
    for registration in rows:
        meeting = registration.meeting
        if meeting.ends_at >= now:
            coming.append(MySignup(registration, meeting, positions.get(registration.id)))
        else:
            past.append(MySignup(registration, meeting))
    return coming, list(reversed(past))
