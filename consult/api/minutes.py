"""Agendas, resolutions, actions and minutes of sessions."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from consult.api import api_user
from consult.api.schemas import StrictInt, StrictSchema, one_of
from consult.enums import Outcome, VoteResult
from consult.extensions import db
from consult.lists import MAX_ID, Id
from consult.loaders import action_or_404, agenda_item_or_404, meeting_or_404, minutes_or_404
from consult.meetings.models import Meeting
from consult.minutes import operations as ops
from consult.minutes import queries
from consult.minutes.models import ActionItem, AgendaItem
from consult.permissions import require
from consult.transactions import rollback
from consult.votes.queries import vote_document

blp = Blueprint("api_minutes", __name__, description="Agendas, resolutions and minutes")


class MinutesStepSchema(StrictSchema):
    """No data: an empty body or {}."""


class AgendaItemCreateSchema(StrictSchema):
    title = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Required unless an issue or action is given"},
    )
    issue = Id(allow_none=True)
    carried_action = Id(
        allow_none=True,
        metadata={
            "description": "An open action item of an earlier session to follow up (extension)"
        },
    )
    duration_minutes = StrictInt(allow_none=True, validate=validate.Range(min=1, max=600))


class QuorumSchema(Schema):
    required = fields.Integer(metadata={"description": "Presence the rule needed"})
    present = fields.Integer(metadata={"description": "People (or units) present"})


class VoteSchema(Schema):
    result = fields.String(metadata={"enum": list(VoteResult)})
    for_ = fields.Integer(data_key="for", attribute="for")
    against = fields.Integer()
    abstain = fields.Integer()
    quorum = fields.Nested(QuorumSchema)


class AgendaItemSchema(Schema):
    id = fields.Integer()
    position = fields.Integer()
    title = fields.String()
    issue = fields.Integer(allow_none=True)
    carried_action = fields.Integer(allow_none=True)
    duration_minutes = fields.Integer(allow_none=True)
    resolution = fields.Integer(allow_none=True)
    vote = fields.Nested(VoteSchema, allow_none=True)


class AgendaSchema(Schema):
    items = fields.List(fields.Nested(AgendaItemSchema))


class ActionCreateSchema(StrictSchema):
    description = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    unit = Id(allow_none=True)
    assignee = Id(allow_none=True)
    due_on = fields.Date(allow_none=True)


class ResolutionCreateSchema(StrictSchema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    outcome = fields.String(required=True, validate=one_of(Outcome, "outcome"))
    closes_cases = fields.List(Id(), load_default=list)
    actions = fields.List(fields.Nested(ActionCreateSchema), load_default=list)
    referred_unit = Id(allow_none=True)
    open_cases_reason = fields.String(
        allow_none=True,
        validate=validate.Length(max=20_000),
        metadata={
            "description": (
                "With outcome resolved: why cases of the issue "
                "that this resolution does not close stay open"
            )
        },
    )


class ActionSchema(Schema):
    id = fields.Integer()
    description = fields.String()
    unit = fields.Integer(allow_none=True)
    assignee = fields.Integer(allow_none=True)
    due_on = fields.Date(allow_none=True)
    status = fields.String()
    done_note = fields.String()


class ResolutionSchema(Schema):
    id = fields.Integer()
    agenda_item = fields.Integer()
    session = fields.Integer()
    text = fields.String()
    outcome = fields.String()
    closes_cases = fields.List(fields.Integer())
    actions = fields.List(fields.Nested(ActionSchema))


class MinutesSchema(Schema):
    session = fields.Integer()
    status = fields.String(metadata={"enum": ["draft", "approved", "published"]})
    version = fields.Integer()
    notes = fields.Dict(keys=fields.String(), values=fields.String())
    html = fields.Dict(keys=fields.String(), values=fields.String())
    votes = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(VoteSchema),
        metadata={"description": "The vote of each agenda item put to one, by item id (extension)"},
    )


class MinutesSaveSchema(StrictSchema):
    version = StrictInt(required=True, validate=validate.Range(min=0, max=MAX_ID))
    notes = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class ActionDoneSchema(StrictSchema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=20_000))


def _meeting(session_id: int, user, action: str | None = None) -> Meeting:
    """Return the session if ``user`` may see it (404) and do ``action`` on it (403)."""
    meeting = meeting_or_404(session_id, user)
    if action is not None:
        require(user, action, meeting)
    return meeting


def _item_document(item: AgendaItem, mask=lambda text: text) -> dict:
    return {
        "id": item.id,
        "position": item.position,
        "title": mask(item.title),
        "issue": item.issue_id,
        "carried_action": item.carried_action_id,
        "duration_minutes": item.duration_minutes,
        "resolution": item.resolution.id if item.resolution is not None else None,
        "vote": vote_document(item.vote),
    }


def _action_document(action: ActionItem) -> dict:
    return {
        "id": action.id,
        "description": action.description,
        "unit": action.unit_id,
        "assignee": action.assignee_id,
        "due_on": action.due_on,
        "status": action.status,
        "done_note": action.done_note,
    }


@blp.route("/sessions/<int:session_id>/agenda", methods=["POST"])
@blp.arguments(AgendaItemCreateSchema)
@blp.response(201, AgendaItemSchema)
def post_agenda_item(data, session_id):
    """Put an item on a session's agenda (admin, cadre, secretary)."""
    user = api_user()
    require(user, "agenda.edit")
    _meeting(session_id, user, "agenda.edit")
    meeting = _meeting(session_id, user)
    item = ops.add_agenda_item(meeting, data, user)
    return _item_document(queries.load_agenda_item(item.id))


@blp.route("/sessions/<int:session_id>/agenda", methods=["GET"])
@blp.response(200, AgendaSchema)
def get_agenda(session_id):
    """Return a session's agenda in order (extension)."""
    user = api_user()
    meeting = _meeting(session_id, user)
    mask = queries.title_masker(meeting, user)
    return {"items": [_item_document(i, mask) for i in queries.agenda_items(meeting)]}


@blp.route("/agenda/<int:item_id>", methods=["GET"])
@blp.response(200, AgendaItemSchema)
def get_agenda_item(item_id):
    """Return one agenda item with its resolution id and vote (extension)."""
    user = api_user()
    item = agenda_item_or_404(item_id, user)
    return _item_document(item, queries.title_masker(item.meeting, user))


@blp.route("/agenda/<int:item_id>/resolution", methods=["POST"])
@blp.arguments(ResolutionCreateSchema)
@blp.response(201, ResolutionSchema)
def post_resolution(data, item_id):
    """Record the resolution of an agenda item and close the cases it names."""
    user = api_user()
    require(user, "resolution.create")
    require(user, "resolution.create", agenda_item_or_404(item_id, user))
    item = agenda_item_or_404(item_id, user)
    resolution = ops.create_resolution(item, data, user)
    return {
        "id": resolution.id,
        "agenda_item": item.id,
        "session": item.meeting_id,
        "text": resolution.text,
        "outcome": resolution.outcome,
        "closes_cases": [c.id for c in resolution.cases],
        "actions": [_action_document(a) for a in resolution.actions],
    }


@blp.route("/sessions/<int:session_id>/minutes", methods=["GET"])
@blp.response(200, MinutesSchema)
def get_minutes(session_id):
    """Return a session's minutes: staff in any status, others once published."""
    user = api_user()
    meeting = _meeting(session_id, user)
    minutes = minutes_or_404(meeting, user)
    return queries.minutes_document(meeting, minutes, user)


@blp.route("/sessions/<int:session_id>/minutes", methods=["PUT"])
@blp.arguments(MinutesSaveSchema)
@blp.response(200, MinutesSchema)
def put_minutes(data, session_id):
    """Save a session's notes from the version they were read at (409 when stale)."""
    user = api_user()
    require(user, "minutes.edit")
    _meeting(session_id, user, "minutes.edit")
    meeting = _meeting(session_id, user)
    try:
        minutes = ops.save_minutes(meeting, data, user)
    except ops.StaleMinutes as exc:
        rollback()
        exc.extra["current"] = queries.minutes_document(meeting, queries.minutes_for(meeting), user)
        raise
    return queries.minutes_document(meeting, minutes, user)


def _move(session_id: int, action: str, operation):
    user = api_user()
    require(user, action)
    _meeting(session_id, user, action)
    meeting = _meeting(session_id, user)
    minutes = operation(meeting, user)
    return queries.minutes_document(meeting, minutes, user)


@blp.route("/sessions/<int:session_id>/minutes/approve", methods=["POST"])
@blp.arguments(MinutesStepSchema)
@blp.response(200, MinutesSchema)
def approve(_data, session_id):
    """Approve draft minutes (admin, cadre)."""
    return _move(session_id, "minutes.approve", ops.approve_minutes)


@blp.route("/sessions/<int:session_id>/minutes/publish", methods=["POST"])
@blp.arguments(MinutesStepSchema)
@blp.response(200, MinutesSchema)
def publish(_data, session_id):
    """Publish approved minutes (admin, cadre)."""
    return _move(session_id, "minutes.publish", ops.publish_minutes)


@blp.route("/actions/<int:action_id>/done", methods=["POST"])
@blp.arguments(ActionDoneSchema)
@blp.response(200, ActionSchema)
def action_done(data, action_id):
    """Report an action done, with a note (its unit's representative; extension)."""
    user = api_user()
    require(user, "action.report")
    require(user, "action.report", action_or_404(action_id, user))
    action = db.get_or_404(ActionItem, action_id)
    require(user, "action.report", action)
    ops.report_action(action, data, user)
    return _action_document(action)
