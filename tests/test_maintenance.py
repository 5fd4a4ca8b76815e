"""`flask analyse` leaves the planner's statistics in place, on both databases."""

from __future__ import annotations

from sqlalchemy import text

from consult.extensions import db


def _statistics() -> int:
    if db.engine.url.get_backend_name() == "postgresql":
        return db.session.scalar(
            text(
                "SELECT count(*) FROM pg_stats WHERE schemaname = 'public' AND tablename = 'users'"
            )
        )
    tables = db.session.scalar(
        text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
    )
    if not tables:
        return 0
    return db.session.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'users'"))


def test_analyse_gathers_statistics(app, runner, factories):
    for _ in range(3):
        factories.make_user()
    result = runner.invoke(args=["analyse"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Planner statistics updated")
    assert _statistics() > 0
