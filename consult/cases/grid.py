"""The four-level grid: time limits per level, and which cases are past them."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, false, or_

from consult.cases.models import Case
from consult.config import parse_level_days
from consult.enums import CaseLevel


def level_days() -> dict[int, int]:
    """Return the time limit in days of each grid level (config CASE_LEVEL_DAYS)."""
    days = parse_level_days(current_app.config["CASE_LEVEL_DAYS"])
    return dict(zip(CaseLevel, days, strict=True))


def evaluation_quorum() -> int:
    """Return how many ratings decide an evaluation round (config EVALUATION_QUORUM)."""
    return int(current_app.config["EVALUATION_QUORUM"])


def due_at(case: Case, days: dict[int, int] | None = None) -> datetime:
    """Return when the case's current level runs out of time."""
    days = days or level_days()
    return case.level_since + timedelta(days=days[case.level])


def is_overdue(case: Case, now: datetime, days: dict[int, int] | None = None) -> bool:
    """Return whether the case is still being handled and past its level's limit."""
    return case.active and due_at(case, days) < now


def overdue_clause(now: datetime):
    """Return a WHERE clause for Case keeping the cases past their level's limit.

    Each level's limit is turned into a cut-off instant here, so the database compares
    plain timestamps on every engine.
    """
    days = level_days()
    per_level = [
        and_(Case.level == level, Case.level_since < now - timedelta(days=limit))
        for level, limit in days.items()
    ]
    return and_(Case.active, or_(false(), *per_level))
