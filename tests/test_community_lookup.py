"""One community lookup by name: the same answer everywhere, and creation that races safely."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from consult.community import operations, queries
from consult.community.models import Community
from consult.community.operations import community_by_name
from consult.errors import RefusedInput
from consult.extensions import db


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Community))


def test_an_unknown_name_is_refused_on_its_field_unless_creating(app, factories):
    with pytest.raises(RefusedInput) as caught:
        community_by_name("  无名社区 ", field="community")
    assert (caught.value.status, caught.value.code, caught.value.field) == (
        422,
        "no_such_community",
        "community",
    )
    resident = factories.make_user("resident")
    with pytest.raises(RefusedInput):
        community_by_name("无名社区", resident, create=True)
    assert _count() == 1  # the resident's own community only


def test_organisers_and_the_command_line_create_once(app, factories):
    cadre = factories.make_user("cadre", community=None)
    first = community_by_name(" 城北社区 ", cadre, create=True)
    again = community_by_name("城北社区", None, create=True)
    db.session.commit()
    assert first.id == again.id and first.name == "城北社区"
    assert _count() == 1


def test_a_creation_that_lost_the_race_returns_the_winners_row(app, factories, monkeypatch):
    winner = factories.make_community("和合社区")
    # The lookup ran before the other request committed: it saw nothing.
    monkeypatch.setattr(queries, "community_named", lambda name: None)
    found = operations.community_by_name("和合社区", None, create=True)
    db.session.commit()
    assert found.id == winner.id
    assert _count() == 1


def test_the_api_gives_one_answer_for_an_unknown_community(api_as, factories):
    api = api_as(factories.make_user("secretary"))
    case = factories.make_case()
    for url, body in (
        ("/api/v1/issues", {"title": "议题", "community": "无名社区", "cases": [case.id]}),
        ("/api/v1/feeds", {"scope": "community", "community": "无名社区"}),
    ):
        response = api.post(url, json=body)
        assert response.status_code == 422, url
        error = response.get_json()["error"]
        assert error["code"] == "no_such_community"
        assert "community" in error["fields"]
    # As a filter, an unknown community matches nothing.
    assert api.get("/api/v1/cases?community=无名社区").get_json()["total"] == 0
    assert api.get("/api/v1/sessions?community=无名社区").get_json()["total"] == 0
    stats = api.get("/api/v1/stats?community=无名社区").get_json()
    assert stats["cases"]["total"] == 0 and stats["sessions"]["total"] == 0
