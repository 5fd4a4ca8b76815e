"""A resident raises a concern from the web and follows it under "My concerns"."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from consult.cases.models import Case
from consult.cases.operations import raise_concern
from consult.community.models import Community
from consult.errors import RefusedInput
from consult.extensions import db
from tests.conftest import csrf_token_from, login


def _post(client, data: dict):
    token = csrf_token_from(client.get("/me/concerns/new").get_data(as_text=True))
    return client.post("/me/concerns/new", data={"csrf_token": token, **data})


def _count() -> int:
    return db.session.scalar(select(func.count(Case.id)))


def test_a_resident_raises_a_concern_in_their_community(client, login_as, factories):
    hehe = factories.make_community("和合社区")
    factories.make_community("幸福社区")
    resident = factories.make_user(community="和合社区", name="张秀英")
    login_as(resident)

    form = client.get("/me/concerns/new").get_data(as_text=True)
    # Their own community comes first and is chosen already.
    options = re.findall(r'<option (selected )?value="(\d+)"', form)
    assert options[0] == ("selected ", str(hehe.id))

    response = _post(
        client,
        {
            "title": "楼道灯坏了",
            "description": "三单元二楼，一周了",
            "community": hehe.id,
            "category": "concern",
            "phone": "13800000000",
        },
    )
    assert response.status_code == 302
    case = db.session.scalars(select(Case)).one()
    assert response.headers["Location"].endswith(f"/cases/{case.id}")
    assert (case.title, case.community_id, case.source, case.level, case.status) == (
        "楼道灯坏了",
        hehe.id,
        "online",
        1,
        "open",
    )
    assert (case.reporter_name, case.reporter_phone, case.created_by_id) == (
        "张秀英",
        "13800000000",
        resident.id,
    )
    # The resident reads their case in full and finds it in their list.
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200 and "三单元二楼" in page.get_data(as_text=True)
    listed = client.get("/me/concerns").get_data(as_text=True)
    assert f'data-case="{case.id}"' in listed and "楼道灯坏了" in listed


def test_a_concern_may_be_raised_in_another_community(client, login_as, factories):
    factories.make_community("和合社区")
    other = factories.make_community("幸福社区")
    login_as(factories.make_user(community="和合社区"))
    response = _post(client, {"title": "菜市场噪音", "community": other.id, "category": "conflict"})
    assert response.status_code == 302
    assert db.session.scalars(select(Case)).one().community_id == other.id


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": "", "category": "concern"}, "title"),
        ({"title": "x" * 201, "category": "concern"}, "title"),
        ({"title": "漏水", "category": "gossip"}, "category"),
        ({"title": "漏水", "category": "concern", "community": "999999"}, "community"),
        ({"title": "漏水", "category": "concern", "community": "abc"}, "community"),
        ({"title": "漏水", "category": "concern", "phone": "1" * 40}, "phone"),
        ({"title": "漏\x00水", "category": "concern"}, "title"),
    ],
)
def test_bad_input_is_refused_on_its_field_and_nothing_is_saved(
    client, login_as, factories, data, field
):
    hehe = factories.make_community("和合社区")
    login_as(factories.make_user(community="和合社区"))
    response = _post(client, {"community": hehe.id, "description": "", **data})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'name="{field}"[^>]*is-invalid|is-invalid[^>]*name="{field}"', html), html
    assert _count() == 0


def test_the_list_shows_only_ones_own_concerns(app, client, login_as, factories):
    hehe = factories.make_community("和合社区")
    mine, theirs = (
        factories.make_user(community="和合社区"),
        factories.make_user(community="和合社区"),
    )
    other_client = app.test_client()
    login(other_client, theirs.email)
    _post(other_client, {"title": "别人的事", "community": hehe.id, "category": "concern"})
    login_as(mine)
    listed = client.get("/me/concerns").get_data(as_text=True)
    assert "别人的事" not in listed and 'id="no-concerns"' in listed
    # Someone else's concern stays unreadable to a resident.
    other = db.session.scalars(select(Case)).one()
    assert client.get(f"/cases/{other.id}").status_code == 404


def test_the_menu_offers_it_to_residents_only(app, client, login_as, factories):
    assert client.get("/me/concerns/new").status_code == 302  # sign in first
    login_as(factories.make_user("cadre"))
    assert "/me/concerns" not in client.get("/").get_data(as_text=True)
    resident_client = app.test_client()
    login(resident_client, factories.make_user().email)
    home = resident_client.get("/").get_data(as_text=True)
    assert 'href="/me/concerns/new"' in home and 'href="/me/concerns"' in home


def test_the_pages_speak_chinese(client, login_as, factories):
    factories.make_community("和合社区")
    login_as(factories.make_user(community="和合社区"))
    form = client.get("/me/concerns/new?lang=zh_CN").get_data(as_text=True)
    assert "反映诉求" in form
    assert "我的诉求" in client.get("/me/concerns?lang=zh_CN").get_data(as_text=True)


def test_an_unknown_community_is_refused_and_creates_nothing(app, factories):
    resident = factories.make_user(community="和合社区")
    before = (_count(), db.session.scalar(select(func.count(Community.id))))
    with pytest.raises(RefusedInput) as refused:
        raise_concern({"title": "漏水", "community": "无此社区", "category": "concern"}, resident)
    assert refused.value.field == "community"
    assert (_count(), db.session.scalar(select(func.count(Community.id)))) == before
