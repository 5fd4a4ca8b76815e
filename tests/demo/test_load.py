"""`flask demo load`: the demo town, its published figures, and its refusals."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from consult.accounts.models import User
from consult.cases.models import Case, Evaluation, Issue
from consult.community.models import AllianceMember, Community, Unit
from consult.extensions import db
from consult.meetings.models import Meeting, Series
from consult.types import utcnow
from tests.conftest import login

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


def test_load_reproduces_the_published_figures(runner, api_as):
    result = load(runner)

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert_figures(admin_api(api_as, result), 1)


def test_scale_two_doubles_every_figure_and_volume(runner, api_as):
    result = load(runner, "--scale", "2")

    assert result.exit_code == 0, result.output
    assert_figures(admin_api(api_as, result), 2)
    kinds = dict(db.session.execute(select(Unit.kind, func.count()).group_by(Unit.kind)).all())
    assert {k: kinds[k] for k in UNITS} == {k: 2 * n for k, n in UNITS.items()}
    assert sum(n for k, n in kinds.items() if k not in UNITS) == 2 * AGENCIES_AND_ORGANISATIONS
    # Still one town of 8 communities, each with its brand.
    brands = db.session.scalars(select(Community.brand)).all()
    assert len(brands) == 8 and all(brands)


def test_demo_accounts_are_printed_one_per_role_and_sign_in(runner, client):
    result = load(runner)

    accounts = printed_accounts(result)
    assert sorted(accounts) == sorted(ROLES)
    for role, (email, password) in accounts.items():
        user = db.session.scalar(select(User).where(User.email == email))
        assert user.role == role and user.check_password(password), role
    email, password = accounts["secretary"]
    assert login(client, email, password).status_code == 302
    rep = db.session.scalar(select(User).where(User.email == accounts["unit_rep"][0]))
    assert rep.unit_id is not None


def test_every_resolved_or_closed_case_names_a_resolution_of_a_session_that_lists_it(runner):
    assert load(runner).exit_code == 0

    violations = db.session.scalar(
        text(
            """
        SELECT count(*) FROM cases c
        WHERE c.status IN ('resolved', 'closed') AND NOT EXISTS (
            SELECT 1 FROM resolution_cases rc
            JOIN resolutions r ON r.id = rc.resolution_id
            JOIN agenda_items a ON a.id = r.agenda_item_id
            JOIN meetings m ON m.id = a.meeting_id
            WHERE rc.case_id = c.id AND r.id = c.resolution_id
              AND a.issue_id = c.issue_id AND m.status = 'held')
        """
        )
    )
    assert violations == 0
    assert db.session.scalar(select(func.count()).where(Case.status.in_(("resolved", "closed"))))
    bad_issues = db.session.scalar(
        text(
            """
        SELECT count(*) FROM issues i LEFT JOIN resolutions r ON r.id = i.resolution_id
        LEFT JOIN agenda_items a ON a.id = r.agenda_item_id
        WHERE i.status IN ('resolved', 'closed')
          AND (r.id IS NULL OR r.outcome <> 'resolved' OR a.issue_id <> i.id)
        """
        )
    )
    assert bad_issues == 0


def test_registrations_match_the_counter_and_never_exceed_capacity(runner):
    assert load(runner).exit_code == 0

    mismatched = db.session.scalar(
        text(
            """
        SELECT count(*) FROM meetings m WHERE m.confirmed_count <> (
            SELECT count(*) FROM registrations r
            WHERE r.meeting_id = m.id AND r.status = 'confirmed')
        """
        )
    )
    assert mismatched == 0
    assert (
        db.session.scalar(
            select(func.count()).where(
                Meeting.capacity.is_not(None), Meeting.confirmed_count > Meeting.capacity
            )
        )
        == 0
    )
    # Some sessions are full, with a waiting list behind them.
    full_with_waitlist = db.session.scalar(
        text(
            """
        SELECT count(*) FROM meetings m WHERE m.confirmed_count = m.capacity AND EXISTS (
            SELECT 1 FROM registrations r WHERE r.meeting_id = m.id AND r.status = 'waitlisted')
        """
        )
    )
    assert full_with_waitlist > 0
    clashes = db.session.scalar(
        text(
            """
        SELECT count(*) FROM meetings a JOIN meetings b
          ON a.venue_id = b.venue_id AND a.id < b.id
        WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'
          AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
        """
        )
    )
    assert clashes == 0


def test_sessions_have_a_history_and_a_future(runner):
    assert load(runner).exit_code == 0
    meetings = db.session.scalars(select(Meeting)).all()

    now = utcnow()
    for m in meetings:
        if m.status == "held":
            assert m.ends_at <= now
        elif m.status == "scheduled":
            assert m.ends_at > now, m
    assert {m.kind for m in meetings} == {
        "roundtable",
        "friday_talk",
        "joint_meeting",
        "sentiment_talk",
        "deliberation",
        "mediation",
    }
    assert all(m.visibility == "private" for m in meetings if m.kind == "mediation")
    held = [m.id for m in meetings if m.status == "held"]
    without = db.session.scalar(
        text(
            """
        SELECT count(*) FROM meetings m WHERE m.status = 'held'
          AND NOT EXISTS (SELECT 1 FROM minutes x WHERE x.meeting_id = m.id)
        """
        )
    )
    assert held and without == 0
    statuses = set(db.session.scalars(text("SELECT status FROM minutes")))
    assert statuses == {"draft", "approved", "published"}
    assert db.session.scalar(text("SELECT count(*) FROM minutes_revisions")) >= len(held)
    assert len(set(db.session.scalars(select(Meeting.uid)))) == len(meetings)
    # Every community's public page has published resolutions and its board coming sessions.
    from consult.public.queries import coming_sessions, published_resolution_counts

    communities = db.session.scalars(select(Community.id)).all()
    published = published_resolution_counts()
    assert all(published.get(c, 0) >= 5 for c in communities), published
    assert all(coming_sessions(c) for c in communities)


def test_friday_talk_days_are_weekly_series_with_a_skipped_and_a_moved_week(runner):
    assert load(runner).exit_code == 0

    shanghai = ZoneInfo("Asia/Shanghai")
    series = db.session.scalars(select(Series)).all()
    assert len(series) == 8
    for s in series:
        assert s.rrule == "FREQ=WEEKLY;BYDAY=FR" and s.timezone == "Asia/Shanghai"
        occurrences = s.occurrences
        assert len(occurrences) >= 20
        assert occurrences[0].recurrence_id == s.dtstart
        for m in occurrences:
            original = m.recurrence_id.astimezone(shanghai)
            assert original.weekday() == 4 and original.hour == 15
            assert m.ends_at - m.starts_at == s.duration
        assert [m.status for m in occurrences].count("cancelled") == 1
        moved = [m for m in occurrences if m.starts_at != m.recurrence_id]
        assert len(moved) == 1 and moved[0].sequence == 1


def test_joint_meetings_are_hosted_in_rotation(runner):
    assert load(runner).exit_code == 0

    positions = {
        (a.community_id, a.unit_id): a.rotation_position
        for a in db.session.scalars(select(AllianceMember))
    }
    by_community = defaultdict(list)
    for m in db.session.scalars(
        select(Meeting).where(Meeting.kind == "joint_meeting").order_by(Meeting.starts_at)
    ):
        by_community[m.community_id].append(positions[(m.community_id, m.host_unit_id)])
    assert len(by_community) == 8
    for hosts in by_community.values():
        assert hosts == list(range(1, len(hosts) + 1))


def test_alliance_units_agreements_and_people(runner):
    assert load(runner).exit_code == 0

    kinds = dict(db.session.execute(select(Unit.kind, func.count()).group_by(Unit.kind)).all())
    assert {k: kinds[k] for k in UNITS} == UNITS
    assert sum(n for k, n in kinds.items() if k not in UNITS) == AGENCIES_AND_ORGANISATIONS
    assert len(kinds) == 7
    outside = db.session.scalar(
        text(
            "SELECT count(*) FROM units u WHERE NOT EXISTS "
            "(SELECT 1 FROM alliance_members a WHERE a.unit_id = u.id)"
        )
    )
    assert outside == 0
    assert (
        db.session.scalar(
            text("SELECT count(*) FROM agreements WHERE ends_on > signed_on AND commitments <> ''")
        )
        > 100
    )
    assert db.session.scalar(text("SELECT count(*) FROM venues WHERE kind = 'mediation_room'")) == 8
    assert db.session.scalar(text("SELECT count(*) FROM venues WHERE unit_id IS NOT NULL")) > 0
    roles = Counter(db.session.scalars(select(User.role)))
    assert roles["admin"] == 1 and roles["cadre"] >= 16 and roles["secretary"] >= 8
    assert roles["unit_rep"] == sum(kinds.values())
    assert (
        db.session.scalar(
            text("SELECT count(*) FROM users WHERE role = 'unit_rep' AND unit_id IS NULL")
        )
        == 0
    )
    representatives = db.session.scalar(
        text("SELECT count(*) FROM memberships WHERE is_representative")
    )
    assert representatives >= 8


def test_case_histories_reach_every_level_and_reopen_after_poor_evaluations(runner):
    assert load(runner).exit_code == 0

    cases = db.session.scalars(select(Case)).all()
    assert {c.source for c in cases} == {"grid", "session", "walk_in", "hotline", "online"}
    for status in ("open", "reopened"):
        assert {c.level for c in cases if c.status == status} == {1, 2, 3, 4}, status
    for case in cases:
        events = case.events
        assert events[0].kind == "created"
        status_changes = [(e.from_value, e.to_value) for e in events if e.kind == "status"]
        current = "open"
        for old, new in status_changes:
            assert old == current
            current = new
        assert current == case.status
        levels = [int(e.to_value) for e in events if e.kind == "level"]
        assert levels == list(range(2, case.level + 1))
    reopened = db.session.scalars(select(Issue).where(Issue.status == "reopened")).all()
    assert reopened
    for issue in reopened:
        ratings = Counter(e.rating for e in issue.evaluations if e.round == 1)
        assert ratings["unsatisfied"] > sum(ratings.values()) / 2
        assert issue.evaluation_round == 2 and issue.resolution_id is None
        assert all(c.status == "reopened" for c in issue.cases)
    closed = db.session.scalars(select(Issue).where(Issue.status == "closed")).all()
    assert closed
    for issue in closed:
        ratings = Counter(e.rating for e in issue.evaluations if e.round == issue.evaluation_round)
        assert ratings["unsatisfied"] < sum(ratings.values()) / 2
        assert all(c.status == "closed" and c.closed_at for c in issue.cases)
    # An issue resolved, reopened and resolved again keeps both resolutions' records.
    twice = db.session.scalar(
        text(
            "SELECT count(*) FROM (SELECT case_id FROM resolution_cases "
            "GROUP BY case_id HAVING count(*) > 1) AS t"
        )
    )
    assert twice > 0
    assert db.session.scalar(select(func.count()).where(Evaluation.round == 2)) > 0


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


def test_times_are_aware_and_relative_to_today(runner):
    assert load(runner).exit_code == 0

    now = utcnow()
    first, last = db.session.execute(
        select(func.min(Meeting.starts_at), func.max(Meeting.starts_at))
    ).one()
    assert first.tzinfo is not None and first.utcoffset() == UTC.utcoffset(None)
    assert 100 <= (now - first).days <= 130
    assert 50 <= (last - now).days <= 65


#: The published figures as the dashboard names them, with their filters.
HEADLINES = {
    "level_1": 69,
    "level_2": 27,
    "level_3": 11,
    "level_4": 2,
    "issues": 129,
    "disputes": 146,
    "mediation_conflicts": 31,
    "mediation_urgent": 22,
}


def test_the_dashboard_shows_the_published_figures_with_their_filters(runner, client):
    from tests.web.helpers import figures, html_of, text_of

    result = load(runner)
    assert result.exit_code == 0, result.output
    email, password = printed_accounts(result)["resident"]
    assert login(client, email, password).status_code == 302

    response = client.get("/stats", headers={"Accept-Language": "zh-CN"})

    assert response.status_code == 200
    shown = figures(response)
    assert {key: shown[f"headline.{key}"] for key in HEADLINES} == HEADLINES
    text = text_of(response)
    assert "筛选条件：来源为网格采集；在第一级办结的个案。" in text
    assert "筛选条件：会议类型为调解；类别为急难愁盼的已办结个案。" in text
    html = html_of(response)
    assert html.count("<svg") == 7
    # Following a figure's filter shows the same figure in the page's own breakdown.
    link = html.split('data-headline="level_1"')[1].split('href="')[1].split('"')[0]
    filtered = figures(client.get(link.replace("&amp;", "&")))
    assert filtered["cases.by_level.1"] == 69
