"""Mail read from a real SMTP server: confirmations, promotions, and RSVP links that work."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from consult.extensions import db
from consult.meetings.models import Invitation, Registration
from tests.conftest import csrf_token_from


@pytest.fixture
def app_config(app_config, smtp_server):
    return {**app_config, "SMTP_HOST": smtp_server.host, "SMTP_PORT": smtp_server.port}


def _send(runner):
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    return result


def _text(message) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content()


def _to(message) -> str:
    return message["To"].addresses[0].addr_spec


def _url(api_path: str, meeting) -> str:
    return api_path.format(m=meeting.id)


def test_waitlist_promotion_is_told_by_mail(api_as, factories, runner, smtp_server):
    meeting = factories.make_meeting(capacity=1, title="周五说事日")
    first = factories.make_user(email="first@example.org")
    second = factories.make_user(email="second@example.org")
    third = factories.make_user(email="third@example.org")
    path = f"/api/v1/sessions/{meeting.id}/registrations"
    mine = api_as(first).post(path).get_json()
    assert api_as(second).post(path).get_json()["position"] == 1
    assert api_as(third).post(path).get_json()["position"] == 2
    _send(runner)
    received = smtp_server.received()
    # Only the person with a place is confirmed; the waiting are told their number on the
    # waiting list, not that they have a place (no check-in code).
    confirmations = [m for m in received if _to(m) == "first@example.org"]
    waiting = sorted((m for m in received if _to(m) != "first@example.org"), key=_to)
    assert len(confirmations) == 1
    assert [_to(m) for m in waiting] == ["second@example.org", "third@example.org"]
    for number, message in enumerate(waiting, start=1):
        assert "waiting list" in message["Subject"] and "周五说事日" in message["Subject"]
        text = _text(message)
        assert f"number {number} on its waiting list" in text
        assert "/checkin/" not in text and "confirmed" not in text
    body = _text(confirmations[0])
    assert "周五说事日" in confirmations[0]["Subject"]
    assert "http://consult.test/checkin/" in body
    attachments = {part.get_content_type() for part in confirmations[0].walk()}
    assert {"text/calendar", "image/png"} <= attachments

    assert api_as(first).delete(f"/api/v1/registrations/{mine['id']}").status_code == 204
    _send(runner)
    after = smtp_server.received()[len(received) :]
    # The one who cancelled is told so; the first waiting is promoted and told so; the
    # one still waiting hears nothing.
    cancelled = [m for m in after if _to(m) == "first@example.org"]
    promoted = [m for m in after if _to(m) != "first@example.org"]
    assert len(cancelled) == 1 and "cancelled" in cancelled[0]["Subject"]
    assert "/checkin/" not in _text(cancelled[0])
    assert [_to(m) for m in promoted] == ["second@example.org"]
    assert "周五说事日" in promoted[0]["Subject"]
    assert "http://consult.test/checkin/" in _text(promoted[0])
    registration = db.session.scalar(select(Registration).where(Registration.user_id == second.id))
    assert registration.status == "confirmed"
    # Delivered once: sending again delivers nothing new.
    _send(runner)
    assert len(smtp_server.received()) == len(received) + len(after)


def test_check_in_link_in_the_mail_checks_the_person_in(
    client, api_as, login_as, factories, runner, smtp_server
):
    from datetime import timedelta

    meeting = factories.make_meeting(capacity=5, starts_in=timedelta(hours=2))
    resident = factories.make_user(email="wang@example.org", name="王芳")
    api_as(resident).post(f"/api/v1/sessions/{meeting.id}/registrations")
    _send(runner)
    # The confirmation (and, this close to the start, the reminder) carry the link.
    found = [
        re.search(r"http://consult\.test(/checkin/\S+)", _text(m)) for m in smtp_server.received()
    ]
    assert found and all(found)
    link = found[0].group(1)
    login_as(factories.make_user(role="secretary"))
    page = client.get(link)
    assert page.status_code == 200 and "王芳" in page.get_data(as_text=True)
    client.post(link, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert "is checked in" in client.get(link).get_data(as_text=True)


@pytest.mark.parametrize(("button", "partstat"), [("accept", "ACCEPTED"), ("decline", "DECLINED")])
def test_rsvp_link_from_the_invitation_mail_records_the_answer(
    client, api_as, login_as, factories, runner, smtp_server, button, partstat
):
    meeting = factories.make_meeting(kind="joint_meeting", title="联席会议")
    cadre = factories.make_user(role="cadre")
    response = api_as(cadre).post(
        f"/api/v1/sessions/{meeting.id}/invitations", json={"emails": ["rep@unit.example.org"]}
    )
    assert response.status_code == 202, response.get_json()
    _send(runner)
    (message,) = [m for m in smtp_server.received() if _to(m) == "rep@unit.example.org"]
    links = re.findall(r"http://consult\.test(/rsvp/\S+)", _text(message))
    assert len(links) >= 2
    # The links carry their answer; the first is to accept, the second to decline.
    link = links[0] if button == "accept" else links[1]
    page = client.get(link)
    assert page.status_code == 200 and "联席会议" in page.get_data(as_text=True)
    invitation = db.session.scalar(select(Invitation))
    assert invitation.partstat == "NEEDS-ACTION"  # opening the link changes nothing
    token = csrf_token_from(page.get_data(as_text=True))
    assert client.post(link, data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    invitation = db.session.get(Invitation, invitation.id)
    assert invitation.partstat == partstat and invitation.responded_at is not None
    # The organiser sees the answer on the session page.
    login_as(cadre)
    html = client.get(f"/sessions/{meeting.id}").get_data(as_text=True)
    assert f'data-partstat="{partstat}"' in html
