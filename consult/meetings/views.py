"""Session pages: list, calendar, schedule, show, change, cancel, skip and move."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from consult.community.versions import cached_value, digest
from consult.enums import SessionStatus
from consult.errors import RefusedInput, refuse_on
from consult.i18n import session_time
from consult.lists import page_arg
from consult.loaders import meeting_or_404, visible_or_404
from consult.mail import notify
from consult.meetings import links, operations, queries, recurrence
from consult.meetings.forms import (
    CalendarFilterForm,
    EditSessionForm,
    FilterForm,
    MoveOccurrenceForm,
    NewSessionForm,
)
from consult.permissions import can, require, visible_meetings_clause
from consult.transactions import rollback
from consult.types import utcnow
from consult.web.confirm import confirmation_page, confirmed

bp = Blueprint("meetings", __name__)

PER_PAGE = 20


def _local(value: datetime, zone: str) -> datetime:
    return value.astimezone(ZoneInfo(zone))


def _day(value: datetime, zone: str, width: str = "full") -> str:
    return format_date(_local(value, zone), width, locale=get_locale())


def _clock(value: datetime, zone: str) -> str:
    return format_time(_local(value, zone), "HH:mm", locale=get_locale())


def _zone_label(zone: str, at: datetime | None = None) -> str:
    """Return the zone's name with its UTC offset at ``at`` (e.g. "Europe/Berlin, UTC+01:00")."""
    offset = _local(at or utcnow(), zone).strftime("%z")
    return f"{zone}, UTC{offset[:3]}:{offset[3:]}"


@bp.context_processor
def _time_helpers():
    return {
        "local_day": _day,
        "local_clock": _clock,
        "zone_label": _zone_label,
        "format_day": lambda day, width="medium": format_date(day, width, locale=get_locale()),
        "home_zone": current_app.config["CONSULT_TIMEZONE"],
    }


def _load(meeting_id: int):
    """Return the session, or 404 when it does not exist or ``current_user`` may not see it."""
    return meeting_or_404(meeting_id, current_user)


@bp.route("/sessions")
def index():
    """List the sessions the visitor may see, with filters by community and kind.

    The list (its filters, sessions, pages and total) is rendered alone and kept in the
    cache (consult.community.versions) under what decides it: what the visitor may see
    (``visibility_key``, with the change counters), the filter, the page, the language,
    the home zone, the query string its links carry, and for the coming (or past)
    sessions the start of the first one shown (``first_start``), which names the list
    exactly where now would name a new one every time. A list asked again costs the
    counters' statement and one row of the index of start times, not its sessions and
    their markup; the rest of the page (the button to schedule, the navigation, the
    messages) is the visitor's own and rendered each time."""
    form = FilterForm(formdata=request.args)
    when = form.when_value()
    now = utcnow()
    f = queries.MeetingFilter(
        community_id=form.community_id(),
        kind=form.kind_value(),
        start=now if when == "upcoming" else None,
        end=now if when == "past" else None,
        newest_first=when == "past",
    )
    page = page_arg()
    # The counters first: what is kept is never older than the key it is kept under.
    visibility = queries.visibility_key(current_user)
    visible = visible_meetings_clause(current_user)
    bound = None if when == "all" else queries.first_start(current_user, f, visible)

    def render_list() -> str:
        form.offer(queries.community_choices())
        pagination = queries.list_meetings(
            current_user, f, page, PER_PAGE, visible, visibility=visibility
        )
        return render_template("meetings/_session_list.html", form=form, pagination=pagination)

    key = digest(
        "session-list",
        visibility,
        f.community_id,
        f.kind,
        when,
        bound,
        page,
        str(get_locale()),
        current_app.config["CONSULT_TIMEZONE"],
        sorted((k, v) for k, v in request.args.items() if k != "page"),
    )
    return render_template(
        "meetings/index.html",
        form=form,
        list_html=Markup(cached_value(key, render_list)),  # noqa: S704 (rendered by Jinja)
    )


def _anchor_day() -> date:
    raw = request.args.get("date", "")
    try:
        day = date.fromisoformat(raw)
        if recurrence.YEARS[0] < day.year < recurrence.YEARS[1]:
            return day
    except ValueError:
        pass
    return utcnow().astimezone(ZoneInfo(current_app.config["CONSULT_TIMEZONE"])).date()


def _own_community(communities: list[tuple[int, str]]) -> int | None:
    """Return the community the calendar shows unless another is chosen: the person's
    own (the first by name of those they belong to), else the first of the town."""
    mine = {m.community_id for m in getattr(current_user, "memberships", None) or ()}
    for community_id, _name in communities:
        if community_id in mine:
            return community_id
    return communities[0][0] if communities else None


#: Sessions a day shows in the month and the week (the others behind a link to the day).
MONTH_PER_DAY = 3
WEEK_PER_DAY = 12
VIEWS = ("month", "week", "day")


@bp.route("/sessions/calendar")
def calendar():
    """Show a month, a week or a day of one community's sessions, filtered by kind.

    A month shows a few sessions a day and how many more there are, a week a dozen, a
    day all of them: what the page holds does not grow with the community."""
    communities = queries.community_choices()
    form = CalendarFilterForm(communities, request.args)
    community_id = form.community_id() or _own_community(communities)
    form.community.data = str(community_id) if community_id is not None else ""
    view = request.args.get("view") if request.args.get("view") in VIEWS else "month"
    day = _anchor_day()
    locale = get_locale()
    if view == "month":
        weeks = queries.month_days(day.year, day.month)
        first = day.replace(day=1)
        previous = (first - timedelta(days=1)).replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)

        def in_period(d):
            return d.month == day.month

        title = format_date(first, "LLLL y", locale=locale)
        per_day = MONTH_PER_DAY
    elif view == "week":
        weeks = [queries.week_days(day)]
        previous, following = day - timedelta(days=7), day + timedelta(days=7)

        def in_period(d):
            return True

        title = "{} – {}".format(
            format_date(weeks[0][0], "medium", locale=locale),
            format_date(weeks[0][-1], "medium", locale=locale),
        )
        per_day = WEEK_PER_DAY
    else:
        weeks = [[day]]
        previous, following = day - timedelta(days=1), day + timedelta(days=1)

        def in_period(d):
            return True

        title = format_date(day, "full", locale=locale)
        per_day = None
    args = {k: v for k, v in request.args.items() if k in ("kind", "view")}
    if community_id is not None:
        args["community"] = str(community_id)
    today = utcnow().astimezone(ZoneInfo(current_app.config["CONSULT_TIMEZONE"])).date()
    shown = [d for week in weeks for d in week if in_period(d)]
    kind = form.kind_value()

    def render_grid() -> str:
        grid = queries.calendar_weeks(
            current_user,
            weeks,
            in_period,
            # No community yet: nothing to show (an empty town), rather than every session.
            community_id=community_id if community_id is not None else 0,
            kind=kind,
            per_day=per_day,
        )
        return render_template(
            "meetings/_calendar_grid.html", grid=grid, view=view, today=today, args=args
        )

    # The grid is kept until a session changes (consult.community.versions): a calendar
    # asked again costs the counters' one statement, not its sessions and their markup.
    key = digest(
        "calendar-grid",
        view,
        (day.year, day.month) if view == "month" else None,
        weeks[0][0],
        weeks[-1][-1],
        community_id,
        kind,
        str(locale),
        today,
        current_app.config["CONSULT_TIMEZONE"],
        sorted(args.items()),
        queries.visibility_key(current_user),
    )
    return render_template(
        "meetings/calendar.html",
        form=form,
        community_name=dict(communities).get(community_id),
        grid_html=Markup(cached_value(key, render_grid)),  # noqa: S704 (rendered by Jinja)
        view=view,
        title=title,
        previous=previous,
        following=following,
        today=today,
        # Where the other views open: today when it is shown, else the first day shown.
        focus=today if today in shown else shown[0],
        args=args,
    )


@bp.route("/sessions/new", methods=["GET", "POST"])
@login_required
def new():
    """Schedule a session or a series."""
    require(current_user, "meeting.create")
    form = NewSessionForm()
    if request.method == "GET":
        form.community.data = form.community.data or _home_community()
    if form.validate_on_submit():
        data = form.to_data()
        if data is not None:
            user = current_user._get_current_object()
            try:
                meeting = operations.create_meeting(data, user)
            except RefusedInput as exc:
                refuse_on(form, exc)
            else:
                flash(_("The session is scheduled."), "success")
                return redirect(url_for("meetings.show", meeting_id=meeting.id))
    return render_template(
        "meetings/new.html",
        form=form,
        communities=[name for _id, name in queries.community_choices()],
        zones=sorted(recurrence.known_zones()),
    )


def _home_community() -> str:
    memberships = getattr(current_user, "memberships", None) or []
    return memberships[0].community.name if len(memberships) == 1 else ""


#: What stands for the CSRF token in a kept session page: each answer puts its own
#: request's token in its place (a token is never shared between visitors).
CSRF_MARKER = "@@consult-session-page-csrf@@"


def _viewer_key(user) -> tuple | None:
    """What decides how ``user`` sees a session page: who they are for the permissions
    (role, whether active, unit, communities and whether they represent residents
    there), their address (invitations name it) and their language; None for a visitor.

    Their sign-ups and invitations that the page shows or counts (this session's, the
    other weeks' of its series) are of the session's community: its activity version
    names them."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        user.id,
        user.email,
        user.role,
        bool(user.active),
        user.unit_id,
        user.locale,
        sorted((m.community_id, bool(m.is_representative)) for m in user.memberships),
    )


def _time_facts(meeting, now: datetime) -> tuple[bool, bool, bool]:
    """What the page shows differently as time passes: whether the session has started
    (sign-up closes, no more restoring), whether it is over (no more invitations), and
    whether attendance may be taken."""
    from consult.attendance.operations import ATTENDANCE_OPENS_BEFORE

    return (
        meeting.starts_at <= now,
        meeting.ends_at <= now,
        meeting.starts_at - ATTENDANCE_OPENS_BEFORE <= now,
    )


def _render_session(meeting, now: datetime) -> tuple[str, datetime | None]:
    """Render the session page's content; return it with this request's CSRF token
    replaced by ``CSRF_MARKER``, and the instant until which it holds beyond what its
    key names: the start of the next coming week of its series shown (the number of
    coming weeks one may sign up for falls then), or None."""
    occurrences = []
    if meeting.series_id is not None:
        occurrences = queries.series_occurrences(meeting.series_id, current_user)
    page_url = current_app.config["BASE_URL"] + url_for("meetings.show", meeting_id=meeting.id)
    rule = None
    if meeting.series is not None:
        rule = recurrence.describe(
            meeting.series.rrule, meeting.series.dtstart, meeting.series.timezone
        )
    html = render_template(
        "meetings/_show_content.html",
        meeting=meeting,
        occurrences=occurrences,
        rule=rule,
        ics_url=url_for("calendar.meeting_ics", meeting_id=meeting.id),
        google_url=links.google_calendar_url(meeting, page_url),
        may_edit=can(current_user, "meeting.edit", meeting),
        may_cancel=can(current_user, "meeting.cancel", meeting),
        now=now,
    )
    token = g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    if token:
        html = html.replace(token, CSRF_MARKER)
    coming = [
        o.starts_at
        for o in occurrences
        if o.status == SessionStatus.SCHEDULED and o.starts_at > now
    ]
    return html, min(coming, default=None)


@bp.route("/sessions/<int:meeting_id>")
def show(meeting_id: int):
    """Show a session: time in its zone, place, places left, its series, calendar links,
    the sign-up, invitation and agenda panels.

    The content is rendered alone and kept in the cache (consult.community.versions)
    under what decides it: the session, its community's three change counters (read
    with the session, in one statement: ``calendar_version`` for the session, its series
    and the people and venues they show, ``stats_version`` for the issues and cases on
    its agenda, ``activity_version`` for its sign-ups, invitations, agenda, minutes,
    attendance, the alliance, the units and who may be named), who reads it, the
    language, the home zone, the site's address, the path asked (and where the site is
    mounted), the names it shows of the community and the host unit, and whether the
    session has started or ended (a series' page also holds only until the next of its
    coming weeks starts). A page asked again costs the session's statement (and, for a
    private one, whether it is the reader's); the rest (the navigation, the messages) is
    rendered each time, and each answer carries its own request's CSRF token."""
    head = queries.session_page_head(meeting_id)
    meeting = visible_or_404(head.meeting if head is not None else None, current_user)
    assert head is not None  # visible_or_404 answered 404 otherwise
    now = utcnow()
    config = current_app.config
    key = digest(
        "session-page",
        meeting.id,
        head.versions,
        _viewer_key(current_user),
        str(get_locale()),
        config["CONSULT_TIMEZONE"],
        config["BASE_URL"],
        request.script_root,
        request.full_path,
        (meeting.community.name, meeting.community.brand),
        meeting.host_unit.name if meeting.host_unit is not None else None,
        _time_facts(meeting, now),
    )
    content, _until = cached_value(
        key,
        lambda: _render_session(meeting, now),
        fresh=lambda found: found[1] is None or now < found[1],
    )
    if CSRF_MARKER in content:
        content = content.replace(CSRF_MARKER, generate_csrf())
    return render_template(
        "meetings/show.html",
        meeting=meeting,
        content_html=Markup(content),  # noqa: S704 (rendered by Jinja)
    )


def _require_change(meeting_id: int, action: str):
    meeting = _load(meeting_id)
    require(current_user, action, meeting)
    return meeting


@bp.route("/sessions/<int:meeting_id>/edit", methods=["GET", "POST"])
@login_required
def edit(meeting_id: int):
    """Reschedule a session, change its venue, places or description."""
    meeting = _require_change(meeting_id, "meeting.edit")
    if meeting.is_cancelled:
        flash(_("A cancelled session cannot be changed."), "warning")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    form = EditSessionForm.for_meeting(meeting)
    if form.validate_on_submit():
        data = form.to_data(meeting.timezone)
        if data is not None:
            user = current_user._get_current_object()
            try:
                operations.update_meeting(_load(meeting_id), data, user)
            except RefusedInput as exc:
                refuse_on(form, exc)
            else:
                flash(_("The session is changed."), "success")
                return redirect(url_for("meetings.show", meeting_id=meeting.id))
    return render_template(
        "meetings/edit.html",
        form=form,
        meeting=meeting,
        venues=[v.name for v in meeting.community.venues],
    )


@bp.route("/sessions/<int:meeting_id>/move", methods=["GET", "POST"])
@login_required
def move(meeting_id: int):
    """Move one occurrence of a series to another time."""
    meeting = _require_change(meeting_id, "meeting.edit")
    if meeting.series_id is None:
        abort(404)
    if meeting.is_cancelled:
        flash(_("A cancelled session cannot be changed."), "warning")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    form = MoveOccurrenceForm.for_meeting(meeting)
    if form.validate_on_submit():
        times = form.aware_times(meeting.timezone)
        if times is not None:
            user = current_user._get_current_object()
            starts, ends = times
            try:
                operations.move_occurrence(_load(meeting_id), starts, ends, user)
            except RefusedInput as exc:
                refuse_on(form, exc)
            else:
                flash(_("This occurrence is moved; the others stay."), "success")
                return redirect(url_for("meetings.show", meeting_id=meeting.id))
    return render_template("meetings/move.html", form=form, meeting=meeting)


def _post_action(meeting_id: int, action, done_message):
    """Check the right to cancel, run ``action`` on the session in one transaction, report."""
    _require_change(meeting_id, "meeting.cancel")
    try:
        result = action(_load(meeting_id))
    except RefusedInput as exc:
        rollback()
        flash(exc.message, "danger")
    else:
        flash(done_message(result), "success")
    return redirect(url_for("meetings.show", meeting_id=meeting_id))


def _when(meeting) -> str:
    return session_time(meeting.starts_at, meeting.timezone)


def _told(meeting) -> str:
    n = len(notify.meeting_audience(meeting))
    if not n:
        return _("Nobody is invited or registered yet, so nobody is mailed.")
    return ngettext(
        "%(num)d person invited or registered gets a cancellation by mail.",
        "%(num)d people invited or registered get a cancellation by mail.",
        n,
    )


def _ask(meeting, endpoint: str, title: str, consequences: list[str], button: str):
    return confirmation_page(
        title,
        consequences,
        url_for(endpoint, meeting_id=meeting.id),
        button,
        url_for("meetings.show", meeting_id=meeting.id),
    )


@bp.route("/sessions/<int:meeting_id>/cancel", methods=["POST"])
@login_required
def cancel(meeting_id: int):
    """Cancel a session (for a series: this occurrence only), once confirmed."""
    if not confirmed():
        meeting = _require_change(meeting_id, "meeting.cancel")
        return _ask(
            meeting,
            "meetings.cancel",
            _("Cancel this session?"),
            [
                _(
                    "“%(title)s” on %(when)s is cancelled; nobody can sign up any more.",
                    title=meeting.title,
                    when=_when(meeting),
                ),
                _told(meeting),
            ],
            _("Yes, cancel the session"),
        )
    return _post_action(
        meeting_id,
        lambda m: operations.cancel_meeting(m, current_user._get_current_object()),
        lambda _m: _("The session is cancelled."),
    )


@bp.route("/sessions/<int:meeting_id>/skip", methods=["POST"])
@login_required
def skip(meeting_id: int):
    """Skip this occurrence of a series (a holiday week), once confirmed."""
    if not confirmed():
        meeting = _require_change(meeting_id, "meeting.cancel")
        return _ask(
            meeting,
            "meetings.skip",
            _("Skip this week?"),
            [
                _(
                    "The session of %(when)s is skipped; the other weeks of “%(title)s” stay.",
                    title=meeting.title,
                    when=_when(meeting),
                ),
                _told(meeting),
                _("A skipped week can be restored from its page while it is still to come."),
            ],
            _("Yes, skip this week"),
        )
    return _post_action(
        meeting_id,
        lambda m: operations.skip_occurrence(m, current_user._get_current_object()),
        lambda _m: _("This week is skipped; the series goes on."),
    )


@bp.route("/sessions/<int:meeting_id>/restore", methods=["POST"])
@login_required
def restore(meeting_id: int):
    """Bring back a skipped week of a series."""
    return _post_action(
        meeting_id,
        lambda m: operations.restore_occurrence(m, current_user._get_current_object()),
        lambda _m: _("This week is back on; everyone invited or registered is told."),
    )


@bp.route("/sessions/<int:meeting_id>/cancel-series", methods=["POST"])
@login_required
def cancel_series(meeting_id: int):
    """Cancel the whole series this occurrence belongs to, once confirmed."""
    if not confirmed():
        meeting = _require_change(meeting_id, "meeting.cancel")
        if meeting.series is not None:
            coming = sum(1 for m in meeting.series.occurrences if m.open_for_signup())
            people = len(notify.series_audience(meeting.series))
            return _ask(
                meeting,
                "meetings.cancel_series",
                _("Cancel the whole series?"),
                [
                    ngettext(
                        "The %(num)d coming session of “%(title)s” is cancelled.",
                        "All %(num)d coming sessions of “%(title)s” are cancelled.",
                        coming,
                        title=meeting.series.title,
                    ),
                    ngettext(
                        "%(num)d person invited or registered gets a cancellation by mail.",
                        "%(num)d people invited or registered get a cancellation by mail.",
                        people,
                    ),
                    _("This cannot be undone: a new series would have to be scheduled."),
                ],
                _("Yes, cancel the series"),
            )

    def action(meeting):
        if meeting.series is None:
            raise operations.MeetingError(_("This session is not part of a series."), None)
        return operations.cancel_series(meeting.series, current_user._get_current_object())

    return _post_action(
        meeting_id, action, lambda n: _("The series is cancelled (%(n)d sessions).", n=n)
    )
