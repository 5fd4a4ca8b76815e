"""Sessions and series."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_sessions", __name__, description="Sessions and series")
