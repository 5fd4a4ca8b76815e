"""Sign-up, waiting list, proxy sign-up, invitation answers, attendance, host rotation."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from consult.attendance import links, operations, queries
from consult.attendance.forms import ButtonForm, CapacityForm, ProxyForm, WalkInForm, marks_from
from consult.attendance.operations import AttendanceError
from consult.attendance.qr import qr_data_uri
from consult.community.models import AllianceMember
from consult.enums import RegistrationStatus
from consult.errors import RefusedInput, refuse_on
from consult.extensions import db
from consult.i18n import session_time
from consult.loaders import community_or_404, meeting_or_404, registration_or_404
from consult.meetings.models import Invitation, Meeting, Registration
from consult.permissions import can, require
from consult.transactions import rollback
from consult.types import utcnow
from consult.web.confirm import confirmation_page, confirmed

bp = Blueprint("attendance", __name__)


# -- loaders and helpers --------------------------------------------------------------


def _user():
    return current_user._get_current_object()


def _meeting(meeting_id: int) -> Meeting:
    """Return the session if the caller may see it; 404 otherwise."""
    return meeting_or_404(meeting_id, current_user)


def _registration(registration_id: int) -> Registration:
    """Return the registration if the caller may see its session; 404 otherwise."""
    return registration_or_404(registration_id, current_user)


def session_url(meeting_id: int) -> str:
    """Return the session's page."""
    return url_for("meetings.show", meeting_id=meeting_id)


def _back(default: str) -> str:
    """Return the form's ``next`` if it is a path on this site, else ``default``."""
    target = request.form.get("next") or ""
    parts = urlsplit(target)
    if (
        target.startswith("/")
        and not target.startswith("//")
        and not parts.netloc
        and "\\" not in target
    ):
        return target
    return default


def _signup_flash(registration: Registration) -> None:
    if registration.status == RegistrationStatus.CONFIRMED:
        flash(_("You have a place: see you at the session."), "success")
    else:
        flash(
            _(
                "The session is full: you are number %(n)d on the waiting list.",
                n=queries.waitlist_position(registration),
            ),
            "info",
        )


@bp.app_template_global("attendance_panel")
def attendance_panel(meeting: Meeting):
    """Return the sign-up panel's data for the session page (templates/attendance/_panel.html)."""
    return queries.panel(meeting, current_user)


@bp.app_template_global("checkin_qr")
def checkin_qr(registration: Registration) -> str:
    """Return a data: URI of the QR code of ``registration``'s check-in link."""
    return qr_data_uri(links.checkin_url(registration))


# -- sign-up --------------------------------------------------------------------------


@bp.route("/sessions/<int:meeting_id>/sign-up", methods=["POST"])
@login_required
def sign_up(meeting_id: int):
    """Sign the signed-in person up for a session (or put them on its waiting list)."""
    user = _user()

    def work():
        meeting = _meeting(meeting_id)
        require(user, "registration.create")
        return operations.sign_up(meeting, user, user)

    try:
        registration = work()
    except AttendanceError as exc:
        rollback()
        flash(exc.message, "warning")
    else:
        _signup_flash(registration)
    return redirect(session_url(meeting_id))


@bp.route("/series/<int:series_id>/sign-up", methods=["POST"])
@login_required
def sign_up_series(series_id: int):
    """Sign the signed-in person up for every coming occurrence of a series."""
    user = _user()

    def work():
        found = queries.series_open_to(series_id, user)
        if found is None:
            abort(404)
        require(user, "registration.create")
        series, occurrences = found
        registrations = operations.sign_up_series(series, user, occurrences)
        return [(r.meeting_id, r.status) for r in registrations]

    back = _back(url_for("web.index"))
    try:
        done = work()
    except AttendanceError as exc:
        rollback()
        flash(exc.message, "warning")
        return redirect(back)
    confirmed = sum(1 for _id, status in done if status == "confirmed")
    flash(
        _(
            "Signed up for %(n)d sessions: %(confirmed)d confirmed, %(waiting)d on the waiting "
            "list.",
            n=len(done),
            confirmed=confirmed,
            waiting=len(done) - confirmed,
        ),
        "success",
    )
    return redirect(back)


def _confirm_cancel(registration: Registration):
    meeting = registration.meeting
    when = session_time(meeting.starts_at, meeting.timezone)
    if registration.user_id == current_user.id:
        lines = [
            _(
                "Your sign-up for “%(title)s” on %(when)s is cancelled.",
                title=meeting.title,
                when=when,
            )
        ]
    else:
        lines = [
            _(
                "The sign-up of %(name)s for “%(title)s” on %(when)s is cancelled.",
                name=registration.name or getattr(registration.user, "name", ""),
                title=meeting.title,
                when=when,
            )
        ]
    waiting = queries.waitlist_count(meeting.id)
    if registration.status == RegistrationStatus.CONFIRMED:
        if waiting:
            lines.append(
                _(
                    "The place goes to the first of the %(n)d people on the waiting "
                    "list, who is told by mail.",
                    n=waiting,
                )
            )
        full = meeting.capacity is not None and meeting.confirmed_count >= meeting.capacity
        if full or waiting:
            lines.append(
                _(
                    "The session is full: signing up again later means joining the end "
                    "of the waiting list."
                )
            )
    else:
        lines.append(_("The place on the waiting list is given up."))
    if registration.user_id is not None:
        lines.append(_("A confirmation goes by mail to %(name)s.", name=registration.user.name))
    return confirmation_page(
        _("Cancel this sign-up?"),
        lines,
        url_for("attendance.cancel", registration_id=registration.id),
        _("Yes, cancel the sign-up"),
        _back(session_url(meeting.id)),
        fields={"next": request.form.get("next", "")} if request.form.get("next") else None,
    )


@bp.route("/registrations/<int:registration_id>/cancel", methods=["POST"])
@login_required
def cancel(registration_id: int):
    """Cancel a registration, once confirmed; the first person waiting gets the place."""
    user = _user()
    if not confirmed():
        registration = _registration(registration_id)
        require(user, "registration.cancel", registration)
        return _confirm_cancel(registration)

    def work():
        registration = _registration(registration_id)
        require(user, "registration.cancel", registration)
        operations.cancel_registration(registration, user)
        return registration.meeting_id

    try:
        meeting_id = work()
    except AttendanceError as exc:
        rollback()
        flash(exc.message, "warning")
        meeting_id = db.session.get(Registration, registration_id).meeting_id
    else:
        flash(_("The registration is cancelled."), "info")
    return redirect(_back(session_url(meeting_id)))


@bp.route("/me/signups")
@login_required
def my_signups():
    """List one's own sign-ups: coming (with waiting-list places) and past."""
    coming, past = queries.my_signups(_user())
    return render_template("attendance/my_signups.html", coming=coming, past=past, now=utcnow())


@bp.route("/sessions/<int:meeting_id>/proxy", methods=["GET", "POST"])
@login_required
def proxy(meeting_id: int):
    """Sign up someone without an account, entered at the desk by a cadre."""
    meeting = _meeting(meeting_id)
    require(current_user, "registration.proxy", meeting)
    form = ProxyForm()
    status = 200
    if form.validate_on_submit():
        data = {"name": form.name.data, "phone": form.phone.data, "note": form.note.data}
        user = _user()
        try:
            registration = operations.sign_up_proxy(meeting, data, user)
        except RefusedInput as exc:
            status = 409 if exc.status == 409 else 422
            refuse_on(form, exc)
            meeting = _meeting(meeting_id)
        else:
            return redirect(url_for("attendance.slip", registration_id=registration.id))
    elif form.is_submitted():
        status = 422
    return render_template(
        "attendance/proxy.html",
        meeting=meeting,
        form=form,
        closed=meeting.signup_closed_reason(),
    ), status


@bp.route("/registrations/<int:registration_id>/slip")
@login_required
def slip(registration_id: int):
    """Show a printable confirmation slip with the check-in QR code."""
    registration = _registration(registration_id)
    return render_template(
        "attendance/slip.html",
        registration=registration,
        meeting=registration.meeting,
        position=queries.waitlist_position(registration),
    )


@bp.route("/sessions/<int:meeting_id>/registrations")
@login_required
def registrations(meeting_id: int):
    """List a session's sign-ups in order, the waiting list with positions."""
    meeting = _meeting(meeting_id)
    require(current_user, "registration.list", meeting)
    return _registrations_page(meeting, CapacityForm(capacity=meeting.capacity))


def _registrations_page(meeting: Meeting, form: CapacityForm, status: int = 200):
    rows = queries.registrations_in_order(meeting.id)
    return render_template(
        "attendance/registrations.html",
        meeting=meeting,
        rows=rows,
        form=form,
        button=ButtonForm(),
        closed=meeting.signup_closed_reason(),
    ), status


@bp.route("/sessions/<int:meeting_id>/capacity", methods=["POST"])
@login_required
def capacity(meeting_id: int):
    """Raise or lower a session's places; raising them confirms waiting people in order."""
    meeting = _meeting(meeting_id)
    require(current_user, "meeting.edit", meeting)
    form = CapacityForm()
    if not form.validate_on_submit():
        return _registrations_page(meeting, form, 422)
    user = _user()
    try:
        promoted = operations.set_capacity(meeting, form.capacity.data, user)
    except RefusedInput as exc:
        refuse_on(form, exc, default="capacity")
        return _registrations_page(_meeting(meeting_id), form, exc.status)
    flash(
        _(
            "The number of places is changed; %(n)d people moved up from the waiting list.",
            n=len(promoted),
        ),
        "success",
    )
    return redirect(url_for("attendance.registrations", meeting_id=meeting_id))


# -- invitation answers ---------------------------------------------------------------


def _link_error(error: links.LinkError):
    return render_template("attendance/link_error.html", error=error), (
        410 if error.expired else 400
    )


@bp.route("/rsvp/<token>", methods=["GET", "POST"])
def rsvp(token: str):
    """Let an invitee answer from the signed link in their mail, without signing in.

    A GET only shows the question (mail scanners follow links); the POST answers.
    """
    try:
        invitation_id, partstat = links.read_rsvp_token(token)
    except links.LinkError as error:
        return _link_error(error)
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or partstat not in operations.RSVP_ANSWERS:
        return _link_error(links.LinkError(_("This invitation no longer exists.")))
    status = 200
    if request.method == "POST":
        try:
            operations.answer_invitation(invitation, partstat, None)
        except AttendanceError as exc:
            rollback()
            flash(exc.message, "warning")
            status = exc.status
            invitation = db.session.get(Invitation, invitation_id)
        else:
            flash(_("Thank you: your answer is recorded."), "success")
            return redirect(url_for("attendance.rsvp", token=token))
    answers = [
        (answer, links.rsvp_token(invitation.id, answer)) for answer in operations.RSVP_ANSWERS
    ]
    return render_template(
        "attendance/rsvp.html",
        invitation=invitation,
        meeting=invitation.meeting,
        asked=partstat,
        answers=answers,
        form=ButtonForm(),
    ), status


# -- attendance -----------------------------------------------------------------------


def _attendance_page(meeting: Meeting, walk_in: WalkInForm, status: int = 200):
    return render_template(
        "attendance/attendance.html",
        meeting=meeting,
        rows=queries.attendance_sheet(meeting),
        form=ButtonForm(),
        walk_in=walk_in,
    ), status


@bp.route("/sessions/<int:meeting_id>/attendance", methods=["GET", "POST"])
@login_required
def attendance(meeting_id: int):
    """Mark each registrant and invitee present, absent or late."""
    meeting = _meeting(meeting_id)
    require(current_user, "attendance.record", meeting)
    form = ButtonForm()
    if form.validate_on_submit():
        marks = marks_from(request.form)
        user = _user()
        try:
            count = operations.record_attendance(meeting, marks, user)
        except AttendanceError as exc:
            rollback()
            flash(exc.message, "danger")
            return _attendance_page(_meeting(meeting_id), WalkInForm(formdata=None), exc.status)
        flash(_("Attendance saved: %(n)d people came.", n=count), "success")
        return redirect(url_for("attendance.attendance", meeting_id=meeting_id))
    return _attendance_page(meeting, WalkInForm(formdata=None))


@bp.route("/sessions/<int:meeting_id>/attendance/walk-in", methods=["POST"])
@login_required
def walk_in(meeting_id: int):
    """Add someone who came without signing up."""
    meeting = _meeting(meeting_id)
    require(current_user, "attendance.record", meeting)
    form = WalkInForm()
    if not form.validate_on_submit():
        return _attendance_page(meeting, form, 422)
    user = _user()
    try:
        operations.add_walk_in(meeting, {"name": form.name.data}, user)
    except RefusedInput as exc:
        refuse_on(form, exc, default="name")
        return _attendance_page(_meeting(meeting_id), form, exc.status)
    flash(_("%(name)s is added as present.", name=form.name.data.strip()), "success")
    return redirect(url_for("attendance.attendance", meeting_id=meeting_id))


@bp.route("/sessions/<int:meeting_id>/attendance/sheet")
@login_required
def sheet(meeting_id: int):
    """Show a printable sign-in sheet with a blank signature column."""
    meeting = _meeting(meeting_id)
    require(current_user, "attendance.record", meeting)
    return render_template(
        "attendance/sheet.html", meeting=meeting, rows=queries.attendance_sheet(meeting)
    )


def _cell(value) -> str:
    """Keep a spreadsheet from reading a name as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.route("/sessions/<int:meeting_id>/attendance.csv")
@login_required
def export(meeting_id: int):
    """Export the attendance list as CSV (UTF-8 with a byte-order mark, for spreadsheets)."""
    meeting = _meeting(meeting_id)
    require(current_user, "attendance.record", meeting)
    answers = {
        "confirmed": _("Confirmed"),
        "waitlisted": _("Waiting list"),
        "walk_in": _("Walk-in"),
        "NEEDS-ACTION": _("Invited, no answer yet"),
        "ACCEPTED": _("Invited, accepted"),
        "DECLINED": _("Invited, declined"),
        "TENTATIVE": _("Invited, tentative"),
    }
    marks = {"present": _("Present"), "absent": _("Absent"), "late": _("Late"), None: ""}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_("No."), _("Name"), _("Phone or unit"), _("Sign-up"), _("Attendance")])
    for number, row in enumerate(queries.attendance_sheet(meeting), start=1):
        writer.writerow(
            [
                number,
                _cell(row.name),
                _cell(row.detail),
                answers.get(row.answer, row.answer),
                marks[row.attendance],
            ]
        )
    body = "\ufeff" + out.getvalue()
    filename = f"session-{meeting.id}-attendance.csv"
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/checkin/<token>", methods=["GET", "POST"])
def checkin(token: str):
    """Check in the holder of a QR code: staff see the person and mark them present."""
    try:
        registration_id = links.read_checkin_token(token)
    except links.LinkError as error:
        return _link_error(error)
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login", next=request.path))
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        return _link_error(links.LinkError(_("This registration no longer exists.")))
    if not can(current_user, "attendance.record", registration.meeting):
        abort(403, _("Only the session's staff can check people in: show this code at the desk."))
    status = 200
    if request.method == "POST":
        user = _user()
        try:
            operations.check_in(registration, user)
        except AttendanceError as exc:
            rollback()
            flash(exc.message, "warning")
            status = exc.status
        else:
            flash(_("%(name)s is checked in.", name=registration.display_name), "success")
            return redirect(url_for("attendance.checkin", token=token))
        registration = db.session.get(Registration, registration_id)
    mark = queries.attendance_of(registration)
    return render_template(
        "attendance/checkin.html",
        registration=registration,
        meeting=registration.meeting,
        mark=mark,
        form=ButtonForm(),
        position=queries.waitlist_position(registration),
    ), status


# -- host rotation --------------------------------------------------------------------


@bp.route("/communities/<int:community_id>/rotation")
@login_required
def rotation(community_id: int):
    """Show the order in which units host joint meetings, who hosted when, who is next."""
    require(current_user, "rotation.view")
    community = community_or_404(community_id)
    members = queries.rotation_of(community.id)
    history = queries.hosting_history(community.id)
    last_by_unit: dict[int, object] = {}
    for meeting in history:
        last_by_unit.setdefault(meeting.host_unit_id, meeting)
    return render_template(
        "attendance/rotation.html",
        community=community,
        members=members,
        others=queries.outside_rotation(community.id),
        history=history,
        last_by_unit=last_by_unit,
        next_host=queries.next_host(community),
        form=ButtonForm(),
    )


def _member(community_id: int, member_id: int) -> AllianceMember:
    member = db.session.get(AllianceMember, member_id)
    if member is None or member.community_id != community_id:
        abort(404)
    return member


@bp.route("/communities/<int:community_id>/rotation/<int:member_id>", methods=["POST"])
@login_required
def rotation_change(community_id: int, member_id: int):
    """Move a unit earlier or later in the rotation, or put it in or out of it."""
    from consult.community import operations as community_operations

    require(current_user, "rotation.manage", _member(community_id, member_id))
    if not ButtonForm().validate_on_submit():
        abort(400)
    action = request.form.get("action")
    if action not in ("up", "down", "join", "leave"):
        abort(400)
    user = _user()

    def work():
        member = _member(community_id, member_id)
        if action in ("up", "down"):
            community_operations.move_alliance_member(member, -1 if action == "up" else 1, user)
        else:
            community_operations.set_alliance_rotation(member, action == "join", user)

    try:
        work()
    except RefusedInput as exc:
        rollback()
        flash(exc.message, "warning")
    else:
        flash(_("The rotation is changed."), "success")
    return redirect(url_for("attendance.rotation", community_id=community_id))
