"""The vote API: quorum, refusals, documents."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from consult.audit.models import AuditEntry
from consult.extensions import db
from consult.votes.models import Ballot, Vote


def vote_count() -> int:
    return db.session.scalar(select(func.count(Vote.id)))


@pytest.fixture
def secretary_api(api_as, factories):
    return api_as(factories.make_user("secretary"))


def test_a_vote_by_counts(held, secretary_api):
    # Deliberation: 4 of 6 invited present = two thirds; 3 for, 1 against: carried.
    meeting, item, _ = held("deliberation", invited=6, present=4)
    response = secretary_api.post(
        f"/api/v1/agenda/{item.id}/vote", json={"for": 3, "against": 1, "abstain": 0}
    )
    assert response.status_code == 201, response.json
    assert response.json == {
        "result": "carried",
        "for": 3,
        "against": 1,
        "abstain": 0,
        "quorum": {"required": 4, "present": 4},
    }
    agenda = secretary_api.get(f"/api/v1/sessions/{meeting.id}/agenda").json["items"]
    assert agenda[0]["vote"] == response.json
    assert secretary_api.get(f"/api/v1/agenda/{item.id}").json["vote"] == response.json
    minutes = secretary_api.get(f"/api/v1/sessions/{meeting.id}/minutes").json
    assert minutes["votes"] == {str(item.id): response.json}
    assert db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("vote.%"))
    ).all() == ["vote.record"]


def test_the_issue_s_route_name_works_too(held, secretary_api):
    _, item, _ = held("deliberation", invited=3, present=3)
    response = secretary_api.post(
        f"/api/v1/agenda-items/{item.id}/vote", json={"for": 1, "against": 1, "abstain": 1}
    )
    assert response.status_code == 201
    assert response.json["result"] == "rejected"  # a tie is not a majority


def test_no_quorum_is_refused_and_nothing_is_saved(held, secretary_api):
    # 3 of 6 present: two thirds would be 4.
    _, item, _ = held("deliberation", invited=6, present=3)
    response = secretary_api.post(
        f"/api/v1/agenda/{item.id}/vote", json={"for": 3, "against": 0, "abstain": 0}
    )
    assert response.status_code == 409
    assert response.json["error"]["code"] == "no_quorum"
    assert "3 present, 4 needed" in response.json["error"]["message"]
    assert vote_count() == 0
    assert (
        db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action.like("vote.%")))
        == 0
    )


def test_a_second_vote_on_the_item_is_refused(held, secretary_api):
    _, item, _ = held("deliberation", invited=3, present=3)
    url = f"/api/v1/agenda/{item.id}/vote"
    assert secretary_api.post(url, json={"for": 2, "against": 1, "abstain": 0}).status_code == 201
    again = secretary_api.post(url, json={"for": 0, "against": 3, "abstain": 0})
    assert again.status_code == 409
    assert db.session.scalar(select(Vote.votes_for)) == 2 and vote_count() == 1


def test_a_vote_before_the_session_started_is_refused(held, secretary_api):
    _, item, _ = held("deliberation", invited=3, present=3, starts_in=timedelta(hours=2))
    response = secretary_api.post(
        f"/api/v1/agenda/{item.id}/vote", json={"for": 3, "against": 0, "abstain": 0}
    )
    assert response.status_code == 409 and vote_count() == 0


def test_a_vote_in_a_cancelled_session_is_refused(held, secretary_api):
    meeting, item, _ = held("deliberation", invited=3, present=3)
    meeting.status = "cancelled"
    db.session.commit()
    response = secretary_api.post(
        f"/api/v1/agenda/{item.id}/vote", json={"for": 3, "against": 0, "abstain": 0}
    )
    assert response.status_code == 409 and vote_count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"for": -1, "against": 0, "abstain": 0},
        {"for": 1.5, "against": 0, "abstain": 0},
        {"for": "2", "against": 0, "abstain": 0},
        {"for": True, "against": 0, "abstain": 0},
        {"for": 3, "against": 1, "abstain": 1},  # 5 votes, 4 present
        {"for": 10**30, "against": 0, "abstain": 0},
        {"for": 0, "against": 0, "abstain": 0},  # nobody voted
        {},
        {"for": 1, "votes": [{"user": 1, "choice": "for"}]},
        {"votes": []},
        {"votes": [{"user": 1, "choice": "maybe"}]},
        {"votes": [{"user": "1", "choice": "for"}]},
        {"yes": 3},
    ],
)
def test_bad_counts_are_422_and_save_nothing(held, secretary_api, body):
    _, item, _ = held("deliberation", invited=6, present=4)
    response = secretary_api.post(f"/api/v1/agenda/{item.id}/vote", json=body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "invalid"
    assert vote_count() == 0


def test_a_vote_by_name(held, secretary_api, factories):
    _, item, present = held("deliberation", invited=4, present=3)
    absent = factories.make_user("resident")
    url = f"/api/v1/agenda/{item.id}/vote"
    not_there = secretary_api.post(url, json={"votes": [{"user": absent.id, "choice": "for"}]})
    assert (
        not_there.status_code == 422
        and "not recorded present" in not_there.json["error"]["message"]
    )
    twice = secretary_api.post(
        url,
        json={
            "votes": [
                {"user": present[0].id, "choice": "for"},
                {"user": present[0].id, "choice": "for"},
            ]
        },
    )
    assert twice.status_code == 422
    assert vote_count() == 0
    response = secretary_api.post(
        url,
        json={
            "votes": [
                {"user": present[0].id, "choice": "for"},
                {"user": present[1].id, "choice": "against"},
                {"user": present[2].id, "choice": "abstain"},
            ]
        },
    )
    assert response.status_code == 201
    assert response.json == {
        "result": "rejected",
        "for": 1,
        "against": 1,
        "abstain": 1,
        "quorum": {"required": 3, "present": 3},
    }
    ballots = db.session.scalars(select(Ballot).order_by(Ballot.id)).all()
    assert [(b.user_id, b.choice) for b in ballots] == [
        (present[0].id, "for"),
        (present[1].id, "against"),
        (present[2].id, "abstain"),
    ]


def test_a_joint_meeting_counts_one_vote_per_unit_present(held, secretary_api, factories):
    units = [factories.make_unit(f"单位{n}") for n in range(3)]
    # Five representatives present, two of them from the same unit, one from none:
    # the 3 units invited are present.
    _, item, present = held(
        "joint_meeting", invited=5, present=5, units=[units[0], units[1], units[2], units[0], None]
    )
    url = f"/api/v1/agenda/{item.id}/vote"
    too_many = secretary_api.post(url, json={"for": 4, "against": 0, "abstain": 0})
    assert too_many.status_code == 422
    same_unit = secretary_api.post(
        url,
        json={
            "votes": [
                {"user": present[0].id, "choice": "for"},
                {"user": present[3].id, "choice": "for"},
            ]
        },
    )
    assert (
        same_unit.status_code == 422 and "one vote per unit" in same_unit.json["error"]["message"]
    )
    no_unit = secretary_api.post(url, json={"votes": [{"user": present[4].id, "choice": "for"}]})
    assert no_unit.status_code == 422
    response = secretary_api.post(
        url,
        json={
            "votes": [
                {"user": present[0].id, "choice": "for"},
                {"user": present[1].id, "choice": "for"},
                {"user": present[2].id, "choice": "against"},
            ]
        },
    )
    assert response.status_code == 201
    assert response.json["quorum"] == {"required": 2, "present": 3}
    assert response.json["result"] == "carried"
    assert db.session.scalars(select(Ballot.unit_id).order_by(Ballot.id)).all() == [
        units[0].id,
        units[1].id,
        units[2].id,
    ]


def test_a_joint_meeting_without_enough_units_has_no_quorum(held, secretary_api, factories):
    units = [factories.make_unit(f"单位{n}") for n in range(5)]
    # 5 units invited, 2 present: half would be 3.
    _, item, _ = held("joint_meeting", invited=5, present=2, units=units)
    response = secretary_api.post(
        f"/api/v1/agenda/{item.id}/vote", json={"for": 2, "against": 0, "abstain": 0}
    )
    assert response.status_code == 409 and response.json["error"]["code"] == "no_quorum"


def test_a_community_s_own_rule_applies(held, secretary_api, factories):
    from consult.votes.operations import set_quorum_rule

    community = factories.make_community("Hehe")
    set_quorum_rule(
        community,
        "deliberation",
        {"base": "expected", "numerator": 1, "denominator": 2, "majority": "two_thirds"},
        None,
    )
    db.session.commit()
    _, item, _ = held("deliberation", invited=6, present=3)
    response = secretary_api.post(
        f"/api/v1/agenda/{item.id}/vote", json={"for": 2, "against": 1, "abstain": 0}
    )
    assert response.status_code == 201
    assert response.json["quorum"] == {"required": 3, "present": 3}
    assert response.json["result"] == "carried"  # 2 for is twice 1 against


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 201), ("cadre", 201), ("secretary", 201), ("resident", 403), ("unit_rep", 403)],
)
def test_who_may_record_a_vote(held, api_as, factories, role, status):
    _, item, _ = held("deliberation", invited=3, present=3)
    response = api_as(factories.make_user(role)).post(
        f"/api/v1/agenda/{item.id}/vote", json={"for": 3, "against": 0, "abstain": 0}
    )
    assert response.status_code == status
    assert vote_count() == (status == 201)


@pytest.mark.parametrize("item_id", ["0", "999", "99999999999999999999999", "-1"])
def test_an_item_that_does_not_exist(secretary_api, item_id):
    response = secretary_api.post(
        f"/api/v1/agenda/{item_id}/vote", json={"for": 1, "against": 0, "abstain": 0}
    )
    assert response.status_code == 404


def test_the_vote_routes_are_documented(client):
    spec = client.get("/api/v1/openapi.json").json
    for path in ("/api/v1/agenda/{item_id}/vote", "/api/v1/agenda-items/{item_id}/vote"):
        post = spec["paths"][path]["post"]
        assert {"201", "409", "422"} <= set(post["responses"])
    schema = spec["components"]["schemas"]["Vote"]
    assert set(schema["properties"]) == {"result", "for", "against", "abstain", "quorum"}
