"""Pages of cases and issues: intake, import, lists, timeline, escalation, evaluation."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from consult.audit.describe import describe_action, describe_details
from consult.cases import queries
from consult.cases.forms import (
    CaseForm,
    CommentForm,
    ConcernForm,
    EscalateForm,
    EvaluationForm,
    ImportForm,
    IssueForm,
)
from consult.cases.grid import due_at, is_overdue, level_days
from consult.cases.importer import ImportRefused, import_export
from consult.cases.labels import case_label, status_colour
from consult.cases.models import Case, Issue
from consult.cases.operations import (
    comment_case,
    create_case,
    create_issue,
    escalate_case,
    evaluate_issue,
    raise_concern,
)
from consult.community.models import Community
from consult.enums import CaseCategory, CaseSource, CaseStatus, IssueStatus
from consult.errors import RefusedInput, refuse_on
from consult.extensions import db
from consult.lists import id_arg, int_arg, page_arg, paginate, valid_id
from consult.loaders import case_or_404, community_or_404, issue_or_404, meeting_or_404
from consult.permissions import FULL, can, may_see_meeting, require
from consult.transactions import rollback
from consult.types import utcnow

bp = Blueprint("cases", __name__)


@bp.app_template_global("case_label")
def _case_label(value, vocabulary):
    """Return the display name of a status, outcome or rating (templates)."""
    return case_label(value, vocabulary)


@bp.app_template_global("audit_sentence")
def _audit_sentence(entry):
    """Return what an audit entry says happened, in the reader's language (templates)."""
    return describe_action(entry)


@bp.app_template_global("audit_details")
def _audit_details(entry):
    """Return an audit entry's details as sentences in the reader's language (templates)."""
    return describe_details(entry)


@bp.app_template_global("status_colour")
def _status_colour(value):
    """Return the Bootstrap colour of a status badge (templates)."""
    return status_colour(value)


def _filter_from_args() -> queries.CaseFilter:
    args = request.args
    overdue = {"1": True, "0": False}.get(args.get("overdue", ""))
    return queries.CaseFilter(
        community_id=id_arg("community"),
        status=args.get("status") if args.get("status") in CaseStatus else None,
        level=int_arg("level", (1, 2, 3, 4)),
        category=args.get("category") if args.get("category") in CaseCategory else None,
        source=args.get("source") if args.get("source") in CaseSource else None,
        overdue=overdue,
    )


@bp.route("/cases")
@login_required
def index():
    """List cases with filters and pages."""
    require(current_user, "case.list")
    f = _filter_from_args()
    page = queries.case_page(f, page_arg(), user=current_user)
    now, days = utcnow(), level_days()
    return render_template(
        "cases/index.html",
        page=page,
        f=f,
        communities=queries.communities(),
        statuses=CaseStatus,
        categories=CaseCategory,
        sources=CaseSource,
        late_ids={c.id for c in page.items if is_overdue(c, now, days)},
    )


@bp.route("/cases/overdue")
@login_required
def overdue():
    """List the cases past their grid level's time limit."""
    require(current_user, "case.list")
    community_id = id_arg("community")
    page = paginate(
        queries.overdue_select(community_id, user=current_user), page_arg(), queries.PER_PAGE
    )
    days = level_days()
    return render_template(
        "cases/overdue.html",
        page=page,
        communities=queries.communities(),
        community_id=community_id,
        now=utcnow(),
        due={c.id: due_at(c, days) for c in page.items},
    )


@bp.route("/cases/new", methods=["GET", "POST"])
@login_required
def new():
    """Record a new case; with ?session= it is a concern raised at that session."""
    meeting = None
    session_id = id_arg("session")
    if session_id is not None:
        meeting = meeting_or_404(session_id, current_user)
        require(current_user, "case.create_at_session", meeting)
    else:
        require(current_user, "case.create")
    form = CaseForm(
        communities=queries.communities(current_user, "case.create") if meeting is None else (),
        meeting=meeting,
    )
    if form.validate_on_submit():
        data = {k: v for k, v in form.data.items() if k != "csrf_token"}
        if meeting is None:
            community = community_or_404(data.pop("community"))
            require(current_user, "case.create", community)
            data["community"] = community.name
        try:
            case = create_case(data, current_user, meeting=meeting)
        except RefusedInput as exc:
            refuse_on(form, exc)
        else:
            flash(_("Case %(id)s recorded.", id=case.id), "success")
            return redirect(url_for("cases.show", case_id=case.id))
    return render_template("cases/new.html", form=form, meeting=meeting)


@bp.route("/me/concerns")
@login_required
def my_concerns():
    """List the concerns one raised, with where each stands."""
    require(current_user, "case.raise")
    page = paginate(queries.my_concerns_select(current_user), page_arg(), queries.PER_PAGE)
    return render_template("cases/my_concerns.html", page=page, due=due_at)


@bp.route("/me/concerns/new", methods=["GET", "POST"])
@login_required
def raise_new():
    """Raise a concern of one's own, online; it starts at grid level 1."""
    require(current_user, "case.raise")
    choices = queries.own_communities_first(current_user, queries.communities())
    form = ConcernForm(communities=choices)
    if request.method == "GET" and choices and choices[0].id in current_user.community_ids:
        form.community.data = choices[0].id
    status = 200
    if form.validate_on_submit():
        data = {k: v for k, v in form.data.items() if k != "csrf_token"}
        data["community"] = community_or_404(data["community"]).name
        try:
            case = raise_concern(data, current_user)
        except RefusedInput as exc:
            refuse_on(form, exc)
            status = 422
        else:
            flash(
                _(
                    "Your concern is recorded as case %(id)s. The community's cadres handle "
                    "it; you get a mail when it is resolved.",
                    id=case.id,
                ),
                "success",
            )
            return redirect(url_for("cases.show", case_id=case.id))
    elif form.is_submitted():
        status = 422
    return render_template("cases/raise.html", form=form), status


@bp.route("/cases/import", methods=["GET", "POST"])
@login_required
def import_cases():
    """Import the grid platform's export: every row or none, with a report of problems."""
    require(current_user, "case.import")
    form = ImportForm()
    errors = []
    if form.validate_on_submit():
        raw = form.file.data.read()
        try:
            result = import_export(raw, current_app.config["CONSULT_TIMEZONE"], current_user)
        except ImportRefused as exc:
            rollback()
            errors = exc.errors
        else:
            flash(
                _(
                    "%(new)d new, %(old)d already imported (read as %(encoding)s).",
                    new=len(result.new),
                    old=result.already,
                    encoding=result.encoding,
                ),
                "success",
            )
            return redirect(url_for("cases.index", source="grid"))
    return render_template("cases/import.html", form=form, errors=errors)


@bp.route("/cases/<int:case_id>")
@login_required
def show(case_id):
    """Show a case: its state, timeline, resolution and audit log."""
    case, access = case_or_404(case_id, current_user)
    full = access == FULL
    return render_template(
        "cases/show.html",
        case=case,
        full=full,
        timeline=queries.case_timeline(case) if full else [],
        resolutions=queries.case_resolutions(case),
        audit=queries.audit_trail(case) if can(current_user, "audit.view", case) else [],
        escalate_form=EscalateForm(),
        comment_form=CommentForm(),
        due=due_at(case),
        overdue=is_overdue(case, utcnow()),
        mask=not full,
        mask_name=queries.mask_name,
        title=queries.case_title(case, current_user) if not full else case.title,
        hide=queries.masker(set() if full else queries.names_in_case(case)),
    )


@bp.route("/cases/<int:case_id>/escalate", methods=["POST"])
@login_required
def escalate(case_id):
    """Hand a case to the next grid level, with a reason."""
    require(current_user, "case.escalate")
    require(current_user, "case.escalate", case_or_404(case_id, current_user)[0])
    form = EscalateForm()
    if not form.validate_on_submit():
        flash(_("Give the reason for escalating."), "danger")
        return redirect(url_for("cases.show", case_id=case_id))
    case = db.get_or_404(Case, case_id)
    require(current_user, "case.escalate", case)
    try:
        escalate_case(case, current_user, form.reason.data)
    except RefusedInput as exc:
        rollback()
        flash(exc.message, "danger")
    else:
        flash(_("Case escalated to level %(n)d.", n=case.level), "success")
    return redirect(url_for("cases.show", case_id=case_id))


@bp.route("/cases/<int:case_id>/comment", methods=["POST"])
@login_required
def comment(case_id):
    """Add a comment to a case's timeline."""
    case, _access = case_or_404(case_id, current_user)
    require(current_user, "case.comment", case)
    form = CommentForm()
    if form.validate_on_submit():
        try:
            comment_case(case, {"comment": form.comment.data}, current_user)
        except RefusedInput as exc:
            rollback()
            flash(exc.message, "danger")
    return redirect(url_for("cases.show", case_id=case_id) + "#timeline")


# -- issues ---------------------------------------------------------------------------


@bp.route("/issues")
@login_required
def issues():
    """List issues by status and community."""
    status = request.args.get("status") or None
    community_id = id_arg("community")
    page = queries.issue_page(status, community_id, page_arg(), user=current_user)
    counts = queries.case_counts([i.id for i in page.items])
    titles = queries.issue_titles(list(page.items), current_user)
    return render_template(
        "cases/issues.html",
        page=page,
        counts=counts,
        status=status,
        statuses=IssueStatus,
        community_id=community_id,
        communities=queries.communities(),
        issue_title=lambda i: titles[i.id],
    )


@bp.route("/issues/new", methods=["GET", "POST"])
@login_required
def new_issue():
    """Group cases of a community into an issue for a session."""
    require(current_user, "issue.create")
    community_id = id_arg("community")
    community = community_or_404(community_id) if community_id else None
    if community is not None:
        require(current_user, "issue.create", community)
    candidates = queries.candidate_cases(community.id) if community else []
    form = IssueForm(candidates=candidates)
    if request.method == "GET" and request.args.getlist("cases"):
        form.cases.data = [i for i in map(valid_id, request.args.getlist("cases")) if i]
    if community is not None and form.validate_on_submit():
        try:
            issue = create_issue(
                {
                    "title": form.title.data,
                    "description": form.description.data,
                    "community_obj": db.session.get(Community, community.id),
                    "cases": form.cases.data,
                },
                current_user,
            )
        except RefusedInput as exc:
            refuse_on(form, exc)
        else:
            flash(_("Issue %(id)s created.", id=issue.id), "success")
            return redirect(url_for("cases.issue", issue_id=issue.id))
    return render_template(
        "cases/new_issue.html",
        form=form,
        community=community,
        communities=queries.communities(current_user, "issue.create"),
        candidates=candidates,
    )


@bp.route("/issues/to-rate")
@login_required
def to_rate():
    """List the resolved issues waiting for the signed-in representative's rating."""
    return render_template(
        "cases/to_rate.html", issues=queries.issues_to_rate(current_user._get_current_object())
    )


@bp.route("/issues/<int:issue_id>")
@login_required
def issue(issue_id):
    """Show an issue: its cases, the sessions that discussed it, its evaluation."""
    item, access = issue_or_404(issue_id, current_user)
    may_rate = (
        can(current_user, "evaluation.create", item)
        and item.status == "resolved"
        and not queries.has_rated(item, current_user)
    )
    return render_template(
        "cases/issue.html",
        issue=item,
        full=access == FULL,
        title=queries.issue_title(item, current_user),
        cases=queries.readable_cases(item, current_user),
        agenda=[
            i for i in queries.issue_agenda_items(item) if may_see_meeting(current_user, i.meeting)
        ],
        hide=queries.masker(set() if access == FULL else queries.names_in_issue(item)),
        summary=queries.evaluation_summary(item),
        form=EvaluationForm(),
        may_rate=may_rate,
        audit=queries.audit_trail(item) if can(current_user, "audit.view", item) else [],
    )


@bp.route("/issues/<int:issue_id>/evaluate", methods=["POST"])
@login_required
def evaluate(issue_id):
    """Record a representative's rating of a resolved issue."""
    require(current_user, "evaluation.create", issue_or_404(issue_id, current_user)[0])
    form = EvaluationForm()
    if not form.validate_on_submit():
        flash(_("Choose a rating."), "danger")
        return redirect(url_for("cases.issue", issue_id=issue_id))
    item = db.session.scalar(select(Issue).where(Issue.id == issue_id).with_for_update())
    if item is None:
        abort(404)
    require(current_user, "evaluation.create", item)
    try:
        evaluate_issue(
            item, {"rating": form.rating.data, "comment": form.comment.data}, current_user
        )
    except RefusedInput as exc:
        rollback()
        flash(exc.message, "danger")
    else:
        flash(_("Thank you: your rating is recorded."), "success")
    return redirect(url_for("cases.issue", issue_id=issue_id))
