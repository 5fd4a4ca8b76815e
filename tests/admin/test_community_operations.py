"""consult.community.operations, called directly as the API and other pages call them."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from consult.audit.models import AuditEntry
from consult.community import operations as ops
from consult.community.models import AllianceMember, Community, Venue
from consult.community.queries import alliance_members
from consult.extensions import db


def positions(community) -> list[tuple[str, int | None]]:
    db.session.expire_all()
    return [(m.unit.name, m.rotation_position) for m in alliance_members(community.id)]


def test_get_or_create_community_trims_and_reuses(factories):
    first = ops.get_or_create_community("  和合社区 ")
    db.session.commit()
    assert first.name == "和合社区"
    assert ops.get_or_create_community("和合社区") is first
    assert db.session.scalar(select(func.count(Community.id))) == 1


@pytest.mark.parametrize("capacity", [True, 1.5, "12", -1, 100_001])
def test_create_venue_refuses_capacities_that_are_not_places(factories, capacity):
    community = factories.make_community()
    with pytest.raises(ops.CommunityError) as caught:
        ops.create_venue(
            {"name": "礼堂", "kind": "hall", "capacity": capacity, "community_id": community.id},
            None,
        )
    db.session.rollback()
    assert caught.value.field == "capacity"
    assert db.session.scalar(select(func.count(Venue.id))) == 0


def test_create_venue_refuses_an_owner_that_does_not_exist(factories):
    with pytest.raises(ops.CommunityError) as caught:
        ops.create_venue({"name": "礼堂", "kind": "hall", "community_id": 4242}, None)
    assert caught.value.field == "community"


def test_a_duplicate_venue_is_a_conflict(factories):
    community = factories.make_community()
    factories.make_venue(community, name="礼堂")
    with pytest.raises(ops.CommunityError) as caught:
        ops.create_venue({"name": "礼堂", "kind": "hall", "community_id": community.id}, None)
    assert (caught.value.field, caught.value.status) == ("name", 409)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"signed_on": None}, "signed_on"),
        ({"signed_on": "2025-01-01"}, "signed_on"),
        ({"ends_on": "2026-01-01"}, "ends_on"),
        ({"ends_on": date(2024, 12, 31)}, "ends_on"),
        ({"unit_id": None}, "unit"),
        ({"community_id": 4242}, "community"),
        ({"commitments": "a\x00b"}, "commitments"),
    ],
)
def test_create_agreement_refusals(factories, changes, field):
    community, unit = factories.make_community(), factories.make_unit()
    data = {
        "community_id": community.id,
        "unit_id": unit.id,
        "signed_on": date(2025, 1, 1),
        **changes,
    }
    with pytest.raises(ops.CommunityError) as caught:
        ops.create_agreement(data, None)
    assert caught.value.field == field


def test_updates_audit_what_changed_and_nothing_when_nothing_did(factories):
    admin = factories.make_user(role="admin")
    unit = factories.make_unit("旧名", kind="enterprise")
    ops.update_unit(unit, {"name": "新名", "kind": "enterprise"}, admin)
    ops.update_unit(unit, {"name": "新名", "kind": "enterprise"}, admin)
    db.session.commit()
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "unit.update"))
    assert [e.data for e in entries] == [{"name": ["旧名", "新名"]}]


def test_the_rotation_stays_numbered_one_to_n_through_every_change(factories):
    community = factories.make_community("Hehe")
    names = ["甲", "乙", "丙", "丁", "戊"]
    members = []
    for name in names:
        unit = factories.make_unit(name)
        members.append(
            ops.add_alliance_member(
                community,
                {"unit_id": unit.id, "joined_on": date(2025, 1, 1), "in_rotation": True},
                None,
            )
        )
    db.session.commit()
    assert positions(community) == [(n, i + 1) for i, n in enumerate(names)]

    ops.move_alliance_member(members[4], -3, None)  # 戊 to the second turn
    db.session.commit()
    assert positions(community) == [("甲", 1), ("戊", 2), ("乙", 3), ("丙", 4), ("丁", 5)]

    ops.move_alliance_member(members[0], 99, None)  # 甲 to the end, no further
    ops.set_alliance_rotation(members[2], False, None)  # 丙 sits out
    db.session.commit()
    assert positions(community) == [("戊", 1), ("乙", 2), ("丁", 3), ("甲", 4), ("丙", None)]

    ops.remove_alliance_member(members[1], None)  # 乙 leaves the alliance
    ops.set_alliance_rotation(members[2], True, None)  # 丙 comes back, last
    db.session.commit()
    assert positions(community) == [("戊", 1), ("丁", 2), ("甲", 3), ("丙", 4)]
    assert db.session.scalar(select(func.count(AllianceMember.id))) == 4


def test_joined_on_must_be_a_date(factories):
    community, unit = factories.make_community(), factories.make_unit()
    with pytest.raises(ops.CommunityError):
        ops.add_alliance_member(community, {"unit_id": unit.id, "joined_on": "2025-01-01"}, None)
    member = ops.add_alliance_member(community, {"unit_id": unit.id}, None)
    assert (member.joined_on, member.rotation_position) == (None, None)
