"""Sessions (meetings), weekly series, sign-ups, invitations and attendance."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consult.enums import (
    AttendanceStatus,
    PartStat,
    RegistrationStatus,
    SeriesStatus,
    SessionKind,
    SessionStatus,
    Visibility,
    check_in,
)
from consult.extensions import Model
from consult.types import UTCDateTime, utcnow


class Series(Model):
    """A recurring session: one RRULE; its occurrences are Meeting rows linked to it.

    Skipped weeks are occurrences with status "cancelled"; moved weeks are occurrences
    whose ``starts_at`` differs from their ``recurrence_id`` (the original start).
    """

    __tablename__ = "series"
    __table_args__ = (
        check_in("kind", SessionKind),
        check_in("visibility", Visibility),
        check_in("status", SeriesStatus),
        CheckConstraint("duration_minutes > 0", name="duration"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity"),
        CheckConstraint("sequence >= 0", name="sequence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: iCalendar UID shared by the series' VEVENT and all its overrides.
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venues.id"))
    organiser_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    host_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    #: RFC 5545 RRULE value, e.g. "FREQ=WEEKLY;BYDAY=FR;COUNT=12".
    rrule: Mapped[str] = mapped_column(String(500))
    #: First occurrence's start (UTC); the rule is expanded in ``timezone``.
    dtstart: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    capacity: Mapped[int | None] = mapped_column(Integer)
    visibility: Mapped[str] = mapped_column(String(10), default=Visibility.PUBLIC)
    status: Mapped[str] = mapped_column(String(10), default=SeriesStatus.ACTIVE)
    #: SEQUENCE of the series' master VEVENT.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    #: Occurrences exist as rows up to this instant; later ones are made as time passes.
    materialised_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    community = relationship("Community")
    venue = relationship("Venue")
    organiser = relationship("User")
    host_unit = relationship("Unit")
    occurrences: Mapped[list[Meeting]] = relationship(
        back_populates="series", order_by="Meeting.recurrence_id"
    )

    def __repr__(self) -> str:
        return f"<Series {self.id} {self.kind} {self.rrule}>"

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)


class Meeting(Model):
    """One session: a roundtable, a week's Friday Talk Day, a mediation, ..."""

    __tablename__ = "meetings"
    __table_args__ = (
        check_in("kind", SessionKind),
        check_in("status", SessionStatus),
        check_in("visibility", Visibility),
        CheckConstraint("ends_at > starts_at", name="interval"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity"),
        # The claim counter never leaves [0, capacity]: the database itself refuses an
        # overbooking, whatever the code above it does.
        CheckConstraint(
            "confirmed_count >= 0 AND (capacity IS NULL OR confirmed_count <= capacity)",
            name="confirmed_count",
        ),
        CheckConstraint("sequence >= 0", name="sequence"),
        CheckConstraint("attended_count IS NULL OR attended_count >= 0", name="attended_count"),
        CheckConstraint("(series_id IS NULL) = (recurrence_id IS NULL)", name="occurrence"),
        UniqueConstraint("series_id", "recurrence_id"),
        Index("ix_meetings_community_starts", "community_id", "starts_at"),
        Index("ix_meetings_venue_starts", "venue_id", "starts_at"),
        Index("ix_meetings_kind_starts", "kind", "starts_at"),
        # Lists are ordered by start and id: with the id in the index, a page is read in
        # order and stops at its last row, however many sessions share a start time.
        Index("ix_meetings_starts_at_id", "starts_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: iCalendar UID; occurrences of a series use the series' UID in calendars.
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venues.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: IANA zone the session is held in; times are shown and exported in it.
    timezone: Mapped[str] = mapped_column(String(64))
    #: None: unlimited places.
    capacity: Mapped[int | None] = mapped_column(Integer)
    #: Confirmed registrations, claimed atomically against ``capacity``.
    confirmed_count: Mapped[int] = mapped_column(Integer, default=0)
    #: People present (late included) as the attendance last recorded; None: not taken.
    attended_count: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=SessionStatus.SCHEDULED)
    visibility: Mapped[str] = mapped_column(String(10), default=Visibility.PUBLIC)
    organiser_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    #: The alliance unit hosting a joint meeting in the rotation.
    host_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="SET NULL"), index=True
    )
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    #: For an occurrence: its original start (UTC), the RECURRENCE-ID.
    recurrence_id: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: iCalendar SEQUENCE: rises on every change of time, venue or status.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    community = relationship("Community")
    venue = relationship("Venue")
    organiser = relationship("User")
    host_unit = relationship("Unit")
    series: Mapped[Series | None] = relationship(back_populates="occurrences")
    registrations: Mapped[list[Registration]] = relationship(
        back_populates="meeting", order_by="Registration.created_at"
    )
    invitations: Mapped[list[Invitation]] = relationship(back_populates="meeting")
    agenda_items = relationship(
        "AgendaItem", back_populates="meeting", order_by="AgendaItem.position"
    )

    def __repr__(self) -> str:
        return f"<Meeting {self.id} {self.kind} {self.starts_at:%Y-%m-%d %H:%M}Z>"

    @property
    def places_left(self) -> int | None:
        if self.capacity is None:
            return None
        return max(self.capacity - self.confirmed_count, 0)

    # -- state rules: what the session's status and time allow ---------------------------

    @property
    def is_cancelled(self) -> bool:
        return self.status == SessionStatus.CANCELLED

    def signup_closed_reason(self, now: datetime | None = None) -> str | None:
        """Return why the session takes no sign-up ("cancelled", "started"), or None."""
        if self.is_cancelled:
            return "cancelled"
        if self.starts_at <= (now or utcnow()):
            return "started"
        return None

    def open_for_signup(self, now: datetime | None = None) -> bool:
        """Whether people may sign up (or be signed up) now: scheduled, not started."""
        return self.signup_closed_reason(now) is None

    @classmethod
    def open_for_signup_clause(cls, now: datetime | None = None) -> ColumnElement[bool]:
        """``open_for_signup`` in SQL."""
        # A held session has started, so "scheduled" is the same rule as "not cancelled".
        return and_(cls.status == SessionStatus.SCHEDULED, cls.starts_at > (now or utcnow()))

    def invitations_closed_reason(self, now: datetime | None = None) -> str | None:
        """Return why nobody can be invited any more ("cancelled", "over"), or None."""
        if self.is_cancelled:
            return "cancelled"
        if self.ends_at <= (now or utcnow()):
            return "over"
        return None

    def open_for_invitations(self, now: datetime | None = None) -> bool:
        """Whether people may be invited now: not cancelled, not over."""
        return self.invitations_closed_reason(now) is None

    @property
    def cancellable(self) -> bool:
        """Whether ``cancel`` may be called: a held session stays held."""
        return self.status == SessionStatus.SCHEDULED

    def cancel(self, now: datetime | None = None) -> None:
        """Mark the session cancelled (callers check ``cancellable``); calendars see a new
        SEQUENCE."""
        self.status = SessionStatus.CANCELLED
        self.cancelled_at = now or utcnow()
        self.sequence += 1

    def restore(self) -> None:
        """Bring a cancelled session back as scheduled; calendars see a new SEQUENCE."""
        self.status = SessionStatus.SCHEDULED
        self.cancelled_at = None
        self.sequence += 1


class Registration(Model):
    """A sign-up for one session: a resident's own, or a proxy entry by a cadre."""

    __tablename__ = "registrations"
    __table_args__ = (
        check_in("status", RegistrationStatus),
        # One registration per person and session; proxies (no account) have no user.
        UniqueConstraint("meeting_id", "user_id"),
        # A retried sign-up names the key of the first try (the Idempotency-Key header).
        UniqueConstraint("meeting_id", "idempotency_key"),
        CheckConstraint("user_id IS NOT NULL OR name IS NOT NULL", name="who"),
        Index("ix_registrations_meeting_status_created", "meeting_id", "status", "created_at"),
        Index("ix_registrations_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: For a proxy sign-up: the person's name and phone as given at the desk.
    name: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12))
    #: Sign-up time: the waiting list is served in this order.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Who entered it (the cadre, for a proxy sign-up).
    registered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The client's Idempotency-Key of the request that made it: a retry with the same
    #: key gets this registration back instead of a conflict.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    #: Raised by every change (a personal calendar feed follows its owner's sign-ups).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    meeting: Mapped[Meeting] = relationship(back_populates="registrations")
    user = relationship("User", foreign_keys=[user_id])
    registered_by = relationship("User", foreign_keys=[registered_by_id])

    def __repr__(self) -> str:
        return f"<Registration {self.id} meeting={self.meeting_id} {self.status}>"

    @property
    def display_name(self) -> str:
        return self.user.name if self.user is not None else (self.name or "")


class Invitation(Model):
    """An invitation sent to an address (a unit's representative, a named person)."""

    __tablename__ = "invitations"
    __table_args__ = (
        check_in("partstat", PartStat),
        UniqueConstraint("meeting_id", "email"),
        Index("ix_invitations_email", "email"),
        # A person's invitations, by account or by address (personal calendar feeds).
        Index("ix_invitations_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    #: Lower-cased; an account with this email may see a private session.
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The unit this invitation went to, for invitations to a unit's representatives.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    #: True when the invitation covers every occurrence of the session's series.
    whole_series: Mapped[bool] = mapped_column(Boolean, default=False)
    partstat: Mapped[str] = mapped_column(String(16), default=PartStat.NEEDS_ACTION)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Raised by every change (a personal calendar feed follows its owner's invitations).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    meeting: Mapped[Meeting] = relationship(back_populates="invitations")
    user = relationship("User", foreign_keys=[user_id])
    unit = relationship("Unit")

    def __repr__(self) -> str:
        return f"<Invitation {self.id} meeting={self.meeting_id} {self.email} {self.partstat}>"


class Attendance(Model):
    """Who was at a session: a registrant, an invitee, or a walk-in."""

    __tablename__ = "attendance"
    __table_args__ = (
        check_in("status", AttendanceStatus),
        UniqueConstraint("meeting_id", "registration_id"),
        UniqueConstraint("meeting_id", "invitation_id"),
        CheckConstraint(
            "registration_id IS NOT NULL OR invitation_id IS NOT NULL OR name IS NOT NULL",
            name="who",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE")
    )
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE")
    )
    #: A walk-in's name (no registration, no invitation).
    name: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(10))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    meeting: Mapped[Meeting] = relationship()
    registration: Mapped[Registration | None] = relationship()
    invitation: Mapped[Invitation | None] = relationship()

    def __repr__(self) -> str:
        return f"<Attendance {self.id} meeting={self.meeting_id} {self.status}>"
