"""Pages anyone may read without signing in: the accountability pages and their open
data, the noticeboard screen, and the sessions' posters."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from consult.cases.labels import case_label
from consult.i18n import current_language, label, session_time
from consult.lists import page_arg
from consult.loaders import visible_or_404
from consult.meetings.queries import get_meeting
from consult.minutes.queries import public_masker, public_maskers
from consult.public import documents, queries
from consult.public.forms import PublicFilterForm
from consult.public.poster import Poster, Week, poster_pdf, qr_svg
from consult.types import utcnow

bp = Blueprint("public", __name__)

#: Seconds between two refreshes of the noticeboard screen.
BOARD_REFRESH = 120


EVALUATION_RESULTS = {
    "accepted": _l("accepted: the cases are closed"),
    "rejected": _l("not accepted: the cases were reopened"),
    "pending": _l("awaiting the representatives' ratings"),
}


@bp.context_processor
def _helpers():
    return {"evaluation_label": lambda result: EVALUATION_RESULTS.get(result, result)}


@bp.app_template_filter("iso_day")
def iso_day(value: str | None) -> str:
    """Format an ISO 8601 date or datetime (as the records give them) as a local date."""
    if not value:
        return ""
    return format_date(datetime.fromisoformat(value).date(), "medium", locale=get_locale())


def _absolute(endpoint: str, **values) -> str:
    return current_app.config["BASE_URL"] + url_for(endpoint, **values)


def _session_url(meeting) -> str:
    return _absolute("meetings.show", meeting_id=meeting.id)


def _community_or_404(community_id: int):
    community = queries.load_community(community_id)
    if community is None:
        abort(404)
    return community


def _public_meeting_or_404(meeting_id: int):
    """Return the session if an anonymous visitor may see it (whoever asks); else 404."""
    return visible_or_404(get_meeting(meeting_id), None)


@bp.route("/public/")
def index():
    """List the town's communities, each linking its accountability page."""
    return render_template("public/index.html", communities=queries.town_index())


@bp.route("/public/<int:community_id>")
def community(community_id: int):
    """Show the community's published resolutions, the cases they closed and what became of
    them, filtered by period and category."""
    community = _community_or_404(community_id)
    form = PublicFilterForm(request.args)
    selected = form.to_filter() if form.validate() else queries.ResolutionFilter()
    page = queries.resolution_page(community.id, selected, page_arg())
    return render_template(
        "public/community.html",
        community=community,
        form=form,
        page=page,
        records=queries.records(list(page.items), _session_url),
        export_args={k: v for k, v in request.args.items() if k != "page"},
    )


def _export_records(community_id: int):
    community = _community_or_404(community_id)
    form = PublicFilterForm(request.args)
    if not form.validate():
        name, message = form.first_error()
        body = {
            "error": {"code": "invalid_filter", "message": message, "fields": {name: [message]}}
        }
        abort(make_response(jsonify(body), 422))
    resolutions = queries.all_resolutions(community.id, form.to_filter())
    return community, queries.records(resolutions, _session_url)


@bp.route("/public/<int:community_id>/resolutions.json")
def resolutions_json(community_id: int):
    """Give the community's published records as JSON (README: "Open data")."""
    community, items = _export_records(community_id)
    return jsonify(
        {
            "community": {"id": community.id, "name": community.name, "brand": community.brand},
            "page_url": _absolute("public.community", community_id=community.id),
            "items": items,
            "total": len(items),
        }
    )


@bp.route("/public/<int:community_id>/resolutions.csv")
def resolutions_csv(community_id: int):
    """Give the community's published records as CSV, one row per case closed."""
    community, items = _export_records(community_id)
    # A byte-order mark, so that spreadsheet software reads the Chinese as UTF-8.
    response = make_response("\ufeff" + documents.to_csv(items))
    response.mimetype = "text/csv"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="resolutions-{community.id}.csv"'
    )
    return response


def _entry_title(record: dict) -> str:
    return f"{record['agenda_item']['title']} · {case_label(record['outcome'], 'outcome')}"


def _entry_summary(record: dict) -> str:
    closed = ngettext("%(num)d case closed.", "%(num)d cases closed.", len(record["cases"]))
    return f"{record['session']['title']}: {record['text']}\n{closed}"


@bp.route("/public/<int:community_id>/resolutions.atom")
def resolutions_atom(community_id: int):
    """Give the community's newly published resolutions as an Atom feed."""
    community = _community_or_404(community_id)
    resolutions = queries.all_resolutions(community.id, limit=queries.FEED_ENTRIES)
    items = queries.records(resolutions, _session_url)
    page_url = _absolute("public.community", community_id=community.id)
    updated = datetime.fromisoformat(items[0]["published_at"]) if items else None
    body = documents.to_atom(
        items,
        feed_id=page_url,
        title=_("Resolutions of %(community)s", community=community.name),
        subtitle=_("Newly published resolutions and the cases they closed."),
        page_url=page_url,
        self_url=_absolute("public.resolutions_atom", community_id=community.id),
        language=current_language().replace("_", "-"),
        entry_title=_entry_title,
        entry_summary=_entry_summary,
        updated=updated,
    )
    response = make_response(body)
    response.mimetype = "application/atom+xml"
    return response


@bp.route("/board/<int:community_id>")
def board(community_id: int):
    """Show the service centre's noticeboard: coming sessions and the latest resolutions."""
    community = _community_or_404(community_id)
    resolutions = queries.all_resolutions(community.id, limit=queries.BOARD_RESOLUTIONS)
    sessions = queries.coming_sessions(community.id)
    return render_template(
        "public/board.html",
        community=community,
        refresh=BOARD_REFRESH,
        now=utcnow(),
        sessions=sessions,
        titles={m.id: mask(m.title) for m, mask in _maskers(sessions)},
        records=queries.records(resolutions, _session_url),
        public_url=_absolute("public.community", community_id=community.id),
    )


def _maskers(meetings):
    """Return (meeting, its public masker) pairs, the maskers made together."""
    maskers = public_maskers(meetings)
    return [(m, maskers[m.id]) for m in meetings]


def _when(meeting) -> str:
    """Return the session's day and hours in its own zone, e.g. "Friday ... 15:00-17:00"."""
    zone = ZoneInfo(meeting.timezone)
    start, end = meeting.starts_at.astimezone(zone), meeting.ends_at.astimezone(zone)
    locale = get_locale()
    text = session_time(meeting.starts_at, meeting.timezone)
    if start.date() == end.date():
        return f"{text}–{format_time(end, 'short', locale=locale)}"
    return (
        f"{text} – {format_date(end, 'medium', locale=locale)} "
        f"{format_time(end, 'short', locale=locale)}"
    )


def _poster(meeting) -> Poster:
    agenda = queries.poster_agenda(meeting)
    shown = agenda[: queries.POSTER_ITEMS]
    weeks = [
        Week(_when(m), m.is_cancelled, m.id == meeting.id) for m in queries.coming_weeks(meeting)
    ]
    community = meeting.community
    place = None
    if meeting.venue is not None:
        place = meeting.venue.name
        if meeting.venue.address:
            place = f"{place}, {meeting.venue.address}"
    mask = public_masker(meeting)
    kind, title = str(label(meeting.kind, "kind")), mask(meeting.title)
    return Poster(
        brand=community.brand or community.name,
        community=community.name,
        kind=kind if kind != title else "",
        title=title,
        when=_when(meeting),
        place=place,
        url=_session_url(meeting),
        cancelled=meeting.is_cancelled,
        agenda=shown,
        more_items=len(agenda) - len(shown),
        weeks=weeks if len(weeks) > 1 else [],
        words={
            "agenda": _("Agenda"),
            "weeks": _("Coming weeks"),
            "scan": _("Scan to sign up"),
            "cancelled": _("This session is cancelled"),
            "cancelled_week": _("cancelled"),
            "more": ngettext(
                "and %(num)d more item", "and %(num)d more items", len(agenda) - len(shown)
            ),
            "time": _("Time"),
            "place": _("Place"),
            # A labelled line of the PDF, e.g. "Time: Friday 11 December 15:00".
            "line": _("%(label)s: %(value)s"),
        },
    )


@bp.route("/sessions/<int:meeting_id>/poster")
def poster(meeting_id: int):
    """Show a session's A4 notice for the noticeboard, made to be printed."""
    meeting = _public_meeting_or_404(meeting_id)
    content = _poster(meeting)
    return render_template(
        "public/poster.html", meeting=meeting, poster=content, qr=qr_svg(content.url)
    )


@bp.route("/sessions/<int:meeting_id>/poster.pdf")
def poster_as_pdf(meeting_id: int):
    """Give a session's A4 notice as a PDF."""
    meeting = _public_meeting_or_404(meeting_id)
    response = make_response(poster_pdf(_poster(meeting)))
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="poster-{meeting.id}.pdf"'
    return response
