"""The whole chain in the browser's pages: a resident's concern at Friday Talk Day, an issue,
a joint meeting's agenda, minutes, a resolution that closes the case, an action done by the
partner unit, published minutes and the representatives' evaluation."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import g
from sqlalchemy import select

from consult.cases.models import Case, Issue
from consult.extensions import db
from consult.minutes.models import ActionItem, AgendaItem, Resolution
from tests.conftest import csrf_token_from, login


class Browser:
    """One test client, signed in as one person at a time, following links like a person."""

    def __init__(self, client):
        self.client = client
        self.signed_in = False
        self.page = ""

    def sign_in(self, user):
        if self.signed_in:
            self.post("/logout", {})
        # Requests of this thread share the test's application context (and ``g``).
        for key in list(g):
            g.pop(key)
        response = login(self.client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        self.signed_in = True

    def get(self, url, status=200) -> str:
        response = self.client.get(url)
        assert response.status_code == status, (url, response.status_code)
        self.page = response.get_data(as_text=True)
        return self.page

    def post(self, url, data) -> str:
        if 'name="csrf_token"' not in self.page:
            self.get("/")
        token = csrf_token_from(self.page)
        response = self.client.post(url, data={"csrf_token": token, **data}, follow_redirects=True)
        assert response.status_code in (200, 302), (url, response.status_code)
        self.page = response.get_data(as_text=True)
        return self.page

    def link(self, pattern: str) -> str:
        """Return the first href on the current page matching ``pattern``."""
        match = re.search(rf'href="({pattern})"', self.page)
        assert match, f"no link like {pattern}"
        return match.group(1).replace("&amp;", "&")


def test_from_a_friday_talk_concern_to_a_closed_case(app, client, factories):
    cadre = factories.make_user("cadre", name="刘书记")
    secretary = factories.make_user("secretary", name="陈秘书")
    unit = factories.make_unit("和合物业服务有限公司", kind="property_company")
    rep_of_unit = factories.make_user("unit_rep", name="物业孙经理")
    rep_of_unit.unit_id = unit.id
    representatives = [
        factories.make_user(representative=True, name=n) for n in ("赵敏", "钱伟", "孙丽")
    ]
    resident = factories.make_user(name="周海燕")
    db.session.commit()
    community = factories.make_community("Hehe")
    friday = factories.make_meeting(
        community, kind="friday_talk", title="周五说事", starts_in=timedelta(hours=-1)
    )
    # The joint meeting has begun: its resolutions close cases (only a session that has
    # started may).
    joint = factories.make_meeting(
        community, kind="joint_meeting", title="联盟联席会议", starts_in=timedelta(minutes=-30)
    )
    browser = Browser(client)

    # 1. At Friday Talk Day the secretary records what a resident raised.
    browser.sign_in(secretary)
    browser.get(f"/sessions/{friday.id}")
    new_case_url = browser.link(r"/cases/new\?session=\d+")
    browser.get(new_case_url)
    browser.post(
        new_case_url,
        {
            "title": "小区缺少充电桩",
            "category": "concern",
            "description": "居民私拉电线给电动车充电，存在安全隐患。",
            "reporter": "王秀兰",
        },
    )
    case = db.session.scalar(select(Case))
    assert (case.source, case.meeting_id, case.status, case.level) == (
        "session",
        friday.id,
        "open",
        1,
    )

    # 2. The case becomes an issue for the joint meeting.
    browser.get(f"/cases/{case.id}")
    issue_url = browser.link(r"/issues/new\?[^\"]+")
    browser.get(issue_url)
    browser.post(issue_url, {"title": "电动车充电安全", "cases": [case.id]})
    issue = db.session.scalar(select(Issue))
    assert [c.id for c in issue.cases] == [case.id]

    # 3. The secretary builds the joint meeting's agenda from the backlog.
    browser.get(f"/sessions/{joint.id}")
    browser.get(browser.link(rf"/sessions/{joint.id}/agenda"))
    assert f'data-issue="{issue.id}"' in browser.page
    browser.post(f"/sessions/{joint.id}/agenda/add", {"issue": issue.id})
    item = db.session.scalar(select(AgendaItem))
    assert item.issue_id == issue.id

    # 4. Minutes and the resolution, written during the meeting.
    browser.get(f"/sessions/{joint.id}/minutes/edit")
    version = re.search(r'name="version"[^>]*value="(\d+)"', browser.page).group(1)
    browser.post(
        f"/sessions/{joint.id}/minutes/edit",
        {
            "version": version,
            f"note_{item.id}": "王秀兰介绍情况。物业公司同意在3号楼旁建设集中充电桩。",
        },
    )
    browser.get(browser.link(rf"/agenda/{item.id}/resolution"))
    browser.post(
        f"/agenda/{item.id}/resolution",
        {
            "text": "由物业公司在三十日内建设集中充电桩，社区监督。",
            "outcome": "resolved",
            "closes_cases": [case.id],
            "referred_unit": "0",
            "actions-0-description": "建设集中充电桩",
            "actions-0-unit": str(unit.id),
            "actions-0-assignee": "0",
            "actions-0-due_on": "2026-12-31",
            "actions-1-unit": "0",
            "actions-1-assignee": "0",
            "actions-2-unit": "0",
            "actions-2-assignee": "0",
        },
    )
    resolution = db.session.scalar(select(Resolution))
    assert resolution is not None and [c.id for c in resolution.cases] == [case.id]

    # 5. The chair approves and publishes the minutes.
    browser.sign_in(cadre)
    browser.get(f"/sessions/{joint.id}/minutes")
    browser.post(f"/sessions/{joint.id}/minutes/approve", {})
    assert 'data-status="approved"' in browser.page
    browser.post(f"/sessions/{joint.id}/minutes/publish", {})
    assert 'data-status="published"' in browser.page

    # 6. The property company reports its action done.
    browser.sign_in(rep_of_unit)
    browser.get("/actions")
    action = db.session.scalar(select(ActionItem))
    assert f'data-action="{action.id}"' in browser.page
    browser.post(f"/actions/{action.id}/done", {"note": "充电桩已建成并投入使用"})

    # 7. A resident reads the published minutes, the reporter's name masked.
    browser.sign_in(resident)
    page = browser.get(f"/sessions/{joint.id}/minutes")
    assert "王**介绍情况" in page and "王秀兰" not in page
    assert f'data-closed-case="{case.id}"' in page

    # 8. The residents' representatives evaluate the result; the quorum closes it.
    for representative in representatives:
        browser.sign_in(representative)
        browser.get(f"/issues/{issue.id}")
        browser.post(f"/issues/{issue.id}/evaluate", {"rating": "satisfied", "comment": "满意"})
    db.session.expire_all()
    issue = db.session.get(Issue, issue.id)
    case = db.session.get(Case, case.id)
    assert issue.status == "closed" and case.status == "closed"

    # 9. The case page tells the whole story.
    browser.sign_in(cadre)
    page = browser.get(f"/cases/{case.id}")
    assert re.findall(r'data-event="(\w+)"', page) == ["created", "issue", "status", "status"]
    closed_by = page.split('id="closed-by"')[1].split("</div>\n    </div>")[0]
    assert f"Resolution {resolution.id}" in closed_by
    assert "联盟联席会议" in closed_by and f'data-session="{joint.id}"' in closed_by
    assert db.session.get(ActionItem, action.id).status == "done"
