"""Reads about votes shared by the pages, the API and the minutes: who is present, the
quorum as it stands, and a vote as the API shows it."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from consult.community.models import Unit
from consult.enums import QuorumBase, RegistrationStatus
from consult.extensions import db
from consult.meetings.models import Attendance, Invitation, Meeting, Registration
from consult.votes.models import Vote
from consult.votes.rules import Rule, rule_for

PRESENT = ("present", "late")


@dataclass
class Voter:
    """Someone recorded present who may vote."""

    attendance_id: int
    name: str
    user_id: int | None = None
    unit_id: int | None = None
    unit_name: str | None = None


@dataclass
class QuorumState:
    rule: Rule
    #: How many count for the quorum (people expected, or units invited).
    members: int
    #: How many of them are present (people, or units).
    present: int
    required: int
    voters: list[Voter] = field(default_factory=list)

    @property
    def reached(self) -> bool:
        return self.present >= self.required

    @property
    def max_votes(self) -> int:
        """The most votes that may be cast: one per person (or unit) present."""
        return self.present


def voters_present(meeting: Meeting) -> list[Voter]:
    """Everyone recorded present (or late) at the session, in the order recorded."""
    rows = db.session.scalars(
        select(Attendance)
        .where(Attendance.meeting_id == meeting.id, Attendance.status.in_(PRESENT))
        .options(
            joinedload(Attendance.registration).joinedload(Registration.user),
            joinedload(Attendance.invitation).joinedload(Invitation.user),
            joinedload(Attendance.invitation).joinedload(Invitation.unit),
        )
        .order_by(Attendance.recorded_at, Attendance.id)
    )
    voters = []
    unit_ids = set()
    for row in rows:
        voter = Voter(row.id, row.name or "")
        if row.registration is not None:
            user = row.registration.user
            voter.name = user.name if user is not None else (row.registration.name or "")
            voter.user_id = user.id if user is not None else None
            voter.unit_id = user.unit_id if user is not None else None
        elif row.invitation is not None:
            inv = row.invitation
            voter.user_id = inv.user_id
            voter.name = inv.name or (inv.user.name if inv.user is not None else inv.email)
            voter.unit_id = inv.unit_id or (inv.user.unit_id if inv.user is not None else None)
        if voter.unit_id is not None:
            unit_ids.add(voter.unit_id)
        voters.append(voter)
    if unit_ids:
        names = {
            row.id: row.name
            for row in db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids)))
        }
        for voter in voters:
            voter.unit_name = names.get(voter.unit_id)
    return voters


def expected_members(meeting: Meeting) -> int:
    """People expected at the session: those invited and those with a confirmed place."""
    people: set[tuple] = set()
    for user_id, email in db.session.execute(
        select(Invitation.user_id, Invitation.email).where(Invitation.meeting_id == meeting.id)
    ):
        people.add(("u", user_id) if user_id is not None else ("e", email.lower()))
    for reg_id, user_id in db.session.execute(
        select(Registration.id, Registration.user_id).where(
            Registration.meeting_id == meeting.id,
            Registration.status == RegistrationStatus.CONFIRMED,
        )
    ):
        people.add(("u", user_id) if user_id is not None else ("r", reg_id))
    return len(people)


def invited_units(meeting: Meeting) -> int:
    """The alliance units invited to the session (each has one vote at a joint meeting)."""
    return (
        db.session.scalar(
            select(func.count(func.distinct(Invitation.unit_id))).where(
                Invitation.meeting_id == meeting.id, Invitation.unit_id.is_not(None)
            )
        )
        or 0
    )


def quorum_state(meeting: Meeting) -> QuorumState:
    """The session's quorum as it stands: its rule, the base, who is present."""
    rule = rule_for(meeting.community_id, meeting.kind)
    voters = voters_present(meeting)
    if rule.per_unit:
        members = invited_units(meeting)
        present = len({v.unit_id for v in voters if v.unit_id is not None})
    else:
        members = expected_members(meeting) if rule.base == QuorumBase.EXPECTED else len(voters)
        present = len(voters)
    return QuorumState(rule, members, present, rule.required(members), voters)


def vote_document(vote: Vote | None) -> dict | None:
    """The vote as the API shows it, or None."""
    if vote is None:
        return None
    return {
        "result": vote.result,
        "for": vote.votes_for,
        "against": vote.votes_against,
        "abstain": vote.votes_abstain,
        "quorum": {"required": vote.quorum_required, "present": vote.quorum_present},
    }


def meeting_votes(meeting: Meeting) -> dict[int, Vote]:
    """The votes taken at a session, by agenda item id."""
    from consult.minutes.models import AgendaItem

    return {
        v.agenda_item_id: v
        for v in db.session.scalars(
            select(Vote)
            .join(AgendaItem, AgendaItem.id == Vote.agenda_item_id)
            .where(AgendaItem.meeting_id == meeting.id)
        )
    }
