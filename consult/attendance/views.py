"""Sign-ups, waiting lists, invitations answers and attendance."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("attendance", __name__)
