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


# -- mail is composed after the place is committed and the lock released -------------


def _lock_is_free(meeting_id: int) -> bool:
    """Whether another connection could take the lock a sign-up holds: SQLite's write
    lock, or the session's row on PostgreSQL."""
    from sqlalchemy.exc import OperationalError

    from consult.meetings.models import Meeting

    with db.engine.connect() as conn:
        try:
            if conn.dialect.name == "postgresql":
                with conn.begin():
                    conn.execute(
                        select(Meeting.id)
                        .where(Meeting.id == meeting_id)
                        .with_for_update(nowait=True)
                    )
            else:
                # BEGIN IMMEDIATE waiting 1 ms at most (consult.extensions).
                with conn.execution_options(sqlite_begin="IMMEDIATE", sqlite_busy_ms=1).begin():
                    pass
        except OperationalError:
            return False
    return True


@pytest.mark.real_commits  # another connection reads what is committed
def test_the_confirmation_is_queued_with_the_place_and_composed_when_sent(
    api_as, factories, monkeypatch, runner, smtp_server
):
    from consult.mail import notify
    from consult.mail.models import OutboxMessage

    meeting = factories.make_meeting(capacity=5, title="民情恳谈会")
    resident = factories.make_user(email="chen.jing@example.org")
    composing = notify.confirmation_message
    seen = []

    def observed(registration, recipient):
        with db.engine.connect() as conn:
            committed = conn.scalar(
                select(Registration.status).where(Registration.id == registration.id)
            )
        seen.append((committed, _lock_is_free(meeting.id)))
        return composing(registration, recipient)

    monkeypatch.setattr(
        notify, "COMPOSERS", {**notify.COMPOSERS, "confirmation": ("confirmed", observed)}
    )
    response = api_as(resident).post(f"/api/v1/sessions/{meeting.id}/registrations")
    assert response.status_code == 201
    # The request composes nothing: the row is written in the sign-up's own transaction
    # and says what it will tell of.
    assert seen == []
    (row,) = db.session.scalars(select(OutboxMessage)).all()
    registration_id = response.get_json()["id"]
    assert (row.kind, row.recipients, row.body) == ("confirmation", "chen.jing@example.org", "")
    assert row.compose == f"confirmation:{registration_id}:{resident.id}"
    db.session.rollback()
    # The delivery composes it once, from what is committed, holding no lock.
    assert runner.invoke(args=["mail", "send"]).exit_code == 0
    assert seen == [("confirmed", True)]
    (message,) = smtp_server.received()
    assert "民情恳谈会" in str(message["Subject"]) and _to(message) == "chen.jing@example.org"
    kept = db.session.get(OutboxMessage, row.id)
    assert kept.status == "sent" and kept.body and kept.message_id == message["Message-ID"]


@pytest.mark.real_commits
def test_a_message_that_cannot_be_composed_waits_and_the_sign_up_stands(
    api_as, factories, monkeypatch, runner, smtp_server
):
    from datetime import timedelta

    from consult.mail import notify
    from consult.mail.models import OutboxMessage
    from consult.types import utcnow

    meeting = factories.make_meeting(capacity=5, title="周五说事日")
    resident = factories.make_user(email="li.na@example.org")

    def broken(registration, recipient):
        raise RuntimeError("no template")

    monkeypatch.setattr(
        notify, "COMPOSERS", {**notify.COMPOSERS, "confirmation": ("confirmed", broken)}
    )
    response = api_as(resident).post(f"/api/v1/sessions/{meeting.id}/registrations")
    assert response.status_code == 201
    assert db.session.get(Registration, response.get_json()["id"]).status == "confirmed"
    db.session.rollback()
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 1  # something stays queued
    (row,) = db.session.scalars(select(OutboxMessage)).all()
    assert row.status == "queued" and "could not compose" in row.last_error
    assert smtp_server.received() == []
    # Once it can be composed again, the next due round sends it.
    monkeypatch.undo()
    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert runner.invoke(args=["mail", "send"]).exit_code == 0
    (message,) = smtp_server.received()
    assert _to(message) == "li.na@example.org"


@pytest.mark.real_commits
def test_a_confirmation_of_a_sign_up_cancelled_before_it_went_is_not_sent(
    api_as, factories, runner, smtp_server
):
    from consult.mail.models import OutboxMessage

    meeting = factories.make_meeting(capacity=5, title="议事协商会")
    resident = factories.make_user(email="wu.lei@example.org")
    api = api_as(resident)
    registration_id = api.post(f"/api/v1/sessions/{meeting.id}/registrations").get_json()["id"]
    assert api.delete(f"/api/v1/registrations/{registration_id}").status_code in (200, 204)
    db.session.rollback()
    assert runner.invoke(args=["mail", "send"]).exit_code == 0
    kinds = [str(m["Subject"]) for m in smtp_server.received()]
    # Only the cancellation's notice is told; the confirmation, no longer true, is dropped.
    assert not [k for k in kinds if k.startswith("You are signed up")], kinds
    assert (
        db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "confirmation")).all()
        == []
    )


def test_a_refused_sign_up_composes_nothing(api_as, factories, monkeypatch):
    from consult.mail import notify
    from consult.mail.models import OutboxMessage

    meeting = factories.make_meeting(capacity=5)
    api = api_as(factories.make_user())
    path = f"/api/v1/sessions/{meeting.id}/registrations"
    assert api.post(path).status_code == 201
    composed = []
    monkeypatch.setattr(
        notify, "COMPOSERS", {"confirmation": ("confirmed", lambda *a: composed.append(a))}
    )
    assert api.post(path).status_code == 409
    assert composed == []
    assert len(db.session.scalars(select(OutboxMessage)).all()) == 1


def test_a_series_sign_up_queues_each_weeks_confirmation_together(api_as, factories):
    from sqlalchemy import event

    from consult.mail.models import OutboxMessage

    resident = factories.make_user(email="zhou.min@example.org")
    series, weeks = factories.make_series(count=3)
    inserts = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            inserts.append(conn.get_transaction())

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        response = api_as(resident).post(f"/api/v1/series/{series.id}/registrations")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert response.status_code == 201
    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.meeting_id)).all()
    assert [(r.kind, r.meeting_id) for r in rows] == [("confirmation", w.id) for w in weeks]
    # Queued in the sign-ups' own transaction, to be composed when sent.
    assert inserts and all(transaction is inserts[0] for transaction in inserts)
    assert all(r.compose and not r.body for r in rows)


@pytest.mark.real_commits
def test_a_waiting_list_notice_is_queued_with_the_sign_up_and_composed_in_chinese_when_sent(
    api_as, factories, runner, smtp_server
):
    from sqlalchemy import event

    from consult.mail.models import OutboxMessage

    meeting = factories.make_meeting(capacity=1, title="民情恳谈会")
    first = factories.make_user(email="first@example.org")
    waiting = factories.make_user(email="huang.li@example.org")
    waiting.locale = "zh_CN"
    db.session.commit()
    assert api_as(first).post(f"/api/v1/sessions/{meeting.id}/registrations").status_code == 201
    begun = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("BEGIN"):
            begun.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        response = api_as(waiting).post(f"/api/v1/sessions/{meeting.id}/registrations")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert response.status_code == 201
    assert response.get_json()["status"] == "waitlisted"
    # One writing transaction: the notice's row is written with the sign-up, to be
    # composed when it is sent (no second write after the commit).
    assert len([b for b in begun if "IMMEDIATE" in b]) <= 1
    (row,) = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "waitlisted")
    ).all()
    assert row.compose == f"waitlisted:{response.get_json()['id']}:{waiting.id}" and not row.body
    db.session.rollback()
    assert runner.invoke(args=["mail", "send"]).exit_code == 0
    (notice,) = [m for m in smtp_server.received() if _to(m) == "huang.li@example.org"]
    assert str(notice["Subject"]).startswith("已进入候补名单：民情恳谈会")
    assert "候补名单上的第 1 位" in notice.get_body(("plain",)).get_content()


@pytest.mark.real_commits
def test_someone_given_a_place_before_the_notice_went_gets_only_the_promotion(
    api_as, factories, runner, smtp_server
):
    meeting = factories.make_meeting(capacity=1, title="周五说事日")
    first = factories.make_user(email="first@example.org")
    waiting = factories.make_user(email="sun.wei@example.org")
    first_id = api_as(first).post(f"/api/v1/sessions/{meeting.id}/registrations").get_json()["id"]
    response = api_as(waiting).post(f"/api/v1/sessions/{meeting.id}/registrations")
    assert response.get_json()["status"] == "waitlisted"
    # The first gives up the place before any mail went out: the one waiting has it now.
    assert api_as(first).delete(f"/api/v1/registrations/{first_id}").status_code in (200, 204)
    db.session.rollback()
    assert runner.invoke(args=["mail", "send"]).exit_code == 0
    subjects = [
        str(m["Subject"]) for m in smtp_server.received() if _to(m) == "sun.wei@example.org"
    ]
    # The waiting-list notice no longer holds and is dropped; the promotion is told.
    assert not [s for s in subjects if s.startswith("On the waiting list")], subjects
    assert len(subjects) == 1, subjects
