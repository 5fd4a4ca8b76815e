"""The sign-up, proxy, RSVP and check-in flows in a real browser (Debian's chromium)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from consult.attendance import links, operations
from consult.extensions import db
from consult.meetings.models import Attendance, Invitation, Registration

pytestmark = pytest.mark.browser


def _sign_in(page, user):
    page.goto("/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", "secret-pw")
    page.locator("form:has(input[name=password]) [type=submit]").click()
    page.wait_for_load_state()


def test_resident_signs_up_waits_and_cancels(page, factories):
    meeting = factories.make_meeting(capacity=1, title="周五说事日")
    operations.sign_up(meeting, factories.make_user())
    db.session.commit()
    resident = factories.make_user(name="王芳")
    _sign_in(page, resident)
    page.goto(f"/sessions/{meeting.id}")
    page.click("[data-action=sign-up]")
    assert (
        page.locator("[data-mine=waitlisted]")
        .inner_text()
        .strip()
        .endswith("Waiting list, number 1")
    )
    page.click("[data-action=cancel]")
    # A page (no script) says what will happen and asks to confirm.
    page.wait_for_selector("[data-confirm]")
    page.click("[data-action=confirm]")
    page.wait_for_selector("[data-action=sign-up]")
    db.session.rollback()  # end the test's read snapshot: the server wrote meanwhile
    registration = db.session.scalar(
        select(Registration).where(Registration.user_id == resident.id)
    )
    assert registration.status == "cancelled"


def test_cadre_signs_up_someone_at_the_desk_and_gets_a_slip(page, factories):
    meeting = factories.make_meeting(capacity=5)
    _sign_in(page, factories.make_user(role="cadre"))
    page.goto(f"/sessions/{meeting.id}")
    page.click("text=Sign up someone at the desk")
    page.fill("input[name=name]", "赵敏")
    page.fill("input[name=phone]", "12345")
    page.click("form[data-form=proxy] [type=submit]")
    assert page.locator(".invalid-feedback").first.is_visible()
    assert page.input_value("input[name=name]") == "赵敏"
    page.fill("input[name=phone]", "0936-6621188")
    page.click("form[data-form=proxy] [type=submit]")
    page.wait_for_selector("[data-qr=checkin]")
    assert "赵敏" in page.inner_text("[data-name]")
    # The QR image is a real, decodable picture of the right size.
    assert page.eval_on_selector("[data-qr=checkin]", "img => img.naturalWidth") > 0


def test_invitee_answers_and_secretary_checks_in(page, factories, live_server):
    meeting = factories.make_meeting(kind="joint_meeting", starts_in=timedelta(hours=1))
    invitation = factories.make_invitation(meeting, name="马建国")
    page.goto(links.rsvp_url(invitation, "DECLINED").removeprefix("http://consult.test"))
    page.click("[data-answer=DECLINED]")
    page.wait_for_selector("[data-partstat=DECLINED]")
    db.session.rollback()
    assert db.session.get(Invitation, invitation.id).partstat == "DECLINED"

    registration = operations.sign_up(meeting, factories.make_user(name="张伟"))
    db.session.commit()
    path = links.checkin_url(registration).removeprefix("http://consult.test")
    _sign_in(page, factories.make_user(role="secretary"))
    page.goto(path)
    page.click("[data-action=check-in]")
    page.wait_for_selector("text=is checked in")
    db.session.rollback()
    assert db.session.scalar(select(Attendance.status)) == "present"
