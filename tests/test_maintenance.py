"""`flask analyse` leaves the planner's statistics in place, on both databases."""

from __future__ import annotations

import pytest
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


@pytest.mark.real_commits  # VACUUM runs on a connection of its own, outside transactions
def test_analyse_compacts_the_change_counters(app, runner, factories):
    from sqlalchemy import update

    from consult.community.models import Community

    community_id = factories.make_community("Compact").id
    db.session.commit()
    postgresql = db.engine.url.get_backend_name() == "postgresql"
    # A load in one transaction raises the counters once per statement.
    for _ in range(1500):
        db.session.execute(
            update(Community)
            .where(Community.id == community_id)
            .values(calendar_version=Community.calendar_version + 1)
        )
    db.session.commit()
    pages = "SELECT pg_relation_size('communities') / 8192"
    if postgresql:
        assert db.session.scalar(text(pages)) > 5
    db.session.remove()

    assert runner.invoke(args=["analyse"]).exit_code == 0

    if postgresql:
        assert db.session.scalar(text(pages)) <= 1
    # Nothing is lost: the counter stands where the updates left it.
    assert db.session.get(Community, community_id).calendar_version == 1500
