"""The town, its communities, venues, and the "1+X" alliance of partner units."""

from __future__ import annotations

from datetime import date, datetime

from flask import current_app
from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consult.enums import UnitKind, VenueKind, check_in
from consult.extensions import Model
from consult.types import UTCDateTime, utcnow


def configured_timezone() -> str:
    return current_app.config["CONSULT_TIMEZONE"]


class Town(Model):
    __tablename__ = "towns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: The town's IANA zone (CONSULT_TIMEZONE, unless given when the town was made).
    timezone: Mapped[str] = mapped_column(String(64), default=configured_timezone)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    communities: Mapped[list[Community]] = relationship(back_populates="town")

    def __repr__(self) -> str:
        return f"<Town {self.id} {self.name}>"


class Community(Model):
    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int | None] = mapped_column(
        ForeignKey("towns.id", ondelete="SET NULL"), index=True
    )
    #: Unique across the installation: the API names communities by name.
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: The community's brand for its work, e.g. "Hehe New Neighbors".
    brand: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Raised by the database (triggers of migration 0010) whenever a session or series
    #: of the community changes, and for every community when a venue or a person's name
    #: or address changes: what the community's calendar feed shows is unchanged while
    #: it is. The application raises it only when the community is renamed (lists of
    #: sessions kept under it show the name; consult.community.operations).
    calendar_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Raised by the database likewise whenever a case or an issue of the community
    #: changes: with ``calendar_version``, what the statistics count (consult.stats).
    stats_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Raised by the database likewise (triggers of migration 0012) whenever what a
    #: session page shows besides its session and series changes: a sign-up, an
    #: invitation, an agenda item, a resolution, minutes or attendance of one of the
    #: community's sessions, or its alliance; and for every community when a unit, or
    #: whether a person may be named in minutes, changes (consult.meetings.views.show).
    activity_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    town: Mapped[Town | None] = relationship(back_populates="communities")
    venues: Mapped[list[Venue]] = relationship(back_populates="community")
    alliance: Mapped[list[AllianceMember]] = relationship(
        back_populates="community", order_by="AllianceMember.rotation_position"
    )

    def __repr__(self) -> str:
        return f"<Community {self.id} {self.name}>"


class Unit(Model):
    """A partner organisation of the alliance ("X" in "1+X")."""

    __tablename__ = "units"
    __table_args__ = (check_in("kind", UnitKind), Index("ix_units_kind", "kind"))

    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int | None] = mapped_column(ForeignKey("towns.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    representatives = relationship("User", back_populates="unit")
    memberships: Mapped[list[AllianceMember]] = relationship(back_populates="unit")

    def __repr__(self) -> str:
        return f"<Unit {self.id} {self.name} ({self.kind})>"


class AllianceMember(Model):
    """A unit's place in a community's alliance, and its turn in the host rotation."""

    __tablename__ = "alliance_members"
    __table_args__ = (
        UniqueConstraint("community_id", "unit_id"),
        UniqueConstraint("community_id", "rotation_position"),
        CheckConstraint("rotation_position IS NULL OR rotation_position >= 1", name="rotation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    joined_on: Mapped[date | None] = mapped_column(Date)
    #: 1-based order in which units host joint meetings; None: not in the rotation.
    rotation_position: Mapped[int | None] = mapped_column(Integer)

    community: Mapped[Community] = relationship(back_populates="alliance")
    unit: Mapped[Unit] = relationship(back_populates="memberships")

    def __repr__(self) -> str:
        return f"<AllianceMember community={self.community_id} unit={self.unit_id}>"


class Agreement(Model):
    """A joint-construction agreement between a community and a unit."""

    __tablename__ = "agreements"
    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR ends_on >= signed_on", name="term"),
        Index("ix_agreements_community_unit", "community_id", "unit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    signed_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    #: What the unit commits to (services, resources, volunteers).
    commitments: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    community: Mapped[Community] = relationship()
    unit: Mapped[Unit] = relationship()

    def __repr__(self) -> str:
        return f"<Agreement {self.id} community={self.community_id} unit={self.unit_id}>"


class Venue(Model):
    """A room or hall; owned by a community, or offered by a unit ("resource joint use")."""

    __tablename__ = "venues"
    __table_args__ = (
        check_in("kind", VenueKind),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity"),
        CheckConstraint("community_id IS NOT NULL OR unit_id IS NOT NULL", name="owner"),
        UniqueConstraint("community_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The community the venue serves; its name is unique within it.
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    #: The unit that offers the venue, when it is not the community's own.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default=VenueKind.MEETING_ROOM)
    capacity: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Raised by every change (calendars show the name and the address).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    community: Mapped[Community | None] = relationship(back_populates="venues")
    unit: Mapped[Unit | None] = relationship()

    def __repr__(self) -> str:
        return f"<Venue {self.id} {self.name}>"
