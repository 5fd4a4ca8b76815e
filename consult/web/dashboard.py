"""The dashboard's charts and CSV: titles, labels in the reader's language, the SVG."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from consult.cases.labels import case_label
from consult.stats.charts import bar_chart
from consult.stats.dashboard import Headline, Table

#: Title and one-line description of each table (and of the chart drawn from it).
TITLES = {
    "cases_by_level": (
        _l("Cases per month, by grid level"),
        _l("Cases created each month, by the grid level they reached."),
    ),
    "cases_by_category": (
        _l("Cases per month, by category"),
        _l("Cases created each month, by category."),
    ),
    "resolution_days": (
        _l("Days to resolution, per grid level"),
        _l("Average days from report to resolution of the cases solved at each level."),
    ),
    "overdue": (
        _l("Overdue cases, per grid level"),
        _l("Cases still being handled past their level's time limit, by category."),
    ),
    "sessions_held": (
        _l("Sessions held, by kind"),
        _l("Sessions held and still to be held (cancelled ones left out)."),
    ),
    "attendance": (
        _l("Attendance per month"),
        _l("People recorded present or late at sessions each month."),
    ),
    "evaluations": (
        _l("Representatives' evaluations"),
        _l("Ratings of resolved issues, per round of evaluation."),
    ),
}

#: Names of the columns that are figures rather than vocabulary values.
FIGURE_NAMES = {
    "cases": _l("Cases"),
    "average_days": _l("Average days"),
    "longest_days": _l("Longest (days)"),
}

#: What each published figure counts, and the filter that produces it.
HEADLINE_NAMES = {
    "level_1": _l("Solved by grid members on the spot"),
    "level_2": _l("Solved by grid party organisations through consultation"),
    "level_3": _l("Solved by the community party committee through special research"),
    "level_4": _l("Coordinated and supervised by the town party committee"),
    "issues": _l("Issues of concern to residents resolved"),
    "disputes": _l("Conflicts and disputes resolved"),
    "mediation_conflicts": _l("Difficult conflicts resolved in mediation"),
    "mediation_urgent": _l("Urgent problems solved in mediation"),
}

HEADLINE_FILTERS = {
    "level_1": _l("Filter: source grid collection; resolved cases at level 1."),
    "level_2": _l("Filter: source grid collection; resolved cases at level 2."),
    "level_3": _l("Filter: source grid collection; resolved cases at level 3."),
    "level_4": _l("Filter: source grid collection; resolved cases at level 4."),
    "issues": _l("Filter: none; issues resolved or closed."),
    "disputes": _l("Filter: none; resolved cases of the category conflicts and disputes."),
    "mediation_conflicts": _l(
        "Filter: session kind mediation; resolved cases of the category conflicts and disputes."
    ),
    "mediation_urgent": _l(
        "Filter: session kind mediation; resolved cases of the category urgent and "
        "difficult problems."
    ),
}


def _name(key: str, vocabulary: str | None) -> str:
    if vocabulary is None:
        return str(key)
    if vocabulary == "figure":
        return str(FIGURE_NAMES.get(key, key))
    if vocabulary == "round":
        return _("Round %(n)s", n=key)
    return str(case_label(key, vocabulary))


@dataclass
class Chart:
    key: str
    title: str
    description: str
    svg: Markup
    #: The table under the chart: header names, then (row name, values, total or None).
    header: list[str]
    rows: list[tuple[str, list, object]]
    legend: list[str]
    empty: bool


def chart_of(table: Table) -> Chart:
    """Return the chart and table of ``table``, named in the reader's language."""
    title, description = (str(t) for t in TITLES[table.key])
    columns = [_name(c, table.column_vocabulary) for c in table.columns]
    rows = [(_name(key, table.row_vocabulary), values) for key, values in table.rows]
    if table.average:
        # Chart the average only; the table keeps the count and the longest too.
        drawn = [(key, [values[1]]) for key, values in table.rows]
        legend = [columns[1]]
    else:
        drawn = list(table.rows)
        legend = columns
    svg = bar_chart(
        f"chart-{table.key}",
        title,
        description,
        drawn,
        legend,
        lambda key: _name(key, table.row_vocabulary),
    )
    header = [_row_heading(table), *columns]
    shown = []
    for name, values in rows:
        total = None if table.average else sum(v or 0 for v in values)
        shown.append((name, values, total))
    if not table.average:
        header.append(_("Total"))
    return Chart(table.key, title, description, svg, header, shown, legend, table.empty)


def _row_heading(table: Table) -> str:
    return {
        None: _("Month"),
        "level": _("Grid level"),
        "kind": _("Session kind"),
        "round": _("Evaluation round"),
    }.get(table.row_vocabulary, "")


def csv_rows(table: Table) -> list[list]:
    """Return the CSV of ``table``: its header, then one line per row (names translated)."""
    chart = chart_of(table)
    lines: list[list] = [chart.header]
    for name, values, total in chart.rows:
        line = [name, *("" if v is None else v for v in values)]
        if total is not None:
            line.append(total)
        lines.append(line)
    return lines


def headline_cards(figures: list[Headline]) -> list[dict]:
    """Return each published figure with its name and the filter stated in words."""
    return [
        {
            "key": f.key,
            "value": f.value,
            "name": str(HEADLINE_NAMES[f.key]),
            "filter": str(HEADLINE_FILTERS[f.key]),
            "args": f.args,
        }
        for f in figures
    ]
