"""Communities and their alliances (members and host rotation) in the administration."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from consult.community.models import AllianceMember, Community, Unit
from consult.extensions import db
from tests.admin.conftest import audit_count, text_of


def rotation(community) -> list[tuple[str, int | None]]:
    """The alliance as (unit name, position), in rotation order then the others by name."""
    db.session.expire_all()
    rows = db.session.execute(
        select(AllianceMember.rotation_position, AllianceMember.unit_id).where(
            AllianceMember.community_id == community.id
        )
    ).all()
    names = dict(db.session.execute(select(Unit.id, Unit.name)).all())
    ordered = sorted(rows, key=lambda r: (r[0] is None, r[0] or 0, names[r[1]]))
    return [(names[unit_id], position) for position, unit_id in ordered]


def test_create_a_community_with_its_brand(as_admin, post, client):
    response = post("/admin/communities/new", {"name": "和合社区", "brand": "和合新邻"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/communities"
    community = db.session.scalar(select(Community).where(Community.name == "和合社区"))
    assert community.brand == "和合新邻"
    assert audit_count("community.create") == 1  # the town-level administrator has none
    page = text_of(client.get("/admin/communities"))
    assert "Community 和合社区 created." in page and "和合新邻" in page


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "Hehe"}, "already exists"),
        ({"name": ""}, "This field is required."),
        ({"name": "  "}, "This field is required."),
        ({"name": "x" * 121}, "120"),
        ({"name": "新社区", "brand": "b" * 121}, "120"),
    ],
    ids=["duplicate", "empty", "blank", "long-name", "long-brand"],
)
def test_create_refuses_bad_input(as_admin, post, factories, form, message):
    factories.make_community("Hehe")
    before = db.session.scalar(select(func.count(Community.id)))
    response = post("/admin/communities/new", form)
    assert response.status_code == 200
    assert message in text_of(response)
    assert db.session.scalar(select(func.count(Community.id))) == before


def test_edit_the_brand_and_keep_the_name(as_admin, post, factories):
    community = factories.make_community("Anle")
    response = post(f"/admin/communities/{community.id}", {"name": "Anle", "brand": "安乐家园"})
    assert response.status_code == 302
    db.session.expire_all()
    assert community.brand == "安乐家园"
    assert audit_count("community.update") == 1


def test_rename_onto_another_community_is_refused(as_admin, post, factories):
    factories.make_community("Anle")
    other = factories.make_community("Xingfu")
    response = post(f"/admin/communities/{other.id}", {"name": "Anle", "brand": ""})
    assert response.status_code == 200
    assert "already exists" in text_of(response)
    db.session.expire_all()
    assert other.name == "Xingfu"


def test_the_list_counts_venues_units_and_agreements(as_admin, factories):
    community = factories.make_community("Anle")
    factories.make_venue(community, name="会议室")
    factories.make_venue(community, name="调解室", kind="mediation_room")
    factories.make_alliance_member(community)
    page = text_of(as_admin.get("/admin/communities?q=anle"))
    row = page[page.index(f'data-community="{community.id}"') :]
    row = row[: row.index("</tr>")]
    assert [cell.split("<")[0] for cell in row.split('">')[1:] if cell[:1].isdigit()] == [
        "2",
        "1",
        "0",
    ]


# -- the alliance and its host rotation -------------------------------------------------------


@pytest.fixture
def alliance(factories):
    community = factories.make_community("Hehe")
    names = ("甲公司", "乙公司", "丙公司")
    units = [factories.make_unit(name, kind="enterprise") for name in names]
    return community, units


def test_units_join_the_alliance_at_the_end_of_the_rotation(as_admin, post, alliance):
    community, (first, second, third) = alliance
    url = f"/admin/communities/{community.id}/alliance"
    for unit in (first, second):
        response = post(url, {"unit": str(unit.id), "joined_on": "2025-03-01", "in_rotation": "y"})
        assert response.status_code == 302
    post(url, {"unit": str(third.id)})  # not in the rotation
    assert rotation(community) == [("甲公司", 1), ("乙公司", 2), ("丙公司", None)]
    member = db.session.scalar(select(AllianceMember).where(AllianceMember.unit_id == first.id))
    assert member.joined_on == date(2025, 3, 1)
    assert audit_count("alliance.add") == 3
    page = text_of(as_admin.get(url))
    assert page.index("甲公司") < page.index("乙公司") < page.index("丙公司")


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"unit": "MEMBER"}, "Not a valid choice"),
        ({"unit": "999999"}, "Not a valid choice"),
        ({"unit": "OTHER", "joined_on": "2025-02-30"}, "Not a valid date"),
    ],
    ids=["already-member", "unknown-unit", "impossible-date"],
)
def test_joining_refuses_bad_input(as_admin, post, factories, alliance, form, message):
    community, (first, second, _) = alliance
    factories.make_alliance_member(community, first, position=1)
    ids = {"MEMBER": str(first.id), "OTHER": str(second.id)}
    form = {k: ids.get(v, v) for k, v in form.items()}
    response = post(f"/admin/communities/{community.id}/alliance", form)
    assert response.status_code == 200
    assert message in text_of(response)
    assert rotation(community) == [("甲公司", 1)]


def test_move_units_through_the_rotation(as_admin, post, factories, alliance):
    community, units = alliance
    members = [
        factories.make_alliance_member(community, u, position=i + 1) for i, u in enumerate(units)
    ]
    base = f"/admin/communities/{community.id}/alliance"
    post(f"{base}/{members[2].id}/move", {"direction": "up"})
    assert rotation(community) == [("甲公司", 1), ("丙公司", 2), ("乙公司", 3)]
    post(f"{base}/{members[0].id}/move", {"direction": "down"})
    assert rotation(community) == [("丙公司", 1), ("甲公司", 2), ("乙公司", 3)]
    # Moving the first up (or the last down) leaves the order as it is.
    post(f"{base}/{members[2].id}/move", {"direction": "up"})
    assert rotation(community) == [("丙公司", 1), ("甲公司", 2), ("乙公司", 3)]
    assert audit_count("alliance.rotation") == 2
    assert post(f"{base}/{members[0].id}/move", {"direction": "sideways"}).status_code == 400


def test_leave_and_rejoin_the_rotation_and_leave_the_alliance(as_admin, post, factories, alliance):
    community, units = alliance
    members = [
        factories.make_alliance_member(community, u, position=i + 1) for i, u in enumerate(units)
    ]
    base = f"/admin/communities/{community.id}/alliance"
    post(f"{base}/{members[0].id}/rotation", {"in_rotation": "0"})
    assert rotation(community) == [("乙公司", 1), ("丙公司", 2), ("甲公司", None)]
    post(f"{base}/{members[0].id}/rotation", {"in_rotation": "1"})
    assert rotation(community) == [("乙公司", 1), ("丙公司", 2), ("甲公司", 3)]
    post(f"{base}/{members[1].id}/remove")
    assert rotation(community) == [("丙公司", 1), ("甲公司", 2)]
    assert audit_count("alliance.remove") == 1


def test_moving_a_unit_outside_the_rotation_is_refused_with_a_message(
    as_admin, post, factories, alliance, client
):
    community, (unit, *_) = alliance
    member = factories.make_alliance_member(community, unit, position=None)
    response = post(
        f"/admin/communities/{community.id}/alliance/{member.id}/move",
        {"direction": "up"},
        follow_redirects=True,
    )
    assert "This unit is not in the host rotation." in text_of(response)


def test_a_member_of_another_community_is_404(as_admin, post, factories, alliance):
    community, (unit, *_) = alliance
    elsewhere = factories.make_community("Anle")
    member = factories.make_alliance_member(elsewhere, unit, position=1)
    response = post(f"/admin/communities/{community.id}/alliance/{member.id}/remove")
    assert response.status_code == 404
    assert db.session.get(AllianceMember, member.id) is not None
