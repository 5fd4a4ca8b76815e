"""Who may do what (consult.permissions), over every role and every rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import select

import consult.models  # noqa: F401  (every model, so that the mappers can be configured)
from consult.accounts.models import Membership, User
from consult.cases.models import Issue
from consult.enums import Role
from consult.extensions import db
from consult.meetings.models import Invitation, Meeting, Registration
from consult.minutes.models import ActionItem, AgendaItem, Resolution
from consult.permissions import (
    ASSIGNABLE_ROLES,
    RULES,
    SCOPED,
    TOWN_ONLY,
    can,
    in_scope,
    is_town_level,
    may_see_meeting,
    named_in_minutes,
    reports_for_unit,
    require,
    staff_communities,
    visible_meetings_clause,
)


def person(role: str, active: bool = True, user_id: int = 1, **kwargs) -> User:
    """An account as can() sees it (no database needed: can() reads role and flags)."""
    return User(
        id=user_id, email=f"{role}@example.org", name=role, role=role, active=active, **kwargs
    )


ORGANISERS = {"admin", "cadre"}
STAFF = {"admin", "cadre", "secretary"}
EVERYONE = set(Role)

#: What README says about each role ("Who may see and do what"), written out
#: independently of RULES.
CONTRACT = {
    "admin.manage": {"admin"},
    "meeting.create": ORGANISERS,
    "meeting.edit": ORGANISERS,
    "meeting.cancel": ORGANISERS,
    "meeting.invite": ORGANISERS,
    "registration.create": EVERYONE,
    "registration.proxy": STAFF,
    "registration.list": STAFF,
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

ROOT = Path(__file__).resolve().parent.parent
#: Calls that name an action: can(user, "x"), require(user, "x"), templates' can("x"),
#: the navigation's NavEntry(..., "x", ...), and refuse_outside(user, "x", ...).
ACTION_RE = re.compile(
    r"""(?:\bcan|\brequire|refuse_outside|_meeting|_item)\("""
    r"""\s*(?:[\w.()]+\s*,\s*){0,2}["']([a-z_]+\.[a-z_]+)["']"""
)
NAV_RE = re.compile(r"""["']([a-z_]+\.[a-z_]+)["']\s*,\s*(?:True|False)\s*,""")


def used_actions() -> set[str]:
    """Return every action that the views, API routes, queries and templates ask about."""
    found: set[str] = set()
    sources = [p for p in (ROOT / "consult").rglob("*.py") if p.name != "permissions.py"]
    sources += list((ROOT / "templates").rglob("*.html"))
    for path in sources:
        text = path.read_text(encoding="utf-8")
        found.update(ACTION_RE.findall(text))
        found.update(NAV_RE.findall(text))
    return found


def test_every_rule_is_used_and_every_action_asked_about_is_a_rule():
    used = used_actions()
    assert sorted(set(RULES) - used) == [], "rules no route asks about: delete them"
    assert sorted(used - set(RULES)) == [], "actions asked about that are not rules"


def test_the_usage_scan_sees_calls_of_every_form():
    assert ACTION_RE.findall(
        'can(current_user, "a.b") require(user, "c.d", x) '
        "can('e.f', meeting) _meeting(session_id, user, \"g.h\")"
    ) == ["a.b", "c.d", "e.f", "g.h"]


@pytest.mark.parametrize("role", Role)
@pytest.mark.parametrize("action", sorted(CONTRACT))
def test_the_rules_say_what_the_contract_says(action, role):
    assert can(person(role), action) is (role in CONTRACT[action])


def test_only_admin_and_cadre_create_sessions_and_residents_cannot_list_registrations():
    assert {r for r in Role if can(person(r), "meeting.create")} == {"admin", "cadre"}
    assert not can(person("resident"), "registration.list")
    assert can(person("secretary"), "registration.list")


@pytest.mark.parametrize("role", Role)
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


# -- community scope ------------------------------------------------------------------------


def member_of(user: User, *community_ids: int) -> User:
    for community_id in community_ids:
        user.memberships.append(Membership(community_id=community_id))
    return user


def in_community(community_id: int) -> Meeting:
    return Meeting(community_id=community_id, visibility="public")


@pytest.mark.parametrize("role", sorted(STAFF))
def test_staff_without_a_community_are_town_level_and_act_everywhere(role):
    user = person(role)
    assert is_town_level(user) and staff_communities(user) is None
    assert in_scope(user, 5) and in_scope(user, 6)


@pytest.mark.parametrize("role", sorted(STAFF))
def test_staff_of_a_community_act_only_on_their_communities(role):
    user = member_of(person(role), 5, 7)
    assert not is_town_level(user) and staff_communities(user) == {5, 7}
    assert in_scope(user, 5) and in_scope(user, 7)
    assert not in_scope(user, 6) and not in_scope(user, None)


@pytest.mark.parametrize("role", ["resident", "unit_rep"])
def test_residents_and_unit_reps_are_nobodys_staff(role):
    assert not is_town_level(person(role)) and not in_scope(person(role), 5)


@pytest.mark.parametrize("action", sorted(SCOPED))
@pytest.mark.parametrize("role", sorted(STAFF))
def test_every_scoped_action_holds_in_ones_own_community_only(action, role):
    if role not in RULES[action] or action in TOWN_ONLY:
        return
    user = member_of(person(role), 5)
    ours, theirs = in_community(5), in_community(6)
    if action == "action.report":
        ours, theirs = (
            ActionItem(resolution=Resolution(agenda_item=AgendaItem(meeting=m)))
            for m in (ours, theirs)
        )
    assert can(user, action) is True
    assert can(user, action, ours) is True
    assert can(user, action, theirs) is False
    assert can(person(role), action, theirs) is True  # town-level


@pytest.mark.parametrize("action", sorted(TOWN_ONLY))
def test_the_administration_and_new_communities_are_the_towns(action):
    assert can(person("admin"), action) is True
    assert can(member_of(person("admin"), 5), action) is False


def test_the_assignable_roles_are_every_role():
    assert tuple(ASSIGNABLE_ROLES) == tuple(Role)


# -- object rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "own", "community_id", "allowed"),
    [
        ("resident", True, 6, True),
        ("resident", False, 5, False),
        ("secretary", False, 5, False),
        ("unit_rep", True, 6, True),
        ("cadre", False, 5, True),
        ("cadre", False, 6, False),
        ("admin", False, 5, True),
        ("admin", False, 6, False),
    ],
)
def test_a_registration_is_cancelled_by_its_registrant_or_an_organiser_of_its_community(
    role, own, community_id, allowed
):
    user = member_of(person(role, user_id=7), 5)
    registration = Registration(
        user_id=7 if own else 8, status="confirmed", meeting=in_community(community_id)
    )
    assert can(user, "registration.cancel", registration) is allowed


@pytest.mark.parametrize(
    ("role", "unit_id", "assignee_id", "allowed"),
    [
        ("unit_rep", 3, None, True),
        ("unit_rep", 4, None, False),
        ("unit_rep", None, None, False),
        ("unit_rep", 4, 1, True),
        ("resident", 3, None, False),
    ],
)
def test_a_unit_rep_reports_only_its_own_units_actions(role, unit_id, assignee_id, allowed):
    user = person(role, unit_id=3)
    action = ActionItem(unit_id=unit_id, assignee_id=assignee_id)
    assert can(user, "action.report", action) is allowed
    assert reports_for_unit(user) is (role == "unit_rep")


@pytest.mark.parametrize(
    ("representative", "community_id", "allowed"),
    [(True, 5, True), (False, 5, False), (True, 6, False)],
)
def test_only_a_communitys_representatives_evaluate_its_issues(
    representative, community_id, allowed
):
    user = person("resident")
    user.memberships.append(Membership(community_id=5, is_representative=representative))
    issue = Issue(community_id=community_id)
    assert can(user, "evaluation.create", issue) is allowed


@pytest.mark.parametrize(
    ("role", "named", "shown"),
    [
        ("resident", False, False),
        ("resident", True, True),
        ("unit_rep", False, True),
        ("cadre", False, True),
    ],
)
def test_a_resident_is_named_in_published_minutes_only_with_consent(role, named, shown):
    assert named_in_minutes(person(role, named_in_minutes=named)) is shown
    assert named_in_minutes(None) is False


# -- private (mediation) sessions -------------------------------------------------------------


@pytest.fixture
def town(factories):
    """Public and private sessions, and one person per way of being allowed (or not)."""
    community = factories.make_community("Hehe")

    def account(role, name, active=True, community="Hehe"):
        user = factories.make_user(
            role=role, email=f"{name}@example.org", password=None, name=name, community=community
        )
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
        "other_cadre": account("cadre", "xiguan", community="Xiguan"),
        "town_secretary": account("secretary", "town", community=None),
    }
    public = factories.make_meeting(community, kind="roundtable")
    private = factories.make_meeting(community, kind="mediation")
    other_private = factories.make_meeting(community, kind="mediation")
    _, series = factories.make_series(community, kind="mediation", count=2, visibility="private")
    db.session.add_all(
        [
            Registration(
                meeting_id=private.id, user_id=people["registrant"].id, status="confirmed"
            ),
            Registration(meeting_id=private.id, user_id=people["cancelled"].id, status="cancelled"),
            # Invitations go to an address; the account with that address may see the session.
            Invitation(meeting_id=private.id, email="invitee@example.org"),
            Invitation(meeting_id=private.id, email="gone@example.org"),
            Invitation(meeting_id=series[0].id, email="seriesguest@example.org", whole_series=True),
        ]
    )
    db.session.commit()
    sessions = {
        "public": public,
        "private": private,
        "other_private": other_private,
        "series_1": series[0],
        "series_2": series[1],
    }
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
    "other_cadre": {"public"},
    "town_secretary": EVERY_SESSION,
    "anonymous": {"public"},
    "nobody": {"public"},
}


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_private_sessions_are_seen_by_staff_registrants_and_invitees_only(town, who):
    people, sessions = town
    outsiders = {"anonymous": AnonymousUserMixin(), "nobody": None}
    user = outsiders[who] if who in outsiders else people[who]
    by_id = {meeting.id: name for name, meeting in sessions.items()}

    seen_one_by_one = {name for name, meeting in sessions.items() if may_see_meeting(user, meeting)}
    seen_in_a_query = {
        by_id[meeting_id]
        for meeting_id in db.session.scalars(
            select(Meeting.id).where(visible_meetings_clause(user))
        )
    }
    assert seen_one_by_one == VISIBLE[who]
    assert seen_in_a_query == seen_one_by_one
