"""Capacity changes: raising confirms people in order, lowering never un-confirms anyone."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from consult.accounts.models import User
from consult.attendance import operations
from consult.attendance.operations import CapacityError
from consult.attendance.queries import waitlist_position
from consult.audit.models import AuditEntry
from consult.extensions import db
from consult.meetings.models import Meeting, Registration


def _fill(factories, meeting, n):
    users = [factories.make_user() for _ in range(n)]
    registrations = []
    for user in users:
        registrations.append(operations.sign_up(db.session.get(Meeting, meeting.id), user))
        db.session.commit()
    return registrations


def _statuses(registrations):
    return [db.session.get(Registration, r.id).status for r in registrations]


def test_raising_capacity_confirms_waiting_people_in_order(factories):
    meeting = factories.make_meeting(capacity=1)
    registrations = _fill(factories, meeting, 4)
    cadre = factories.make_user(role="cadre")
    promoted = operations.set_capacity(db.session.get(Meeting, meeting.id), 3, cadre)
    db.session.commit()
    assert [r.id for r in promoted] == [registrations[1].id, registrations[2].id]
    assert _statuses(registrations) == ["confirmed", "confirmed", "confirmed", "waitlisted"]
    assert db.session.get(Meeting, meeting.id).confirmed_count == 3
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "meeting.capacity"))
    assert entry.data == {"capacity": [1, 3]} and entry.actor_id == cadre.id


def test_unlimited_capacity_confirms_everyone_waiting(factories):
    meeting = factories.make_meeting(capacity=1)
    registrations = _fill(factories, meeting, 3)
    operations.set_capacity(db.session.get(Meeting, meeting.id), None)
    db.session.commit()
    assert _statuses(registrations) == ["confirmed"] * 3


def test_lowering_below_the_confirmed_is_refused_and_changes_nothing(app, factories):
    meeting = factories.make_meeting(capacity=5)
    _fill(factories, meeting, 3)
    with pytest.raises(CapacityError) as refused:
        operations.set_capacity(db.session.get(Meeting, meeting.id), 2)
    with app.test_request_context():
        assert "3 people are already confirmed" in str(refused.value.message)
    assert refused.value.field == "capacity" and refused.value.status == 409
    db.session.rollback()
    assert db.session.get(Meeting, meeting.id).capacity == 5


def test_lowering_to_exactly_the_confirmed_is_allowed(factories):
    meeting = factories.make_meeting(capacity=5)
    registrations = _fill(factories, meeting, 3)
    operations.set_capacity(db.session.get(Meeting, meeting.id), 3)
    db.session.commit()
    later = _fill(factories, meeting, 1)
    assert _statuses(registrations + later) == ["confirmed"] * 3 + ["waitlisted"]


def test_a_pending_lower_capacity_on_the_object_is_still_refused_cleanly(factories):
    # The session editor may have set the attribute before calling set_capacity.
    meeting = factories.make_meeting(capacity=5)
    _fill(factories, meeting, 3)
    meeting = db.session.get(Meeting, meeting.id)
    meeting.capacity = 1
    with pytest.raises(CapacityError):
        operations.set_capacity(meeting, 1)
    db.session.rollback()
    assert db.session.get(Meeting, meeting.id).capacity == 5


def test_other_pending_changes_of_the_session_are_kept(factories):
    from datetime import timedelta

    meeting = factories.make_meeting(capacity=1, title="Old title")
    registrations = _fill(factories, meeting, 2)
    meeting = db.session.get(Meeting, meeting.id)
    new_start = meeting.starts_at + timedelta(hours=3)
    meeting.title = "New title"
    meeting.starts_at, meeting.ends_at = new_start, meeting.ends_at + timedelta(hours=3)
    operations.set_capacity(meeting, 2)
    db.session.commit()
    db.session.expire_all()
    meeting = db.session.get(Meeting, meeting.id)
    assert (meeting.title, meeting.starts_at, meeting.capacity) == ("New title", new_start, 2)
    assert _statuses(registrations) == ["confirmed", "confirmed"]


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_capacity_must_be_a_whole_number_not_below_zero(factories, bad):
    meeting = factories.make_meeting(capacity=5)
    with pytest.raises(CapacityError) as refused:
        operations.set_capacity(db.session.get(Meeting, meeting.id), bad)
    assert refused.value.status == 422


def test_the_database_refuses_a_counter_above_capacity(factories):
    from sqlalchemy import update
    from sqlalchemy.exc import IntegrityError

    meeting = factories.make_meeting(capacity=1)
    with pytest.raises(IntegrityError):
        db.session.execute(
            update(Meeting).where(Meeting.id == meeting.id).values(confirmed_count=2)
        )
    db.session.rollback()


def test_capacity_form_on_the_registrations_page(client, login_as, factories):
    from tests.conftest import csrf_token_from

    meeting = factories.make_meeting(capacity=1)
    registrations = _fill(factories, meeting, 3)
    login_as(factories.make_user(role="cadre"))
    url = f"/sessions/{meeting.id}/registrations"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    response = client.post(
        f"/sessions/{meeting.id}/capacity", data={"capacity": "2", "csrf_token": token}
    )
    assert response.status_code == 302
    assert _statuses(registrations) == ["confirmed", "confirmed", "waitlisted"]
    refused = client.post(
        f"/sessions/{meeting.id}/capacity", data={"capacity": "1", "csrf_token": token}
    )
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "2 people are already confirmed" in page
    assert 'value="1"' in page  # the input is kept
    assert db.session.get(Meeting, meeting.id).capacity == 2
    bad = client.post(
        f"/sessions/{meeting.id}/capacity", data={"capacity": "-4", "csrf_token": token}
    )
    assert bad.status_code == 422
    assert db.session.get(Meeting, meeting.id).capacity == 2


@pytest.mark.parametrize("role", ["secretary", "resident", "unit_rep"])
def test_only_organisers_change_the_places(client, login_as, factories, role):
    from tests.conftest import csrf_token_from

    meeting = factories.make_meeting(capacity=1)
    login_as(factories.make_user(role=role))
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    response = client.post(
        f"/sessions/{meeting.id}/capacity", data={"capacity": "9", "csrf_token": token}
    )
    assert response.status_code == 403
    assert db.session.get(Meeting, meeting.id).capacity == 1


def _waiting_rows_read(factories, waiting: int, act) -> tuple[list[str], object]:
    """Fill a session of one place and ``waiting`` people waiting, then run ``act(meeting,
    first)``; return the statuses of the waiting registrations it read from the database."""
    from sqlalchemy import event

    meeting = factories.make_meeting(capacity=1)
    first = factories.make_signup(meeting, factories.make_user())
    for _ in range(waiting):
        factories.make_signup(meeting, factories.make_user(), status="waitlisted")
    meeting_id, first_id = meeting.id, first.id
    db.session.expunge_all()  # every row read below is a fresh load
    read = []

    def loaded(target, context):
        read.append(target.status)

    event.listen(Registration, "load", loaded)
    try:
        result = act(db.session.get(Meeting, meeting_id), db.session.get(Registration, first_id))
        db.session.commit()
    finally:
        event.remove(Registration, "load", loaded)
    return [status for status in read if status == "waitlisted"], result


@pytest.mark.parametrize("waiting", [2, 12])
def test_a_sign_up_into_a_full_session_reads_nobody_waiting(factories, waiting):
    late_id = factories.make_user().id
    read, registration = _waiting_rows_read(
        factories,
        waiting,
        lambda meeting, _first: operations.sign_up(meeting, db.session.get(User, late_id)),
    )
    assert registration.status == "waitlisted"
    # The session is full (read under its lock): no place to give, nobody waiting is read.
    assert read == []


@pytest.mark.parametrize("waiting", [2, 12])
def test_a_sign_up_with_a_free_place_reads_one_person_waiting(factories, waiting):
    """A free place with people waiting (a state no operation leaves; written here by
    hand) goes to the first of them, never to the newcomer."""
    late_id = factories.make_user().id

    def sign_up_after_a_place_freed(meeting, _first):
        db.session.execute(
            update(Meeting).where(Meeting.id == meeting.id).values(capacity=Meeting.capacity + 1)
        )
        db.session.expire(meeting)
        return operations.sign_up(meeting, db.session.get(User, late_id))

    read, registration = _waiting_rows_read(factories, waiting, sign_up_after_a_place_freed)
    assert registration.status == "waitlisted"
    # The first waiting is given the place and the next one looked at (no place is left
    # for them); never the whole list.
    assert len(read) == 2
    assert waitlist_position(registration) == waiting


@pytest.mark.parametrize("waiting", [2, 12])
def test_a_freed_place_goes_to_the_first_waiting_without_reading_the_list(factories, waiting):
    read, promoted = _waiting_rows_read(
        factories, waiting, lambda _meeting, first: operations.cancel_registration(first, None)
    )
    assert len(promoted) == 1
    # The one promoted, and the next one, for whom no place is left.
    assert len(read) == 2
