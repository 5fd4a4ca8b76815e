"""The programme's vocabularies, shared by models, forms, API and CLI.

Each is a ``StrEnum``: its members are the strings stored in the database, so they
compare equal to the values read back, and ``"admin" in Role`` says whether a string
is one of them. Each is stored as a short string with a CHECK constraint listing its
values in the order given here, so the database refuses a value the code does not know.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import EnumType, IntEnum, StrEnum

from sqlalchemy import CheckConstraint


class _VocabularyType(EnumType):
    def __contains__(cls, value: object) -> bool:
        # Python 3.12 answers for values too; 3.11 would raise TypeError for a string.
        return isinstance(value, str) and value in cls._value2member_map_


class Vocabulary(StrEnum, metaclass=_VocabularyType):
    """A vocabulary whose values are strings; ``value in Vocabulary`` tests a string."""


def check_in(column: str, values: Iterable[str], name: str | None = None) -> CheckConstraint:
    """Return a named CHECK constraint restricting ``column`` to ``values``."""
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name or column)


class Role(Vocabulary):
    ADMIN = "admin"
    CADRE = "cadre"
    SECRETARY = "secretary"
    RESIDENT = "resident"
    UNIT_REP = "unit_rep"


STAFF_ROLES = (Role.ADMIN, Role.CADRE, Role.SECRETARY)


class SessionKind(Vocabulary):
    ROUNDTABLE = "roundtable"
    FRIDAY_TALK = "friday_talk"
    JOINT_MEETING = "joint_meeting"
    SENTIMENT_TALK = "sentiment_talk"
    DELIBERATION = "deliberation"
    MEDIATION = "mediation"


#: Kinds that are private unless the organiser says otherwise.
PRIVATE_KINDS = (SessionKind.MEDIATION,)


class SessionStatus(Vocabulary):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    HELD = "held"


class SeriesStatus(Vocabulary):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class Visibility(Vocabulary):
    PUBLIC = "public"
    PRIVATE = "private"


class RegistrationStatus(Vocabulary):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class PartStat(Vocabulary):
    """An invitee's answer, as iCalendar's PARTSTAT names it."""

    NEEDS_ACTION = "NEEDS-ACTION"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    TENTATIVE = "TENTATIVE"


class AttendanceStatus(Vocabulary):
    PRESENT = "present"
    ABSENT = "absent"
    LATE = "late"


class VenueKind(Vocabulary):
    HALL = "hall"
    MEETING_ROOM = "meeting_room"
    MEDIATION_ROOM = "mediation_room"
    OUTDOOR = "outdoor"
    OTHER = "other"


class UnitKind(Vocabulary):
    GOVERNMENT_AGENCY = "government_agency"
    ENTERPRISE = "enterprise"
    PUBLIC_INSTITUTION = "public_institution"
    SOCIAL_ORGANISATION = "social_organisation"
    MASS_ORGANISATION = "mass_organisation"
    OWNERS_COMMITTEE = "owners_committee"
    PROPERTY_COMPANY = "property_company"


class CaseCategory(Vocabulary):
    CONCERN = "concern"
    CONFLICT = "conflict"
    URGENT = "urgent"


class CaseSource(Vocabulary):
    GRID = "grid"
    SESSION = "session"
    WALK_IN = "walk_in"
    HOTLINE = "hotline"
    ONLINE = "online"


class CaseStatus(Vocabulary):
    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


class CaseLevel(IntEnum):
    """The four levels of the grid, from the lowest: who handles a case at each."""

    GRID_MEMBER = 1
    GRID_PARTY_ORGANISATION = 2
    COMMUNITY_PARTY_COMMITTEE = 3
    TOWN_PARTY_COMMITTEE = 4


class CaseEventKind(Vocabulary):
    CREATED = "created"
    STATUS = "status"
    LEVEL = "level"
    ISSUE = "issue"
    COMMENT = "comment"
    LEFT_OPEN = "left_open"


class IssueStatus(Vocabulary):
    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


class Outcome(Vocabulary):
    RESOLVED = "resolved"
    DEFERRED = "deferred"
    ESCALATED = "escalated"
    REFERRED = "referred"


class ActionStatus(Vocabulary):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class MinutesStatus(Vocabulary):
    DRAFT = "draft"
    APPROVED = "approved"
    PUBLISHED = "published"


class Rating(Vocabulary):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"


class OutboxStatus(Vocabulary):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboxTransport(Vocabulary):
    """How an outbox message travels: SMTP, or an HTTP request to a notice channel."""

    MAIL = "mail"
    CHANNEL = "channel"


class ChannelKind(Vocabulary):
    """Notice channels: group robots (WeCom, DingTalk, Feishu), any JSON webhook, SMS."""

    WECOM = "wecom"
    DINGTALK = "dingtalk"
    FEISHU = "feishu"
    WEBHOOK = "webhook"
    SMS = "sms"


class VoteChoice(Vocabulary):
    FOR = "for"
    AGAINST = "against"
    ABSTAIN = "abstain"


class VoteResult(Vocabulary):
    CARRIED = "carried"
    REJECTED = "rejected"


class VoteMethod(Vocabulary):
    """How a vote was recorded: counts only, or each person's ballot."""

    COUNTS = "counts"
    BALLOTS = "ballots"


class QuorumBase(Vocabulary):
    """Whom a quorum counts: everyone expected (invited or signed up), the alliance units
    invited (one vote per unit present), or nobody (anyone present may vote)."""

    EXPECTED = "expected"
    UNITS = "units"
    NONE = "none"


class Majority(Vocabulary):
    """What carries a motion: more for than against; two thirds of for and against;
    for without a single against."""

    SIMPLE = "simple"
    TWO_THIRDS = "two_thirds"
    UNANIMOUS = "unanimous"


class FeedScope(Vocabulary):
    MINE = "mine"
    COMMUNITY = "community"
