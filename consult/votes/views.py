"""The vote page of an agenda item, and a community's quorum rules (administration)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from consult.community.models import Community
from consult.enums import SessionKind
from consult.errors import RefusedInput, refuse_on
from consult.extensions import db
from consult.loaders import agenda_item_or_404
from consult.minutes.models import AgendaItem
from consult.permissions import require
from consult.transactions import rollback
from consult.votes import operations as ops
from consult.votes.forms import QuorumRuleForm, VoteForm
from consult.votes.queries import quorum_state
from consult.votes.rules import DEFAULTS, rules_of

bp = Blueprint("votes", __name__)

#: The vote form's fields, by the operation's field names.
FIELDS = {"for": "votes_for", "against": "votes_against", "abstain": "votes_abstain"}


def _item(item_id: int) -> AgendaItem:
    return agenda_item_or_404(item_id, current_user)


@bp.route("/agenda/<int:item_id>/vote", methods=["GET", "POST"])
@login_required
def vote(item_id):
    """Put an agenda item to the vote: counts, or each present person's choice."""
    item = _item(item_id)
    require(current_user, "vote.record", item)
    if item.vote is not None:
        flash(_("This agenda item has been put to a vote already."), "info")
        return redirect(url_for("minutes.show", session_id=item.meeting_id) + f"#item-{item.id}")
    state = quorum_state(item.meeting)
    form = VoteForm.for_voters(state.voters)
    if form.validate_on_submit():
        try:
            ops.record_vote(item, form.to_data(), current_user)
        except RefusedInput as exc:
            exc.field = FIELDS.get(exc.field, exc.field)
            if exc.field and exc.field.startswith("votes."):
                exc.field = None
            refuse_on(form, exc)
            item = _item(item_id)
            state = quorum_state(item.meeting)
        else:
            flash(_("Vote recorded."), "success")
            return redirect(
                url_for("minutes.show", session_id=item.meeting_id) + f"#item-{item.id}"
            )
    return render_template(
        "votes/vote.html", item=item, meeting=item.meeting, form=form, state=state
    )


# -- quorum rules (administration) ---------------------------------------------------


def _admin_community(community_id: int) -> Community:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    require(current_user, "admin.manage")
    return db.get_or_404(Community, community_id)


@bp.route("/admin/communities/<id:community_id>/quorum")
def quorum_rules(community_id):
    """Show a community's quorum rule for each kind of session."""
    community = _admin_community(community_id)
    if not isinstance(community, Community):
        return community
    forms = {}
    for rule in rules_of(community.id):
        # One form per kind, prefixed; the page's CSRF token is checked for every POST.
        forms[rule.kind] = QuorumRuleForm(
            prefix=rule.kind,
            meta={"csrf": False},
            data={
                "base": rule.base,
                "numerator": rule.numerator,
                "denominator": rule.denominator,
                "majority": rule.majority,
            },
        )
    return render_template(
        "votes/quorum.html",
        community=community,
        rules=rules_of(community.id),
        forms=forms,
        defaults=DEFAULTS,
    )


@bp.route("/admin/communities/<id:community_id>/quorum/<kind>", methods=["POST"])
def quorum_rule_save(community_id, kind):
    """Change a community's quorum rule for one kind of session."""
    community = _admin_community(community_id)
    if not isinstance(community, Community):
        return community
    if kind not in SessionKind:
        abort(404)
    form = QuorumRuleForm(prefix=kind, meta={"csrf": False})
    if form.validate_on_submit():
        try:
            ops.set_quorum_rule(community, kind, form.to_data(), current_user)
        except RefusedInput as exc:
            rollback()
            flash(exc.message, "danger")
        else:
            flash(_("Quorum rule saved."), "success")
    else:
        errors = [e for field in form for e in field.errors]
        flash(errors[0] if errors else _("Check the rule."), "danger")
    return redirect(url_for("votes.quorum_rules", community_id=community.id) + f"#rule-{kind}")
