"""Agendas, resolutions and minutes."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_minutes", __name__, description="Agendas, resolutions and minutes")
