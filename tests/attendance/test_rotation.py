"""Host rotation of joint meetings: whose turn it is, and the rotation page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from consult.attendance.queries import next_host
from consult.community.models import AllianceMember
from consult.extensions import db
from tests.conftest import csrf_token_from


@pytest.fixture
def alliance(factories):
    community = factories.make_community("Hehe")
    units = [factories.make_unit(name=n) for n in ("城关派出所", "供电所", "物业公司", "小学")]
    members = [
        factories.make_alliance_member(community, unit, position=i)
        for i, unit in enumerate(units[:3], start=1)
    ]
    factories.make_alliance_member(community, units[3], position=None)
    return community, units, members


def _joint(factories, community, unit, days, status="scheduled"):
    meeting = factories.make_meeting(
        community=community, kind="joint_meeting", starts_in=timedelta(days=days), status=status
    )
    meeting.host_unit_id = unit.id if unit else None
    db.session.commit()
    return meeting


def test_first_unit_opens_the_rotation(alliance):
    community, units, _members = alliance
    assert next_host(community) == units[0]
    assert next_host(community.id) == units[0]


def test_turn_passes_to_the_unit_after_the_last_host_and_wraps(factories, alliance):
    community, units, _members = alliance
    _joint(factories, community, units[0], -60)
    assert next_host(community) == units[1]
    _joint(factories, community, units[1], -30)
    assert next_host(community) == units[2]
    _joint(factories, community, units[2], 10)  # already scheduled: counts
    assert next_host(community) == units[0]


def test_cancelled_meetings_other_kinds_and_other_communities_do_not_count(factories, alliance):
    community, units, _members = alliance
    _joint(factories, community, units[0], -30)
    _joint(factories, community, units[1], -10, status="cancelled")
    roundtable = factories.make_meeting(community=community, starts_in=timedelta(days=-5))
    roundtable.host_unit_id = units[2].id
    other = factories.make_community("Xinhua")
    _joint(factories, other, units[2], -1)
    _joint(factories, community, None, -2)
    db.session.commit()
    assert next_host(community) == units[1]


def test_a_host_outside_the_rotation_restarts_it(factories, alliance):
    community, units, _members = alliance
    _joint(factories, community, units[3], -5)
    assert next_host(community) == units[0]


def test_no_rotation_proposes_nobody(factories):
    assert next_host(factories.make_community("Empty")) is None


def test_rotation_follows_the_order_not_the_ids(factories, alliance):
    community, units, members = alliance
    for member, position in (
        (members[0], None),
        (members[2], None),
        (members[2], 1),
        (members[0], 3),
    ):
        db.session.get(AllianceMember, member.id).rotation_position = position
        db.session.flush()
    db.session.commit()
    # Order now: 物业公司, 供电所, 城关派出所
    _joint(factories, community, units[1], -3)
    assert next_host(community) == units[0]


def test_rotation_page_shows_order_history_and_next(client, login_as, factories, alliance):
    community, units, _members = alliance
    held = _joint(factories, community, units[0], -30, status="held")
    login_as(factories.make_user())
    response = client.get(f"/communities/{community.id}/rotation")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'data-next-host="{units[1].id}"' in html
    assert "Next to host: 供电所" in html
    listed = html[html.index("data-rotation") :]
    assert listed.index("城关派出所") < listed.index("供电所") < listed.index("物业公司")
    assert f'data-session="{held.id}"' in html and "Last hosted" in html
    assert "小学" in html  # outside the rotation
    assert 'value="up"' not in html  # residents may not reorder


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 302), ("cadre", 302), ("secretary", 403), ("resident", 403), ("unit_rep", 403)],
)
def test_who_may_reorder(client, login_as, factories, alliance, role, status):
    community, units, members = alliance
    login_as(factories.make_user(role=role))
    page = client.get(f"/communities/{community.id}/rotation").get_data(as_text=True)
    token = csrf_token_from(page) if 'name="csrf_token"' in page else "x"
    response = client.post(
        f"/communities/{community.id}/rotation/{members[2].id}",
        data={"csrf_token": token, "action": "up"},
    )
    assert response.status_code == status
    order = [
        m.unit_id
        for m in db.session.scalars(
            select(AllianceMember)
            .where(AllianceMember.rotation_position.is_not(None))
            .order_by(AllianceMember.rotation_position)
        )
    ]
    expected = (
        [units[0].id, units[2].id, units[1].id]
        if status == 302
        else [units[0].id, units[1].id, units[2].id]
    )
    assert order == expected


def test_cadre_moves_units_in_and_out(client, login_as, factories, alliance):
    community, units, members = alliance
    outside = db.session.scalar(
        select(AllianceMember).where(AllianceMember.rotation_position.is_(None))
    )
    login_as(factories.make_user(role="cadre"))
    url = f"/communities/{community.id}/rotation"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    client.post(f"{url}/{outside.id}", data={"csrf_token": token, "action": "join"})
    client.post(f"{url}/{members[0].id}", data={"csrf_token": token, "action": "leave"})
    db.session.expire_all()
    order = [
        m.unit_id
        for m in db.session.scalars(
            select(AllianceMember)
            .where(AllianceMember.rotation_position.is_not(None))
            .order_by(AllianceMember.rotation_position)
        )
    ]
    assert order == [units[1].id, units[2].id, units[3].id]
    assert next_host(community) == units[1]
    bad = client.post(f"{url}/{members[1].id}", data={"csrf_token": token, "action": "sideways"})
    assert bad.status_code == 400


def test_member_of_another_community_is_404(client, login_as, factories, alliance):
    community, _units, _members = alliance
    other = factories.make_community("Xinhua")
    foreign = factories.make_alliance_member(other, position=1)
    login_as(factories.make_user(role="cadre"))
    token = csrf_token_from(
        client.get(f"/communities/{community.id}/rotation").get_data(as_text=True)
    )
    response = client.post(
        f"/communities/{community.id}/rotation/{foreign.id}",
        data={"csrf_token": token, "action": "up"},
    )
    assert response.status_code == 404
    assert client.get("/communities/999/rotation").status_code == 404
