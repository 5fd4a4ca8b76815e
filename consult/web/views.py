"""Pages that belong to no single domain: home, statistics, health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_login import current_user, login_required

from consult.permissions import require
from consult.stats.queries import programme_stats
from consult.web.forms import StatsFilterForm
from consult.web.health import database_answers
from consult.web.queries import alliance_counts, community_choices, upcoming_sessions
from consult.web.shell import SHELL_GLOBALS, user_or_visitor_on_error

bp = Blueprint("web", __name__)


@bp.record_once
def _install_shell(state) -> None:
    state.app.jinja_env.globals.update(SHELL_GLOBALS)
    # Ahead of Flask-Login's own, which loads the user for every template.
    state.app.template_context_processors[None].insert(0, user_or_visitor_on_error)


@bp.route("/")
def index():
    """Show what Consult is, the upcoming sessions one may see, and one's shortcuts."""
    return render_template("web/index.html", upcoming=upcoming_sessions(current_user))


@bp.route("/stats")
@login_required
def stats():
    """Show the programme's figures, optionally filtered."""
    require(current_user, "stats.view")
    form = StatsFilterForm(request.args, communities=community_choices())
    figures = alliance = None
    if form.validate():
        selected = form.to_filter(current_app.config["CONSULT_TIMEZONE"])
        figures = programme_stats(selected)
        alliance = alliance_counts(selected.community_id)
    return render_template("web/stats.html", form=form, stats=figures, alliance=alliance)


@bp.route("/healthz")
def healthz():
    """Answer 200 when the database answers SELECT 1 in time, 503 otherwise."""
    app = current_app._get_current_object()
    if database_answers(app, app.config.get("HEALTHZ_TIMEOUT", 2)):
        return jsonify({"status": "ok"})
    return jsonify({"status": "unavailable", "error": "the database does not answer"}), 503
