"""Pages of agendas, minutes, resolutions and actions."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from consult.accounts.models import User
from consult.cases import queries as case_queries
from consult.cases.models import Case
from consult.cases.operations import issue_for_case
from consult.community.models import AllianceMember, Unit
from consult.enums import MinutesStatus
from consult.errors import RefusedInput, refuse_on
from consult.extensions import db
from consult.lists import id_arg, page_arg, paginate
from consult.loaders import action_or_404, agenda_item_or_404, meeting_or_404, minutes_or_404
from consult.meetings.models import Meeting
from consult.minutes import operations as ops
from consult.minutes import queries
from consult.minutes.forms import (
    ActionDoneForm,
    AgendaAddForm,
    DurationForm,
    MinutesForm,
    ResolutionForm,
    StepForm,
)
from consult.minutes.models import ActionItem, AgendaItem
from consult.minutes.render import mask_html
from consult.permissions import can, reports_for_unit, require
from consult.transactions import rollback

bp = Blueprint("minutes", __name__)


def _meeting(session_id: int, action: str | None = None) -> Meeting:
    """Return the session if the caller may see it (404), and may do ``action`` on it (403)."""
    meeting = meeting_or_404(session_id, current_user)
    if action is not None:
        require(current_user, action, meeting)
    return meeting


@bp.app_template_global("agenda_panel")
def agenda_panel(meeting: Meeting) -> dict:
    """Return what the session page's agenda panel shows (templates/minutes/_agenda.html)."""
    minutes = queries.minutes_for(meeting)
    return {
        "agenda": queries.agenda_items(meeting),
        "minutes": minutes,
        "may_read": queries.may_read_minutes(current_user, meeting, minutes),
        "mask_title": queries.title_masker(meeting, current_user),
    }


# -- agenda ---------------------------------------------------------------------------


@bp.route("/sessions/<int:session_id>/agenda")
@login_required
def agenda(session_id):
    """Build a session's agenda from the issue backlog, overdue cases and open actions."""
    meeting = _meeting(session_id, "agenda.edit")
    items = queries.agenda_items(meeting)
    overdue = list(
        db.session.scalars(
            case_queries.overdue_select(meeting.community_id, user=current_user).limit(50)
        )
    )
    return render_template(
        "minutes/agenda.html",
        meeting=meeting,
        items=items,
        backlog=case_queries.backlog_issues(meeting),
        overdue=overdue,
        actions=case_queries.open_actions_for(meeting),
        form=AgendaAddForm(),
        step=StepForm(),
        duration_form=DurationForm(),
        total=sum(i.duration_minutes or 0 for i in items),
    )


@bp.route("/sessions/<int:session_id>/agenda/add", methods=["POST"])
@login_required
def add_item(session_id):
    """Add a topic, an issue, an overdue case (through an issue) or an action to the agenda."""
    _meeting(session_id, "agenda.edit")
    form = AgendaAddForm()
    if not form.validate_on_submit():
        flash(_("The agenda item was not added: check the planned minutes."), "danger")
        return redirect(url_for("minutes.agenda", session_id=session_id))
    meeting = _meeting(session_id)
    data = {
        "title": form.title.data,
        "issue": form.issue.data,
        "carried_action": form.carried_action.data,
        "duration_minutes": form.duration_minutes.data,
    }
    try:
        if form.case.data:
            case = db.get_or_404(Case, form.case.data)
            if case.community_id != meeting.community_id:
                abort(404)
            require(current_user, "issue.create", case)
            data["issue"] = issue_for_case(case, current_user).id
        ops.add_agenda_item(meeting, data, current_user)
    except RefusedInput as exc:
        rollback()
        flash(exc.message, "danger")
    else:
        flash(_("Added to the agenda."), "success")
    return redirect(url_for("minutes.agenda", session_id=session_id))


def _item(item_id: int, action: str | None = None) -> AgendaItem:
    """Return the agenda item if the caller may see its session, and do ``action`` on it."""
    item = agenda_item_or_404(item_id, current_user)
    if action is not None:
        require(current_user, action, item)
    return item


@bp.route("/agenda/<int:item_id>/move", methods=["POST"])
@login_required
def move_item(item_id):
    """Move an agenda item up or down."""
    _item(item_id, "agenda.edit")
    if not StepForm().validate_on_submit():
        abort(400)
    item = _item(item_id)
    try:
        ops.move_agenda_item(item, request.form.get("direction", ""), current_user)
    except RefusedInput as exc:
        rollback()
        flash(exc.message, "danger")
    return redirect(url_for("minutes.agenda", session_id=item.meeting_id) + "#agenda")


@bp.route("/agenda/<int:item_id>/duration", methods=["POST"])
@login_required
def item_duration(item_id):
    """Give an agenda item its planned minutes."""
    form = DurationForm()
    item = _item(item_id, "agenda.edit")
    if form.validate_on_submit():
        ops.set_agenda_duration(
            item, {"duration_minutes": form.duration_minutes.data}, current_user
        )
    else:
        flash(_("The planned time is between 1 and 600 minutes."), "danger")
    return redirect(url_for("minutes.agenda", session_id=item.meeting_id) + "#agenda")


# -- resolutions ----------------------------------------------------------------------


def _resolution_form(item: AgendaItem) -> ResolutionForm:
    cases = []
    if item.issue_id is not None:
        cases = [c for c in queries.issue_cases([item])[item.issue_id] if c.active]
    units = list(
        db.session.scalars(
            select(Unit)
            .join(AllianceMember, AllianceMember.unit_id == Unit.id)
            .where(AllianceMember.community_id == item.meeting.community_id)
            .order_by(Unit.name)
        )
    )
    if not units:
        units = list(db.session.scalars(select(Unit).order_by(Unit.name).limit(300)))
    people = list(
        db.session.scalars(
            select(User)
            .where(
                User.role.in_(("admin", "cadre", "secretary", "unit_rep")), User.active.is_(True)
            )
            .order_by(User.name)
            .limit(300)
        )
    )
    return ResolutionForm(cases=cases, units=units, people=people)


@bp.route("/agenda/<int:item_id>/resolution", methods=["GET", "POST"])
@login_required
def resolution(item_id):
    """Record what the session decided on an agenda item, its actions and closed cases."""
    item = _item(item_id, "resolution.create")
    if item.resolution is not None:
        flash(_("This agenda item has a resolution already."), "info")
        return redirect(url_for("minutes.show", session_id=item.meeting_id))
    form = _resolution_form(item)
    if form.validate_on_submit():
        data = form.data_for_operation()
        item = _item(item_id)
        try:
            ops.create_resolution(item, data, current_user)
        except RefusedInput as exc:
            rollback()
            item = _item(item_id)
            refuse_on(form, exc)
        else:
            flash(_("Resolution recorded."), "success")
            return redirect(
                url_for("minutes.show", session_id=item.meeting_id) + f"#item-{item.id}"
            )
    return render_template("minutes/resolution.html", item=item, meeting=item.meeting, form=form)


# -- minutes --------------------------------------------------------------------------


def _readable(meeting: Meeting):
    return minutes_or_404(meeting, current_user)


def _minutes_context(meeting: Meeting, minutes) -> dict:
    items = queries.agenda_items(meeting)
    present = queries.attendance(meeting)
    staff = can(current_user, "names.read", meeting)
    html = {str(i.id): "" for i in items}
    html.update(queries.minutes_document(meeting, minutes, current_user, with_votes=False)["html"])
    names = set() if staff else queries.names_to_mask(meeting, present)
    return {
        "meeting": meeting,
        "minutes": minutes,
        "items": items,
        "html": html,
        "present": present,
        "staff": staff,
        "mask": (lambda text: case_queries.mask_name(text)) if not staff else (lambda t: t),
        "mask_html": (lambda markup: mask_html(markup, names)),
        "mask_title": queries.title_masker(meeting, current_user),
        "confirmed": queries.confirmed_registrations(meeting),
    }


@bp.route("/sessions/<int:session_id>/minutes")
def show(session_id):
    """Show a session's minutes: staff in any status, everyone once published."""
    meeting = _meeting(session_id)
    minutes = _readable(meeting)
    context = _minutes_context(meeting, minutes)
    audit = []
    if can(current_user, "audit.view", meeting):
        audit = queries.meeting_audit(minutes, context["items"])
    return render_template(
        "minutes/show.html",
        step=StepForm(),
        revisions=queries.revisions(minutes),
        audit=audit,
        **context,
    )


@bp.route("/sessions/<int:session_id>/minutes/print")
def print_view(session_id):
    """Show a session's minutes laid out for paper."""
    meeting = _meeting(session_id)
    minutes = _readable(meeting)
    return render_template("minutes/print.html", **_minutes_context(meeting, minutes))


@bp.route("/sessions/<int:session_id>/minutes/edit", methods=["GET", "POST"])
@login_required
def edit(session_id):
    """Edit the notes of every agenda item; a stale save shows both texts, losing nothing."""
    meeting = _meeting(session_id, "minutes.edit")
    minutes = queries.minutes_for(meeting)
    items = queries.agenda_items(meeting)
    if minutes is not None and minutes.status == MinutesStatus.PUBLISHED:
        flash(_("Published minutes cannot be changed."), "warning")
        return redirect(url_for("minutes.show", session_id=meeting.id))
    form = MinutesForm.for_items(items)
    conflict = None
    if request.method == "GET":
        form.version.data = str(minutes.version if minutes is not None else 0)
        for item in items:
            form.note_field(item).data = (minutes.notes if minutes else {}).get(str(item.id), "")
    elif form.validate_on_submit():
        try:
            version = int(form.version.data)
        except (TypeError, ValueError):
            version = -1
        mine = form.notes()
        meeting = _meeting(session_id)
        try:
            ops.save_minutes(meeting, {"version": version, "notes": mine}, current_user)
        except ops.StaleMinutes:
            rollback()
            meeting = _meeting(session_id)
            current = queries.minutes_for(meeting)
            conflict = {
                "current": current,
                "theirs": dict(current.notes) if current is not None else {},
                "mine": mine,
                "author": current.revisions[-1].author if current and current.revisions else None,
            }
            # The form keeps the secretary's text; saving it again starts from the
            # current version, after they have merged what the other person wrote.
            form.version.data = str(current.version if current is not None else 0)
            items = queries.agenda_items(meeting)
        except RefusedInput as exc:
            rollback()
            refuse_on(form, exc)
            meeting = _meeting(session_id)
            items = queries.agenda_items(meeting)
        else:
            flash(_("Minutes saved."), "success")
            return redirect(url_for("minutes.edit", session_id=session_id))
    status = 409 if conflict else 200
    return render_template(
        "minutes/edit.html",
        meeting=meeting,
        items=items,
        form=form,
        minutes=conflict["current"] if conflict else minutes,
        conflict=conflict,
        present=queries.attendance(meeting),
        confirmed=queries.confirmed_registrations(meeting),
    ), status


def _step(session_id: int, action: str, operation, done_message: str):
    _meeting(session_id, action)
    if not StepForm().validate_on_submit():
        abort(400)
    meeting = _meeting(session_id)
    try:
        operation(meeting, current_user)
    except RefusedInput as exc:
        rollback()
        flash(exc.message, "danger")
    else:
        flash(done_message, "success")
    return redirect(url_for("minutes.show", session_id=session_id))


@bp.route("/sessions/<int:session_id>/minutes/approve", methods=["POST"])
@login_required
def approve(session_id):
    """Approve the draft minutes (the chair)."""
    return _step(session_id, "minutes.approve", ops.approve_minutes, _("Minutes approved."))


@bp.route("/sessions/<int:session_id>/minutes/publish", methods=["POST"])
@login_required
def publish(session_id):
    """Publish the approved minutes."""
    return _step(session_id, "minutes.publish", ops.publish_minutes, _("Minutes published."))


@bp.route("/sessions/<int:session_id>/minutes/diff")
@login_required
def diff(session_id):
    """Show the differences between two saved versions of the minutes."""
    meeting = _meeting(session_id, "minutes.read_draft")
    minutes = queries.minutes_for(meeting)
    if minutes is None:
        abort(404)
    new_version = id_arg("to") or minutes.version
    old_version = id_arg("from")
    if old_version is None:
        old_version = new_version - 1
    old, new = queries.revision_pair(minutes, old_version, new_version)
    if old is None or new is None:
        abort(404)
    items = queries.agenda_items(meeting)
    return render_template(
        "minutes/diff.html",
        meeting=meeting,
        minutes=minutes,
        old=old,
        new=new,
        diffs=queries.revision_diff(old, new, queries.item_titles(items)),
        revisions=queries.revisions(minutes),
    )


# -- actions --------------------------------------------------------------------------


@bp.route("/actions")
@login_required
def actions():
    """List the actions to report on: a unit's own, or all for organisers."""
    require(current_user, "action.report")
    status = request.args.get("status", "open")
    if status not in ("open", "done", "all"):
        status = "open"
    page = paginate(
        queries.actions_select(current_user, None if status == "all" else status),
        page_arg(),
        case_queries.PER_PAGE,
    )
    return render_template(
        "minutes/actions.html",
        page=page,
        status=status,
        form=ActionDoneForm(),
        reports_as_unit=reports_for_unit(current_user),
    )


@bp.route("/actions/<int:action_id>/done", methods=["POST"])
@login_required
def action_done(action_id):
    """Mark an action done with a note."""
    require(current_user, "action.report", action_or_404(action_id, current_user))
    form = ActionDoneForm()
    if not form.validate_on_submit():
        flash(_("Say what was done."), "danger")
        return redirect(url_for("minutes.actions"))
    action = db.get_or_404(ActionItem, action_id)
    require(current_user, "action.report", action)
    try:
        ops.report_action(action, {"note": form.note.data}, current_user)
    except RefusedInput as exc:
        rollback()
        flash(exc.message, "danger")
    else:
        flash(_("Action reported done."), "success")
    return redirect(url_for("minutes.actions"))
