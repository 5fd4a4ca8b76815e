"""What sessions discuss and decide: agendas, resolutions, actions and minutes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consult.enums import ActionStatus, MinutesStatus, Outcome, check_in
from consult.extensions import Model, db
from consult.types import UTCDateTime, utcnow

#: Every case a resolution closed, kept even if the case is later reopened and
#: resolved again by another resolution.
resolution_cases = Table(
    "resolution_cases",
    db.metadata,
    Column("resolution_id", ForeignKey("resolutions.id", ondelete="CASCADE"), primary_key=True),
    Column("case_id", ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_resolution_cases_case_id", "case_id"),
)


class AgendaItem(Model):
    __tablename__ = "agenda_items"
    __table_args__ = (Index("ix_agenda_items_meeting_position", "meeting_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    #: 1-based order on the agenda.
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    issue_id: Mapped[int | None] = mapped_column(
        ForeignKey("issues.id", ondelete="SET NULL"), index=True
    )
    #: The action item this agenda item carries over from an earlier session.
    carried_action_id: Mapped[int | None] = mapped_column(
        ForeignKey("action_items.id", ondelete="SET NULL", use_alter=True)
    )
    #: Planned minutes for the item, for a timed agenda.
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    meeting = relationship("Meeting", back_populates="agenda_items")
    issue = relationship("Issue")
    resolution: Mapped[Resolution | None] = relationship(back_populates="agenda_item")
    #: The vote the item was put to, if any.
    vote = relationship("Vote", back_populates="agenda_item", uselist=False)

    def __repr__(self) -> str:
        return f"<AgendaItem {self.id} meeting={self.meeting_id} #{self.position}>"


class Resolution(Model):
    """What a session decided on an agenda item."""

    __tablename__ = "resolutions"
    __table_args__ = (check_in("outcome", Outcome),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agenda_item_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_items.id", ondelete="RESTRICT"), unique=True
    )
    text: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(10))
    #: The unit a "referred" resolution hands the matter to.
    referred_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agenda_item: Mapped[AgendaItem] = relationship(back_populates="resolution")
    cases = relationship("Case", secondary=resolution_cases, order_by="Case.id")
    actions: Mapped[list[ActionItem]] = relationship(
        back_populates="resolution", cascade="all, delete-orphan"
    )
    referred_unit = relationship("Unit")

    def __repr__(self) -> str:
        return f"<Resolution {self.id} {self.outcome}>"


class ActionItem(Model):
    """Something a resolution asks a unit or a person to do by a date."""

    __tablename__ = "action_items"
    __table_args__ = (
        check_in("status", ActionStatus),
        Index("ix_action_items_unit_status", "unit_id", "status"),
        Index("ix_action_items_assignee_status", "assignee_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resolution_id: Mapped[int] = mapped_column(
        ForeignKey("resolutions.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=ActionStatus.OPEN)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    done_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    resolution: Mapped[Resolution] = relationship(back_populates="actions")
    unit = relationship("Unit")
    assignee = relationship("User", foreign_keys=[assignee_id])
    done_by = relationship("User", foreign_keys=[done_by_id])

    def __repr__(self) -> str:
        return f"<ActionItem {self.id} {self.status}>"


class Minutes(Model):
    """The secretary's record of a session, versioned against lost updates."""

    __tablename__ = "minutes"
    __table_args__ = (check_in("status", MinutesStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(10), default=MinutesStatus.DRAFT)
    #: Rises by one on every save; a save must name the version it started from.
    version: Mapped[int] = mapped_column(Integer, default=0)
    #: {agenda item id (as text): Markdown}
    notes: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

    meeting = relationship("Meeting")
    revisions: Mapped[list[MinutesRevision]] = relationship(
        back_populates="minutes", order_by="MinutesRevision.version"
    )

    def __repr__(self) -> str:
        return f"<Minutes {self.id} meeting={self.meeting_id} v{self.version} {self.status}>"


class MinutesRevision(Model):
    """One saved version of a session's minutes, with its author."""

    __tablename__ = "minutes_revisions"
    __table_args__ = (UniqueConstraint("minutes_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    notes: Mapped[dict] = mapped_column(JSON)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    minutes: Mapped[Minutes] = relationship(back_populates="revisions")
    author = relationship("User")

    def __repr__(self) -> str:
        return f"<MinutesRevision minutes={self.minutes_id} v{self.version}>"
