"""The layout's helpers: the navigation bar per role, language links, error details."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import current_app, g, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError

from consult.enums import Role
from consult.extensions import db
from consult.permissions import can


@dataclass(frozen=True)
class NavEntry:
    endpoint: str
    label: object
    #: A rule of consult.permissions; None: everyone (signed in or not, see ``signed_in``).
    rule: str | None = None
    signed_in: bool = False
    #: One line shown with the shortcut on the home page.
    hint: object = ""
    #: Only for residents' representatives (of any community).
    representatives: bool = False


NAV: tuple[NavEntry, ...] = (
    NavEntry("meetings.index", _l("Sessions"), hint=_l("Upcoming sessions; sign up or cancel.")),
    NavEntry("meetings.calendar", _l("Calendar"), hint=_l("The month's sessions at a glance.")),
    NavEntry(
        "cases.index",
        _l("Cases"),
        "case.list",
        True,
        _l("Residents' cases through the four-level grid."),
    ),
    NavEntry(
        "cases.issues",
        _l("Issues"),
        "nav.issues",
        True,
        _l("Issues put to sessions, and their cases."),
    ),
    NavEntry(
        "minutes.actions",
        _l("Actions"),
        "nav.actions",
        True,
        _l("What resolutions asked units to do."),
    ),
    NavEntry(
        "attendance.my_signups",
        _l("My sign-ups"),
        None,
        True,
        _l("Your coming and past sign-ups, waiting lists, cancelling."),
    ),
    NavEntry(
        "cases.my_concerns",
        _l("My concerns"),
        "nav.concerns",
        True,
        _l("The concerns you raised, and where each stands."),
    ),
    NavEntry(
        "cases.to_rate",
        _l("To rate"),
        None,
        True,
        _l("Resolved issues waiting for your rating as a representative."),
        representatives=True,
    ),
    NavEntry(
        "web.stats",
        _l("Statistics"),
        "stats.view",
        True,
        _l("Cases, issues and sessions in figures."),
    ),
    NavEntry(
        "admin.index",
        _l("Administration"),
        "admin.manage",
        True,
        _l("Communities, venues, units and accounts."),
    ),
)


#: The home page's shortcuts: what each role comes to do, then the navigation's pages.
SHORTCUTS: tuple[NavEntry, ...] = (
    NavEntry(
        "meetings.new",
        _l("Schedule a session"),
        "meeting.create",
        True,
        _l("A one-off session or a weekly series."),
    ),
    NavEntry(
        "cases.new",
        _l("Record a case"),
        "case.create",
        True,
        _l("A resident's concern, conflict or urgent problem."),
    ),
    NavEntry(
        "cases.raise_new",
        _l("Raise a concern"),
        "nav.concerns",
        True,
        _l("Tell your community's cadres about a problem; follow it until it is solved."),
    ),
    *NAV,
    NavEntry(
        "calendar.feeds",
        _l("Calendar subscriptions"),
        None,
        True,
        _l("Sessions in your phone's calendar."),
    ),
)


def nav_entries(user, entries: tuple[NavEntry, ...] = NAV) -> list[tuple[NavEntry, str]]:
    """Return the entries ``user`` may use, with their URLs."""
    signed_in = getattr(user, "is_authenticated", False)
    usable = []
    for entry in entries:
        if entry.signed_in and not signed_in:
            continue
        if entry.rule is not None and not can(user, entry.rule):
            continue
        # Residents' representatives are residents; staff pages need no look-up.
        if entry.representatives and (
            user.role != Role.RESIDENT or not any(m.is_representative for m in user.memberships)
        ):
            continue
        usable.append((entry, url_for(entry.endpoint)))
    return usable


def lang_url(language: str) -> str:
    """Return the current page's URL with ``?lang=`` set to ``language``."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", language))
    return f"{request.path}?{urlencode(args)}"


def error_detail(error) -> str | None:
    """Return what an error says beyond its status, if it was given one of its own.

    Werkzeug's stock descriptions are English prose that the page already says in the
    visitor's language, and CSRF failures are explained by the 400 page itself.
    """
    description = getattr(error, "description", None)
    if not description or isinstance(error, CSRFError):
        return None
    if description == getattr(type(error), "description", None):
        return None
    return str(description)


def user_or_visitor_on_error() -> dict:
    """Let error pages render when the database cannot even load the signed-in user.

    Runs only while an error is being handled: the visitor is then shown the page as
    anyone would see it, instead of a second failure in place of the 500 page.
    """
    if sys.exc_info()[0] is not None and "_login_user" not in g:
        try:
            current_user._get_current_object()
        except SQLAlchemyError:
            db.session.rollback()
            g._login_user = current_app.login_manager.anonymous_user()
    return {}


def _can(action: str, obj=None) -> bool:
    return can(current_user, action, obj)


def _nav_entries() -> list[tuple[NavEntry, str]]:
    return nav_entries(current_user)


def _shortcuts() -> list[tuple[NavEntry, str]]:
    return nav_entries(current_user, SHORTCUTS)


#: Functions the templates call; none of them runs unless a template does.
SHELL_GLOBALS = {
    "nav_entries": _nav_entries,
    "shortcuts": _shortcuts,
    "lang_url": lang_url,
    "can": _can,
    "error_detail": error_detail,
}
