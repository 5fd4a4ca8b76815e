"""Import every model, so that the metadata (and Alembic) sees the whole schema."""

from consult.accounts.models import ApiToken, Membership, User
from consult.audit.models import AuditEntry
from consult.calendar.models import FeedToken
from consult.cases.models import Case, CaseEvent, Evaluation, Issue
from consult.community.models import Agreement, AllianceMember, Community, Town, Unit, Venue
from consult.mail.models import OutboxMessage
from consult.meetings.models import Attendance, Invitation, Meeting, Registration, Series
from consult.minutes.models import (
    ActionItem,
    AgendaItem,
    Minutes,
    MinutesRevision,
    Resolution,
    resolution_cases,
)
from consult.notices.models import Channel
from consult.votes.models import Ballot, QuorumRule, Vote

__all__ = [
    "ActionItem",
    "AgendaItem",
    "Agreement",
    "AllianceMember",
    "ApiToken",
    "Ballot",
    "Channel",
    "Attendance",
    "AuditEntry",
    "Case",
    "CaseEvent",
    "Community",
    "Evaluation",
    "FeedToken",
    "Invitation",
    "Issue",
    "Meeting",
    "Membership",
    "Minutes",
    "MinutesRevision",
    "OutboxMessage",
    "QuorumRule",
    "Registration",
    "Resolution",
    "Series",
    "Town",
    "Unit",
    "User",
    "Venue",
    "Vote",
    "resolution_cases",
]
