"""The programme's vocabularies (DESIGN.md), shared by models, forms, API and CLI.

Each is stored as a short string with a CHECK constraint, so the database refuses a
value the code does not know.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint


def check_in(column: str, values: tuple[str, ...], name: str | None = None) -> CheckConstraint:
    """Return a named CHECK constraint restricting ``column`` to ``values``."""
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name or column)


ROLES = ("admin", "cadre", "secretary", "resident", "unit_rep")
STAFF_ROLES = ("admin", "cadre", "secretary")

SESSION_KINDS = (
    "roundtable",
    "friday_talk",
    "joint_meeting",
    "sentiment_talk",
    "deliberation",
    "mediation",
)
#: Kinds that are private unless the organiser says otherwise (API.md).
PRIVATE_KINDS = ("mediation",)
SESSION_STATUSES = ("scheduled", "cancelled", "held")
VISIBILITIES = ("public", "private")

REGISTRATION_STATUSES = ("confirmed", "waitlisted", "cancelled")
PARTSTATS = ("NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE")
ATTENDANCE_STATUSES = ("present", "absent", "late")

VENUE_KINDS = ("hall", "meeting_room", "mediation_room", "outdoor", "other")
UNIT_KINDS = (
    "government_agency",
    "enterprise",
    "public_institution",
    "social_organisation",
    "mass_organisation",
    "owners_committee",
    "property_company",
)

CASE_CATEGORIES = ("concern", "conflict", "urgent")
CASE_SOURCES = ("grid", "session", "walk_in", "hotline", "online")
CASE_STATUSES = ("open", "resolved", "closed", "reopened")
CASE_LEVELS = (1, 2, 3, 4)
ISSUE_STATUSES = ("open", "resolved", "closed", "reopened")

OUTCOMES = ("resolved", "deferred", "escalated", "referred")
ACTION_STATUSES = ("open", "done", "cancelled")
MINUTES_STATUSES = ("draft", "approved", "published")
RATINGS = ("satisfied", "basically_satisfied", "unsatisfied")

OUTBOX_STATUSES = ("queued", "sending", "sent", "failed")
#: How an outbox message travels: SMTP, or an HTTP request to a notice channel.
OUTBOX_TRANSPORTS = ("mail", "channel")
#: Notice channels: group robots (WeCom, DingTalk, Feishu), any JSON webhook, an SMS gateway.
CHANNEL_KINDS = ("wecom", "dingtalk", "feishu", "webhook", "sms")

VOTE_CHOICES = ("for", "against", "abstain")
VOTE_RESULTS = ("carried", "rejected")
#: Whom a quorum counts: everyone expected (invited or signed up), the alliance units
#: invited (one vote per unit present), or nobody (anyone present may vote).
QUORUM_BASES = ("expected", "units", "none")
#: What carries a motion: more for than against; two thirds of for and against;
#: for without a single against.
MAJORITIES = ("simple", "two_thirds", "unanimous")
FEED_SCOPES = ("mine", "community")
