"""Accounts: sign-in, roles, API tokens."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from consult.extensions import db, login_manager


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    # Renew the session identifier when the user agent or address changes.
    login_manager.session_protection = "strong"

    from consult.accounts.models import User

    @login_manager.user_loader
    def load_user(user_id: str):
        if not user_id.isdigit():
            return None
        return db.session.get(User, int(user_id))
