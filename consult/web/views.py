"""Pages that belong to no single domain."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_login import current_user
from sqlalchemy import select, text
from sqlalchemy.orm import joinedload

from consult.community.models import Community
from consult.extensions import db
from consult.meetings.models import Meeting
from consult.permissions import visible_meetings_clause
from consult.stats.queries import StatsFilter, programme_stats
from consult.types import utcnow

bp = Blueprint("web", __name__)


@bp.route("/")
def index():
    """Show upcoming sessions and the town's communities."""
    upcoming = db.session.scalars(
        select(Meeting)
        .where(
            Meeting.starts_at >= utcnow(),
            Meeting.status != "cancelled",
            visible_meetings_clause(current_user),
        )
        .options(joinedload(Meeting.community), joinedload(Meeting.venue))
        .order_by(Meeting.starts_at)
        .limit(10)
    ).all()
    communities = db.session.scalars(select(Community).order_by(Community.name)).all()
    return render_template("web/index.html", upcoming=upcoming, communities=communities)


@bp.route("/stats")
def stats():
    """Show the programme's figures."""
    return render_template("web/stats.html", stats=programme_stats(StatsFilter()))


@bp.route("/healthz")
def healthz():
    """Answer 200 when the database answers."""
    db.session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})
