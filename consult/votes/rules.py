"""Quorum rules: the default of each session kind, and a community's own.

Defaults (a community may change each on its administration page):

| kind | who counts | presence needed | carried by |
| --- | --- | --- | --- |
| deliberation | everyone invited or signed up | two thirds | simple majority |
| joint_meeting | the alliance units invited, one vote per unit present | half | simple majority |
| roundtable | everyone invited or signed up | half | simple majority |
| sentiment_talk | anyone present (no presence quorum) | - | simple majority |
| friday_talk | anyone present (no presence quorum) | - | simple majority |
| mediation | the parties invited or signed up | all of them | unanimous |

"Simple majority": more for than against (abstentions count toward presence, not the
result). "Two thirds": for at least twice against. "Unanimous": no vote against.
"Half" is reached with at least half (rounded up) present.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select

from consult.enums import Majority, QuorumBase, SessionKind
from consult.extensions import db
from consult.votes.models import QuorumRule


@dataclass(frozen=True)
class Rule:
    kind: str
    #: "expected", "units" or "none" (QuorumBase).
    base: str
    numerator: int
    denominator: int
    #: "simple", "two_thirds" or "unanimous" (Majority).
    majority: str
    #: Whether the community set it (False: the default).
    own: bool = False

    @property
    def per_unit(self) -> bool:
        return self.base == QuorumBase.UNITS

    def required(self, members: int) -> int:
        """Presence the quorum needs out of ``members`` (at least one person or unit)."""
        if self.base == QuorumBase.NONE:
            return 1
        return max(1, math.ceil(members * self.numerator / self.denominator))

    def carried(self, votes_for: int, votes_against: int, votes_abstain: int) -> bool:
        if self.majority == Majority.UNANIMOUS:
            return votes_for > 0 and votes_against == 0
        if self.majority == Majority.TWO_THIRDS:
            return votes_for > 0 and votes_for >= 2 * votes_against
        return votes_for > votes_against


DEFAULTS: dict[str, Rule] = {
    "deliberation": Rule("deliberation", "expected", 2, 3, "simple"),
    "joint_meeting": Rule("joint_meeting", "units", 1, 2, "simple"),
    "roundtable": Rule("roundtable", "expected", 1, 2, "simple"),
    "sentiment_talk": Rule("sentiment_talk", "none", 0, 1, "simple"),
    "friday_talk": Rule("friday_talk", "none", 0, 1, "simple"),
    "mediation": Rule("mediation", "expected", 1, 1, "unanimous"),
}
assert set(DEFAULTS) == set(SessionKind)


def _from_row(row: QuorumRule) -> Rule:
    return Rule(
        row.kind, row.base, row.presence_numerator, row.presence_denominator, row.majority, own=True
    )


def rule_for(community_id: int, kind: str) -> Rule:
    """The rule of ``kind`` in a community: its own, else the default."""
    row = db.session.scalar(
        select(QuorumRule).where(QuorumRule.community_id == community_id, QuorumRule.kind == kind)
    )
    return _from_row(row) if row is not None else DEFAULTS[kind]


def rules_of(community_id: int) -> list[Rule]:
    """Every kind's rule in a community, in the order of SessionKind."""
    rows = {
        r.kind: r
        for r in db.session.scalars(
            select(QuorumRule).where(QuorumRule.community_id == community_id)
        )
    }
    return [_from_row(rows[k]) if k in rows else DEFAULTS[k] for k in SessionKind]
