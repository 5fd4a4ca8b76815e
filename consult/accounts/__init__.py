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
        # "<id>.<generation>": a session or remember cookie from before the account's
        # last sign-out or password change names an older generation and is refused.
        user_pk, _, generation = user_id.partition(".")
        if not (user_pk.isdigit() and generation.isdigit()) or len(user_pk) > 18:
            return None
        user = db.session.get(User, int(user_pk))
        if user is None or user.session_generation != int(generation):
            return None
        return user
