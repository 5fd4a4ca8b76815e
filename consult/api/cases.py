"""Cases and issues."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_cases", __name__, description="Cases and issues")
