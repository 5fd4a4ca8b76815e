"""Calendar files, subscribable feeds, the feeds page and invitations to a session."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from consult.calendar import ics
from consult.calendar.cache import (
    Fingerprint,
    cached_calendar,
    community_feed_fingerprint,
    personal_feed_fingerprint,
    session_fingerprint,
)
from consult.calendar.documents import feed_calendar, session_calendar
from consult.calendar.forms import FeedForm, InviteForm
from consult.calendar.models import FeedToken
from consult.calendar.operations import (
    create_feed,
    invite_people,
    revoke_feed,
    rotate_feed,
)
from consult.calendar.queries import (
    all_communities,
    feed_content,
    feed_for_token,
    feed_head,
    feed_scope,
    feed_window,
    has_alliance,
    meeting_invitations,
    search_alliance_units,
    user_feeds,
    week_only,
)
from consult.enums import UnitKind
from consult.errors import RefusedInput, refuse_on
from consult.extensions import db
from consult.loaders import feed_or_404, meeting_or_404
from consult.meetings.models import Meeting
from consult.permissions import can, require
from consult.transactions import rollback
from consult.types import utcnow
from consult.web.confirm import confirmation_page, confirmed

bp = Blueprint("calendar", __name__)

ICS_MIMETYPE = "text/calendar; charset=utf-8"
#: Where the secret URL of a feed just made waits to be shown once.
NEW_FEED_KEY = "calendar.new_feed"


def _calendar_response(body: bytes, filename: str | None = None) -> Response:
    response = Response(body, status=200, headers={"Content-Type": ICS_MIMETYPE})
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _meeting_or_404(meeting_id: int) -> Meeting:
    return meeting_or_404(meeting_id, current_user)


def _serve_calendar(fingerprint: Fingerprint, render, filename: str | None = None) -> Response:
    """Answer with a calendar kept under ``fingerprint`` (rendered by ``render`` when
    the cache lacks it), or 304 when the client's copy is current. Calendars depend on
    who asks (a secret feed URL, a private session, a week signed up for alone): shared
    caches must not keep them, and clients revalidate."""
    found = cached_calendar(fingerprint, render)
    if found.etag is not None and request.if_none_match.contains_weak(found.etag):
        response = Response(status=304)
    else:
        body = found.body()
        if request.if_none_match.contains_weak(found.current_etag()):
            response = Response(status=304)
        else:
            response = _calendar_response(body, filename)
    response.set_etag(found.current_etag(), weak=True)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.route("/sessions/<int:meeting_id>.ics")
def meeting_ics(meeting_id: int):
    """Serve a session as an iCalendar file: for an occurrence, its whole series, or that
    week alone to someone who signed up for that week only."""
    meeting = _meeting_or_404(meeting_id)
    whole = not week_only(current_user, meeting)
    return _serve_calendar(
        session_fingerprint(meeting, whole),
        lambda: ics.to_ics(session_calendar(meeting, whole)),
        f"session-{meeting.id}.ics",
    )


@bp.route("/calendar/<token>.ics")
def feed(token: str):
    """Serve a subscribable feed; answer 304 when the client's copy is current.

    The feed is kept in the cache under a fingerprint of what it shows
    (consult.calendar.cache): a community's feed is revalidated, or served from the
    cache, on its token's one row; nothing is loaded but to render it."""
    head = feed_head(token)
    if head is None:
        abort(404)
    window = feed_window(utcnow())

    def render(found: FeedToken | None = None) -> bytes:
        found = found or feed_for_token(token)
        if found is None:  # revoked or disabled since its head was read
            abort(404)
        return ics.to_ics(feed_calendar(found, feed_content(feed_scope(found, window))))

    if head.scope == "community":
        return _serve_calendar(community_feed_fingerprint(head, window), render)
    found = feed_for_token(token)
    if found is None:
        abort(404)
    return _serve_calendar(personal_feed_fingerprint(found, window), lambda: render(found))


# -- the feeds page ----------------------------------------------------------------------


def feed_address(path: str) -> str:
    return current_app.config["BASE_URL"] + path


def _own_feed_or_404(feed_id: int) -> FeedToken:
    return feed_or_404(feed_id, current_user)


def _remember_new(feed: FeedToken, token: str) -> None:
    session[NEW_FEED_KEY] = {"id": feed.id, "path": f"/calendar/{token}.ics"}


@bp.route("/me/calendars", methods=["GET", "POST"])
@login_required
def feeds():
    """List the signed-in person's calendar feeds and make new ones."""
    communities = all_communities()
    form = FeedForm(communities)
    if form.validate_on_submit():
        require(current_user, "feed.create")
        try:
            new, token = create_feed(form.data_for_operation(), current_user)
        except RefusedInput as exc:
            refuse_on(form, exc, default="scope")
        else:
            _remember_new(new, token)
            flash(
                _("Your calendar address is ready. Copy it now: it is shown only once."), "success"
            )
            return redirect(url_for("calendar.feeds"))
    shown = session.pop(NEW_FEED_KEY, None)
    new_url = feed_address(shown["path"]) if shown else None
    return render_template(
        "calendar/feeds.html",
        form=form,
        feeds=user_feeds(current_user),
        new_feed_id=shown["id"] if shown else None,
        new_url=new_url,
        webcal_url=_webcal(new_url) if new_url else None,
    )


def _webcal(url: str) -> str:
    parts = urlsplit(url)
    return "webcal://" + url[len(parts.scheme) + 3 :]


@bp.route("/me/calendars/<int:feed_id>/rotate", methods=["POST"])
@login_required
def rotate(feed_id: int):
    """Give a feed a new address, once confirmed; the old one stops working."""
    old = _own_feed_or_404(feed_id)
    if not confirmed():
        return confirmation_page(
            _("Renew this calendar's address?"),
            [
                _("The current address stops working at once."),
                _(
                    "Every phone or computer subscribed to it stops receiving updates until it "
                    "subscribes to the new address, which is shown only once."
                ),
                _("Your sessions and sign-ups stay as they are."),
            ],
            url_for("calendar.rotate", feed_id=feed_id),
            _("Yes, renew the address"),
            url_for("calendar.feeds"),
        )
    new, token = rotate_feed(old, current_user)
    _remember_new(new, token)
    flash(_("The calendar has a new address; the old one no longer works."), "success")
    return redirect(url_for("calendar.feeds"))


@bp.route("/me/calendars/<int:feed_id>/revoke", methods=["POST"])
@login_required
def revoke(feed_id: int):
    """Revoke a feed: its address answers 404 from now on."""
    revoke_feed(_own_feed_or_404(feed_id), current_user)
    flash(_("The calendar address no longer works."), "info")
    return redirect(url_for("calendar.feeds"))


# -- invitations -------------------------------------------------------------------------


def _safe_next(target: str | None, meeting: Meeting) -> str:
    if target:
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/")
            and not target.startswith("//")
            and "\\" not in target
        ):
            return target
    return url_for("calendar.invite", meeting_id=meeting.id)


def _invite_form(meeting: Meeting, **kwargs) -> InviteForm:
    # Prefixed: the form shares the session page with others (unique ids and names).
    return InviteForm(meeting, has_alliance(meeting.community_id), prefix="invite", **kwargs)


@bp.route("/sessions/<int:meeting_id>/invite", methods=["GET", "POST"])
@login_required
def invite(meeting_id: int):
    """Invite people to a session (addresses, alliance units, everyone signed up)."""
    meeting = _meeting_or_404(meeting_id)
    require(current_user, "meeting.invite", meeting)
    form = _invite_form(meeting)
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        try:
            invitations = invite_people(meeting, form.data_for_operation(), current_user)
            db.session.flush()
        except RefusedInput as exc:
            refuse_on(form, exc, default="emails")
        except IntegrityError:
            rollback()
            form.emails.errors = [
                *form.emails.errors,
                _("Someone invited the same people at the same time; try again."),
            ]
        else:
            flash(
                ngettext(
                    "%(num)d invitation is on its way.",
                    "%(num)d invitations are on their way.",
                    len(invitations),
                ),
                "success",
            )
            return redirect(_safe_next(form.next.data, meeting))
    return render_template(
        "calendar/invite.html",
        meeting=meeting,
        form=form,
        invitations=meeting_invitations(meeting),
        units=_unit_search(meeting, form.units.data or ()),
    )


def _unit_search(meeting: Meeting, chosen=()):
    """Search the alliance's units as the picker's query arguments say."""
    return search_alliance_units(
        meeting.community_id,
        request.args.get("unit_q", ""),
        request.args.get("unit_kind"),
        tuple(chosen),
    )


@bp.route("/sessions/<int:meeting_id>/invite/units")
@login_required
def invite_units(meeting_id: int):
    """Answer the unit picker's search with the matching units, grouped by kind (HTML)."""
    meeting = _meeting_or_404(meeting_id)
    require(current_user, "meeting.invite", meeting)
    chosen = [int(v) for v in request.args.getlist("chosen") if v.isdigit() and len(v) < 12]
    return render_template(
        "calendar/_unit_results.html",
        search=_unit_search(meeting, chosen),
        field_name="invite-units",
        chosen=set(chosen),
    )


@bp.app_template_global("unit_kinds")
def unit_kinds() -> tuple[str, ...]:
    """Return the unit kinds, in the order the picker groups them."""
    return tuple(UnitKind)


@bp.app_template_global("invite_panel")
def invite_panel(meeting: Meeting) -> dict | None:
    """Return what the invitation panel of a session page shows, or None when the
    viewer may not invite (or the session can no longer be invited to)."""
    if not can(current_user, "meeting.invite", meeting):
        return None
    # formdata=None: the page hosting the panel may itself be answering a POST.
    form = _invite_form(meeting, formdata=None) if meeting.open_for_invitations() else None
    if form is not None:
        form.next.data = request.full_path.rstrip("?") if has_request_context() else ""
    return {
        "form": form,
        "invitations": meeting_invitations(meeting),
        "action": url_for("calendar.invite", meeting_id=meeting.id),
    }


#: How an invitee's answer (PARTSTAT) is shown.
PARTSTAT_LABELS = {
    "NEEDS-ACTION": _l("No answer yet"),
    "ACCEPTED": _l("Accepted"),
    "DECLINED": _l("Declined"),
    "TENTATIVE": _l("Maybe"),
}


@bp.app_template_global("partstat_label")
def partstat_label(value: str) -> str:
    return PARTSTAT_LABELS.get(value, value)
