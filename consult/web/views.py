"""Pages that belong to no single domain: home, statistics, health check."""

from __future__ import annotations

import csv
import io

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user, login_required

from consult.permissions import require
from consult.stats.dashboard import TABLES, headline_figures, table
from consult.stats.queries import programme_stats
from consult.web.dashboard import chart_of, csv_rows, headline_cards
from consult.web.forms import StatsFilterForm
from consult.web.health import database_answers
from consult.web.queries import (
    alliance_counts,
    community_choices,
    upcoming_sessions,
    waiting_for,
)
from consult.web.shell import SHELL_GLOBALS, user_or_visitor_on_error

bp = Blueprint("web", __name__)


@bp.record_once
def _install_shell(state) -> None:
    state.app.jinja_env.globals.update(SHELL_GLOBALS)
    # Ahead of Flask-Login's own, which loads the user for every template.
    state.app.template_context_processors[None].insert(0, user_or_visitor_on_error)


@bp.route("/")
def index():
    """Show what Consult is, what waits for the reader, the upcoming sessions, shortcuts."""
    waiting = waiting_for(current_user) if current_user.is_authenticated else None
    return render_template(
        "web/index.html", upcoming=upcoming_sessions(current_user), waiting=waiting
    )


@bp.route("/stats")
@login_required
def stats():
    """Show the programme's figures, optionally filtered."""
    require(current_user, "stats.view")
    form = StatsFilterForm(request.args, communities=community_choices())
    figures = alliance = headlines = None
    charts = []
    if form.validate():
        zone = current_app.config["CONSULT_TIMEZONE"]
        selected = form.to_filter(zone)
        figures = programme_stats(selected, issues_by_source=True)
        alliance = alliance_counts(selected.community_id)
        headlines = headline_cards(headline_figures(selected))
        kept = {k: v for k, v in request.args.items() if k in ("community", "from", "to")}
        for card in headlines:
            card["url"] = url_for("web.stats", **kept, **card["args"])
        charts = [chart_of(table(name, selected, zone)) for name in TABLES]
    return render_template(
        "web/stats.html",
        form=form,
        stats=figures,
        alliance=alliance,
        headlines=headlines,
        charts=charts,
    )


@bp.route("/stats/<name>.csv")
@login_required
def stats_csv(name: str):
    """Export the table behind one of the dashboard's charts as CSV (UTF-8 with BOM)."""
    require(current_user, "stats.view")
    if name not in TABLES:
        abort(404)
    form = StatsFilterForm(request.args, communities=community_choices())
    if not form.validate():
        errors = "; ".join(str(e) for field in form.errors.values() for e in field)
        abort(400, description=errors)
    zone = current_app.config["CONSULT_TIMEZONE"]
    out = io.StringIO()
    out.write("\ufeff")  # spreadsheet software reads UTF-8 only with a byte-order mark
    csv.writer(out, lineterminator="\r\n").writerows(
        csv_rows(table(name, form.to_filter(zone), zone))
    )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="consult-{name}.csv"'},
    )


@bp.route("/favicon.ico")
def favicon():
    """Serve the icon where browsers look for it without being told."""
    return send_from_directory(
        current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400
    )


@bp.route("/healthz")
def healthz():
    """Answer 200 when the database answers SELECT 1 in time, 503 otherwise."""
    app = current_app._get_current_object()
    if database_answers(app, app.config["HEALTHZ_TIMEOUT"]):
        return jsonify({"status": "ok"})
    return jsonify({"status": "unavailable", "error": "the database does not answer"}), 503
