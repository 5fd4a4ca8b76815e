"""The administration's lists: a fixed number of statements per page, however many rows."""

from __future__ import annotations

from datetime import date

import pytest

from consult.community.models import Agreement
from consult.extensions import db


def fill(factories, n: int) -> dict:
    """``n`` accounts, communities, venues, units, agreements and alliance members."""
    hehe = factories.make_community("Hehe")
    first = None
    for i in range(n):
        community = factories.make_community(f"社区{i:02d}", brand=f"品牌{i:02d}")
        unit = factories.make_unit(f"单位{i:02d}", kind="social_organisation")
        first = first or community
        factories.make_venue(community, name=f"会议室{i:02d}", capacity=i)
        factories.make_venue(community, name=f"调解室{i:02d}", kind="mediation_room")
        factories.make_alliance_member(hehe, unit, position=i + 1)
        factories.make_alliance_member(community, unit, position=1)
        user = factories.make_user(name=f"居民{i:02d}", community=community.name, password=None)
        user.unit_id = None
        db.session.add(
            Agreement(
                community_id=community.id, unit_id=unit.id, signed_on=date(2025, 1, 1 + i % 28)
            )
        )
    db.session.commit()
    return {"community_id": hehe.id, "first_community": first.id}


#: page -> statements: the signed-in user and their memberships (the town scope), then the
#: page's own reads.
PAGES = {
    "/admin/": 3,
    "/admin/users": 5,
    "/admin/users?q=居民&role=resident": 5,
    "/admin/communities": 5,
    "/admin/venues": 5,
    "/admin/venues?community={first_community}": 5,
    "/admin/units": 5,
    "/admin/agreements": 5,
    "/admin/communities/{community_id}/alliance": 5,
}


@pytest.mark.parametrize("rows", [3, 30])
@pytest.mark.parametrize("url", sorted(PAGES))
def test_a_list_page_costs_the_same_statements_for_3_or_30_rows(
    app, as_admin, factories, count_queries, url, rows
):
    ids = fill(factories, rows)
    # A context of its own, as each request has in production: nothing loaded before.
    with app.app_context(), count_queries() as counted:
        response = as_admin.get(url.format(**ids))
    assert response.status_code == 200
    assert counted.n == PAGES[url], "\n".join(counted.statements)
