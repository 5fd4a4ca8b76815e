"""The dashboard's tables: one aggregate query each, shared by the charts and their CSV.

Every table follows the same ``StatsFilter`` as /api/v1/stats: cases and issues by
their creation time, sessions and attendance by the session's start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from consult.cases.grid import overdue_clause
from consult.cases.models import Case, Evaluation, Issue
from consult.enums import CaseCategory, CaseLevel, Rating, SessionKind, SessionStatus
from consult.extensions import db
from consult.meetings.models import Attendance, Meeting
from consult.stats.queries import (
    DONE,
    StatsFilter,
    case_conditions,
    issue_conditions,
    programme_stats,
    session_conditions,
)
from consult.types import utcnow


@dataclass
class Table:
    """Rows of figures: ``rows`` are (row key, [one value per column]).

    ``row_vocabulary``/``column_vocabulary`` name the label vocabulary (consult.i18n)
    of the keys; None: the keys are shown as they are (months, for instance).
    """

    key: str
    columns: tuple[str, ...]
    rows: list[tuple[str, list]] = field(default_factory=list)
    row_vocabulary: str | None = None
    column_vocabulary: str | None = None
    #: Values are averages (days), not counts: no total is added up.
    average: bool = False

    @property
    def empty(self) -> bool:
        return not any(v for _, values in self.rows for v in values if v)


#: The dashboard's tables, in the page's order; the CSV export accepts these names.
TABLES = (
    "cases_by_level",
    "cases_by_category",
    "resolution_days",
    "overdue",
    "sessions_held",
    "attendance",
    "evaluations",
)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _month(column, zone: str):
    """Return an SQL expression for the local month ("2026-09") of a UTC timestamp."""
    if _dialect() == "postgresql":
        return func.to_char(func.timezone(zone, column), "YYYY-MM")
    # SQLite stores naive UTC: shift by the zone's current offset (no DST in the
    # programme's zones; elsewhere a month boundary may be an hour off).
    offset = datetime.now(ZoneInfo(zone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return func.strftime("%Y-%m", column, f"{minutes:+d} minutes")


def _days_between(start, end):
    """Return an SQL expression for the days (fractional) from ``start`` to ``end``."""
    if _dialect() == "postgresql":
        return func.extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)


def _by_month(
    key: str, month, group, keys: tuple, where: list, select_from, vocabulary: str | None
) -> Table:
    """Count rows per local month and per value of ``group`` (one column per key)."""
    columns = [func.count(case((group == k, 1))) for k in keys]
    query = select(month.label("month"), *columns).select_from(select_from).where(*where)
    rows = db.session.execute(query.group_by(month).order_by(month)).all()
    return Table(
        key,
        tuple(str(k) for k in keys),
        [(m, list(values)) for m, *values in rows if m is not None],
        column_vocabulary=vocabulary,
    )


def cases_by_level(f: StatsFilter, zone: str) -> Table:
    """Cases per month of creation, by the grid level they reached."""
    return _by_month(
        "cases_by_level",
        _month(Case.created_at, zone),
        Case.level,
        tuple(CaseLevel),
        case_conditions(f),
        Case,
        "level",
    )


def cases_by_category(f: StatsFilter, zone: str) -> Table:
    """Cases per month of creation, by category."""
    return _by_month(
        "cases_by_category",
        _month(Case.created_at, zone),
        Case.category,
        tuple(CaseCategory),
        case_conditions(f),
        Case,
        "category",
    )


def resolution_days(f: StatsFilter) -> Table:
    """Resolved cases per level that solved them: how many, average and longest days."""
    started = func.coalesce(Case.reported_at, Case.created_at)
    days = _days_between(started, Case.resolved_at)
    query = (
        select(Case.level, func.count(Case.id), func.avg(days), func.max(days))
        .where(*case_conditions(f), Case.status.in_(DONE), Case.resolved_at.is_not(None))
        .group_by(Case.level)
    )
    found = {level: (n, avg, most) for level, n, avg, most in db.session.execute(query)}
    rows = []
    for level in CaseLevel:
        n, avg, most = found.get(level, (0, None, None))
        rows.append((str(level), [n, _round(avg), _round(most)]))
    return Table(
        "resolution_days",
        ("cases", "average_days", "longest_days"),
        rows,
        row_vocabulary="level",
        column_vocabulary="figure",
        average=True,
    )


def _round(value) -> float | None:
    return None if value is None else round(float(value), 1)


def overdue(f: StatsFilter, now: datetime | None = None) -> Table:
    """Cases still being handled past their level's time limit, per level and category."""
    now = now or utcnow()
    columns = [func.count(case((Case.category == c, 1))) for c in CaseCategory]
    query = (
        select(Case.level, *columns)
        .where(*case_conditions(f), overdue_clause(now))
        .group_by(Case.level)
    )
    found = {level: list(values) for level, *values in db.session.execute(query)}
    rows = [(str(lv), found.get(lv, [0] * len(CaseCategory))) for lv in CaseLevel]
    return Table(
        "overdue", tuple(CaseCategory), rows, row_vocabulary="level", column_vocabulary="category"
    )


def sessions_held(f: StatsFilter) -> Table:
    """Sessions per kind: held, and planned or not yet recorded (cancelled ones left out)."""
    held = Meeting.status == SessionStatus.HELD
    query = (
        select(Meeting.kind, func.count(case((held, 1))), func.count(case((~held, 1))))
        .where(*session_conditions(f))
        .group_by(Meeting.kind)
    )
    found = {kind: [h, other] for kind, h, other in db.session.execute(query)}
    rows = [
        (str(k), found.get(k, [0, 0]))
        for k in SessionKind
        if f.session_kind is None or k == f.session_kind
    ]
    return Table(
        "sessions_held",
        ("held", "scheduled"),
        rows,
        row_vocabulary="kind",
        column_vocabulary="session_status",
    )


def attendance(f: StatsFilter, zone: str) -> Table:
    """People recorded at sessions per month of the session: present and late."""
    month = _month(Meeting.starts_at, zone)
    return _by_month(
        "attendance",
        month,
        Attendance.status,
        ("present", "late"),
        [*session_conditions(f), Attendance.status.in_(("present", "late"))],
        Attendance.__table__.join(Meeting.__table__, Attendance.meeting_id == Meeting.id),
        "attendance",
    )


def evaluations(f: StatsFilter) -> Table:
    """Representatives' ratings of resolved issues, per round of evaluation."""
    columns = [func.count(case((Evaluation.rating == r, 1))) for r in Rating]
    query = (
        select(Evaluation.round, *columns)
        .join(Issue, Issue.id == Evaluation.issue_id)
        .where(*issue_conditions(f))
        .group_by(Evaluation.round)
        .order_by(Evaluation.round)
    )
    rows = [(str(rnd), list(values)) for rnd, *values in db.session.execute(query)]
    return Table(
        "evaluations", tuple(Rating), rows, row_vocabulary="round", column_vocabulary="rating"
    )


def table(name: str, f: StatsFilter, zone: str, now: datetime | None = None) -> Table:
    """Return the dashboard table called ``name`` (one of TABLES)."""
    if name == "cases_by_level":
        return cases_by_level(f, zone)
    if name == "cases_by_category":
        return cases_by_category(f, zone)
    if name == "resolution_days":
        return resolution_days(f)
    if name == "overdue":
        return overdue(f, now)
    if name == "sessions_held":
        return sessions_held(f)
    if name == "attendance":
        return attendance(f, zone)
    if name == "evaluations":
        return evaluations(f)
    raise KeyError(name)


# -- the programme's published figures --------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """One published figure: its value under the filter that produces it."""

    key: str
    value: int
    #: The filter's own arguments (as /stats and /api/v1/stats take them).
    args: dict
    #: Where in the statistics document the figure is read.
    path: tuple[str, ...]


#: (key, filter arguments, path in the statistics document), as the programme's report
#: states them (README, "What each person sees").
HEADLINES = (
    ("level_1", {"source": "grid"}, ("cases", "by_level", "1")),
    ("level_2", {"source": "grid"}, ("cases", "by_level", "2")),
    ("level_3", {"source": "grid"}, ("cases", "by_level", "3")),
    ("level_4", {"source": "grid"}, ("cases", "by_level", "4")),
    ("issues", {}, ("issues", "resolved")),
    ("disputes", {}, ("cases", "by_category", "conflict")),
    ("mediation_conflicts", {"session_kind": "mediation"}, ("cases", "by_category", "conflict")),
    ("mediation_urgent", {"session_kind": "mediation"}, ("cases", "by_category", "urgent")),
)


def headline_figures(f: StatsFilter) -> list[Headline]:
    """Return the programme's published figures for the community and period of ``f``.

    Each figure keeps its own source and session kind (those of the report), whatever
    ``f`` says of them; one statistics document per distinct filter.
    """
    documents: dict[tuple, dict] = {}
    figures = []
    for key, args, path in HEADLINES:
        filter_key = tuple(sorted(args.items()))
        if filter_key not in documents:
            documents[filter_key] = programme_stats(
                StatsFilter(
                    f.community_id, f.start, f.end, args.get("source"), args.get("session_kind")
                ),
                issues_by_source=True,
            )
        value = documents[filter_key]
        for part in path:
            value = value[part]
        figures.append(Headline(key, value, args, path))
    return figures
