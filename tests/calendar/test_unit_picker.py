"""The invitation form's unit picker: server-side search, grouped by unit kind."""

from __future__ import annotations

import re

import pytest

from consult.calendar.queries import search_alliance_units
from tests.web.helpers import html_of

KINDS = ("property_company", "owners_committee", "enterprise")


@pytest.fixture
def alliance(factories):
    hehe = factories.make_community("和合社区")
    other = factories.make_community("城北社区")
    units = {}
    for n in range(40):
        kind = KINDS[n % 3]
        unit = factories.make_unit(
            f"{'物业' if kind == 'property_company' else '单位'}{n:02d}", kind=kind
        )
        factories.make_alliance_member(hehe, unit)
        units[unit.name] = unit
    outsider = factories.make_unit("物业外来", kind="property_company")
    factories.make_alliance_member(other, outsider)
    meeting = factories.make_meeting(hehe)
    return {"meeting": meeting, "units": units, "outsider": outsider, "hehe": hehe}


def test_search_finds_the_alliances_units_by_name_and_kind(alliance):
    found = search_alliance_units(alliance["hehe"].id, "物业")
    assert [kind for kind, _ in found.groups] == ["property_company"]
    names = [u.name for u in found.groups[0][1]]
    assert names == sorted(names) and len(names) == 14 and "物业外来" not in names
    by_kind = search_alliance_units(alliance["hehe"].id, "", "owners_committee")
    assert {u.kind for _, group in by_kind.groups for u in group} == {"owners_committee"}
    everything = search_alliance_units(alliance["hehe"].id, "", "")
    assert everything.groups == [] and not everything.searched
    narrow = search_alliance_units(alliance["hehe"].id, "物业3")
    assert narrow.total == narrow.shown == 4  # 物业30, 33, 36, 39
    all_of_them = search_alliance_units(alliance["hehe"].id, "", "enterprise", limit=5)
    assert all_of_them.total == 13 and all_of_them.shown == 5
    assert sum(len(g) for _, g in all_of_them.groups) == 5


def test_wildcards_are_plain_text_and_chosen_units_stay(alliance):
    assert search_alliance_units(alliance["hehe"].id, "%").total == 0
    assert search_alliance_units(alliance["hehe"].id, "_").total == 0
    chosen = alliance["units"]["单位01"].id
    found = search_alliance_units(alliance["hehe"].id, "物业", chosen=(chosen,))
    assert chosen in {u.id for _, g in found.groups for u in g}
    # A unit of another community's alliance cannot be slipped in as "chosen".
    found = search_alliance_units(alliance["hehe"].id, "", chosen=(alliance["outsider"].id,))
    assert found.groups == []


def test_the_session_page_renders_no_unit_checkboxes_until_searched(
    client, factories, login_as, alliance
):
    login_as(factories.make_user("cadre", community=alliance["hehe"].name))
    html = html_of(client.get(f"/sessions/{alliance['meeting'].id}"))
    assert "data-unit-picker" in html and 'name="unit_q"' in html
    assert 'name="invite-units"' not in html
    assert '<script src="/static/unit-picker.js" defer></script>' in html
    assert "<script>" not in html  # no inline script


def test_the_picker_answers_grouped_checkboxes(client, factories, login_as, alliance):
    login_as(factories.make_user("cadre", community=alliance["hehe"].name))
    meeting = alliance["meeting"]
    chosen = alliance["units"]["单位01"].id
    response = client.get(
        f"/sessions/{meeting.id}/invite/units",
        query_string={"unit_q": "物业", "chosen": [str(chosen), "x"]},
        headers={"Accept-Language": "zh-CN"},
    )
    assert response.status_code == 200
    html = html_of(response)
    assert re.findall(r'data-unit-kind="(\w+)"', html) == ["owners_committee", "property_company"]
    assert len(re.findall(r'name="invite-units"', html)) == 15
    assert re.search(rf'value="{chosen}" id="invite-unit-{chosen}" checked', html)
    assert "物业公司" in html  # the kind's name in the reader's language
    none = html_of(client.get(f"/sessions/{meeting.id}/invite/units?unit_q=不存在"))
    assert "data-none" in none


def test_without_script_the_search_opens_the_invitation_page(client, factories, login_as, alliance):
    login_as(factories.make_user("cadre", community=alliance["hehe"].name))
    meeting = alliance["meeting"]
    response = client.get(
        f"/sessions/{meeting.id}/invite",
        query_string={"unit_q": "物业", "next": f"/sessions/{meeting.id}"},
    )
    html = html_of(response)
    assert len(re.findall(r'name="invite-units"', html)) == 14
    # Back to the session page once the invitations are sent.
    assert re.search(rf'name="invite-next" type="hidden" value="/sessions/{meeting.id}"', html)


@pytest.mark.parametrize("role", ["resident", "secretary", "unit_rep"])
def test_only_those_who_invite_may_search(client, factories, login_as, alliance, role):
    # A member of the session's community, so only the role stands in the way.
    login_as(factories.make_user(role, community=alliance["hehe"].name))
    response = client.get(f"/sessions/{alliance['meeting'].id}/invite/units?unit_q=物业")
    assert response.status_code == 403


def _invite(client, meeting, units, emails=""):
    from tests.conftest import csrf_token_from

    page = client.get(f"/sessions/{meeting.id}/invite")
    data = {
        "invite-csrf_token": csrf_token_from(page.get_data(as_text=True)),
        "invite-emails": emails,
        "invite-units": [str(u) for u in units],
    }
    return client.post(f"/sessions/{meeting.id}/invite", data=data)


def test_a_unit_found_by_the_search_is_invited(client, factories, login_as, alliance):
    from consult.extensions import db
    from consult.meetings.models import Invitation

    unit = alliance["units"]["物业03"]
    unit.contact_email = "wuye03@example.org"
    db.session.commit()
    login_as(factories.make_user("cadre", community=alliance["hehe"].name))
    response = _invite(client, alliance["meeting"], [unit.id])
    assert response.status_code == 302
    invited = db.session.query(Invitation).filter_by(meeting_id=alliance["meeting"].id).all()
    assert [(i.email, i.unit_id) for i in invited] == [("wuye03@example.org", unit.id)]


@pytest.mark.parametrize("which", ["outsider", "unknown", "not a number"])
def test_a_unit_outside_the_alliance_is_refused_and_nothing_sent(
    client, factories, login_as, alliance, which
):
    from consult.extensions import db
    from consult.meetings.models import Invitation

    alliance["outsider"].contact_email = "outsider@example.org"
    db.session.commit()
    value = {"outsider": alliance["outsider"].id, "unknown": 99999, "not a number": "x"}[which]
    login_as(factories.make_user("cadre", community=alliance["hehe"].name))
    response = _invite(client, alliance["meeting"], [value], emails="someone@example.org")
    assert response.status_code == 200
    html = html_of(response)
    assert "invalid-feedback" in html
    assert db.session.query(Invitation).count() == 0


def test_the_session_page_does_not_read_the_alliance(
    client, factories, login_as, alliance, count_queries
):
    """However large the alliance, the session page asks only whether there is one (the
    page rendered afresh each time, not the one kept in the cache)."""
    from consult.extensions import cache, db

    login_as(factories.make_user("cadre", community=alliance["hehe"].name))
    url = f"/sessions/{alliance['meeting'].id}"
    client.get(url)
    cache.clear()
    db.session.expire_all()
    with count_queries() as few:
        small = html_of(client.get(url))
    for n in range(60):
        factories.make_alliance_member(alliance["hehe"], factories.make_unit(f"新单位{n:02d}"))
    cache.clear()
    db.session.expire_all()
    with count_queries() as many:
        large = html_of(client.get(url))
    assert few.n == many.n
    assert not any("FROM units" in s for s in many.statements), many.statements
    assert len(large) == len(small) and "新单位" not in large
