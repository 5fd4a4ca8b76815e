"""Invitations: POST /api/v1/sessions/<id>/invitations, the invitation page and panel,
and the messages as a real SMTP server receives them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from consult.extensions import db
from consult.mail.models import OutboxMessage
from consult.meetings.models import Invitation
from tests.calendar.helpers import itip_calendar, vevents
from tests.conftest import csrf_token_from


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def smtp(app, smtp_server, runner):
    app.config["SMTP_HOST"] = smtp_server.host
    app.config["SMTP_PORT"] = smtp_server.port

    def deliver():
        result = runner.invoke(args=["mail", "send"])
        assert result.exit_code == 0, result.output
        return smtp_server.received()

    return deliver


# -- the API -----------------------------------------------------------------------------


def test_invitations_are_queued_one_per_invitee(app, factories, api_as):
    meeting = factories.make_meeting()
    response = api_as(factories.make_user("cadre")).post(
        f"/api/v1/sessions/{meeting.id}/invitations",
        json={"emails": ["wang.fang@example.org", "Li.Qiang@Example.org", "wang.fang@example.org"]},
    )
    assert response.status_code == 202
    assert response.get_json() == {"queued": 2}
    emails = set(db.session.scalars(select(Invitation.email)))
    assert emails == {"wang.fang@example.org", "li.qiang@example.org"}
    rows = db.session.scalars(select(OutboxMessage)).all()
    assert sorted(r.recipients for r in rows) == ["li.qiang@example.org", "wang.fang@example.org"]
    assert {r.kind for r in rows} == {"invitation"}
    assert {r.status for r in rows} == {"queued"}


def test_inviting_again_resends_without_a_second_invitation(app, factories, api_as):
    meeting = factories.make_meeting()
    api = api_as(factories.make_user("admin"))
    url = f"/api/v1/sessions/{meeting.id}/invitations"
    assert api.post(url, json={"emails": ["wang.fang@example.org"]}).status_code == 202
    assert api.post(url, json={"emails": ["WANG.FANG@example.org"]}).status_code == 202
    assert count(Invitation) == 1
    assert count(OutboxMessage) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"emails": ["wang.fang@example.org", "not-an-address"]},
        {"emails": ["wang.fang@example.org", "a@b@c.org"]},
        {"emails": [""]},
        {"emails": []},
        {"emails": "wang.fang@example.org"},
        {"emails": [3]},
        {},
        {"emails": ["wang.fang@example.org"], "extra": 1},
        {"emails": ["wang.fang@example.org"], "units": ["1"]},
        {"units": [999]},
    ],
)
def test_bad_input_is_422_and_nothing_is_queued(app, factories, api_as, body):
    meeting = factories.make_meeting()
    response = api_as(factories.make_user("cadre")).post(
        f"/api/v1/sessions/{meeting.id}/invitations", json=body
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid"
    assert response.get_json()["error"]["fields"]
    assert count(Invitation) == 0
    assert count(OutboxMessage) == 0


def test_unknown_or_invisible_session_is_404(app, factories, api_as):
    cadre = factories.make_user("cadre")
    assert (
        api_as(cadre)
        .post("/api/v1/sessions/999/invitations", json={"emails": ["a@example.org"]})
        .status_code
        == 404
    )
    assert (
        api_as(cadre)
        .post("/api/v1/sessions/99999999999/invitations", json={"emails": ["a@example.org"]})
        .status_code
        == 404
    )
    private = factories.make_meeting(kind="mediation")
    resident = factories.make_user("resident")
    response = api_as(resident).post(
        f"/api/v1/sessions/{private.id}/invitations", json={"emails": ["a@example.org"]}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["resident", "secretary", "unit_rep"])
def test_only_admins_and_cadres_invite(app, factories, api_as, role):
    meeting = factories.make_meeting()
    response = api_as(factories.make_user(role)).post(
        f"/api/v1/sessions/{meeting.id}/invitations", json={"emails": ["a@example.org"]}
    )
    assert response.status_code == 403
    assert count(OutboxMessage) == 0


def test_invitations_need_a_token(app, client, factories):
    meeting = factories.make_meeting()
    response = client.post(
        f"/api/v1/sessions/{meeting.id}/invitations", json={"emails": ["a@example.org"]}
    )
    assert response.status_code == 401


def test_a_cancelled_session_takes_no_invitations(app, factories, api_as):
    meeting = factories.cancel_occurrence(factories.make_meeting())
    response = api_as(factories.make_user("cadre")).post(
        f"/api/v1/sessions/{meeting.id}/invitations", json={"emails": ["a@example.org"]}
    )
    assert response.status_code == 409
    assert count(OutboxMessage) == 0


def test_invitation_to_an_account_links_the_account(app, factories, api_as):
    meeting = factories.make_meeting(kind="mediation")
    resident = factories.make_user("resident", name="张伟")
    api_as(factories.make_user("cadre")).post(
        f"/api/v1/sessions/{meeting.id}/invitations", json={"emails": [resident.email.upper()]}
    )
    invitation = db.session.scalar(select(Invitation))
    assert invitation.user_id == resident.id and invitation.name == "张伟"
    # An invitation lets its holder see the private session.
    assert api_as(resident).get(f"/api/v1/sessions/{meeting.id}").status_code == 200


def test_units_representatives_and_everyone_registered(app, factories, api_as):
    community = factories.make_community("Hehe")
    unit = factories.make_unit("城关供电所")
    factories.make_alliance_member(community, unit)
    rep = factories.make_user("unit_rep", name="赵磊")
    rep.unit_id = unit.id
    contact_only = factories.make_unit("阳光物业")
    contact_only.contact_email = "office@sunshine.example.org"
    factories.make_alliance_member(community, contact_only)
    outsider = factories.make_unit("外镇单位")
    db.session.commit()
    meeting = factories.make_meeting(community, kind="joint_meeting")
    registrant = factories.make_user("resident")
    factories.make_signup(meeting, registrant)
    factories.make_signup(meeting, name="王秀英")  # proxy: no address
    api = api_as(factories.make_user("cadre"))
    response = api.post(
        f"/api/v1/sessions/{meeting.id}/invitations",
        json={"units": [unit.id, contact_only.id], "registered": True},
    )
    assert response.status_code == 202
    assert response.get_json() == {"queued": 3}
    rows = {i.email: i for i in db.session.scalars(select(Invitation))}
    assert set(rows) == {rep.email, "office@sunshine.example.org", registrant.email}
    assert rows[rep.email].unit_id == unit.id
    refused = api.post(f"/api/v1/sessions/{meeting.id}/invitations", json={"units": [outsider.id]})
    assert refused.status_code == 422
    assert "units" in refused.get_json()["error"]["fields"]


# -- the messages, received by a real SMTP server ----------------------------------------


def test_invitation_mail_is_multipart_with_a_request(app, factories, api_as, smtp):
    cadre = factories.make_user("cadre", name="李明")
    venue = factories.make_venue(factories.make_community(), name="议事厅")
    meeting = factories.make_meeting(title="联席会议", venue=venue, organiser=cadre)
    app.config["MAIL_FROM"] = "Consult <consult@hehe.example.org>"
    api_as(cadre).post(
        f"/api/v1/sessions/{meeting.id}/invitations", json={"emails": ["wang.fang@example.org"]}
    )
    (msg,) = smtp()
    # The alternatives (text, HTML, the iTIP part), then the same invitation as a file,
    # as Google's invitations carry it, for webmail that ignores the calendar part.
    assert msg.get_content_type() == "multipart/mixed"
    body, attached = msg.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in body.iter_parts()]
    assert parts == ["text/plain", "text/html", "text/calendar"]
    calendar_part = list(body.iter_parts())[2]
    assert calendar_part.get_param("method") == "REQUEST"
    assert attached.get_content_type() == "application/ics"
    assert attached.get_content_disposition() == "attachment"
    assert attached.get_filename() == "invite.ics"
    assert attached.get_payload(decode=True) == calendar_part.get_payload(decode=True)
    assert calendar_part.get_content_charset() == "utf-8"
    assert str(msg["From"]) == "Consult <consult@hehe.example.org>"
    assert "wang.fang@example.org" in str(msg["To"])
    assert "联席会议" in str(msg["Subject"])
    cal = itip_calendar(msg)
    assert cal["METHOD"] == "REQUEST"
    (event,) = vevents(cal)
    assert str(event["UID"]) == meeting.uid
    assert event["SEQUENCE"] == 0
    assert str(event["ORGANIZER"]) == f"mailto:{cadre.email}"
    assert not event["ORGANIZER"].params  # a bare mailto:
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:wang.fang@example.org"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    # No MAIL_REPLY_TO: replies could not reach Consult, so none is asked for.
    assert attendee.params["RSVP"] == "FALSE"
    assert "Reply-To" not in msg
    text = msg.get_body(("plain",)).get_content()
    assert "联席会议" in text and f"http://consult.test/sessions/{meeting.id}" in text
    assert f"http://consult.test/sessions/{meeting.id}.ics" in text
    assert "联席会议" in msg.get_body(("html",)).get_content()


def test_invitation_mail_links_to_the_rsvp_answers(app, factories, api_as, smtp):
    meeting = factories.make_meeting()
    api_as(factories.make_user("cadre")).post(
        f"/api/v1/sessions/{meeting.id}/invitations", json={"emails": ["wang.fang@example.org"]}
    )
    (msg,) = smtp()
    text = msg.get_body(("plain",)).get_content()
    links = [
        word
        for word in text.split()
        if word.startswith("http://consult.test/") and "/sessions/" not in word
    ]
    assert len(links) == 2 and links[0] != links[1]


def test_whole_series_invitation_carries_the_series(app, factories, api_as, smtp):
    series, weeks = factories.make_calendar_series()
    factories.cancel_occurrence(weeks[3])
    factories.reschedule_occurrence(weeks[6], weeks[6].starts_at + timedelta(hours=2))
    api_as(factories.make_user("cadre")).post(
        f"/api/v1/sessions/{weeks[0].id}/invitations", json={"emails": ["wang.fang@example.org"]}
    )
    (msg,) = smtp()
    events = vevents(itip_calendar(msg))
    assert {str(e["UID"]) for e in events} == {series.uid}
    master = next(e for e in events if "RRULE" in e)
    assert "EXDATE" in master
    assert [e.decoded("RECURRENCE-ID") for e in events if "RECURRENCE-ID" in e] == [
        weeks[6].recurrence_id
    ]
    for event in events:
        assert str(event["ATTENDEE"]) == "mailto:wang.fang@example.org"
    assert db.session.scalar(select(Invitation)).whole_series is True


def test_one_week_invitation_carries_that_occurrence(app, factories, api_as, smtp):
    series, weeks = factories.make_calendar_series()
    api_as(factories.make_user("cadre")).post(
        f"/api/v1/sessions/{weeks[2].id}/invitations",
        json={"emails": ["wang.fang@example.org"], "whole_series": False},
    )
    (msg,) = smtp()
    (event,) = vevents(itip_calendar(msg))
    # That week as an event of its own: no orphan override in the invitee's calendar.
    assert str(event["UID"]) == weeks[2].uid
    assert "RECURRENCE-ID" not in event and "RRULE" not in event
    assert event.decoded("DTSTART") == weeks[2].starts_at


def test_two_units_and_ten_residents_each_get_an_invitation(app, factories, api_as, smtp):
    community = factories.make_community("Hehe")
    reps = []
    for name in ("城关派出所", "和合物业"):
        unit = factories.make_unit(name)
        factories.make_alliance_member(community, unit)
        rep = factories.make_user("unit_rep")
        rep.unit_id = unit.id
        reps.append((unit, rep))
    db.session.commit()
    series, weeks = factories.make_calendar_series(community)
    residents = [f"resident{n}@example.org" for n in range(10)]
    api = api_as(factories.make_user("cadre"))
    url = f"/api/v1/sessions/{weeks[0].id}/invitations"
    assert api.post(url, json={"units": [u.id for u, _ in reps]}).get_json() == {"queued": 2}
    assert api.post(url, json={"emails": residents}).get_json() == {"queued": 10}
    received = smtp()
    assert len(received) == 12
    to = sorted(str(m["To"]).split("<")[-1].rstrip(">") for m in received)
    assert to == sorted([rep.email for _, rep in reps] + residents)
    for msg in received:
        (attendee,) = {str(e["ATTENDEE"]) for e in vevents(itip_calendar(msg))}
        assert attendee.removeprefix("mailto:") in str(msg["To"])


# -- the pages ---------------------------------------------------------------------------


def test_invite_page_sends_and_lists_invitees(app, client, factories, login_as):
    meeting = factories.make_meeting()
    factories.make_invitation(meeting, email="li.na@example.org", partstat="ACCEPTED")
    login_as(factories.make_user("cadre"))
    page = client.get(f"/sessions/{meeting.id}/invite")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-partstat="ACCEPTED"' in html
    response = client.post(
        f"/sessions/{meeting.id}/invite",
        data={
            "invite-emails": "wang.fang@example.org，zhao.lei@example.org\nli.na@example.org",
            "invite-csrf_token": csrf_token_from(html),
            "invite-next": f"/sessions/{meeting.id}",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/sessions/{meeting.id}")
    assert count(Invitation) == 3
    assert count(OutboxMessage) == 3
    listed = client.get(f"/sessions/{meeting.id}/invite").get_data(as_text=True)
    assert listed.count('data-partstat="NEEDS-ACTION"') == 2


def test_invite_page_keeps_the_input_on_a_bad_address(app, client, factories, login_as):
    meeting = factories.make_meeting()
    login_as(factories.make_user("cadre"))
    token = csrf_token_from(client.get(f"/sessions/{meeting.id}/invite").get_data(as_text=True))
    response = client.post(
        f"/sessions/{meeting.id}/invite",
        data={"invite-emails": "wang.fang@example.org, not-an-address", "invite-csrf_token": token},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "not-an-address" in html and "invalid-feedback" in html
    assert count(Invitation) == 0 and count(OutboxMessage) == 0
    empty = client.post(
        f"/sessions/{meeting.id}/invite", data={"invite-emails": "", "invite-csrf_token": token}
    )
    assert empty.status_code == 200 and "invalid-feedback" in empty.get_data(as_text=True)


def test_invite_page_refuses_an_outside_redirect(app, client, factories, login_as):
    meeting = factories.make_meeting()
    login_as(factories.make_user("cadre"))
    token = csrf_token_from(client.get(f"/sessions/{meeting.id}/invite").get_data(as_text=True))
    response = client.post(
        f"/sessions/{meeting.id}/invite",
        data={
            "invite-emails": "a@example.org",
            "invite-csrf_token": token,
            "invite-next": "//evil.example.org/",
        },
    )
    assert response.headers["Location"].endswith(f"/sessions/{meeting.id}/invite")


@pytest.mark.parametrize("role", ["resident", "secretary"])
def test_invite_page_is_for_admins_and_cadres(app, client, factories, login_as, role):
    meeting = factories.make_meeting()
    login_as(factories.make_user(role))
    assert client.get(f"/sessions/{meeting.id}/invite").status_code == 403
    private = factories.make_meeting(kind="mediation")
    expected = 403 if role == "secretary" else 404
    assert client.get(f"/sessions/{private.id}/invite").status_code == expected


def test_session_page_shows_the_panel_only_to_those_who_may_invite(
    app, client, factories, login_as
):
    meeting = factories.make_meeting()
    factories.make_invitation(meeting, email="li.na@example.org", name="李娜")
    login_as(factories.make_user("resident"))
    page = client.get(f"/sessions/{meeting.id}")
    assert page.status_code == 200
    assert 'data-panel="invite"' not in page.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    login_as(factories.make_user("cadre"))
    html = client.get(f"/sessions/{meeting.id}").get_data(as_text=True)
    assert 'data-panel="invite"' in html
    assert "李娜" in html
    assert f'action="/sessions/{meeting.id}/invite"' in html
    assert 'name="invite-emails"' in html
