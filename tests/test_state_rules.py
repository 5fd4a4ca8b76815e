"""The state rules that live on the models: sign-up and invitations open or closed,
cancelling and restoring a session, the case and issue moves; and the vocabularies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from consult.cases.models import Case, Issue
from consult.enums import CaseStatus, IssueStatus, Role, SessionStatus, check_in
from consult.extensions import db
from consult.meetings.models import Meeting
from consult.types import utcnow

HOUR = timedelta(hours=1)


@pytest.fixture
def sessions(factories):
    """One session in each state that matters, by name."""
    community = factories.make_community("Hehe")
    return {
        "coming": factories.make_meeting(community, starts_in=timedelta(days=2)),
        "started": factories.make_meeting(community, starts_in=-HOUR, hours=3),
        "over": factories.make_meeting(community, starts_in=-timedelta(days=1)),
        "cancelled": factories.make_meeting(
            community, starts_in=timedelta(days=2), status="cancelled"
        ),
        "held": factories.make_meeting(community, starts_in=-timedelta(days=1), status="held"),
    }


def test_sign_up_is_open_until_the_session_starts_unless_cancelled(sessions):
    reasons = {name: m.signup_closed_reason() for name, m in sessions.items()}
    assert reasons == {
        "coming": None,
        "started": "started",
        "over": "started",
        "cancelled": "cancelled",
        "held": "started",
    }
    assert [n for n, m in sessions.items() if m.open_for_signup()] == ["coming"]


def test_the_sql_rule_for_sign_up_picks_the_same_sessions(sessions):
    ids = set(db.session.scalars(select(Meeting.id).where(Meeting.open_for_signup_clause())))
    assert ids == {m.id for m in sessions.values() if m.open_for_signup()}
    # At a given moment: the one still to come an hour from now, none three days on.
    later = utcnow() + timedelta(days=3)
    assert not db.session.scalars(
        select(Meeting.id).where(Meeting.open_for_signup_clause(later))
    ).all()
    assert not sessions["coming"].open_for_signup(later)


def test_invitations_are_open_until_the_session_ends_unless_cancelled(sessions):
    reasons = {name: m.invitations_closed_reason() for name, m in sessions.items()}
    assert reasons == {
        "coming": None,
        "started": None,
        "over": "over",
        "cancelled": "cancelled",
        "held": "over",
    }
    assert {n for n, m in sessions.items() if m.open_for_invitations()} == {"coming", "started"}


def test_cancelling_and_restoring_stamp_the_session_and_raise_its_sequence(sessions):
    meeting = sessions["coming"]
    assert meeting.cancellable and not sessions["held"].cancellable
    when = utcnow()
    meeting.cancel(when)
    assert (meeting.status, meeting.cancelled_at, meeting.sequence) == ("cancelled", when, 1)
    assert meeting.is_cancelled and not meeting.cancellable
    meeting.restore()
    assert (meeting.status, meeting.cancelled_at, meeting.sequence) == ("scheduled", None, 2)
    db.session.commit()
    assert db.session.get(Meeting, meeting.id).status == SessionStatus.SCHEDULED


@pytest.mark.parametrize("model", [Case, Issue])
def test_a_case_or_issue_is_being_handled_while_open_or_reopened(model):
    handled = {status for status in CaseStatus if model(status=status).active}
    assert handled == {"open", "reopened"}
    assert str(model.active.expression.compile(compile_kwargs={"literal_binds": True})) == (
        f"{model.__tablename__}.status IN ('open', 'reopened')"
    )


@pytest.mark.parametrize(("model", "statuses"), [(Case, CaseStatus), (Issue, IssueStatus)])
def test_the_moves_are_those_of_the_table(model, statuses):
    allowed = {(a, b) for a in statuses for b in statuses if model(status=a).may_become(b)}
    assert allowed == {
        ("open", "resolved"),
        ("reopened", "resolved"),
        ("resolved", "closed"),
        ("resolved", "reopened"),
    }
    assert allowed == set(model.MOVES)


def test_a_vocabulary_tells_its_values_from_other_strings():
    assert "admin" in Role and Role.ADMIN in Role
    assert "root" not in Role and 1 not in Role and None not in Role
    assert Role("cadre") == "cadre" and f"{Role.UNIT_REP}" == "unit_rep"


def test_a_vocabulary_makes_the_check_constraint_it_always_made():
    assert str(check_in("role", Role).sqltext) == (
        "role IN ('admin', 'cadre', 'secretary', 'resident', 'unit_rep')"
    )
