"""Recording a vote and adding a channel in a real browser (Debian's chromium)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from consult.extensions import db
from consult.notices.models import Channel
from consult.votes.models import Vote

pytestmark = pytest.mark.browser


def _sign_in(page, user):
    page.goto("/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", "secret-pw")
    page.locator("form:has(input[name=password]) [type=submit]").click()
    page.wait_for_load_state()


def test_secretary_is_refused_without_quorum_then_records_the_vote(page, held, factories):
    meeting, item, present = held("deliberation", invited=3, present=1)
    _sign_in(page, factories.make_user("secretary"))
    page.goto(f"/sessions/{meeting.id}/minutes")
    page.click(f"#vote-links a[href='/agenda/{item.id}/vote']")
    page.fill("input[name=votes_for]", "1")
    page.click("form [type=submit]:has-text('Record the vote')")
    assert "No quorum: 1 present, 2 needed." in page.locator("#vote-errors").inner_text()

    # The two others arrive and are recorded present; now the vote is taken by name.
    from consult.meetings.models import Attendance, Invitation

    for invitation in db.session.scalars(
        select(Invitation).where(
            Invitation.meeting_id == meeting.id, Invitation.user_id != present[0].id
        )
    ):
        db.session.add(
            Attendance(meeting_id=meeting.id, invitation_id=invitation.id, status="late")
        )
    db.session.commit()
    page.goto(f"/agenda/{item.id}/vote")
    page.check("input[name=method][value=ballots]")
    selects = page.locator("#ballots select")
    assert selects.count() == 3
    for n, choice in enumerate(("for", "for", "against")):
        selects.nth(n).select_option(choice)
    page.click("form [type=submit]:has-text('Record the vote')")
    page.wait_for_selector(f"#item-{item.id} [data-vote=carried]")
    assert "2 for, 1 against, 0 abstaining" in page.locator(f"#item-{item.id}").inner_text()
    db.session.rollback()
    vote = db.session.scalar(select(Vote))
    assert (vote.method, vote.result, vote.quorum_present) == ("ballots", "carried", 3)


def test_admin_adds_a_channel_and_sees_it_masked(page, factories):
    factories.make_community("Hehe")
    _sign_in(page, factories.make_user("admin"))
    page.goto("/admin/channels/new")
    page.select_option("select[name=kind]", "dingtalk")
    page.select_option("select[name=community]", label="Hehe")
    page.fill(
        "input[name=url]",
        "https://oapi.dingtalk.example.invalid/robot/send?access_token=0123456789abcdef",
    )
    page.fill("input[name=secret]", "SEC0123456789abcdef0123")
    page.click("form [type=submit]:has-text('Save')")
    row = page.locator("#channels tbody tr").first
    text = row.inner_text()
    assert "oapi.dingtalk.example.invalid" in text and "0123456789ab" not in text
    db.session.rollback()
    channel = db.session.scalar(select(Channel))
    assert channel.secret == "SEC0123456789abcdef0123"
