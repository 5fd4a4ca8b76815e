"""Calendar replies that come back by mail: `flask mail receive`, MAIL_REPLY_TO, and the
invitees' answers in GET /api/v1/sessions/<id>/invitations.

Invitations are delivered to a real SMTP server and read back with Python's email
package as a mail client would; the reply is what a calendar client makes of the
REQUEST (METHOD:REPLY, the attendee's PARTSTAT), piped to the command as a mail server's
alias does.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr

import pytest
from icalendar import Calendar, vCalAddress

from consult import create_app
from consult.extensions import db
from consult.meetings.models import Invitation
from tests.calendar.helpers import itip_calendar, vevents

REPLY_TO = "replies@hehe.example.org"


@pytest.fixture
def replies_on(app):
    app.config["MAIL_REPLY_TO"] = f"和合社区 <{REPLY_TO}>"
    return app


def invite(api, meeting, email, **extra):
    response = api.post(
        f"/api/v1/sessions/{meeting.id}/invitations", json={"emails": [email], **extra}
    )
    assert response.status_code == 202, response.get_json()


def reply_to(
    invitation_mail: EmailMessage,
    partstat: str,
    sender: str | None = None,
    attendee: str | None = None,
    sequence_delta: int = 0,
    as_attachment: bool = False,
) -> bytes:
    """What a calendar client sends when the invitee presses Accept, Maybe or Decline."""
    request = itip_calendar(invitation_mail)
    address = attendee or str(invitation_mail["To"]).split("<")[-1].rstrip(">")
    reply = Calendar()
    reply.add("prodid", "-//Test client//EN")
    reply.add("version", "2.0")
    reply.add("method", "REPLY")
    for event in vevents(request):
        answer = type(event)()
        for name in ("UID", "DTSTAMP", "DTSTART", "RECURRENCE-ID", "ORGANIZER"):
            if name in event:
                answer[name] = event[name]
        answer.add("sequence", int(event.get("SEQUENCE", 0)) + sequence_delta)
        person = vCalAddress(f"mailto:{address}")
        person.params["PARTSTAT"] = partstat
        answer.add("attendee", person)
        reply.add_component(answer)
    msg = EmailMessage()
    msg["From"] = formataddr(("王芳", sender or address))
    msg["To"] = str(event["ORGANIZER"]).removeprefix("mailto:")
    msg["Subject"] = f"Accepted: {invitation_mail['Subject']}"
    msg.set_content("I will come.")
    data = reply.to_ical()
    if as_attachment:
        msg.add_attachment(data, "application", "ics", filename="invite.ics")
    else:
        msg.add_alternative(data, "text", "calendar", params={"method": "REPLY"})
    return msg.as_bytes()


def receive(runner, raw: bytes):
    return runner.invoke(args=["mail", "receive"], input=raw)


def partstats(api, meeting) -> dict:
    response = api.get(f"/api/v1/sessions/{meeting.id}/invitations")
    assert response.status_code == 200, response.get_json()
    return {item["email"]: item["partstat"] for item in response.get_json()["items"]}


def test_with_mail_reply_to_invitations_ask_for_replies_to_it(
    replies_on, factories, api_as, mailbox
):
    cadre = factories.make_user("cadre", name="李明")
    meeting = factories.make_meeting(organiser=cadre)
    invite(api_as(cadre), meeting, "wang.fang@example.org")
    (msg,) = mailbox.send()
    assert REPLY_TO in str(msg["Reply-To"])
    (event,) = vevents(itip_calendar(msg))
    # Clients send their REPLY to the ORGANIZER: the reply address, named as the cadre.
    assert str(event["ORGANIZER"]) == f"mailto:{REPLY_TO}"
    assert event["ORGANIZER"].params["CN"] == "李明"
    assert event["ATTENDEE"].params["RSVP"] == "TRUE"


def test_a_calendar_reply_records_the_answer_like_the_signed_link(
    replies_on, factories, api_as, mailbox, runner
):
    cadre = factories.make_user("cadre")
    api = api_as(cadre)
    meeting = factories.make_meeting(organiser=cadre)
    invite(api, meeting, "wang.fang@example.org")
    invite(api, meeting, "li.na@example.org")
    sent = {str(m["To"]).split("<")[-1].rstrip(">"): m for m in mailbox.send()}
    assert partstats(api, meeting) == {
        "wang.fang@example.org": "NEEDS-ACTION",
        "li.na@example.org": "NEEDS-ACTION",
    }
    result = receive(runner, reply_to(sent["wang.fang@example.org"], "ACCEPTED"))
    assert result.exit_code == 0, result.output
    # The same REPLY as an attachment only (as some webmail sends it) works too.
    result = receive(runner, reply_to(sent["li.na@example.org"], "TENTATIVE", as_attachment=True))
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert partstats(api, meeting) == {
        "wang.fang@example.org": "ACCEPTED",
        "li.na@example.org": "TENTATIVE",
    }
    answered = db.session.scalar(
        db.select(Invitation).where(Invitation.email == "wang.fang@example.org")
    )
    assert answered.responded_at is not None


@pytest.mark.parametrize(
    "case", ["other sender", "other attendee", "older sequence", "not an answer"]
)
def test_replies_that_are_not_the_invitees_answer_change_nothing(
    replies_on, factories, api_as, mailbox, runner, case
):
    cadre = factories.make_user("cadre")
    api = api_as(cadre)
    meeting = factories.make_meeting(organiser=cadre)
    invite(api, meeting, "wang.fang@example.org")
    (msg,) = mailbox.send()
    if case == "older sequence":
        meeting.sequence = 2
        db.session.commit()
    raw = {
        "other sender": lambda: reply_to(msg, "DECLINED", sender="mallory@example.org"),
        "other attendee": lambda: reply_to(
            msg, "DECLINED", sender="mallory@example.org", attendee="mallory@example.org"
        ),
        "older sequence": lambda: reply_to(msg, "DECLINED"),
        "not an answer": lambda: reply_to(msg, "DELEGATED"),
    }[case]()
    result = receive(runner, raw)
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert partstats(api, meeting) == {"wang.fang@example.org": "NEEDS-ACTION"}


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not a mail at all \x00\xff",
        b"From: a@example.org\r\nSubject: hello\r\n\r\nJust text.\r\n",
        (
            b"From: a@example.org\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n"
            b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:nobody@x\r\n"
            b"ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        ),
        (
            b"From: a@example.org\r\nContent-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n"
            b"BEGIN:VEVENT\r\nDTSTART:broken\r\n"
        ),
    ],
    ids=["empty", "binary", "plain mail", "unknown uid", "broken calendar"],
)
def test_anything_else_is_logged_and_ignored_with_exit_0(app, runner, raw):
    result = receive(runner, raw)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_a_whole_series_invitation_is_answered_by_a_reply_to_the_series(
    replies_on, factories, api_as, mailbox, runner
):
    cadre = factories.make_user("cadre")
    api = api_as(cadre)
    series, weeks = factories.make_calendar_series()
    invite(api, weeks[0], "wang.fang@example.org")
    (msg,) = mailbox.send()
    assert receive(runner, reply_to(msg, "DECLINED")).exit_code == 0
    db.session.expire_all()
    assert partstats(api, weeks[3]) == {"wang.fang@example.org": "DECLINED"}


def test_an_unreachable_database_exits_non_zero_so_the_mail_server_retries(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x")
    unreachable = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "TESTING": True,
        }
    )
    raw = (
        b"From: a@example.org\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n"
        b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:x@y\r\n"
        b"ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org\r\nEND:VEVENT\r\n"
        b"END:VCALENDAR\r\n"
    )
    result = unreachable.test_cli_runner().invoke(args=["mail", "receive"], input=raw)
    assert result.exit_code == 75
    assert "Traceback" not in result.output


def test_without_mail_reply_to_nobody_is_asked_to_reply_and_cancel_asks_none(
    app, factories, api_as, mailbox
):
    cadre = factories.make_user("cadre")
    api = api_as(cadre)
    meeting = factories.make_meeting(organiser=cadre)
    invite(api, meeting, "wang.fang@example.org")
    (msg,) = mailbox.send()
    (event,) = vevents(itip_calendar(msg))
    assert event["ATTENDEE"].params["RSVP"] == "FALSE"
    assert str(event["ORGANIZER"]) == f"mailto:{cadre.email}"
    text = msg.get_body(("plain",)).get_content()
    assert "http://consult.test/rsvp/" in text  # the signed links instead
    app.config["MAIL_REPLY_TO"] = REPLY_TO
    assert api.post(f"/api/v1/sessions/{meeting.id}/cancel", json={}).status_code == 200
    (cancel,) = mailbox.send()[1:]
    (event,) = vevents(itip_calendar(cancel))
    assert event["ATTENDEE"].params["RSVP"] == "FALSE"


def test_the_invitations_list_is_for_staff(app, factories, api_as):
    meeting = factories.make_meeting()
    factories.make_invitation(
        meeting, email="wang.fang@example.org", name="王芳", partstat="ACCEPTED"
    )
    for role, status in (("secretary", 200), ("cadre", 200), ("resident", 403), ("unit_rep", 403)):
        response = api_as(factories.make_user(role)).get(
            f"/api/v1/sessions/{meeting.id}/invitations"
        )
        assert response.status_code == status, role
    body = (
        api_as(factories.make_user("admin"))
        .get(f"/api/v1/sessions/{meeting.id}/invitations")
        .get_json()
    )
    assert body == {
        "items": [{"email": "wang.fang@example.org", "name": "王芳", "partstat": "ACCEPTED"}]
    }
    assert (
        api_as(factories.make_user("admin")).get("/api/v1/sessions/0/invitations").status_code
        == 404
    )


def test_the_invitations_list_shows_answers_by_link_and_by_calendar_reply(
    replies_on, client, factories, api_as, mailbox, runner
):
    import re

    from tests.conftest import csrf_token_from

    cadre = factories.make_user("cadre")
    api = api_as(cadre)
    meeting = factories.make_meeting(organiser=cadre)
    invite(api, meeting, "wang.fang@example.org")
    invite(api, meeting, "li.na@example.org")
    sent = {str(m["To"]).split("<")[-1].rstrip(">"): m for m in mailbox.send()}
    # One answers with the signed link in the text of the mail...
    text = sent["li.na@example.org"].get_body(("plain",)).get_content()
    decline = re.findall(r"http://consult\.test(/rsvp/\S+)", text)[1]
    token = csrf_token_from(client.get(decline).get_data(as_text=True))
    assert client.post(decline, data={"csrf_token": token}).status_code == 302
    # ...the other with the calendar client's Accept button.
    assert receive(runner, reply_to(sent["wang.fang@example.org"], "ACCEPTED")).exit_code == 0
    db.session.expire_all()
    assert partstats(api, meeting) == {
        "wang.fang@example.org": "ACCEPTED",
        "li.na@example.org": "DECLINED",
    }
