"""Joint-construction agreements in the administration."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from consult.community.models import Agreement
from consult.extensions import db
from tests.admin.conftest import audit_count, text_of


@pytest.fixture
def parties(factories):
    return factories.make_community("Hehe"), factories.make_unit("城关供电所")


def agreement_form(parties, **changes) -> dict:
    community, unit = parties
    return {
        "community": str(community.id),
        "unit": str(unit.id),
        "signed_on": "2025-03-01",
        "ends_on": "2027-02-28",
        "commitments": "每月一次义务检修；\n提供场地。",
        **changes,
    }


def agreements() -> int:
    return db.session.scalar(select(func.count(Agreement.id)))


def test_record_an_agreement(as_admin, post, parties):
    response = post("/admin/agreements/new", agreement_form(parties))
    assert response.status_code == 302
    agreement = db.session.scalar(select(Agreement))
    assert (agreement.signed_on, agreement.ends_on) == (date(2025, 3, 1), date(2027, 2, 28))
    assert agreement.commitments == "每月一次义务检修；\n提供场地。"
    assert audit_count("agreement.create") == 1


def test_an_agreement_without_end(as_admin, post, parties):
    assert post("/admin/agreements/new", agreement_form(parties, ends_on="")).status_code == 302
    assert db.session.scalar(select(Agreement.ends_on)) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ends_on": "2025-02-28"}, "The agreement cannot end before it is signed."),
        ({"signed_on": ""}, "Give the date it was signed."),
        ({"signed_on": "01/03/2025"}, "Not a valid date"),
        ({"ends_on": "2025-02-30"}, "Not a valid date"),
        ({"unit": "999999"}, "Not a valid choice"),
        ({"community": ""}, "Invalid Choice"),
        ({"commitments": "x" * 10001}, "10000"),
    ],
    ids=[
        "ends-before-signed",
        "no-signed-date",
        "other-date-format",
        "impossible-date",
        "unknown-unit",
        "no-community",
        "long-commitments",
    ],
)
def test_refused_agreements_are_reshown_with_the_input(as_admin, post, parties, changes, message):
    response = post("/admin/agreements/new", agreement_form(parties, **changes))
    assert response.status_code == 200
    page = text_of(response)
    assert message in page
    assert agreements() == 0
    if "commitments" not in changes:
        assert "每月一次义务检修" in page


def test_the_same_day_is_a_valid_term(as_admin, post, parties):
    form = agreement_form(parties, ends_on="2025-03-01")
    assert post("/admin/agreements/new", form).status_code == 302


def test_edit_an_agreement(as_admin, post, parties):
    post("/admin/agreements/new", agreement_form(parties))
    agreement = db.session.scalar(select(Agreement))
    page = text_of(as_admin.get(f"/admin/agreements/{agreement.id}"))
    assert 'value="2025-03-01"' in page
    response = post(
        f"/admin/agreements/{agreement.id}", agreement_form(parties, ends_on="2028-02-29")
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert agreement.ends_on == date(2028, 2, 29)
    entry_data = audit_count("agreement.update")
    assert entry_data == 1


def test_the_list_filters_by_community_and_unit(as_admin, post, factories, parties):
    other = factories.make_community("Anle")
    post("/admin/agreements/new", agreement_form(parties))
    post(
        "/admin/agreements/new",
        agreement_form(parties, community=str(other.id), signed_on="2024-01-01", ends_on=""),
    )
    page = text_of(as_admin.get(f"/admin/agreements?community={other.id}"))
    assert page.count('data-agreement="') == 1 and "Anle" in page
    page = text_of(as_admin.get(f"/admin/agreements?unit={parties[1].id}"))
    assert page.count('data-agreement="') == 2
