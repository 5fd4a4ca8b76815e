"""The loaders: the object, or 404 when it does not exist or may not even be seen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from werkzeug.exceptions import NotFound

from consult import loaders
from consult.calendar.operations import create_feed
from consult.extensions import db
from tests.cases.builders import agenda_item, new_case, new_issue, resolve


@pytest.fixture
def hehe(factories):
    community = factories.make_community("Hehe")
    cadre = factories.make_user("cadre")
    resident = factories.make_user("resident")
    outsider = factories.make_user("cadre", community="Xiguan")
    # Held yesterday: only a session that has started may resolve cases.
    private = factories.make_meeting(community, kind="mediation", starts_in=-timedelta(days=1))
    series, _ = factories.make_series(community, kind="mediation", visibility="private")
    registration = factories.make_signup(private, resident)
    case = new_case(cadre)
    issue = new_issue(cadre, [case])
    item = agenda_item(private, cadre, issue)
    resolve(item, cadre, [case], actions=[{"description": "x", "unit": factories.make_unit().id}])
    feed, _token = create_feed({"scope": "mine"}, resident)
    db.session.commit()
    from consult.minutes.models import ActionItem

    action = db.session.scalars(db.select(ActionItem)).one()
    return {"cadre": cadre, "resident": resident, "outsider": outsider}, {
        "meeting_or_404": private.id,
        "series_or_404": series.id,
        "registration_or_404": registration.id,
        "feed_or_404": feed.id,
        "agenda_item_or_404": item.id,
        "action_or_404": action.id,
        "case_or_404": case.id,
        "issue_or_404": issue.id,
    }


#: loader -> who may load the object of the fixture.
SEEN_BY = {
    "meeting_or_404": {"cadre", "resident"},
    "series_or_404": {"cadre"},
    "registration_or_404": {"cadre", "resident"},
    "feed_or_404": {"resident"},
    "agenda_item_or_404": {"cadre", "resident"},
    "action_or_404": {"cadre"},
    "case_or_404": {"cadre"},
    "issue_or_404": {"cadre"},
}


@pytest.mark.parametrize("loader", sorted(SEEN_BY))
def test_each_loader_answers_404_unless_the_caller_may_see_the_object(hehe, loader):
    people, ids = hehe
    load = getattr(loaders, loader)
    for who, user in people.items():
        if who in SEEN_BY[loader]:
            found = load(ids[loader], user)
            found = found[0] if isinstance(found, tuple) else found
            assert found.id == ids[loader]
        else:
            with pytest.raises(NotFound):
                load(ids[loader], user)
    for impossible in (0, -1, 2**31, 10**18, ids[loader] + 1000):
        with pytest.raises(NotFound):
            load(impossible, people["cadre"])


def test_minutes_are_read_in_draft_by_the_communitys_staff_only(hehe, factories):
    from consult.minutes.operations import save_minutes

    people, ids = hehe
    meeting = loaders.meeting_or_404(ids["meeting_or_404"], people["cadre"])
    save_minutes(meeting, {"version": 0, "notes": {}}, people["cadre"])
    db.session.commit()
    assert loaders.minutes_or_404(meeting, people["cadre"]).status == "draft"
    for who in ("resident", "outsider"):
        with pytest.raises(NotFound):
            loaders.minutes_or_404(meeting, people[who])
