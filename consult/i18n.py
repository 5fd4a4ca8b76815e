"""Interface language: ?lang= (remembered), then the account's choice, then the browser."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, request, session
from flask_babel import get_locale
from flask_login import current_user

from consult.extensions import babel

LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    asked = request.args.get("lang")
    if asked in languages:
        session["lang"] = asked
        return asked
    if session.get("lang") in languages:
        return session["lang"]
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    # werkzeug matches "zh-CN", "zh-cn" and a bare "zh" against "zh_CN".
    return request.accept_languages.best_match(languages) or "en"


def init_i18n(app: Flask) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )

    @app.context_processor
    def _languages():
        return {"language_names": LANGUAGE_NAMES, "current_locale": str(get_locale())}
