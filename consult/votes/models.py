"""A vote on an agenda item, its ballots, and the quorum rules of a community."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consult.enums import (
    Majority,
    QuorumBase,
    SessionKind,
    VoteChoice,
    VoteMethod,
    VoteResult,
    check_in,
)
from consult.extensions import Model
from consult.types import UTCDateTime, utcnow


class Vote(Model):
    """The vote an agenda item was put to: the counts, the result, the quorum checked."""

    __tablename__ = "votes"
    __table_args__ = (
        check_in("result", VoteResult),
        check_in("method", VoteMethod),
        check_in("base", QuorumBase),
        check_in("majority", Majority),
        CheckConstraint(
            "votes_for >= 0 AND votes_against >= 0 AND votes_abstain >= 0", name="counts"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: One vote per agenda item.
    agenda_item_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_items.id", ondelete="CASCADE"), unique=True
    )
    #: "counts" (numbers given) or "ballots" (each person's choice recorded).
    method: Mapped[str] = mapped_column(String(10))
    votes_for: Mapped[int] = mapped_column(Integer)
    votes_against: Mapped[int] = mapped_column(Integer)
    votes_abstain: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(10))
    #: The rule applied, as it was when the vote was taken.
    base: Mapped[str] = mapped_column(String(10))
    majority: Mapped[str] = mapped_column(String(10))
    #: Presence the quorum required, and presence counted (people, or units).
    quorum_required: Mapped[int] = mapped_column(Integer)
    quorum_present: Mapped[int] = mapped_column(Integer)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agenda_item = relationship("AgendaItem", back_populates="vote")
    ballots: Mapped[list[Ballot]] = relationship(
        back_populates="vote", cascade="all, delete-orphan", order_by="Ballot.id"
    )
    recorded_by = relationship("User")

    def __repr__(self) -> str:
        return (
            f"<Vote {self.id} item={self.agenda_item_id} {self.votes_for}/"
            f"{self.votes_against}/{self.votes_abstain} {self.result}>"
        )

    @property
    def total(self) -> int:
        return self.votes_for + self.votes_against + self.votes_abstain


class Ballot(Model):
    """One person's choice in a vote taken by name."""

    __tablename__ = "vote_ballots"
    __table_args__ = (
        check_in("choice", VoteChoice),
        UniqueConstraint("vote_id", "attendance_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"), index=True)
    #: The attendance row of the person who voted.
    attendance_id: Mapped[int | None] = mapped_column(
        ForeignKey("attendance.id", ondelete="SET NULL")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The unit the person voted for (joint meetings: one vote per unit).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    #: The voter's name as it was recorded.
    name: Mapped[str] = mapped_column(String(200))
    choice: Mapped[str] = mapped_column(String(10))

    vote: Mapped[Vote] = relationship(back_populates="ballots")

    def __repr__(self) -> str:
        return f"<Ballot vote={self.vote_id} {self.choice}>"


class QuorumRule(Model):
    """A community's own quorum rule for one kind of session (else the default applies)."""

    __tablename__ = "quorum_rules"
    __table_args__ = (
        check_in("kind", SessionKind),
        check_in("base", QuorumBase),
        check_in("majority", Majority),
        CheckConstraint(
            "presence_denominator >= 1 AND presence_numerator >= 0 "
            "AND presence_numerator <= presence_denominator",
            name="presence",
        ),
        UniqueConstraint("community_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    base: Mapped[str] = mapped_column(String(10))
    #: The share of the base that must be present: numerator / denominator (e.g. 2/3).
    presence_numerator: Mapped[int] = mapped_column(Integer)
    presence_denominator: Mapped[int] = mapped_column(Integer)
    majority: Mapped[str] = mapped_column(String(10))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<QuorumRule community={self.community_id} {self.kind}>"
