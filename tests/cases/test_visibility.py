"""Who reads a case or an issue, and in which form (pages, lists and the API alike)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consult.extensions import db
from consult.minutes.operations import approve_minutes, publish_minutes, save_minutes
from tests.cases.builders import agenda_item, new_case, new_issue, resolve
from tests.conftest import login

NAME = "王秀兰"


@pytest.fixture
def hehe(factories):
    """A case of 和合 reported by 王秀兰 (in an issue, resolved at a public session) and one
    raised at a private mediation; the people who may or may not read them."""
    community = factories.make_community("和合社区")
    factories.make_community("西关社区")
    people = {
        "cadre": factories.make_user("cadre", community="和合社区"),
        "secretary": factories.make_user("secretary", community="和合社区"),
        "town": factories.make_user("secretary", community=None),
        "other_cadre": factories.make_user("cadre", community="西关社区"),
        "other_admin": factories.make_user("admin", community="西关社区"),
        "reporter": factories.make_user("unit_rep", community=None),
        "resident": factories.make_user("resident", community="和合社区"),
        "representative": factories.make_user(
            "resident", community="和合社区", representative=True
        ),
        "invitee": factories.make_user("resident", community="西关社区", email="guest@example.org"),
    }
    cadre = people["cadre"]
    # Both sessions were held yesterday: only a session that has started may resolve
    # cases and have its minutes approved and published.
    public = factories.make_meeting(community, kind="roundtable", starts_in=-timedelta(days=1))
    private = factories.make_meeting(community, kind="mediation", starts_in=-timedelta(days=1))
    factories.make_invitation(private, email="guest@example.org")
    case = new_case(
        people["reporter"],
        community="和合社区",
        reporter=NAME,
        title=f"{NAME}反映楼道堆物",
        description="三楼东户门口",
    )
    raised = new_case(cadre, community="和合社区", title="邻里噪音纠纷")
    raised.meeting_id = private.id
    db.session.commit()
    issue = new_issue(cadre, [case], community="和合社区", title=f"{NAME}家楼道")
    item = agenda_item(public, cadre, issue, title=f"{NAME}反映的楼道问题")
    resolve(
        item,
        cadre,
        [case],
        actions=[{"description": f"物业联系{NAME}清理", "unit": factories.make_unit().id}],
    )
    raised_issue = new_issue(cadre, [raised], community="和合社区", title="噪音")
    private_item = agenda_item(private, cadre, raised_issue, title="噪音调解")
    resolve(private_item, cadre, [raised])
    return people, {
        "case": case,
        "raised": raised,
        "issue": issue,
        "public": public,
        "private": private,
        "item": item,
    }


def signed_in(app, user):
    """Return a new client signed in as ``user`` through the sign-in form."""
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return client


def publish(meeting, cadre, notes=None):
    save_minutes(meeting, {"version": 0, "notes": notes or {}}, cadre)
    approve_minutes(meeting, cadre)
    publish_minutes(meeting, cadre)
    db.session.commit()


FULL = {"cadre", "secretary", "town", "reporter"}
NOBODY_ELSE = {"other_cadre", "other_admin", "resident", "invitee"}


def test_before_publication_a_case_is_read_by_its_communitys_staff_and_reporter_only(hehe, api_as):
    people, things = hehe
    for who in sorted(FULL | NOBODY_ELSE):
        response = api_as(people[who]).get(f"/api/v1/cases/{things['case'].id}")
        if who in FULL:
            assert response.status_code == 200, who
            assert response.json["title"] == things["case"].title
            assert response.json["description"] == "三楼东户门口"
        else:
            assert response.status_code == 404, who
            assert response.json["error"]["code"] == "not_found"


def test_once_published_everyone_reads_the_masked_form_only(hehe, api_as, app):
    people, things = hehe
    publish(things["public"], people["cadre"])
    for who in sorted(NOBODY_ELSE):
        body = api_as(people[who]).get(f"/api/v1/cases/{things['case'].id}").json
        assert body["title"] == "王**反映楼道堆物", who
        assert body["description"] is None and body["reporter"] is None
        assert body["grid"] is None
        assert body["resolution"]["session"] == things["public"].id
        html = signed_in(app, people[who]).get(f"/cases/{things['case'].id}").get_data(as_text=True)
        assert "王**反映楼道堆物" in html
        assert NAME not in html and "三楼东户门口" not in html
        issue = api_as(people[who]).get(f"/api/v1/issues/{things['issue'].id}").json
        assert issue["title"] == "王**家楼道"


def test_lists_keep_only_what_the_caller_reads_in_full(hehe, api_as, app):
    people, things = hehe
    publish(things["public"], people["cadre"])
    for who in sorted(NOBODY_ELSE | {"representative"}):
        client = signed_in(app, people[who])
        if people[who].role in ("admin", "cadre", "secretary", "unit_rep"):
            assert api_as(people[who]).get("/api/v1/cases").json["items"] == []
            html = client.get("/cases").get_data(as_text=True)
            assert "楼道堆物" not in html and "噪音" not in html
            overdue = client.get("/cases/overdue").get_data(as_text=True)
            assert "噪音" not in overdue
        html = client.get("/issues").get_data(as_text=True)
        assert NAME not in html and "噪音" not in html, who


def test_the_reporter_lists_its_own_cases_and_staff_their_communitys(hehe, api_as):
    people, things = hehe
    assert [c["id"] for c in api_as(people["reporter"]).get("/api/v1/cases").json["items"]] == [
        things["case"].id
    ]
    ids = {c["id"] for c in api_as(people["secretary"]).get("/api/v1/cases").json["items"]}
    assert ids == {things["case"].id, things["raised"].id}
    assert api_as(people["other_cadre"]).get("/api/v1/cases").json["total"] == 0


def test_a_representative_reads_its_communitys_issues_masked(hehe, api_as, app):
    people, things = hehe
    response = api_as(people["representative"]).get(f"/api/v1/issues/{things['issue'].id}")
    assert response.status_code == 200
    assert response.json["title"] == "王**家楼道"
    assert api_as(people["resident"]).get(f"/api/v1/issues/{things['issue'].id}").status_code == 404
    html = signed_in(app, people["representative"]).get("/issues").get_data(as_text=True)
    assert "王**家楼道" in html and NAME not in html


def test_a_case_of_a_private_session_stays_with_those_who_may_see_the_session(hehe, api_as):
    people, things = hehe
    publish(things["private"], people["cadre"])
    url = f"/api/v1/cases/{things['raised'].id}"
    for who in ("resident", "other_cadre", "other_admin", "representative"):
        assert api_as(people[who]).get(url).status_code == 404, who
    # The invitee may see the session, so the published (masked) form.
    response = api_as(people["invitee"]).get(url)
    assert response.status_code == 200 and response.json["description"] is None
    assert api_as(people["cadre"]).get(url).json["session"] == things["private"].id


def test_staff_of_another_community_cannot_escalate(hehe, api_as):
    people, things = hehe
    case = things["raised"]
    assert (
        api_as(people["other_cadre"])
        .post(f"/api/v1/cases/{case.id}/escalate", json={"reason": "x"})
        .status_code
        == 404
    )
    publish(things["public"], people["cadre"])
    response = api_as(people["other_cadre"]).post(
        f"/api/v1/cases/{things['case'].id}/escalate", json={"reason": "x"}
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert things["case"].level == 1


# -- names in published minutes ------------------------------------------------------------


def test_published_minutes_mask_names_in_titles_and_descriptions(hehe, api_as, app):
    people, things = hehe
    item = things["item"]
    publish(
        things["public"],
        people["cadre"],
        notes={str(item.id): f"王**秀**兰、王&#31168;兰和[王秀](https://x.org)兰到场。{NAME}"},
    )
    resident = people["resident"]
    agenda = api_as(resident).get(f"/api/v1/sessions/{things['public'].id}/agenda").json
    assert agenda["items"][0]["title"] == "王**反映的楼道问题"
    minutes = api_as(resident).get(f"/api/v1/sessions/{things['public'].id}/minutes").json
    assert "秀" not in minutes["notes"][str(item.id)]
    assert "秀" not in minutes["html"][str(item.id)]
    client = signed_in(app, resident)
    html = client.get(f"/sessions/{things['public'].id}/minutes").get_data(as_text=True)
    for shown in ("王**反映的楼道问题", "王**家楼道", "王**反映楼道堆物", "物业联系王**清理"):
        assert shown in html
    assert NAME not in html and "秀" not in html
    page = client.get(f"/sessions/{things['public'].id}").get_data(as_text=True)
    assert "王**反映的楼道问题" in page and NAME not in page
    # The community's staff read the names.
    staff = api_as(people["cadre"]).get(f"/api/v1/sessions/{things['public'].id}/agenda").json
    assert staff["items"][0]["title"] == f"{NAME}反映的楼道问题"
