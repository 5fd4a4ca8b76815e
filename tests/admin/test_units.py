"""Alliance units in the administration."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from consult.community.models import Unit
from consult.extensions import db
from tests.admin.conftest import audit_count, text_of


def unit_form(**changes) -> dict:
    return {
        "name": "城关镇派出所",
        "kind": "government_agency",
        "contact_email": "paichusuo@example.org",
        "contact_phone": "0571-1234567",
        **changes,
    }


def units() -> int:
    return db.session.scalar(select(func.count(Unit.id)))


def test_create_a_unit(as_admin, post):
    response = post("/admin/units/new", unit_form(contact_email="PaiChuSuo@Example.org"))
    assert response.status_code == 302
    unit = db.session.scalar(select(Unit))
    assert (unit.name, unit.kind, unit.contact_email, unit.contact_phone) == (
        "城关镇派出所",
        "government_agency",
        "paichusuo@example.org",
        "0571-1234567",
    )
    assert audit_count("unit.create") == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "已有单位"}, "already exists"),
        ({"kind": "club"}, "Not a valid choice"),
        ({"contact_email": "nobody"}, "Not an email address"),
        ({"name": ""}, "required"),
        ({"contact_phone": "1" * 33}, "32"),
    ],
    ids=["duplicate", "unknown-kind", "bad-email", "no-name", "long-phone"],
)
def test_create_refuses_bad_input(as_admin, post, factories, changes, message):
    factories.make_unit("已有单位")
    response = post("/admin/units/new", unit_form(**changes))
    assert response.status_code == 200
    assert message in text_of(response)
    assert units() == 1


def test_edit_a_unit_and_see_its_alliances(as_admin, post, factories):
    unit = factories.make_unit("物业公司", kind="property_company")
    factories.make_alliance_member(factories.make_community("Hehe"), unit, position=1)
    page = text_of(as_admin.get(f"/admin/units/{unit.id}"))
    assert 'value="物业公司"' in page and "Hehe" in page
    response = post(
        f"/admin/units/{unit.id}",
        unit_form(name="和合物业", kind="property_company", contact_email=""),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (unit.name, unit.contact_email) == ("和合物业", None)
    assert audit_count("unit.update") == 1


def test_the_list_filters_by_kind_and_name(as_admin, factories):
    factories.make_unit("业主委员会一", kind="owners_committee")
    factories.make_unit("商贸公司", kind="enterprise")
    page = text_of(as_admin.get("/admin/units?kind=owners_committee"))
    assert "业主委员会一" in page and "商贸公司" not in page
    page = text_of(as_admin.get("/admin/units?q=商贸&kind=unknown"))
    assert "商贸公司" in page and "业主委员会一" not in page
