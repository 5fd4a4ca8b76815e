"""Venues in the administration: a community's rooms, and rooms units offer."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from consult.community.models import Venue
from consult.extensions import db
from tests.admin.conftest import audit_count, text_of


def venue_form(**changes) -> dict:
    return {
        "name": "调解室",
        "kind": "mediation_room",
        "capacity": "12",
        "address": "和合路1号",
        "community": "0",
        "unit": "0",
        **changes,
    }


def venues() -> int:
    return db.session.scalar(select(func.count(Venue.id)))


def test_create_a_communitys_mediation_room(as_admin, post, factories, client):
    community = factories.make_community("Hehe")
    response = post("/admin/venues/new", venue_form(community=str(community.id)))
    assert response.status_code == 302
    venue = db.session.scalar(select(Venue))
    assert (venue.name, venue.kind, venue.capacity, venue.community_id, venue.unit_id) == (
        "调解室",
        "mediation_room",
        12,
        community.id,
        None,
    )
    assert audit_count("venue.create") == 1
    assert "Venue 调解室 created." in text_of(client.get(response.headers["Location"]))


def test_create_a_room_a_unit_offers_without_a_limit(as_admin, post, factories):
    unit = factories.make_unit("城关中学", kind="public_institution")
    response = post(
        "/admin/venues/new", venue_form(name="报告厅", kind="hall", capacity="", unit=str(unit.id))
    )
    assert response.status_code == 302
    venue = db.session.scalar(select(Venue))
    assert (venue.unit_id, venue.community_id, venue.capacity) == (unit.id, None, None)


def test_the_same_name_in_another_community_is_fine(as_admin, post, factories):
    hehe, anle = factories.make_community("Hehe"), factories.make_community("Anle")
    factories.make_venue(hehe, name="调解室")
    assert post("/admin/venues/new", venue_form(community=str(anle.id))).status_code == 302
    assert venues() == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"community": "HEHE"}, "There is already a venue called 调解室 there."),
        ({"capacity": "-1"}, "Give a number of places from 0 to 100000."),
        ({"capacity": "100001"}, "Give a number of places from 0 to 100000."),
        ({"capacity": "ten"}, "Not a valid integer value."),
        ({"capacity": "99999999999999999999"}, "Give a number of places from 0 to 100000."),
        (
            {"community": "0", "unit": "0"},
            "A venue belongs to a community or is offered by a unit.",
        ),
        ({"kind": "stadium"}, "Not a valid choice"),
        ({"name": ""}, "This field is required."),
        ({"name": "x" * 201}, "200"),
        ({"community": "424242"}, "Not a valid choice"),
    ],
    ids=[
        "duplicate-in-community",
        "negative-capacity",
        "huge-capacity",
        "capacity-words",
        "capacity-overflow",
        "no-owner",
        "unknown-kind",
        "no-name",
        "long-name",
        "unknown-community",
    ],
)
def test_create_refuses_bad_input_and_keeps_it(as_admin, post, factories, changes, message):
    hehe = factories.make_community("Hehe")
    factories.make_venue(hehe, name="调解室")
    changes = {k: str(hehe.id) if v == "HEHE" else v for k, v in changes.items()}
    changes.setdefault("community", str(hehe.id))
    response = post("/admin/venues/new", venue_form(**changes))
    assert response.status_code == 200
    page = text_of(response)
    assert message in page
    assert "is-invalid" in page or "alert-danger" in page
    assert venues() == 1
    if "address" not in changes:
        assert 'value="和合路1号"' in page


def test_a_unit_venue_name_is_unique_within_the_unit(as_admin, post, factories):
    unit = factories.make_unit()
    assert post("/admin/venues/new", venue_form(unit=str(unit.id))).status_code == 302
    response = post("/admin/venues/new", venue_form(unit=str(unit.id)))
    assert "There is already a venue called 调解室 there." in text_of(response)
    assert venues() == 1


def test_edit_a_venue(as_admin, post, factories):
    hehe = factories.make_community("Hehe")
    venue = factories.make_venue(hehe, name="活动室", kind="meeting_room", capacity=20)
    page = text_of(as_admin.get(f"/admin/venues/{venue.id}"))
    assert 'value="活动室"' in page and 'value="20"' in page
    response = post(
        f"/admin/venues/{venue.id}",
        venue_form(name="活动室", kind="hall", capacity="0", community=str(hehe.id)),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (venue.kind, venue.capacity) == ("hall", 0)
    entry_count = audit_count("venue.update")
    assert entry_count == 1


def test_renaming_onto_a_sibling_is_refused(as_admin, post, factories):
    hehe = factories.make_community("Hehe")
    factories.make_venue(hehe, name="调解室")
    other = factories.make_venue(hehe, name="活动室")
    response = post(f"/admin/venues/{other.id}", venue_form(community=str(hehe.id)))
    assert "There is already a venue called 调解室 there." in text_of(response)
    db.session.expire_all()
    assert other.name == "活动室"


def test_the_list_filters_by_community(as_admin, factories):
    hehe, anle = factories.make_community("Hehe"), factories.make_community("Anle")
    factories.make_venue(hehe, name="和合礼堂")
    factories.make_venue(anle, name="安乐礼堂")
    page = text_of(as_admin.get(f"/admin/venues?community={anle.id}"))
    assert "安乐礼堂" in page and "和合礼堂" not in page
    page = text_of(as_admin.get("/admin/venues?community=abc&q=礼堂"))
    assert "安乐礼堂" in page and "和合礼堂" in page
