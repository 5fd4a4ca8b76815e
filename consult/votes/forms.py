"""Forms of the vote page and of a community's quorum rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField
from wtforms.validators import InputRequired, NumberRange, Optional

from consult.admin.forms import choices
from consult.cases.labels import LABELS
from consult.enums import Majority, QuorumBase, VoteChoice, VoteMethod


class VoteForm(FlaskForm):
    """Counts, or each present person's choice (fields ``ballot_<attendance id>``)."""

    method = RadioField(
        _l("How the vote is recorded"),
        default=VoteMethod.COUNTS,
        choices=choices(
            [(VoteMethod.COUNTS, _l("As counts")), (VoteMethod.BALLOTS, _l("By name"))]
        ),
    )
    votes_for = IntegerField(_l("For"), validators=[Optional()])
    votes_against = IntegerField(_l("Against"), validators=[Optional()])
    votes_abstain = IntegerField(_l("Abstain"), validators=[Optional()])

    @classmethod
    def for_voters(cls, voters, **kwargs) -> VoteForm:
        """A form with one choice per person present."""

        class _Form(cls):
            pass

        for voter in voters:
            setattr(
                _Form,
                f"ballot_{voter.attendance_id}",
                SelectField(
                    voter.name,
                    default="",
                    choices=choices(
                        [("", _l("Did not vote"))]
                        + [(c, LABELS["vote_choice"][c]) for c in VoteChoice]
                    ),
                ),
            )
        form = _Form(**kwargs)
        form.voters = voters
        return form

    def ballot_field(self, voter):
        return self[f"ballot_{voter.attendance_id}"]

    def to_data(self) -> dict:
        if self.method.data == VoteMethod.BALLOTS:
            return {
                "votes": [
                    {"attendance": v.attendance_id, "choice": self.ballot_field(v).data}
                    for v in self.voters
                    if self.ballot_field(v).data
                ]
            }
        return {
            "for": _whole(self.votes_for),
            "against": _whole(self.votes_against),
            "abstain": _whole(self.votes_abstain),
        }


def _whole(field) -> int:
    """The number typed (the form has checked it is one), 0 when blank."""
    return field.data if field.data is not None else 0


class QuorumRuleForm(FlaskForm):
    base = SelectField(
        _l("Who counts"), choices=choices((b, LABELS["quorum_base"][b]) for b in QuorumBase)
    )
    numerator = IntegerField(
        _l("Present at least"), validators=[InputRequired(), NumberRange(min=0, max=100)]
    )
    denominator = IntegerField(
        _l("out of"), validators=[InputRequired(), NumberRange(min=1, max=100)]
    )
    majority = SelectField(
        _l("Carried by"), choices=choices((m, LABELS["majority"][m]) for m in Majority)
    )

    def to_data(self) -> dict:
        return {
            "base": self.base.data,
            "numerator": self.numerator.data,
            "denominator": self.denominator.data,
            "majority": self.majority.data,
        }
