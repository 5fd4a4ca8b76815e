"""The vote page, the vote in the minutes (page and print), and the quorum rules page."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from consult.extensions import db
from consult.votes.models import Ballot, QuorumRule, Vote
from consult.votes.rules import DEFAULTS, Rule
from tests.conftest import csrf_token_from


def open_vote_page(client, item):
    page = client.get(f"/agenda/{item.id}/vote")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_counts_on_the_page_then_the_minutes_show_the_result(held, client, login_as, factories):
    meeting, item, _ = held("deliberation", invited=6, present=4)
    login_as(factories.make_user("secretary"))
    html = open_vote_page(client, item)
    assert "4 present, 4 needed." in html
    response = client.post(
        f"/agenda/{item.id}/vote",
        data={
            "csrf_token": csrf_token_from(html),
            "method": "counts",
            "votes_for": "3",
            "votes_against": "1",
            "votes_abstain": "0",
        },
    )
    assert response.status_code == 302
    vote = db.session.scalar(select(Vote))
    assert (vote.votes_for, vote.votes_against, vote.result) == (3, 1, "carried")
    for url in (f"/sessions/{meeting.id}/minutes", f"/sessions/{meeting.id}/minutes/print"):
        minutes = client.get(url).get_data(as_text=True)
        assert 'data-vote="carried"' in minutes
        assert "3 for, 1 against, 0 abstaining" in minutes
    # A second vote is not offered, and not taken.
    again = client.get(f"/agenda/{item.id}/vote")
    assert again.status_code == 302


def test_no_quorum_says_so_on_the_form_and_saves_nothing(held, client, login_as, factories):
    _, item, _ = held("deliberation", invited=6, present=2)
    login_as(factories.make_user("secretary"))
    html = open_vote_page(client, item)
    assert "There is no quorum" in html
    response = client.post(
        f"/agenda/{item.id}/vote",
        data={
            "csrf_token": csrf_token_from(html),
            "method": "counts",
            "votes_for": "2",
            "votes_against": "0",
            "votes_abstain": "0",
        },
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No quorum: 2 present, 4 needed." in body
    assert db.session.scalar(select(func.count(Vote.id))) == 0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"votes_for": "-2"}, "cannot be negative"),
        ({"votes_for": "1.5"}, "Not a valid integer"),
        ({"votes_for": "9"}, "only 4 may vote"),
    ],
)
def test_bad_counts_on_the_form(held, client, login_as, factories, values, message):
    _, item, _ = held("deliberation", invited=6, present=4)
    login_as(factories.make_user("secretary"))
    html = open_vote_page(client, item)
    data = {
        "csrf_token": csrf_token_from(html),
        "method": "counts",
        "votes_for": "0",
        "votes_against": "0",
        "votes_abstain": "0",
        **values,
    }
    response = client.post(f"/agenda/{item.id}/vote", data=data)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Vote.id))) == 0


def test_votes_by_name_on_the_page(held, client, login_as, factories):
    _, item, present = held("roundtable", invited=4, present=3)
    login_as(factories.make_user("secretary"))
    html = open_vote_page(client, item)
    fields = [
        f"ballot_{a}"
        for a in sorted(int(part.split('"')[0]) for part in html.split('name="ballot_')[1:])
    ]
    assert len(fields) == 3
    response = client.post(
        f"/agenda/{item.id}/vote",
        data={
            "csrf_token": csrf_token_from(html),
            "method": "ballots",
            fields[0]: "for",
            fields[1]: "for",
            fields[2]: "",
        },
    )
    assert response.status_code == 302
    vote = db.session.scalar(select(Vote))
    assert (vote.method, vote.votes_for, vote.total, vote.result) == ("ballots", 2, 2, "carried")
    assert sorted(db.session.scalars(select(Ballot.user_id))) == sorted(u.id for u in present[:2])


def test_residents_cannot_open_the_vote_page(held, client, login_as, factories):
    _, item, _ = held("deliberation", invited=3, present=3)
    login_as(factories.make_user("resident"))
    assert client.get(f"/agenda/{item.id}/vote").status_code == 403


def test_admin_sets_and_resets_a_community_s_rule(client, login_as, factories):
    community = factories.make_community("Hehe")
    login_as(factories.make_user("admin"))
    page = client.get(f"/admin/communities/{community.id}/quorum")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-kind="joint_meeting"' in html
    token = csrf_token_from(html)
    url = f"/admin/communities/{community.id}/quorum/deliberation"
    client.post(
        url,
        data={
            "csrf_token": token,
            "deliberation-base": "expected",
            "deliberation-numerator": "3",
            "deliberation-denominator": "4",
            "deliberation-majority": "two_thirds",
        },
    )
    rule = db.session.scalar(select(QuorumRule))
    assert (rule.kind, rule.presence_numerator, rule.presence_denominator, rule.majority) == (
        "deliberation",
        3,
        4,
        "two_thirds",
    )
    refused = client.post(
        url,
        data={
            "csrf_token": token,
            "deliberation-base": "expected",
            "deliberation-numerator": "5",
            "deliberation-denominator": "4",
            "deliberation-majority": "simple",
        },
        follow_redirects=True,
    )
    assert "between none and all" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(QuorumRule.presence_numerator)) == 3
    # Back to the default: the community's own rule goes.
    client.post(
        url,
        data={
            "csrf_token": token,
            "deliberation-base": "expected",
            "deliberation-numerator": "2",
            "deliberation-denominator": "3",
            "deliberation-majority": "simple",
        },
    )
    assert db.session.scalar(select(func.count(QuorumRule.id))) == 0


def test_only_admins_change_quorum_rules(client, login_as, factories):
    community = factories.make_community("Hehe")
    assert client.get(f"/admin/communities/{community.id}/quorum").status_code == 302
    login_as(factories.make_user("cadre"))
    assert client.get(f"/admin/communities/{community.id}/quorum").status_code == 403
    assert client.post(
        f"/admin/communities/{community.id}/quorum/deliberation", data={}
    ).status_code in (400, 403)
    assert db.session.scalar(select(func.count(QuorumRule.id))) == 0


@pytest.mark.parametrize(
    ("rule", "members", "required"),
    [
        (DEFAULTS["deliberation"], 6, 4),
        (DEFAULTS["deliberation"], 7, 5),
        (DEFAULTS["deliberation"], 0, 1),
        (DEFAULTS["joint_meeting"], 5, 3),
        (DEFAULTS["mediation"], 2, 2),
        (DEFAULTS["friday_talk"], 40, 1),
    ],
)
def test_presence_required(rule: Rule, members, required):
    assert rule.required(members) == required


@pytest.mark.parametrize(
    ("majority", "counts", "carried"),
    [
        ("simple", (3, 2, 5), True),
        ("simple", (2, 2, 0), False),
        ("simple", (0, 0, 3), False),
        ("two_thirds", (4, 2, 0), True),
        ("two_thirds", (4, 3, 0), False),
        ("unanimous", (5, 0, 2), True),
        ("unanimous", (5, 1, 0), False),
    ],
)
def test_what_carries_a_vote(majority, counts, carried):
    assert Rule("x", "expected", 1, 2, majority).carried(*counts) is carried
