"""Who may do what (consult.permissions), over every role and every rule."""

from __future__ import annotations

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import select

import consult.models  # noqa: F401  (every model, so that the mappers can be configured)
from consult.accounts.models import Membership, User
from consult.enums import ROLES
from consult.extensions import db
from consult.meetings.models import Invitation, Meeting, Registration
from consult.minutes.models import ActionItem
from consult.permissions import RULES, can, may_see_meeting, require, visible_meetings_clause


def person(role: str, active: bool = True, user_id: int = 1, **kwargs) -> User:
    """An account as can() sees it (no database needed: can() reads role and flags)."""
    return User(id=user_id, email=f"{role}@example.org", name=role, role=role, active=active,
                **kwargs)


ORGANISERS = {"admin", "cadre"}
STAFF = {"admin", "cadre", "secretary"}
EVERYONE = set(ROLES)

#: What API.md and DESIGN.md say about each role, written out independently of RULES.
CONTRACT = {
    "admin.manage": {"admin"},
    "user.create": {"admin"},
    "community.manage": {"admin"},
    "meeting.create": ORGANISERS,
    "meeting.edit": ORGANISERS,
    "meeting.cancel": ORGANISERS,
    "meeting.invite": ORGANISERS,
    "meeting.view": EVERYONE,
    "registration.create": EVERYONE,
    "registration.proxy": STAFF,
    "registration.list": STAFF,
    "registration.cancel_any": ORGANISERS,
    "attendance.record": STAFF,
    "case.create": {"admin", "cadre", "unit_rep"},
    "case.escalate": ORGANISERS,
    "issue.create": STAFF,
    "agenda.edit": STAFF,
    "resolution.create": STAFF,
    "minutes.read_draft": STAFF,
    "minutes.edit": STAFF,
    "minutes.approve": ORGANISERS,
    "minutes.publish": ORGANISERS,
    "stats.view": EVERYONE,
    "feed.create": EVERYONE,
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(RULES))
def test_can_follows_the_rules_table(action, role):
    assert can(person(role), action) is (role in RULES[action])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(CONTRACT))
def test_the_rules_say_what_the_contract_says(action, role):
    assert can(person(role), action) is (role in CONTRACT[action])


def test_only_admin_and_cadre_create_sessions_and_residents_cannot_list_registrations():
    assert {r for r in ROLES if can(person(r), "meeting.create")} == {"admin", "cadre"}
    assert not can(person("resident"), "registration.list")
    assert can(person("secretary"), "registration.list")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(RULES))
def test_an_inactive_account_may_do_nothing(action, role):
    assert can(person(role, active=False), action) is False


@pytest.mark.parametrize("who", [None, AnonymousUserMixin()], ids=["none", "anonymous"])
@pytest.mark.parametrize("action", sorted(RULES))
def test_nobody_signed_in_may_do_anything(action, who):
    assert can(who, action) is False


def test_an_unknown_action_is_a_programming_error():
    with pytest.raises(KeyError):
        can(person("admin"), "meeting.destroy")


def test_require_answers_403(app):
    from werkzeug.exceptions import Forbidden

    with pytest.raises(Forbidden):
        require(person("resident"), "meeting.create")
    require(person("cadre"), "meeting.create")


# -- object rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "own", "allowed"),
    [("resident", True, True), ("resident", False, False), ("secretary", False, False),
     ("unit_rep", True, True), ("cadre", False, True), ("admin", False, True)],
)
def test_a_registration_is_cancelled_by_its_registrant_or_an_organiser(role, own, allowed):
    user = person(role, user_id=7)
    registration = Registration(user_id=7 if own else 8, status="confirmed")
    assert can(user, "registration.cancel", registration) is allowed


@pytest.mark.parametrize(
    ("role", "unit_id", "allowed"),
    [("unit_rep", 3, True), ("unit_rep", 4, False), ("unit_rep", None, False),
     ("cadre", 4, True), ("resident", 3, False)],
)
def test_a_unit_rep_reports_only_its_own_units_actions(role, unit_id, allowed):
    user = person(role, unit_id=3)
    assert can(user, "action.report", ActionItem(unit_id=unit_id)) is allowed


@pytest.mark.parametrize(("representative", "community_id", "allowed"),
                         [(True, 5, True), (False, 5, False), (True, 6, False)])
def test_only_a_communitys_representatives_evaluate_its_issues(representative, community_id,
                                                                allowed):
    user = person("resident")
    user.memberships.append(Membership(community_id=5, is_representative=representative))

    class Issue:
        pass

    issue = Issue()
    issue.community_id = community_id
    assert can(user, "evaluation.create", issue) is allowed


# -- private (mediation) sessions -------------------------------------------------------------


@pytest.fixture
def town(factories):
    """Public and private sessions, and one person per way of being allowed (or not)."""
    community = factories.make_community("Hehe")

    def account(role, name, active=True):
        user = factories.make_user(role=role, email=f"{name}@example.org", password=None,
                                   name=name)
        user.active = active
        return user

    people = {
        "admin": account("admin", "admin"),
        "cadre": account("cadre", "cadre"),
        "secretary": account("secretary", "secretary"),
        "registrant": account("resident", "registrant"),
        "cancelled": account("resident", "cancelled"),
        "invitee": account("resident", "invitee"),
        "series_invitee": account("unit_rep", "seriesguest"),
        "stranger": account("resident", "stranger"),
        "unit_rep": account("unit_rep", "unitrep"),
        "inactive_invitee": account("resident", "gone", active=False),
        "inactive_cadre": account("cadre", "retired", active=False),
    }
    public = factories.make_meeting(community, kind="roundtable")
    private = factories.make_meeting(community, kind="mediation")
    other_private = factories.make_meeting(community, kind="mediation")
    _, series = factories.make_series(community, kind="mediation", count=2,
                                      visibility="private")
    db.session.add_all([
        Registration(meeting_id=private.id, user_id=people["registrant"].id, status="confirmed"),
        Registration(meeting_id=private.id, user_id=people["cancelled"].id, status="cancelled"),
        # Invitations go to an address; the account with that address may see the session.
        Invitation(meeting_id=private.id, email="invitee@example.org"),
        Invitation(meeting_id=private.id, email="gone@example.org"),
        Invitation(meeting_id=series[0].id, email="seriesguest@example.org", whole_series=True),
    ])
    db.session.commit()
    sessions = {"public": public, "private": private, "other_private": other_private,
                "series_1": series[0], "series_2": series[1]}
    return people, sessions


EVERY_SESSION = {"public", "private", "other_private", "series_1", "series_2"}
VISIBLE = {
    "admin": EVERY_SESSION,
    "cadre": EVERY_SESSION,
    "secretary": EVERY_SESSION,
    "registrant": {"public", "private"},
    "cancelled": {"public"},
    "invitee": {"public", "private"},
    "series_invitee": {"public", "series_1", "series_2"},
    "stranger": {"public"},
    "unit_rep": {"public"},
    "inactive_invitee": {"public"},
    "inactive_cadre": {"public"},
    "anonymous": {"public"},
    "nobody": {"public"},
}


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_private_sessions_are_seen_by_staff_registrants_and_invitees_only(town, who):
    people, sessions = town
    outsiders = {"anonymous": AnonymousUserMixin(), "nobody": None}
    user = outsiders[who] if who in outsiders else people[who]
    by_id = {meeting.id: name for name, meeting in sessions.items()}

    seen_one_by_one = {name for name, meeting in sessions.items()
                       if may_see_meeting(user, meeting)}
    seen_in_a_query = {
        by_id[meeting_id]
        for meeting_id in db.session.scalars(
            select(Meeting.id).where(visible_meetings_clause(user))
        )
    }
    assert seen_one_by_one == VISIBLE[who]
    assert seen_in_a_query == seen_one_by_one
