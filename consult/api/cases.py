"""Cases and issues: intake, escalation through the four-level grid, evaluation."""

from __future__ import annotations

from flask import abort
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from consult.api import api_user
from consult.api.schemas import StrictSchema, one_of
from consult.cases import queries
from consult.cases.models import Case, Issue
from consult.cases.operations import create_case, create_issue, escalate_case, evaluate_issue
from consult.community.queries import community_named
from consult.enums import CaseCategory, CaseSource, CaseStatus, Rating
from consult.extensions import db
from consult.lists import Id, PageQuery, api_page, page_envelope, page_schema
from consult.loaders import case_or_404, issue_or_404
from consult.permissions import FULL, require

blp = Blueprint("api_cases", __name__, description="Cases and issues")


class CaseCreateSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=20_000))
    community = fields.String(required=True, validate=validate.Length(min=1, max=120))
    category = fields.String(required=True, validate=one_of(CaseCategory, "category"))
    reporter = fields.String(allow_none=True, validate=validate.Length(max=120))
    source = fields.String(load_default="grid", validate=one_of(CaseSource, "source"))
    phone = fields.String(
        allow_none=True,
        validate=validate.Length(max=32),
        metadata={"description": "The reporter's phone (extension)"},
    )
    grid = fields.String(
        allow_none=True,
        validate=validate.Length(max=120),
        metadata={"description": "The grid cell (extension)"},
    )
    reference = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The grid platform's own id; a second case with it is 409"},
    )


class ResolutionRefSchema(Schema):
    id = fields.Integer()
    session = fields.Integer()
    agenda_item = fields.Integer()


class CaseSchema(Schema):
    id = fields.Integer()
    reference = fields.String(allow_none=True)
    title = fields.String()
    description = fields.String()
    status = fields.String(metadata={"enum": list(CaseStatus)})
    level = fields.Integer()
    category = fields.String()
    source = fields.String()
    community = fields.String()
    grid = fields.String(allow_none=True)
    reporter = fields.String(allow_none=True)
    reported_at = fields.String(allow_none=True)
    created_at = fields.String()
    level_since = fields.String()
    due_at = fields.String(allow_none=True)
    overdue = fields.Boolean()
    issue = fields.Integer(allow_none=True)
    session = fields.Integer(allow_none=True, metadata={"description": "Session it was raised at"})
    resolution = fields.Nested(ResolutionRefSchema, allow_none=True)


class CaseListQuery(PageQuery):
    community = fields.String(validate=validate.Length(min=1, max=120))
    status = fields.String(validate=one_of(CaseStatus, "case_status"))
    level = fields.Integer(validate=validate.Range(min=1, max=4))
    category = fields.String(validate=one_of(CaseCategory, "category"))
    source = fields.String(validate=one_of(CaseSource, "source"))
    overdue = fields.Boolean()


CaseListSchema = page_schema(CaseSchema, "CaseListSchema")


class EscalateSchema(StrictSchema):
    reason = fields.String(load_default="", validate=validate.Length(max=2_000))


class IssueCreateSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    community = fields.String(required=True, validate=validate.Length(min=1, max=120))
    cases = fields.List(Id(), required=True)
    description = fields.String(load_default="", validate=validate.Length(max=20_000))


class IssueSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    status = fields.String()
    community = fields.String()
    cases = fields.List(fields.Integer())
    resolution = fields.Integer(allow_none=True)
    evaluation_round = fields.Integer()


class EvaluationCreateSchema(StrictSchema):
    rating = fields.String(required=True, validate=one_of(Rating, "rating"))
    comment = fields.String(load_default="", validate=validate.Length(max=2_000))


class EvaluationSchema(Schema):
    id = fields.Integer()
    issue = fields.Integer()
    round = fields.Integer()
    rating = fields.String()
    comment = fields.String()
    issue_status = fields.String(metadata={"description": "The issue's status after rating"})


def _case(case_id: int, user) -> Case:
    return case_or_404(case_id, user)[0]


@blp.route("/cases", methods=["POST"])
@blp.arguments(CaseCreateSchema)
@blp.response(201, CaseSchema)
def post_case(data):
    """Open a case at grid level 1 (admin, cadre, unit_rep)."""
    user = api_user()
    require(user, "case.create")
    case = create_case(data, user)
    return queries.case_document(queries.load_case(case.id), user)


@blp.route("/cases", methods=["GET"])
@blp.arguments(CaseListQuery, location="query")
@blp.response(200, CaseListSchema)
def list_cases(args):
    """List cases with filters (admin, cadre, secretary, unit_rep; extension)."""
    user = api_user()
    require(user, "case.list")
    community_id = None
    if args.get("community"):
        community = community_named(args["community"])
        # An unknown community is a filter that matches nothing.
        community_id = community.id if community is not None else 0
    f = queries.CaseFilter(
        community_id=community_id,
        status=args.get("status"),
        level=args.get("level"),
        category=args.get("category"),
        source=args.get("source"),
        overdue=args.get("overdue"),
    )
    page = api_page(queries.case_select(f, user=user, with_resolution=True), args)
    # The list holds only cases the caller reads in full (visible_cases_clause).
    return page_envelope(page, [queries.case_document(c, user, access=FULL) for c in page.items])


@blp.route("/cases/<int:case_id>")
@blp.response(200, CaseSchema)
def get_case(case_id):
    """Return one case, with the resolution, agenda item and session that closed it."""
    user = api_user()
    case, access = case_or_404(case_id, user)
    return queries.case_document(case, user, access=access)


@blp.route("/cases/<int:case_id>/escalate", methods=["POST"])
@blp.arguments(EscalateSchema)
@blp.response(200, CaseSchema)
def escalate(data, case_id):
    """Hand the case to the next grid level, at most 4 (admin, cadre)."""
    user = api_user()
    require(user, "case.escalate")
    require(user, "case.escalate", _case(case_id, user))
    case = db.get_or_404(Case, case_id)
    escalate_case(case, user, data.get("reason") or "")
    return queries.case_document(_case(case_id, user), user)


@blp.route("/issues", methods=["POST"])
@blp.arguments(IssueCreateSchema)
@blp.response(201, IssueSchema)
def post_issue(data):
    """Group cases of one community into an issue (admin, cadre, secretary)."""
    user = api_user()
    require(user, "issue.create")
    issue = create_issue(data, user)
    return queries.issue_document(queries.load_issue(issue.id), user)


@blp.route("/issues/<int:issue_id>")
@blp.response(200, IssueSchema)
def get_issue(issue_id):
    """Return one issue with its cases (extension)."""
    user = api_user()
    issue, _access = issue_or_404(issue_id, user)
    return queries.issue_document(issue, user)


@blp.route("/issues/<int:issue_id>/evaluations", methods=["POST"])
@blp.arguments(EvaluationCreateSchema)
@blp.response(201, EvaluationSchema)
def post_evaluation(data, issue_id):
    """Rate a resolved issue as a residents' representative of its community (extension)."""
    user = api_user()
    issue_or_404(issue_id, user)
    issue = db.session.scalar(select(Issue).where(Issue.id == issue_id).with_for_update())
    if issue is None:
        abort(404)
    require(user, "evaluation.create", issue)
    evaluation = evaluate_issue(issue, data, user)
    return {
        "id": evaluation.id,
        "issue": issue.id,
        "round": evaluation.round,
        "rating": evaluation.rating,
        "comment": evaluation.comment,
        "issue_status": issue.status,
    }
