"""Writes about sign-ups, invitation answers and attendance.

Places are claimed atomically against the session's capacity: the session's row is
locked first (FOR UPDATE on PostgreSQL; on SQLite the request runs in BEGIN IMMEDIATE,
see consult.transactions), then one conditional UPDATE takes a place only
while ``confirmed_count < capacity``, and the database's CHECK refuses anything past
it. Operations flush and audit; the caller commits once.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import Row, Select, and_, bindparam, func, insert, inspect, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, make_transient_to_detached

from consult import audit
from consult.attendance.queries import note_position
from consult.enums import AttendanceStatus, RegistrationStatus
from consult.errors import RefusedInput, clean_text
from consult.extensions import db, table_of
from consult.meetings.models import Attendance, Invitation, Meeting, Registration, Series
from consult.transactions import locked_here, note_locked
from consult.types import utcnow

#: Attendance may be taken (and people checked in) from this long before the start.
ATTENDANCE_OPENS_BEFORE = timedelta(days=1)
#: Answers an invitee may give from the signed link.
RSVP_ANSWERS = ("ACCEPTED", "TENTATIVE", "DECLINED")

#: A mainland mobile number, or a landline with its area code (0936-6621188).
MOBILE_RE = re.compile(r"1[3-9]\d{9}")
LANDLINE_RE = re.compile(r"0\d{2,3}-?\d{7,8}")


class AttendanceError(RefusedInput):
    """Refused input about sign-ups, invitations or attendance."""


class CapacityError(AttendanceError):
    """A capacity change that would un-confirm people, or another refused change."""

    def __init__(self, message, field: str | None = "capacity", status: int = 409):
        code = "capacity_below_confirmed" if status == 409 else None
        super().__init__(message, field, status, code)


class AlreadyRegistered(AttendanceError):
    """The person already holds a place or a place on the waiting list (``existing``)."""

    def __init__(self, message=None, existing: Registration | None = None):
        super().__init__(message or _l("You are already registered for this session."), None, 409)
        self.existing = existing


# -- the atomic claim -----------------------------------------------------------------


def claim_place(meeting_id: int) -> bool:
    """Take one confirmed place if one is free, in one atomic UPDATE; return whether it did."""
    result = db.session.execute(
        update(Meeting)
        .where(
            Meeting.id == meeting_id,
            (Meeting.capacity.is_(None)) | (Meeting.confirmed_count < Meeting.capacity),
        )
        .values(confirmed_count=Meeting.confirmed_count + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release_place(meeting_id: int) -> None:
    """Give back one confirmed place."""
    db.session.execute(
        update(Meeting)
        .where(Meeting.id == meeting_id, Meeting.confirmed_count > 0)
        .values(confirmed_count=Meeting.confirmed_count - 1)
        .execution_options(synchronize_session=False)
    )


def lock_meeting(meeting: Meeting, reload=("status", "starts_at")) -> Meeting:
    """Lock the session's row until the transaction ends and reload its places.

    Every write about a session's places takes this lock first, so sign-ups, cancels and
    capacity changes of one session run one after the other and the waiting list keeps
    its order. SQLite has no row locks; there the whole transaction holds the write lock.
    Only the places and ``reload`` are read again: other changes the caller has made to
    the object and not yet flushed are kept. A session read with its lock in this
    transaction (``loaders.meeting_or_404(..., lock=True)``) is not read again while
    those attributes hold what was read.
    """
    attributes = [*reload, "capacity", "confirmed_count"]
    if locked_here(meeting, attributes):
        return meeting  # read with its lock in this transaction, and not changed since
    with db.session.no_autoflush:
        db.session.refresh(meeting, attributes, with_for_update=True)
    note_locked(meeting)
    return meeting


def _ensure_open(meeting: Meeting) -> None:
    closed = meeting.signup_closed_reason()
    if closed == "cancelled":
        raise AttendanceError(_l("This session has been cancelled."), None, 409)
    if closed == "started":
        raise AttendanceError(_l("This session has already started."), None, 409)


def next_waiting(meeting_id: int) -> Registration | None:
    """Return the first person on the session's waiting list (sign-up order), or None.

    One ordered query that stops at the first row (the index on meeting, status and
    sign-up time serves it): the waiting list is never loaded whole.
    """
    return db.session.scalar(
        select(Registration)
        .where(Registration.meeting_id == meeting_id, Registration.status == "waitlisted")
        .order_by(Registration.created_at, Registration.id)
        .limit(1)
    )


def _full(meeting: Meeting) -> bool:
    """Whether every place of the session is taken (its places as last read)."""
    return meeting.capacity is not None and meeting.confirmed_count >= meeting.capacity


def _place(
    registration: Registration,
    meeting: Meeting,
    actor,
    action: str,
    now: datetime | None = None,
    waiting: int | None = None,
) -> Registration:
    """Give ``registration`` a confirmed place if one is free, else a place in the queue.

    ``now``: the sign-up's time; ``waiting``: how many waited then (read under the lock),
    which makes the new place on a full session's waiting list known without a query.
    """
    now = now or utcnow()
    # A re-sign-up joins the end of the queue like anyone else.
    registration.created_at = now
    registration.cancelled_at = None
    # Nobody overtakes the waiting list: a free place goes to those already waiting. A
    # full session (read under the lock) has no place to give or take: its waiting list
    # is not read and no claim is tried.
    full = _full(meeting)
    if not full:
        promote_waitlisted(meeting, actor)
    if not full and claim_place(meeting.id):
        registration.status = "confirmed"
        registration.confirmed_at = now
    else:
        registration.status = "waitlisted"
        registration.confirmed_at = None
    try:
        if inspect(registration).transient:
            _insert(registration, now)
        else:
            db.session.flush()
    except IntegrityError:
        # Two sign-ups of one person raced past the lookup: the unique key keeps one.
        raise AlreadyRegistered() from None
    db.session.expire(meeting, ["confirmed_count"])
    # Nobody was promoted from a full session: those waiting then are all ahead of it.
    position = waiting + 1 if full and waiting is not None else None
    return _placed(registration, meeting, actor, action, position)


def _placed(
    registration: Registration, meeting: Meeting, actor, action: str, position: int | None
) -> Registration:
    """Audit a registration just written and tell its person of their place (a place on
    the waiting list, ``position`` when it is known)."""
    from consult.mail import notices, notify

    audit.record(action, registration, actor, meeting=meeting.id, status=registration.status)
    if registration.status == "confirmed":
        notify.registration_confirmed(registration)
    else:
        notices.registration_waitlisted(registration)
        if position is not None:
            note_position(registration, position)
    return registration


#: The INSERT of a new registration, built once.
_INSERT = insert(table_of(Registration)).returning(table_of(Registration).c.id)


@lru_cache(maxsize=1)
def _columns() -> tuple[str, ...]:
    """The attributes of a registration's columns but its id (read once the models are
    all mapped)."""
    return tuple(c.key for c in inspect(Registration).column_attrs if c.key != "id")


def _insert(registration: Registration, now: datetime, statement=_INSERT, **params) -> Row | None:
    """Write a new registration with one INSERT (``statement``, given ``params`` beside
    the columns' values) and make the object the session's row for it, every column
    known: the unit of work's flush would cost three times the statement, on the path
    every sign-up takes. Return the row the INSERT returned (its id first), or None when
    it wrote none."""
    registration.updated_at = now
    values = {key: getattr(registration, key) for key in _columns()}
    row = db.session.execute(statement, {**values, **params}).first()
    if row is None:
        return None
    registration.id = row[0]
    make_transient_to_detached(registration)
    db.session.add(registration)
    return row


@lru_cache(maxsize=2)
def _queue_insert(dialect: str):
    """The INSERT of a place on a full session's waiting list unless the person has a
    registration for the session (ON CONFLICT DO NOTHING on its unique key), returning
    its id and how many were waiting, having signed up at the sign-up's time or before
    (``ahead_now``); built once per database. The count is read by the INSERT itself,
    after the session's lock was taken: on PostgreSQL a statement's snapshot is taken
    when it starts, so the sign-ups of the lock's previous holders are counted; on
    SQLite the transaction holds the write lock. The new row is not counted (its
    person's: SQLite's RETURNING sees it)."""
    table = table_of(Registration)
    ahead = table.alias("ahead")
    waiting = (
        select(func.count(ahead.c.id))
        .where(
            ahead.c.meeting_id == bindparam("ahead_meeting"),
            ahead.c.status == RegistrationStatus.WAITLISTED,
            ahead.c.created_at <= bindparam("ahead_now"),
            ahead.c.user_id.is_distinct_from(bindparam("ahead_user")),
        )
        .scalar_subquery()
    )
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        build(table)
        .on_conflict_do_nothing(index_elements=[table.c.meeting_id, table.c.user_id])
        .returning(table.c.id, waiting)
    )


def _join_queue(registration: Registration, now: datetime) -> int | None:
    """Write ``registration`` as a new place on its full session's waiting list, in one
    statement that also counts those ahead, unless its person has a registration for
    the session already; return its place on the list, or None when nothing was
    written. The session's lock is held."""
    registration.created_at = now
    registration.status = RegistrationStatus.WAITLISTED
    statement = _queue_insert(db.session.get_bind().dialect.name)
    try:
        row = _insert(
            registration,
            now,
            statement,
            ahead_meeting=registration.meeting_id,
            ahead_now=now,
            ahead_user=registration.user_id,
        )
    except IntegrityError:
        # Another sign-up of the person with the same Idempotency-Key raced past it.
        raise AlreadyRegistered() from None
    return None if row is None else row[1] + 1


def replayed_sign_up(meeting: Meeting, key: str, actor) -> Registration | None:
    """Return the registration an earlier request with Idempotency-Key ``key`` made, or None.

    The key belongs to whoever sent it first: another caller's key is refused.
    """
    lock_meeting(meeting)
    found = db.session.scalar(
        select(Registration).where(
            Registration.meeting_id == meeting.id, Registration.idempotency_key == key
        )
    )
    if found is None:
        return None
    if found.registered_by_id != getattr(actor, "id", None):
        raise AttendanceError(
            _l("This Idempotency-Key was already used for another sign-up."),
            "Idempotency-Key",
            code="idempotency_key_reused",
        )
    return found


def sign_up(meeting: Meeting, user, actor=None, idempotency_key: str | None = None) -> Registration:
    """Sign ``user`` up for ``meeting``: a confirmed place if one is free, else the queue."""
    lock_meeting(meeting)
    _ensure_open(meeting)
    now = utcnow()
    actor = actor or user
    new = Registration(
        meeting_id=meeting.id,
        user_id=user.id,
        registered_by_id=getattr(actor, "id", None),
        idempotency_key=idempotency_key,
    )
    if _full(meeting):
        # Nobody is promoted and no place is claimed: one statement writes the place on
        # the waiting list and counts those ahead, unless the person has a registration.
        position = _join_queue(new, now)
        if position is not None:
            return _placed(new, meeting, actor, "registration.create", position)
    waiting, registration = db.session.execute(
        _mine_and_waiting(), {"meeting_id": meeting.id, "user_id": user.id, "now": now}
    ).one()
    if registration is None:
        return _place(new, meeting, actor, "registration.create", now, waiting)
    if registration.status != "cancelled":
        raise AlreadyRegistered(existing=registration)
    # The unique key (meeting, user) stays: a cancelled sign-up is reused.
    registration.registered_by_id = new.registered_by_id
    registration.idempotency_key = idempotency_key
    return _place(registration, meeting, actor, "registration.renew", now, waiting)


@lru_cache(maxsize=1)
def _mine_and_waiting() -> Select:
    """One statement, built once: how many wait for the session (``meeting_id``) having
    signed up at ``now`` or before, and the person's (``user_id``) registration for it,
    or None. Read under the session's lock, the count is the place on the waiting list
    of a sign-up made at ``now`` minus one."""
    ahead = aliased(Registration)
    waiting = (
        select(func.count(ahead.id))
        .where(
            ahead.meeting_id == bindparam("meeting_id"),
            ahead.status == RegistrationStatus.WAITLISTED,
            ahead.created_at <= bindparam("now"),
        )
        .scalar_subquery()
    )
    one_row = select(literal(1).label("one")).subquery()
    return (
        select(waiting, Registration)
        .select_from(one_row)
        .outerjoin(
            Registration,
            and_(
                Registration.meeting_id == bindparam("meeting_id"),
                Registration.user_id == bindparam("user_id"),
            ),
        )
    )


def normalise_phone(value) -> str:
    """Return a phone number in its stored form, or refuse it."""
    text = re.sub(r"[\s()]", "", "" if value is None else str(value))
    text = re.sub(r"^(\+|00)?86(?=1\d{10}$)", "", text)
    if not text:
        raise AttendanceError(_l("A phone number is required."), "phone")
    if not (MOBILE_RE.fullmatch(text) or LANDLINE_RE.fullmatch(text)):
        raise AttendanceError(
            _l(
                "Enter a mobile number of 11 digits (13812345678) or a landline with its "
                "area code (0936-6621188)."
            ),
            "phone",
        )
    return text


def proxy_values(data: dict) -> dict:
    """Check a proxy sign-up's {name, phone, note?}; return the cleaned values."""
    return {
        "name": clean_text(data.get("name"), "name", 120, label=_l("name")),
        "phone": normalise_phone(data.get("phone")),
        "note": clean_text(data.get("note"), "note", 500, required=False, label=_l("note")),
    }


def sign_up_proxy(
    meeting: Meeting, data: dict, actor, idempotency_key: str | None = None
) -> Registration:
    """Sign up a person without an account ({name, phone, note?}), entered by a cadre."""
    values = proxy_values(data)
    lock_meeting(meeting)
    _ensure_open(meeting)
    taken = db.session.scalar(
        select(Registration)
        .where(
            Registration.meeting_id == meeting.id,
            Registration.user_id.is_(None),
            Registration.phone == values["phone"],
            Registration.status != "cancelled",
        )
        .limit(1)
    )
    if taken is not None:
        raise AlreadyRegistered(
            _l("Someone with this phone number is already registered."), existing=taken
        )
    registration = Registration(
        meeting_id=meeting.id,
        registered_by_id=getattr(actor, "id", None),
        idempotency_key=idempotency_key,
        **values,
    )
    return _place(registration, meeting, actor, "registration.proxy")


def coming_occurrences(series: Series, visible_clause=None) -> list[Meeting]:
    """Return the series' occurrences still open for sign-up, in order."""
    query = select(Meeting).where(Meeting.series_id == series.id, Meeting.open_for_signup_clause())
    if visible_clause is not None:
        query = query.where(visible_clause)
    return list(db.session.scalars(query.order_by(Meeting.starts_at, Meeting.id)))


def sign_up_series(series: Series, user, occurrences: list[Meeting]) -> list[Registration]:
    """Sign ``user`` up for every coming occurrence of ``series`` not already theirs."""
    if not occurrences:
        raise AttendanceError(_l("This series has no coming session to sign up for."), None, 409)
    registrations = []
    for meeting in occurrences:
        try:
            registrations.append(sign_up(meeting, user, user))
        except AlreadyRegistered:
            continue
    if not registrations:
        raise AlreadyRegistered(_l("You are already registered for every coming session."))
    return registrations


def cancel_registration(registration: Registration, actor) -> list[Registration]:
    """Cancel a sign-up; a freed place goes to the first person waiting. Return those promoted."""
    meeting = lock_meeting(registration.meeting)
    db.session.refresh(registration, ["status"])
    if registration.status == "cancelled":
        raise AttendanceError(_l("This registration is already cancelled."), None, 409)
    if meeting.starts_at <= utcnow():
        raise AttendanceError(
            _l("The session has already started; the registration can no longer be cancelled."),
            None,
            409,
        )
    was_confirmed = registration.status == "confirmed"
    registration.status = "cancelled"
    registration.cancelled_at = utcnow()
    db.session.flush()
    audit.record("registration.cancel", registration, actor, confirmed=was_confirmed)
    from consult.mail import notices

    notices.registration_cancelled(registration, actor)
    if not was_confirmed:
        return []
    release_place(meeting.id)
    return promote_waitlisted(meeting, actor)


def promote_waitlisted(meeting: Meeting, actor=None) -> list[Registration]:
    """Confirm waiting people in sign-up order while places are free; return them.

    Each turn takes the next person waiting (one query that reads one row), then claims
    a place for them: a full session costs one read and one refused claim, however long
    its waiting list; a session nobody waits for costs the one read.
    """
    from consult.mail import notify

    promoted: list[Registration] = []
    while (registration := next_waiting(meeting.id)) is not None:
        if not claim_place(meeting.id):
            break
        registration.status = "confirmed"
        registration.confirmed_at = utcnow()
        db.session.flush()
        audit.record("registration.promote", registration, actor)
        promoted.append(registration)
    db.session.expire(meeting, ["confirmed_count"])
    for registration in promoted:
        notify.registration_promoted(registration)
    return promoted


def set_capacity(meeting: Meeting, capacity: int | None, actor=None) -> list[Registration]:
    """Change a session's capacity; raising it confirms waiting people in order.

    Lowering it below the number already confirmed is refused: nobody is ever
    un-confirmed silently.
    """
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)):
        raise CapacityError(_l("The capacity must be a whole number."), status=422)
    if capacity is not None and capacity < 0:
        raise CapacityError(_l("The capacity cannot be negative."), status=422)
    lock_meeting(meeting, reload=())
    if capacity is not None and capacity < meeting.confirmed_count:
        raise CapacityError(
            _l(
                "%(n)d people are already confirmed; the capacity cannot be lower than that.",
                n=meeting.confirmed_count,
            )
        )
    old = meeting.capacity
    if old == capacity:
        return []
    meeting.capacity = capacity
    db.session.flush()
    audit.record("meeting.capacity", meeting, actor, capacity=[old, capacity])
    return promote_waitlisted(meeting, actor)


# -- invitations ----------------------------------------------------------------------


def answer_invitation(invitation: Invitation, partstat: str, actor=None) -> Invitation:
    """Record an invitee's answer (ACCEPTED, TENTATIVE or DECLINED) to an invitation."""
    if partstat not in RSVP_ANSWERS:
        raise AttendanceError(_l("Not an answer to an invitation."), "partstat")
    if invitation.meeting.is_cancelled:
        raise AttendanceError(_l("This session has been cancelled."), None, 409)
    old = invitation.partstat
    invitation.partstat = partstat
    invitation.responded_at = utcnow()
    db.session.flush()
    audit.record("invitation.answer", invitation, actor, partstat=[old, partstat])
    return invitation


# -- attendance -----------------------------------------------------------------------


def _ensure_attendance_open(meeting: Meeting) -> None:
    if meeting.is_cancelled:
        raise AttendanceError(_l("This session has been cancelled."), None, 409)
    if utcnow() < meeting.starts_at - ATTENDANCE_OPENS_BEFORE:
        raise AttendanceError(
            _l("Attendance can be taken from one day before the session."), None, 409
        )


def _mark_held(meeting: Meeting) -> None:
    """Count who came; a session that has started and someone attended is "held".

    An early check-in (attendance opens a day before) does not make it held: the
    session becomes held when attendance is taken after it started, or by
    `hold_started_sessions` once its start has passed.
    """
    db.session.flush()
    meeting.attended_count = db.session.scalar(
        select(func.count(Attendance.id)).where(
            Attendance.meeting_id == meeting.id, Attendance.status.in_(("present", "late"))
        )
    )
    if meeting.status == "scheduled" and meeting.attended_count and utcnow() >= meeting.starts_at:
        meeting.status = "held"
    elif meeting.status == "held" and not meeting.attended_count and not _has_minutes(meeting):
        meeting.status = "scheduled"
    db.session.flush()


def _has_minutes(meeting: Meeting) -> bool:
    from consult.minutes.models import Minutes

    return (
        db.session.scalar(select(func.count(Minutes.id)).where(Minutes.meeting_id == meeting.id))
        > 0
    )


def hold_started_sessions(now=None) -> int:
    """Mark "held" every scheduled session that has started and someone attended.

    Attendance taken early (a check-in before the start) counts once the session has
    started; `flask mail send` runs this with the reminders. The caller commits.
    """
    now = now or utcnow()
    result = db.session.execute(
        update(Meeting)
        .where(Meeting.status == "scheduled", Meeting.starts_at <= now, Meeting.attended_count > 0)
        .values(status="held")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _status(value: str) -> str:
    if value not in AttendanceStatus:
        raise AttendanceError(_l("Choose present, absent or late."), "status")
    return value


def record_attendance(meeting: Meeting, marks: dict[tuple[str, int], str], actor) -> int:
    """Mark registrants, invitees and walk-ins present, absent or late; return the count.

    ``marks`` maps ("registration" | "invitation" | "attendance", id) to a status.
    """
    _ensure_attendance_open(meeting)
    rows = db.session.scalars(select(Attendance).where(Attendance.meeting_id == meeting.id)).all()
    by_registration = {a.registration_id: a for a in rows if a.registration_id}
    by_invitation = {a.invitation_id: a for a in rows if a.invitation_id}
    by_id = {a.id: a for a in rows}
    registrations = set(
        db.session.scalars(
            select(Registration.id).where(
                Registration.meeting_id == meeting.id, Registration.status != "cancelled"
            )
        )
    )
    invitations = set(
        db.session.scalars(select(Invitation.id).where(Invitation.meeting_id == meeting.id))
    )
    changed = {}
    for (kind, target_id), value in marks.items():
        status = _status(value)
        if kind == "registration" and target_id in registrations:
            row = by_registration.get(target_id)
            if row is None:
                row = Attendance(meeting_id=meeting.id, registration_id=target_id)
                db.session.add(row)
        elif kind == "invitation" and target_id in invitations:
            row = by_invitation.get(target_id)
            if row is None:
                row = Attendance(meeting_id=meeting.id, invitation_id=target_id)
                db.session.add(row)
        elif kind == "attendance" and target_id in by_id:
            row = by_id[target_id]
        else:
            raise AttendanceError(_l("Someone in the list does not belong to this session."))
        if row.status != status:
            row.status = status
            row.recorded_by_id = getattr(actor, "id", None)
            row.recorded_at = utcnow()
            changed[f"{kind}:{target_id}"] = status
    _mark_held(meeting)
    audit.record("attendance.record", meeting, actor, marks=changed, count=meeting.attended_count)
    return meeting.attended_count


def add_walk_in(meeting: Meeting, data: dict, actor) -> Attendance:
    """Add someone who came without a sign-up or an invitation ({name, status?})."""
    _ensure_attendance_open(meeting)
    name = clean_text(data.get("name"), "name", 120, label=_l("name"))
    row = Attendance(
        meeting_id=meeting.id,
        name=name,
        status=_status(data.get("status") or "present"),
        recorded_by_id=getattr(actor, "id", None),
        recorded_at=utcnow(),
    )
    db.session.add(row)
    _mark_held(meeting)
    audit.record("attendance.walk_in", row, actor, meeting=meeting.id, name=name)
    return row


def check_in(registration: Registration, actor) -> Attendance:
    """Mark the holder of a check-in code present (a late arrival stays "late")."""
    meeting = registration.meeting
    if registration.status == "cancelled":
        raise AttendanceError(_l("This registration was cancelled."), None, 409)
    _ensure_attendance_open(meeting)
    row = db.session.scalar(
        select(Attendance).where(
            Attendance.meeting_id == meeting.id, Attendance.registration_id == registration.id
        )
    )
    if row is None:
        row = Attendance(meeting_id=meeting.id, registration_id=registration.id)
        db.session.add(row)
    if row.status not in ("present", "late"):
        row.status = "present"
        row.recorded_by_id = getattr(actor, "id", None)
        row.recorded_at = utcnow()
    _mark_held(meeting)
    audit.record("attendance.check_in", registration, actor, meeting=meeting.id)
    return row
