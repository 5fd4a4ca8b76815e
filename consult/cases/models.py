"""Resident cases through the four-level grid, the issues that group them, evaluations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consult.enums import (
    CaseCategory,
    CaseEventKind,
    CaseLevel,
    CaseSource,
    CaseStatus,
    IssueStatus,
    Rating,
    check_in,
)
from consult.extensions import Model
from consult.types import UTCDateTime, utcnow

#: Statuses in which a case or an issue is still being handled (so it can be overdue,
#: escalated, put on an agenda or resolved).
ACTIVE = (CaseStatus.OPEN, CaseStatus.REOPENED)


class _Handled:
    """What cases and issues share: a status that moves by the class's table of moves
    (``MOVES``, keyed by (from, to)), and being "active" while open or reopened."""

    MOVES: ClassVar[dict]
    if TYPE_CHECKING:
        status: Mapped[str]

    @hybrid_property
    def active(self) -> bool:
        """Whether it is still being handled (open or reopened)."""
        return self.status in ACTIVE

    @active.inplace.expression
    @classmethod
    def _active_expression(cls):
        return cls.status.in_(ACTIVE)

    def may_become(self, to_status: str) -> bool:
        """Whether the table of moves lets it go from its status to ``to_status``."""
        return (self.status, to_status) in self.MOVES


class Issue(_Handled, Model):
    """A topic put to sessions, grouping one or more cases."""

    #: The issue's life, as its cases': (from, to) -> the timestamp column the
    #: move sets, or None.
    MOVES: ClassVar[dict[tuple[str, str], str | None]] = {
        (IssueStatus.OPEN, IssueStatus.RESOLVED): "resolved_at",
        (IssueStatus.REOPENED, IssueStatus.RESOLVED): "resolved_at",
        (IssueStatus.RESOLVED, IssueStatus.CLOSED): None,
        (IssueStatus.RESOLVED, IssueStatus.REOPENED): None,
    }

    __tablename__ = "issues"
    __table_args__ = (
        check_in("status", IssueStatus),
        CheckConstraint("evaluation_round >= 1", name="evaluation_round"),
        Index("ix_issues_community_created", "community_id", "created_at"),
        Index("ix_issues_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default=IssueStatus.OPEN)
    #: Rises each time the issue is reopened, so representatives evaluate afresh.
    evaluation_round: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The resolution that resolved it (outcome "resolved"), when it is resolved.
    resolution_id: Mapped[int | None] = mapped_column(
        ForeignKey("resolutions.id", ondelete="SET NULL", use_alter=True), index=True
    )

    community = relationship("Community")
    created_by = relationship("User")
    cases: Mapped[list[Case]] = relationship(back_populates="issue", order_by="Case.id")
    resolution = relationship("Resolution", foreign_keys=[resolution_id])
    evaluations: Mapped[list[Evaluation]] = relationship(back_populates="issue")

    def __repr__(self) -> str:
        return f"<Issue {self.id} {self.status}>"


class Case(_Handled, Model):
    """One resident complaint or request, handled at the lowest grid level that can."""

    #: The case's life: resolved by a resolution, closed or reopened by the
    #: representatives' evaluation, and resolved again after reopening. (from, to) -> the
    #: timestamp column the move sets.
    MOVES: ClassVar[dict[tuple[str, str], str]] = {
        (CaseStatus.OPEN, CaseStatus.RESOLVED): "resolved_at",
        (CaseStatus.REOPENED, CaseStatus.RESOLVED): "resolved_at",
        (CaseStatus.RESOLVED, CaseStatus.CLOSED): "closed_at",
        (CaseStatus.RESOLVED, CaseStatus.REOPENED): "reopened_at",
    }

    __tablename__ = "cases"
    __table_args__ = (
        check_in("category", CaseCategory),
        check_in("source", CaseSource),
        check_in("status", CaseStatus),
        CheckConstraint("level BETWEEN 1 AND 4", name="level"),
        CheckConstraint(
            "(status IN ('resolved', 'closed')) = (resolution_id IS NOT NULL)",
            name="resolved_by_resolution",
        ),
        Index("ix_cases_community_created", "community_id", "created_at"),
        Index("ix_cases_status_level", "status", "level"),
        Index("ix_cases_source", "source"),
        Index("ix_cases_issue_id", "issue_id"),
        Index("ix_cases_resolution_id", "resolution_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The grid platform's own id (编号); importing the same export twice adds nothing.
    reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    #: The grid cell (网格) the case was collected in, as the platform names it.
    grid: Mapped[str | None] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(10), default=CaseSource.GRID)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    reporter_name: Mapped[str | None] = mapped_column(String(120))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    #: When the resident raised it (the platform's 上报时间), in UTC.
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Grid level now handling it: 1 grid member ... 4 town party committee.
    level: Mapped[int] = mapped_column(Integer, default=CaseLevel.GRID_MEMBER)
    #: When the case reached its current level; time limits run from here.
    level_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default=CaseStatus.OPEN)
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issues.id", ondelete="SET NULL"))
    #: The resolution that resolved it; set exactly when status is resolved or closed.
    resolution_id: Mapped[int | None] = mapped_column(
        ForeignKey("resolutions.id", ondelete="RESTRICT", use_alter=True)
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The session where a resident raised it (source "session").
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    community = relationship("Community")
    issue: Mapped[Issue | None] = relationship(back_populates="cases")
    resolution = relationship("Resolution", foreign_keys=[resolution_id])
    created_by = relationship("User")
    meeting = relationship("Meeting")
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.at", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Case {self.id} L{self.level} {self.status}>"


class CaseEvent(Model):
    """One entry of a case's timeline: a change of status or level, with who and why."""

    __tablename__ = "case_events"
    __table_args__ = (
        check_in("kind", CaseEventKind),
        Index("ix_case_events_case_at", "case_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(10))
    from_value: Mapped[str | None] = mapped_column(String(20))
    to_value: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    #: The resolution behind a change to resolved, when there is one.
    resolution_id: Mapped[int | None] = mapped_column(
        ForeignKey("resolutions.id", ondelete="SET NULL", use_alter=True)
    )

    case: Mapped[Case] = relationship(back_populates="events")
    actor = relationship("User")

    def __repr__(self) -> str:
        return f"<CaseEvent {self.id} case={self.case_id} {self.kind} {self.to_value}>"


class Evaluation(Model):
    """A residents' representative's rating of a resolved issue."""

    __tablename__ = "evaluations"
    __table_args__ = (
        check_in("rating", Rating),
        UniqueConstraint("issue_id", "user_id", "round"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: The issue's evaluation round this rating belongs to.
    round: Mapped[int] = mapped_column(Integer, default=1)
    rating: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    issue: Mapped[Issue] = relationship(back_populates="evaluations")
    user = relationship("User")

    def __repr__(self) -> str:
        return f"<Evaluation {self.id} issue={self.issue_id} {self.rating}>"
