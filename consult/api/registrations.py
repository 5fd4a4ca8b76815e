"""Registrations (sign-ups)."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_registrations", __name__, description="Registrations (sign-ups)")
