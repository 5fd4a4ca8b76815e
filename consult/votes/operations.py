"""Every write about votes and quorum rules. Operations flush and audit; the caller commits."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from consult import audit
from consult.enums import Majority, QuorumBase, SessionKind, VoteChoice, VoteMethod
from consult.errors import RefusedInput
from consult.extensions import db
from consult.minutes.models import AgendaItem
from consult.types import utcnow
from consult.votes.models import Ballot, QuorumRule, Vote
from consult.votes.queries import quorum_state
from consult.votes.rules import DEFAULTS

#: More ballots than any hall holds: a list longer than this is refused outright.
MAX_BALLOTS = 10_000


class VoteError(RefusedInput):
    """Refused input about a vote; ``error_code`` is the API's machine code."""

    def __init__(
        self, message, field: str | None = None, status: int = 422, error_code: str | None = None
    ):
        super().__init__(message, field, status)
        self.error_code = error_code


def _count(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise VoteError(_l("Give a whole number of votes."), field)
    if value < 0:
        raise VoteError(_l("A number of votes cannot be negative."), field)
    return value


def _ballots(raw, state) -> tuple[list[dict], dict[str, int]]:
    """Check the named votes against the people present; return the ballots and counts."""
    if not isinstance(raw, list | tuple) or not raw:
        raise VoteError(_l("Give at least one person's vote."), "votes")
    if len(raw) > MAX_BALLOTS:
        raise VoteError(_l("Too many votes."), "votes")
    by_user = {v.user_id: v for v in state.voters if v.user_id is not None}
    by_attendance = {v.attendance_id: v for v in state.voters}
    ballots, seen, units = [], set(), set()
    counts: dict[str, int] = dict.fromkeys(VoteChoice, 0)
    for number, entry in enumerate(raw):
        field = f"votes.{number}"
        if not isinstance(entry, dict):
            raise VoteError(_l("Each vote names a person and a choice."), field)
        choice = entry.get("choice")
        if choice not in VoteChoice:
            raise VoteError(_l("Choose for, against or abstain."), f"{field}.choice")
        voter = None
        if entry.get("attendance") is not None:
            key = entry["attendance"]
            if isinstance(key, int) and not isinstance(key, bool):
                voter = by_attendance.get(key)
        else:
            key = entry.get("user")
            if isinstance(key, bool) or not isinstance(key, int):
                raise VoteError(_l("Give the person's user id."), f"{field}.user")
            voter = by_user.get(key)
        if voter is None:
            raise VoteError(
                _l("Person %(id)s is not recorded present at this session.", id=key), field
            )
        if voter.attendance_id in seen:
            raise VoteError(_l("%(name)s is named twice.", name=voter.name), field)
        seen.add(voter.attendance_id)
        if state.rule.per_unit:
            if voter.unit_id is None:
                raise VoteError(
                    _l(
                        "%(name)s represents no alliance unit; at this meeting "
                        "each unit present has one vote.",
                        name=voter.name,
                    ),
                    field,
                )
            if voter.unit_id in units:
                raise VoteError(
                    _l(
                        "%(unit)s has voted already: one vote per unit.",
                        unit=voter.unit_name or voter.unit_id,
                    ),
                    field,
                )
            units.add(voter.unit_id)
        counts[choice] += 1
        ballots.append(
            {
                "attendance_id": voter.attendance_id,
                "user_id": voter.user_id,
                "unit_id": voter.unit_id if state.rule.per_unit else None,
                "name": voter.name[:200] or "-",
                "choice": choice,
            }
        )
    return ballots, counts


def record_vote(item: AgendaItem, data: dict, user) -> Vote:
    """Put an agenda item to the vote: {"for", "against", "abstain"} (counts) or
    {"votes": [{"user": id | "attendance": id, "choice"}]} (by name).

    The session must have started and not be cancelled; the quorum of its kind and
    community is checked against the attendance; a second vote on the item is refused.
    """
    meeting = item.meeting
    if meeting.is_cancelled:
        raise VoteError(_l("The session is cancelled."), None, 409)
    if meeting.starts_at > utcnow():
        raise VoteError(
            _l("The session has not started yet: a vote is taken during the session."), None, 409
        )
    if item.vote is not None:
        raise VoteError(
            _l("This agenda item has been put to a vote already."), None, 409, "already_voted"
        )
    named = data.get("votes") is not None
    if named and any(data.get(k) is not None for k in VoteChoice):
        raise VoteError(_l("Give either counts or each person's vote, not both."), "votes")
    state = quorum_state(meeting)
    if named:
        ballots, counts = _ballots(data.get("votes"), state)
    else:
        ballots = []
        counts = {k: _count(data.get(k, 0), k) for k in VoteChoice}
    total = sum(counts.values())
    if total == 0:
        raise VoteError(_l("No vote was cast."), "for")
    if not state.reached:
        raise VoteError(
            _l(
                "No quorum: %(present)d present, %(required)d needed. Record the attendance "
                "first, or the vote cannot be taken.",
                present=state.present,
                required=state.required,
            ),
            None,
            409,
            "no_quorum",
        )
    if total > state.max_votes:
        raise VoteError(
            _l(
                "%(total)d votes, but only %(present)d may vote (those recorded present).",
                total=total,
                present=state.max_votes,
            ),
            "for",
        )
    rule = state.rule
    vote = Vote(
        agenda_item_id=item.id,
        method=VoteMethod.BALLOTS if named else VoteMethod.COUNTS,
        votes_for=counts["for"],
        votes_against=counts["against"],
        votes_abstain=counts["abstain"],
        result="carried"
        if rule.carried(counts["for"], counts["against"], counts["abstain"])
        else "rejected",
        base=rule.base,
        majority=rule.majority,
        quorum_required=state.required,
        quorum_present=state.present,
        recorded_by_id=getattr(user, "id", None),
        created_at=utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(vote)
            db.session.flush()
    except IntegrityError:
        # Another vote on the same item was committed meanwhile.
        raise VoteError(
            _l("This agenda item has been put to a vote already."), None, 409, "already_voted"
        ) from None
    for ballot in ballots:
        db.session.add(Ballot(vote_id=vote.id, **ballot))
    db.session.flush()
    audit.record(
        "vote.record",
        vote,
        user,
        agenda_item=item.id,
        session=meeting.id,
        result=vote.result,
        counts=counts,
        quorum=[state.present, state.required],
        method=vote.method,
    )
    return vote


def set_quorum_rule(community, kind: str, data: dict, user) -> QuorumRule | None:
    """Set a community's rule for a kind of session: {base, numerator, denominator,
    majority}; the default values remove the community's own rule (return None)."""
    if kind not in SessionKind:
        raise RefusedInput(_l("Unknown kind of session."), "kind")
    base, majority = data.get("base"), data.get("majority")
    if base not in QuorumBase:
        raise RefusedInput(_l("Choose whom the quorum counts."), "base")
    if majority not in Majority:
        raise RefusedInput(_l("Choose the majority that carries a vote."), "majority")
    numerator, denominator = data.get("numerator"), data.get("denominator")
    for value, field in ((numerator, "numerator"), (denominator, "denominator")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise RefusedInput(_l("Give a whole number."), field)
    if denominator < 1 or denominator > 100:
        raise RefusedInput(_l("The share is out of 1 to 100."), "denominator")
    if numerator < 0 or numerator > denominator:
        raise RefusedInput(_l("The share is between none and all."), "numerator")
    if base == "none":
        numerator, denominator = 0, 1
    row = db.session.scalar(
        select(QuorumRule).where(QuorumRule.community_id == community.id, QuorumRule.kind == kind)
    )
    default = DEFAULTS[kind]
    if (base, numerator, denominator, majority) == (
        default.base,
        default.numerator,
        default.denominator,
        default.majority,
    ) or (base == default.base == "none" and majority == default.majority):
        if row is not None:
            db.session.delete(row)
            db.session.flush()
            audit.record("quorum.default", community, user, kind=kind)
        return None
    if row is None:
        row = QuorumRule(community_id=community.id, kind=kind)
        db.session.add(row)
    row.base, row.majority = base, majority
    row.presence_numerator, row.presence_denominator = numerator, denominator
    row.updated_by_id = getattr(user, "id", None)
    row.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "quorum.set",
        community,
        user,
        kind=kind,
        base=base,
        presence=f"{numerator}/{denominator}",
        majority=majority,
    )
    return row
