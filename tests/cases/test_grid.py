"""The case state machine, the grid's time limits, and the representatives' evaluation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from consult.cases import grid
from consult.cases.models import Case, CaseEvent, Evaluation, Issue
from consult.cases.operations import CaseError, escalate_case, transition
from consult.cases.queries import CaseFilter, case_select
from consult.enums import CaseStatus
from consult.extensions import db
from consult.types import utcnow
from tests.cases.builders import agenda_item, audit_actions, new_case, new_issue, resolve, snapshot

#: A session that has started: only those resolve issues and close cases.
PAST = timedelta(hours=-2)


@pytest.mark.parametrize("from_status", CaseStatus)
@pytest.mark.parametrize("to_status", CaseStatus)
def test_only_the_moves_of_the_table_are_allowed(factories, from_status, to_status):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    resolution = None
    if from_status != "open" or to_status == "resolved":
        meeting = factories.make_meeting(starts_in=PAST)
        item = agenda_item(meeting, cadre, new_issue(cadre, [case]))
        resolution = resolve(item, cadre, [], outcome="deferred")
    # Put the case in ``from_status`` the way the data would have it.
    resolution_id = resolution.id if from_status in ("resolved", "closed") else None
    case.status, case.resolution_id = from_status, resolution_id
    db.session.commit()
    if (from_status, to_status) in Case.MOVES:
        transition(case, to_status, cadre, "why", resolution=resolution)
        db.session.commit()
        assert case.status == to_status
        assert getattr(case, Case.MOVES[(from_status, to_status)]) is not None
        event = case.events[-1]
        assert (event.kind, event.from_value, event.to_value, event.reason) == (
            "status",
            from_status,
            to_status,
            "why",
        )
        assert audit_actions(case)[-1] == "case.status"
    else:
        with pytest.raises(CaseError):
            transition(case, to_status, cadre, "why", resolution=resolution)
        db.session.rollback()
        assert db.session.get(Case, case.id).status == from_status


def test_resolving_needs_a_resolution(factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    with pytest.raises(CaseError):
        transition(case, "resolved", cadre, "no resolution")


def test_escalate_past_4_is_refused(factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    for _ in range(3):
        escalate_case(case, cadre, "harder")
    db.session.commit()
    with pytest.raises(CaseError) as refused:
        escalate_case(case, cadre, "harder still")
    assert refused.value.status == 422 and refused.value.field == "level"
    assert case.level == 4


@pytest.mark.parametrize(("level", "days"), [(1, 3), (2, 7), (3, 15), (4, 30)])
def test_default_time_limits_per_level(factories, level, days):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    case.level = level
    now = utcnow()
    case.level_since = now - timedelta(days=days, minutes=-1)
    db.session.commit()
    assert not grid.is_overdue(case, now)
    assert list(db.session.scalars(case_select(CaseFilter(overdue=True), now, cadre))) == []
    case.level_since = now - timedelta(days=days, minutes=1)
    db.session.commit()
    assert grid.is_overdue(case, now)
    overdue = db.session.scalars(case_select(CaseFilter(overdue=True), now, cadre))
    assert [c.id for c in overdue] == [case.id]
    assert list(db.session.scalars(case_select(CaseFilter(overdue=False), now, cadre))) == []


def test_time_limits_are_configurable(factories, app):
    app.config["CASE_LEVEL_DAYS"] = "1,2,3,4"
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    case.level_since = utcnow() - timedelta(days=1, hours=1)
    db.session.commit()
    assert grid.level_days() == {1: 1, 2: 2, 3: 3, 4: 4}
    assert grid.is_overdue(case, utcnow())


@pytest.mark.parametrize("value", ["1,2,3", "1,2,x,4", "0,1,2,3"])
def test_bad_time_limits_are_refused(app, value):
    app.config["CASE_LEVEL_DAYS"] = value
    with pytest.raises(ValueError, match="CASE_LEVEL_DAYS"):
        grid.level_days()


def test_resolved_cases_are_never_overdue(factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    resolve(
        agenda_item(factories.make_meeting(starts_in=PAST), cadre, new_issue(cadre, [case])),
        cadre,
        [case],
    )
    case.level_since = utcnow() - timedelta(days=100)
    db.session.commit()
    assert not grid.is_overdue(case, utcnow())
    assert list(db.session.scalars(case_select(CaseFilter(overdue=True), user=cadre))) == []


# -- evaluation -----------------------------------------------------------------------


@pytest.fixture
def resolved_issue(factories):
    """An issue of two cases, both closed by a resolved resolution, and 4 representatives."""
    cadre = factories.make_user("cadre")
    cases = [new_case(cadre), new_case(cadre, title="电动车充电难")]
    issue = new_issue(cadre, cases)
    joint = factories.make_meeting(kind="joint_meeting", starts_in=PAST)
    resolve(agenda_item(joint, cadre, issue), cadre, cases)
    names = ("赵敏", "钱伟", "孙丽", "李强")
    reps = [factories.make_user(representative=True, name=n) for n in names]
    return issue, cases, reps


def _rate(api_as, user, issue, rating, comment=""):
    return api_as(user).post(
        f"/api/v1/issues/{issue.id}/evaluations", json={"rating": rating, "comment": comment}
    )


def test_most_unsatisfied_at_quorum_reopens_the_issue_and_its_cases(api_as, resolved_issue):
    issue, cases, reps = resolved_issue
    assert _rate(api_as, reps[0], issue, "unsatisfied", "纸箱又堆起来了").status_code == 201
    assert _rate(api_as, reps[1], issue, "satisfied").status_code == 201
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).status == "resolved"  # below the quorum
    response = _rate(api_as, reps[2], issue, "unsatisfied")
    assert response.status_code == 201 and response.json["issue_status"] == "reopened"
    db.session.expire_all()
    issue = db.session.get(Issue, issue.id)
    assert issue.status == "reopened" and issue.evaluation_round == 2
    assert issue.resolution_id is None
    for case in cases:
        case = db.session.get(Case, case.id)
        assert case.status == "reopened" and case.resolution_id is None
        event = case.events[-1]
        assert event.to_value == "reopened" and "unsatisfied" in event.reason
        assert "2 of 3" in event.reason
    assert "issue.status" in audit_actions(issue)
    # The old resolution still lists the cases it once resolved.
    assert len(db.session.get(Case, cases[0].id).events) == 4


def test_most_satisfied_at_quorum_closes_the_issue_and_its_cases(api_as, resolved_issue):
    issue, cases, reps = resolved_issue
    for rep, rating in zip(
        reps[:3], ("satisfied", "basically_satisfied", "unsatisfied"), strict=True
    ):
        assert _rate(api_as, rep, issue, rating).status_code == 201
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).status == "closed"
    for case in cases:
        case = db.session.get(Case, case.id)
        assert case.status == "closed" and case.closed_at is not None
        assert case.resolution_id is not None


def test_a_tie_waits_for_more_ratings(api_as, resolved_issue, app):
    app.config["EVALUATION_QUORUM"] = 4
    issue, _cases, reps = resolved_issue
    for rep, rating in zip(
        reps, ("satisfied", "unsatisfied", "satisfied", "unsatisfied"), strict=True
    ):
        assert _rate(api_as, rep, issue, rating).status_code == 201
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).status == "resolved"


def test_a_reopened_issue_is_resolved_again_and_rated_afresh(api_as, factories, resolved_issue):
    issue, cases, reps = resolved_issue
    for rep in reps[:3]:
        _rate(api_as, rep, issue, "unsatisfied")
    db.session.expire_all()
    issue = db.session.get(Issue, issue.id)
    cadre = factories.make_user("cadre")
    item = agenda_item(factories.make_meeting(kind="roundtable", starts_in=PAST), cadre, issue)
    resolve(item, cadre, [db.session.get(Case, c.id) for c in cases], text="再次清理并每周巡查")
    # Same representatives, new round.
    assert _rate(api_as, reps[0], issue, "satisfied").status_code == 201
    db.session.expire_all()
    rounds = sorted(
        db.session.scalars(select(Evaluation.round).where(Evaluation.user_id == reps[0].id))
    )
    assert rounds == [1, 2]


@pytest.mark.parametrize(
    ("who", "body", "status"),
    [
        # A resident who is no representative does not see the unpublished issue.
        ("stranger", {"rating": "satisfied"}, 404),
        ("cadre", {"rating": "satisfied"}, 403),
        ("rep", {"rating": "great"}, 422),
        ("rep", {}, 422),
        ("rep", {"rating": "satisfied", "stars": 5}, 422),
        ("rep", {"rating": "satisfied", "comment": 3}, 422),
    ],
)
def test_bad_evaluations(api_as, factories, resolved_issue, who, body, status):
    issue, _cases, reps = resolved_issue
    user = {
        "stranger": factories.make_user(representative=False),
        "cadre": factories.make_user("cadre"),
        "rep": reps[0],
    }[who]
    api = api_as(user)
    before = snapshot()
    response = api.post(f"/api/v1/issues/{issue.id}/evaluations", json=body)
    assert response.status_code == status
    assert snapshot() == before


def test_a_representative_of_another_community_may_not_rate(api_as, factories, resolved_issue):
    issue, _cases, _reps = resolved_issue
    other = factories.make_user(representative=True, community="城北社区")
    api = api_as(other)
    before = snapshot()
    # The unpublished issue of another community is not theirs to see: 404, not 403.
    response = api.post(f"/api/v1/issues/{issue.id}/evaluations", json={"rating": "satisfied"})
    assert response.status_code == 404
    assert snapshot() == before


def test_rating_twice_in_a_round_is_409(api_as, resolved_issue):
    issue, _cases, reps = resolved_issue
    assert _rate(api_as, reps[0], issue, "satisfied").status_code == 201
    response = _rate(api_as, reps[0], issue, "unsatisfied")
    assert response.status_code == 409
    assert db.session.scalar(select(db.func.count(Evaluation.id))) == 1


def test_an_issue_that_is_not_resolved_cannot_be_rated(api_as, factories):
    cadre = factories.make_user("cadre")
    issue = new_issue(cadre, [new_case(cadre)])
    rep = factories.make_user(representative=True)
    assert _rate(api_as, rep, issue, "satisfied").status_code == 409
    assert (
        api_as(rep).post("/api/v1/issues/999/evaluations", json={"rating": "satisfied"}).status_code
        == 404
    )


def test_timeline_is_complete(factories, resolved_issue):
    _issue, cases, _reps = resolved_issue
    events = db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == cases[0].id).order_by(CaseEvent.id)
    ).all()
    assert [(e.kind, e.to_value) for e in events] == [
        ("created", "open"),
        ("issue", str(_issue.id)),
        ("status", "resolved"),
    ]
    assert events[-1].resolution_id is not None
