"""Interface language and the labels of the programme's vocabularies.

The language is, in order: ``?lang=`` (remembered in the session), the account's
choice, the browser's Accept-Language, DEFAULT_LANGUAGE. Mail and calendar texts are
in their recipient's language: their choice, else DEFAULT_LANGUAGE (``language_of``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, support
from babel.dates import format_date, format_time
from flask import Flask, current_app, g, request, request_started, session
from flask_babel import Domain, get_locale, gettext, refresh
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from consult.extensions import babel, db

LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}

#: The display name of each value of the vocabularies in consult.enums.
LABELS: dict[str, dict] = {
    "language": LANGUAGE_NAMES,
    "visibility": {"public": _l("Public"), "private": _l("Private")},
    "role": {
        "admin": _l("Administrator"),
        "cadre": _l("Community cadre"),
        "secretary": _l("Secretary"),
        "resident": _l("Resident"),
        "unit_rep": _l("Unit representative"),
    },
    "kind": {
        "roundtable": _l("Roundtable"),
        "friday_talk": _l("Friday Talk Day"),
        "joint_meeting": _l("Joint meeting"),
        "sentiment_talk": _l("Public-sentiment talk"),
        "deliberation": _l("Deliberation meeting"),
        "mediation": _l("Mediation"),
    },
    "category": {
        "concern": _l("Issues of concern"),
        "conflict": _l("Conflicts and disputes"),
        "urgent": _l("Urgent and difficult problems"),
    },
    "source": {
        "grid": _l("Grid collection"),
        "session": _l("Raised at a session"),
        "walk_in": _l("Walk-in visit"),
        "hotline": _l("Hotline"),
        "online": _l("Online"),
    },
    "level": {
        "1": _l("Grid member (solved on the spot)"),
        "2": _l("Grid party organisation (consultation)"),
        "3": _l("Community party committee (special research)"),
        "4": _l("Town party committee (coordination and supervision)"),
    },
    "unit_kind": {
        "government_agency": _l("Government agencies"),
        "enterprise": _l("Enterprises"),
        "public_institution": _l("Public institutions"),
        "social_organisation": _l("Social organisations"),
        "mass_organisation": _l("Mass organisations"),
        "owners_committee": _l("Owners' committees"),
        "property_company": _l("Property companies"),
    },
    "session_status": {
        "scheduled": _l("Scheduled"),
        "cancelled": _l("Cancelled"),
        "held": _l("Held"),
    },
}


def label(value, vocabulary: str):
    """Return the display name of ``value`` in ``vocabulary`` (the value itself if unknown)."""
    return LABELS.get(vocabulary, {}).get(str(value), value)


class Choices:
    """The values a field accepts, as the reader of a refusal reads them: each display
    name with its code (what the API sends), listed in the reader's language when shown
    ("民生诉求（concern）、矛盾纠纷（conflict）和急难愁盼（urgent）")."""

    def __init__(self, values, vocabulary: str | None = None):
        self.values = [str(v) for v in values]
        self.vocabulary = vocabulary

    def __str__(self) -> str:
        from babel.lists import format_list

        from consult.cases.labels import case_label

        items = []
        for value in self.values:
            name = str(case_label(value, self.vocabulary)) if self.vocabulary else value
            items.append(
                value if name == value else gettext("%(name)s (%(code)s)", name=name, code=value)
            )
        return format_list(items, locale=str(get_locale() or "en"))


def normalise_language(code: str | None) -> str | None:
    """Return the configured language written as ``code`` ("zh-cn", "zh_CN"...), or None."""
    if not code:
        return None
    wanted = code.strip().replace("-", "_").lower()
    for language in current_app.config["LANGUAGES"]:
        if language.lower() == wanted:
            return language
    return None


def browser_language() -> str | None:
    """Return the configured language the browser prefers, by quality, or None.

    A language matches on its full tag or on its primary subtag, so "zh", "zh-Hans-CN"
    and "zh-TW" all choose Simplified Chinese, and "en-GB" chooses English.
    """
    languages = current_app.config["LANGUAGES"]
    by_primary: dict[str, str] = {}
    for language in languages:
        by_primary.setdefault(language.split("_")[0].lower(), language)
    for asked, quality in request.accept_languages:
        if quality <= 0 or asked == "*":
            continue
        exact = normalise_language(asked)
        if exact:
            return exact
        primary = asked.replace("_", "-").split("-")[0].lower()
        if primary in by_primary:
            return by_primary[primary]
    return None


def _account_language() -> str | None:
    """Return the signed-in account's language, or None (also when the database is down)."""
    try:
        # An API request's caller (a Bearer token) is not the session's signed-in user.
        api_user = g.get("api_user")
        if api_user is not None:
            return normalise_language(api_user.locale)
        if current_user.is_authenticated:
            return normalise_language(current_user.locale)
    except SQLAlchemyError:
        # The error page must still render in the visitor's language.
        db.session.rollback()
    return None


def select_locale() -> str:
    """Return the interface language of the current request."""
    asked = normalise_language(request.args.get("lang"))
    if asked:
        session["lang"] = asked
        return asked
    remembered = normalise_language(session.get("lang"))
    if remembered:
        return remembered
    return _account_language() or browser_language() or default_language()


def default_language() -> str:
    """Return DEFAULT_LANGUAGE: for visitors and recipients who chose no language."""
    return current_app.config["DEFAULT_LANGUAGE"]


def language_of(person_locale: str | None) -> str:
    """Return the language of mail and calendar texts for someone whose setting is
    ``person_locale`` (an account's ``locale``; None for no account or no choice)."""
    return normalise_language(person_locale) or default_language()


def current_language() -> str:
    """Return the request's language as configured ("zh_CN"; Babel says "zh_Hans_CN")."""
    locale = get_locale()
    for language in current_app.config["LANGUAGES"]:
        if Locale.parse(language) == locale:
            return language
    return str(locale)


def session_time(value: datetime | None, zone: str | None = None) -> str:
    """Format an aware UTC datetime in ``zone`` (a session's own time zone), in the language.

    The zone is named when it is not the installation's own.
    """
    if value is None:
        return ""
    home = current_app.config["CONSULT_TIMEZONE"]
    try:
        tz = ZoneInfo(zone or home)
    except (ZoneInfoNotFoundError, ValueError):
        tz, zone = ZoneInfo(home), home
    local = value.astimezone(tz)
    locale = get_locale()
    day = format_date(local, "full", locale=locale)
    text = f"{day} {format_time(local, 'short', locale=locale)}"
    if zone and zone != home:
        text += f" ({zone})"
    return text


def _forget_language(sender, **extra) -> None:
    refresh()


class CatalogDomain(Domain):
    """Find a catalogue under the language's configured name.

    Babel reads "zh_CN" as "zh_Hans_CN" (with its likely script), and would look for
    translations/zh_Hans_CN/; the catalogues live under the names gettext tools use.
    """

    def get_translations(self):
        locale = get_locale()
        if locale is None:
            return support.NullTranslations()
        key = str(locale)
        if key not in self.cache:
            names = [current_language(), key]
            merged = support.NullTranslations()
            for dirname in self.translation_directories:
                catalog = support.Translations.load(dirname, names, self.domain[0])
                if isinstance(merged, support.Translations):
                    merged.merge(catalog)
                else:
                    merged = catalog
            self.cache[key] = merged
        return self.cache[key]


def init_i18n(app: Flask) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    babel.domain_instance = CatalogDomain()
    # Choose the language afresh for each request, even when one application context
    # serves several (as the test client's requests share the tests' context).
    request_started.connect(_forget_language, app, weak=False)
    app.add_template_filter(label, "label")
    app.add_template_filter(session_time, "session_time")

    @app.context_processor
    def _languages():
        return {"language_names": LANGUAGE_NAMES, "current_locale": current_language()}
