"""Calendar feeds."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_feeds", __name__, description="Calendar feeds")
