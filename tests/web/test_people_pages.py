"""Residents find their own sessions and sign-ups; representatives find what to rate;
history lines are sentences in the reader's language."""

from __future__ import annotations

import re
from datetime import timedelta

from consult.accounts.operations import get_or_create_community
from consult.attendance.operations import sign_up
from consult.extensions import db
from tests.cases.builders import agenda_item, new_case, new_issue, resolve
from tests.conftest import csrf_token_from, login


def test_the_home_page_shows_ones_own_community_first(app, client, login_as, factories):
    hehe, north = factories.make_community("Hehe"), factories.make_community("城北社区")
    soon_elsewhere = [
        factories.make_meeting(north, title=f"城北{n}", starts_in=timedelta(days=1, hours=n))
        for n in range(10)
    ]
    mine = factories.make_meeting(hehe, title="和合周五说事", starts_in=timedelta(days=9))
    login_as(factories.make_user(community="Hehe"))
    page = client.get("/").get_data(as_text=True)
    listed = page.split('data-list="upcoming"')[1]
    assert "和合周五说事" in listed
    assert listed.index("和合周五说事") < listed.index(soon_elsewhere[0].title)
    # A visitor sees the soonest ones.
    visitor = app.test_client().get("/").get_data(as_text=True).split('data-list="upcoming"')[1]
    assert mine.title not in visitor and soon_elsewhere[0].title in visitor


def test_my_signups_lists_coming_waiting_and_past(client, login_as, factories):
    resident = factories.make_user()
    full = factories.make_meeting(capacity=1, title="满员议事")
    sign_up(full, factories.make_user(), None)
    waiting = sign_up(full, resident, resident)
    coming = factories.make_signup(factories.make_meeting(title="周五说事日"), resident)
    past = factories.make_signup(
        factories.make_meeting(title="上月圆桌会", starts_in=timedelta(days=-30)), resident
    )
    db.session.commit()
    login_as(resident)
    home = client.get("/").get_data(as_text=True)
    assert 'href="/me/signups"' in home
    page = client.get("/me/signups").get_data(as_text=True)
    upcoming = page.split('id="coming-signups"')[1].split('id="past-signups"')[0]
    assert "满员议事" in upcoming and 'data-position="1"' in upcoming
    assert "周五说事日" in upcoming
    assert f'href="/sessions/{coming.meeting_id}.ics"' in upcoming
    assert f'action="/registrations/{waiting.id}/cancel"' in upcoming
    assert "上月圆桌会" in page.split('id="past-signups"')[1]
    assert f'action="/registrations/{past.id}/cancel"' not in page
    # Cancelling from the list asks first, then comes back to the list.
    token = csrf_token_from(page)
    asked = client.post(
        f"/registrations/{coming.id}/cancel", data={"csrf_token": token, "next": "/me/signups"}
    )
    assert 'name="next" value="/me/signups"' in asked.get_data(as_text=True)
    done = client.post(
        f"/registrations/{coming.id}/cancel",
        data={"csrf_token": token, "next": "/me/signups", "confirmed": "1"},
    )
    assert done.headers["Location"].endswith("/me/signups")


def test_representatives_find_the_issues_to_rate(app, client, login_as, factories):
    cadre = factories.make_user("cadre")
    representative = factories.make_user(representative=True)
    case = new_case(cadre)
    issue = new_issue(cadre, [case], title="楼道治理")
    meeting = factories.make_meeting(kind="joint_meeting", starts_in=timedelta(hours=-2))
    item = agenda_item(meeting, cadre, issue)
    resolve(item, cadre, [case])
    get_or_create_community("城北社区")
    login_as(representative)
    home = client.get("/").get_data(as_text=True)
    assert 'href="/issues/to-rate"' in home
    page = client.get("/issues/to-rate").get_data(as_text=True)
    assert f'data-issue="{issue.id}"' in page and "楼道治理" in page
    minutes = client.get(f"/sessions/{meeting.id}/minutes")
    if minutes.status_code == 200:
        assert f'data-issue-link="{issue.id}"' in minutes.get_data(as_text=True)
    issue_page = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    client.post(
        f"/issues/{issue.id}/evaluate",
        data={"csrf_token": csrf_token_from(issue_page), "rating": "satisfied"},
    )
    assert f'data-issue="{issue.id}"' not in client.get("/issues/to-rate").get_data(as_text=True)
    # Others have no such menu entry.
    other = app.test_client()
    login(other, factories.make_user().email)
    assert 'href="/issues/to-rate"' not in other.get("/").get_data(as_text=True)


def test_history_reads_as_sentences_in_chinese(client, login_as, factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    meeting = factories.make_meeting(kind="joint_meeting", starts_in=timedelta(hours=-2))
    resolve(agenda_item(meeting, cadre, new_issue(cadre, [case])), cadre, [case])
    login_as(cadre)
    page = client.get(f"/cases/{case.id}?lang=zh_CN").get_data(as_text=True)
    shown = re.sub(r"<[^>]+>", " ", page.split('id="audit"')[1])
    assert "case.create" not in shown and "['open'" not in shown
    assert "状态：待办 → 已解决" in shown
