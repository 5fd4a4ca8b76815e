"""`flask demo load`: the demo town, its published figures, and its refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from consult.accounts.models import User
from consult.cases.models import Case
from consult.community.models import Community, Unit
from consult.extensions import db
from consult.meetings.models import Registration

ROLES = ("admin", "cadre", "secretary", "resident", "unit_rep")

#: The model town's published figures (README, "What each person sees"), as
#: /api/v1/stats shows them.
FIGURES = {
    "": {
        ("issues", "resolved"): 129,
        ("cases", "by_category", "concern"): 129,
        ("cases", "by_category", "conflict"): 146,
    },
    "?source=grid": {
        ("cases", "by_level", "1"): 69,
        ("cases", "by_level", "2"): 27,
        ("cases", "by_level", "3"): 11,
        ("cases", "by_level", "4"): 2,
    },
    "?session_kind=mediation": {
        ("cases", "by_category", "conflict"): 31,
        ("cases", "by_category", "urgent"): 22,
    },
}
UNITS = {"owners_committee": 166, "property_company": 22}
AGENCIES_AND_ORGANISATIONS = 263


def load(runner, *args):
    return runner.invoke(args=["demo", "load", *args])


def printed_accounts(result) -> dict[str, tuple[str, str]]:
    """Return {role: (email, password)} from the lines "role: email password"."""
    accounts = {}
    for line in result.stdout.splitlines():
        role, _, rest = line.partition(": ")
        if role in ROLES and len(rest.split()) == 2:
            accounts[role] = tuple(rest.split())
    return accounts


def row_counts() -> dict[str, int]:
    db.session.rollback()
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def dig(document: dict, path: tuple[str, ...]):
    for key in path:
        document = document[key]
    return document


def assert_figures(api, scale: int) -> None:
    for query, figures in FIGURES.items():
        response = api.get(f"/api/v1/stats{query}")
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        got = {path: dig(body, path) for path in figures}
        assert got == {path: n * scale for path, n in figures.items()}, query


def admin_api(api_as, result):
    email, _password = printed_accounts(result)["admin"]
    admin = db.session.scalar(select(User).where(User.email == email))
    return api_as(admin)


# 20: a large town that still loads in seconds (README, "Command line", says how long
# scale 100 takes).
@pytest.mark.parametrize("scale", [2, 20])
def test_scale_multiplies_every_figure_and_volume(runner, api_as, scale):
    result = load(runner, "--scale", str(scale))

    assert result.exit_code == 0, result.output
    assert_figures(admin_api(api_as, result), scale)
    kinds = dict(db.session.execute(select(Unit.kind, func.count()).group_by(Unit.kind)).all())
    assert {k: kinds[k] for k in UNITS} == {k: scale * n for k, n in UNITS.items()}
    assert sum(n for k, n in kinds.items() if k not in UNITS) == scale * AGENCIES_AND_ORGANISATIONS
    # Still one town of 8 communities, each with its brand.
    brands = db.session.scalars(select(Community.brand)).all()
    assert len(brands) == 8 and all(brands)


def test_a_second_load_is_refused_and_changes_nothing(runner):
    assert load(runner).exit_code == 0
    before = row_counts()

    result = load(runner)

    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not empty" in result.stderr
    assert "Traceback" not in result.output
    assert row_counts() == before


def test_if_empty_loads_once_then_does_nothing(runner):
    first = load(runner, "--if-empty")
    assert first.exit_code == 0, first.output
    assert printed_accounts(first)
    before = row_counts()

    again = load(runner, "--if-empty")

    assert again.exit_code == 0
    assert again.stderr == ""
    assert "already" in again.stdout
    assert row_counts() == before


def test_any_community_session_or_case_blocks_the_load(runner, factories):
    factories.make_case()
    before = row_counts()

    result = load(runner)

    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert row_counts() == before


@pytest.mark.parametrize("scale", ["0", "x", "-1", "1.5", "", "101", "2x"])
def test_bad_scale_is_refused_in_one_line(runner, scale):
    result = load(runner, "--scale", scale)

    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--scale" in lines[0]
    assert all(n == 0 for n in row_counts().values())


def test_existing_users_do_not_block_the_load(runner, api_as):
    made = runner.invoke(
        args=[
            "users",
            "create",
            "admin@chengguan.example",
            "--name",
            "刘洋",
            "--role",
            "resident",
            "--password",
            "own-password",
        ]
    )
    assert made.exit_code == 0, made.output
    made = runner.invoke(
        args=["users", "create", "someone@example.org", "--name", "孙丽", "--role", "cadre"]
    )
    assert made.exit_code == 0, made.output

    result = load(runner)

    assert result.exit_code == 0, result.output
    existing = db.session.scalar(select(User).where(User.email == "admin@chengguan.example"))
    assert existing.role == "resident" and existing.check_password("own-password")
    email, password = printed_accounts(result)["admin"]
    assert email != "admin@chengguan.example"
    admin = db.session.scalar(select(User).where(User.email == email))
    assert admin.role == "admin" and admin.check_password(password)
    assert_figures(api_as(admin), 1)


def test_new_records_after_the_load_get_fresh_keys(runner, factories):
    assert load(runner).exit_code == 0
    largest = db.session.scalar(select(func.max(Case.id)))

    case = factories.make_case(community=db.session.scalars(select(Community)).first())

    assert case.id > largest


def test_the_load_leaves_the_database_analysed(runner):
    db.session.execute(text("ANALYZE"))  # statistics of the empty tables, whatever came before
    assert load(runner).exit_code == 0
    registrations = db.session.scalar(select(func.count()).select_from(Registration))

    if db.engine.dialect.name == "sqlite":
        stat = db.session.scalar(
            text("SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_registrations_user_id'")
        )
        rows = int(stat.split()[0])
    else:
        rows = db.session.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'registrations'")
        )
    # A full count: the table is small enough for the sample to hold all of it.
    assert rows == registrations > 0


@pytest.mark.real_commits  # the trigger is made and dropped on connections of its own
def test_a_failure_leaves_the_database_unchanged(runner, app):
    """The database refuses the last rows written; nothing of the load may remain."""
    dialect = db.engine.dialect.name
    if dialect == "sqlite":
        create = [
            "CREATE TRIGGER refuse_events BEFORE INSERT ON evaluations "
            "BEGIN SELECT RAISE(ABORT, 'evaluations refused'); END"
        ]
        drop = ["DROP TRIGGER refuse_events"]
    else:
        create = [
            "CREATE FUNCTION refuse_rows() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'evaluations refused'; END $$",
            "CREATE TRIGGER refuse_events BEFORE INSERT ON evaluations "
            "FOR EACH ROW EXECUTE FUNCTION refuse_rows()",
        ]
        drop = ["DROP TRIGGER refuse_events ON evaluations", "DROP FUNCTION refuse_rows()"]
    with db.engine.begin() as conn:
        for statement in create:
            conn.exec_driver_sql(statement)
    try:
        result = load(runner)

        assert result.exit_code == 1
        assert len(result.stderr.strip().splitlines()) == 1
        assert "evaluations refused" in result.stderr
        assert all(n == 0 for n in row_counts().values())
    finally:
        db.session.rollback()
        with db.engine.begin() as conn:
            for statement in drop:
                conn.exec_driver_sql(statement)
