"""Sign-ups through the JSON API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from consult.audit.models import AuditEntry
from consult.extensions import db
from consult.meetings.models import Meeting, Registration


def _count(**where) -> int:
    query = select(func.count(Registration.id))
    for key, value in where.items():
        query = query.where(getattr(Registration, key) == value)
    return db.session.scalar(query)


def _url(meeting) -> str:
    return f"/api/v1/sessions/{meeting.id}/registrations"


def test_resident_signs_up_with_an_empty_body(api_as, factories):
    meeting = factories.make_meeting(capacity=2)
    resident = factories.make_user()
    response = api_as(resident).post(_url(meeting))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body == {
        "id": body["id"],
        "session": meeting.id,
        "status": "confirmed",
        "position": None,
    }
    registration = db.session.get(Registration, body["id"])
    assert registration.user_id == resident.id
    assert db.session.get(Meeting, meeting.id).confirmed_count == 1
    assert (
        db.session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "registration.create")
        )
        == 1
    )


def test_an_empty_object_is_accepted_too(api_as, factories):
    meeting = factories.make_meeting()
    response = api_as(factories.make_user()).post(_url(meeting), json={})
    assert response.status_code == 201
    assert response.get_json()["status"] == "confirmed"


def test_full_session_puts_people_on_the_waiting_list_in_order(api_as, factories):
    meeting = factories.make_meeting(capacity=1)
    answers = [api_as(factories.make_user()).post(_url(meeting)).get_json() for _ in range(4)]
    assert [(a["status"], a["position"]) for a in answers] == [
        ("confirmed", None),
        ("waitlisted", 1),
        ("waitlisted", 2),
        ("waitlisted", 3),
    ]
    assert db.session.get(Meeting, meeting.id).confirmed_count == 1


@pytest.mark.parametrize("full", [False, True])
def test_signing_up_twice_is_a_conflict_and_keeps_one_row(api_as, factories, full):
    """Twice for a session with places, or twice for a full one's waiting list."""
    meeting = factories.make_meeting(capacity=1 if full else 5)
    if full:
        factories.make_signup(meeting, factories.make_user())
    client = api_as(factories.make_user())
    first = client.post(_url(meeting)).get_json()
    assert first["status"] == ("waitlisted" if full else "confirmed")
    again = client.post(_url(meeting))
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "conflict"
    assert again.get_json()["error"]["registration"]["id"] == first["id"]
    assert _count(meeting_id=meeting.id) == (2 if full else 1)
    assert db.session.get(Meeting, meeting.id).confirmed_count == 1
    audited = select(func.count(AuditEntry.id)).where(AuditEntry.action == "registration.create")
    assert db.session.scalar(audited) == 1


def test_people_without_an_account_waiting_are_ahead_of_a_later_sign_up(api_as, factories):
    """The place on a full session's waiting list counts everyone waiting before,
    people signed up by staff without an account among them."""
    meeting = factories.make_meeting(capacity=1)
    factories.make_signup(meeting, factories.make_user())
    cadre = api_as(factories.make_user(role="cadre"))
    proxy = cadre.post(_url(meeting), json={"name": "王秀英", "phone": "13912345678"})
    assert (proxy.get_json()["status"], proxy.get_json()["position"]) == ("waitlisted", 1)
    body = api_as(factories.make_user()).post(_url(meeting)).get_json()
    assert (body["status"], body["position"]) == ("waitlisted", 2)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"status": "cancelled"}, "cancelled"),
        ({"starts_in": timedelta(minutes=-5)}, "started"),
        ({"starts_in": timedelta(days=-3)}, "started"),
    ],
)
def test_cancelled_or_started_session_is_a_conflict_and_saves_nothing(
    api_as, factories, setup, message
):
    meeting = factories.make_meeting(capacity=5, **setup)
    response = api_as(factories.make_user()).post(_url(meeting))
    assert response.status_code == 409
    assert message in response.get_json()["error"]["message"]
    assert _count() == 0
    assert db.session.get(Meeting, meeting.id).confirmed_count == 0
    assert (
        db.session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action.like("registration.%"))
        )
        == 0
    )


def test_private_session_is_invisible_to_a_stranger(api_as, factories):
    meeting = factories.make_meeting(kind="mediation")
    response = api_as(factories.make_user()).post(_url(meeting))
    assert response.status_code == 404
    assert _count() == 0


def test_unknown_session_is_404(api_as, factories):
    assert (
        api_as(factories.make_user()).post("/api/v1/sessions/999/registrations").status_code == 404
    )


def test_anonymous_caller_is_401(api_as, factories):
    meeting = factories.make_meeting()
    assert api_as(None).post(_url(meeting)).status_code == 401


def test_body_that_is_not_json_is_400(api_as, factories):
    meeting = factories.make_meeting()
    response = api_as(factories.make_user()).post(
        _url(meeting), data="name=x", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert _count() == 0


def test_unknown_field_is_422(api_as, factories):
    meeting = factories.make_meeting()
    response = api_as(factories.make_user(role="cadre")).post(_url(meeting), json={"nam": "x"})
    assert response.status_code == 422
    assert "nam" in response.get_json()["error"]["fields"]
    assert _count() == 0


# -- proxy sign-up -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "cadre", "secretary"])
@pytest.mark.parametrize(
    "phone", ["13812345678", "0936-6621188", "09366621188", "+86 138 1234 5678"]
)
def test_staff_sign_up_someone_without_an_account(api_as, factories, role, phone):
    meeting = factories.make_meeting(capacity=3)
    staff = factories.make_user(role=role)
    response = api_as(staff).post(
        _url(meeting), json={"name": "王秀英", "phone": phone, "note": "needs a seat near the door"}
    )
    assert response.status_code == 201, response.get_json()
    registration = db.session.get(Registration, response.get_json()["id"])
    assert registration.user_id is None
    assert registration.name == "王秀英"
    assert registration.registered_by_id == staff.id
    assert registration.status == "confirmed"
    assert db.session.get(Meeting, meeting.id).confirmed_count == 1


@pytest.mark.parametrize("role", ["resident", "unit_rep"])
def test_others_may_not_sign_up_someone_else(api_as, factories, role):
    meeting = factories.make_meeting()
    response = api_as(factories.make_user(role=role)).post(
        _url(meeting), json={"name": "王秀英", "phone": "13812345678"}
    )
    assert response.status_code == 403
    assert _count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "13812345678"}, "name"),
        ({"name": "   ", "phone": "13812345678"}, "name"),
        ({"name": "王秀英"}, "phone"),
        ({"name": "王秀英", "phone": "12345678901"}, "phone"),
        ({"name": "王秀英", "phone": "1381234567"}, "phone"),
        ({"name": "王秀英", "phone": "0936-66211"}, "phone"),
        ({"name": "王秀英", "phone": "phone"}, "phone"),
        ({"name": "王秀英", "phone": 13812345678}, "phone"),
        ({"name": "x" * 121, "phone": "13812345678"}, "name"),
        ({"note": "only a note"}, "name"),
    ],
)
def test_proxy_sign_up_with_bad_fields_is_422(api_as, factories, body, field):
    meeting = factories.make_meeting()
    response = api_as(factories.make_user(role="cadre")).post(_url(meeting), json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert _count() == 0


def test_same_phone_twice_for_one_session_is_a_conflict(api_as, factories):
    meeting = factories.make_meeting()
    client = api_as(factories.make_user(role="cadre"))
    assert (
        client.post(_url(meeting), json={"name": "王秀英", "phone": "13812345678"}).status_code
        == 201
    )
    again = client.post(_url(meeting), json={"name": "王秀英", "phone": "138 1234 5678"})
    assert again.status_code == 409
    assert _count() == 1


def test_proxies_count_against_capacity(api_as, factories):
    meeting = factories.make_meeting(capacity=1)
    cadre = api_as(factories.make_user(role="cadre"))
    cadre.post(_url(meeting), json={"name": "李桂兰", "phone": "13900000001"})
    response = api_as(factories.make_user()).post(_url(meeting))
    assert response.get_json()["status"] == "waitlisted"
    assert response.get_json()["position"] == 1


# -- cancel and promotion --------------------------------------------------------------


def test_cancel_frees_the_place_for_the_first_waiting_person(api_as, factories):
    meeting = factories.make_meeting(capacity=1)
    first, second, third = (factories.make_user() for _ in range(3))
    mine = api_as(first).post(_url(meeting)).get_json()
    waiting = [api_as(u).post(_url(meeting)).get_json() for u in (second, third)]
    response = api_as(first).delete(f"/api/v1/registrations/{mine['id']}")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert db.session.get(Registration, mine["id"]).status == "cancelled"
    assert db.session.get(Registration, waiting[0]["id"]).status == "confirmed"
    assert db.session.get(Registration, waiting[0]["id"]).confirmed_at is not None
    assert db.session.get(Registration, waiting[1]["id"]).status == "waitlisted"
    assert db.session.get(Meeting, meeting.id).confirmed_count == 1
    # The one still waiting is now first in line.
    listing = api_as(factories.make_user(role="secretary")).get(_url(meeting)).get_json()
    assert [(i["id"], i["position"]) for i in listing["items"]] == [
        (waiting[0]["id"], None),
        (waiting[1]["id"], 1),
    ]


def test_cancelling_a_waiting_registration_promotes_nobody(api_as, factories):
    meeting = factories.make_meeting(capacity=1)
    users = [factories.make_user() for _ in range(3)]
    answers = [api_as(u).post(_url(meeting)).get_json() for u in users]
    assert api_as(users[1]).delete(f"/api/v1/registrations/{answers[1]['id']}").status_code == 204
    assert db.session.get(Registration, answers[0]["id"]).status == "confirmed"
    assert db.session.get(Registration, answers[2]["id"]).status == "waitlisted"
    assert db.session.get(Meeting, meeting.id).confirmed_count == 1


#: Someone else's registration is not even seen by a resident or a unit representative.
@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 204), ("cadre", 204), ("secretary", 403), ("resident", 404), ("unit_rep", 404)],
)
def test_who_may_cancel_someone_elses_registration(api_as, factories, role, status):
    meeting = factories.make_meeting()
    mine = api_as(factories.make_user()).post(_url(meeting)).get_json()
    response = api_as(factories.make_user(role=role)).delete(f"/api/v1/registrations/{mine['id']}")
    assert response.status_code == status
    expected = "cancelled" if status == 204 else "confirmed"
    assert db.session.get(Registration, mine["id"]).status == expected


def test_cancel_twice_or_after_the_start_is_a_conflict(api_as, factories):
    meeting = factories.make_meeting()
    resident = factories.make_user()
    mine = api_as(resident).post(_url(meeting)).get_json()
    url = f"/api/v1/registrations/{mine['id']}"
    assert api_as(resident).delete(url).status_code == 204
    assert api_as(resident).delete(url).status_code == 409
    started = factories.make_meeting()
    other = api_as(resident).post(_url(started)).get_json()
    db.session.get(Meeting, started.id).starts_at = started.starts_at - timedelta(days=8)
    db.session.get(Meeting, started.id).ends_at = started.ends_at - timedelta(days=8)
    db.session.commit()
    assert api_as(resident).delete(f"/api/v1/registrations/{other['id']}").status_code == 409
    assert db.session.get(Registration, other["id"]).status == "confirmed"


def test_cancel_of_unknown_registration_is_404(api_as, factories):
    assert api_as(factories.make_user()).delete("/api/v1/registrations/424242").status_code == 404


def test_signing_up_again_after_cancelling_reuses_the_row(api_as, factories):
    meeting = factories.make_meeting(capacity=1)
    resident, other = factories.make_user(), factories.make_user()
    first = api_as(resident).post(_url(meeting)).get_json()
    api_as(resident).delete(f"/api/v1/registrations/{first['id']}")
    api_as(other).post(_url(meeting))
    again = api_as(resident).post(_url(meeting))
    assert again.status_code == 201
    body = again.get_json()
    assert body["id"] == first["id"]
    # The place went to someone else meanwhile: back of the queue.
    assert (body["status"], body["position"]) == ("waitlisted", 1)
    assert _count(meeting_id=meeting.id, user_id=resident.id) == 1


# -- the list --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("cadre", 200), ("secretary", 200), ("resident", 403), ("unit_rep", 403)],
)
def test_who_may_list_registrations(api_as, factories, role, status):
    meeting = factories.make_meeting()
    assert api_as(factories.make_user(role=role)).get(_url(meeting)).status_code == status


def test_list_gives_names_and_the_waiting_order(api_as, factories):
    meeting = factories.make_meeting(capacity=1)
    a = factories.make_user(name="张伟")
    b = factories.make_user(name="刘洋")
    api_as(a).post(_url(meeting))
    api_as(b).post(_url(meeting))
    api_as(factories.make_user(role="cadre")).post(
        _url(meeting), json={"name": "赵敏", "phone": "0936-6621188"}
    )
    items = api_as(factories.make_user(role="secretary")).get(_url(meeting)).get_json()["items"]
    assert [(i["name"], i["status"], i["position"], i["session"]) for i in items] == [
        ("张伟", "confirmed", None, meeting.id),
        ("刘洋", "waitlisted", 1, meeting.id),
        ("赵敏", "waitlisted", 2, meeting.id),
    ]


def test_list_of_a_private_session_hides_it_from_nobody_on_the_staff(api_as, factories):
    meeting = factories.make_meeting(kind="mediation")
    assert api_as(factories.make_user(role="secretary")).get(_url(meeting)).status_code == 200


# -- a whole series ----------------------------------------------------------------------


def test_sign_up_for_every_coming_occurrence_of_a_series(api_as, factories):
    series, meetings = factories.make_series(count=3, capacity=1)
    past = meetings[0]
    past.starts_at -= timedelta(days=5)
    past.ends_at -= timedelta(days=5)
    db.session.commit()
    someone = factories.make_user()
    api_as(someone).post(_url(meetings[2]))
    resident = factories.make_user()
    response = api_as(resident).post(f"/api/v1/series/{series.id}/registrations")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["series"] == series.id
    assert [(i["session"], i["status"], i["position"]) for i in body["items"]] == [
        (meetings[1].id, "confirmed", None),
        (meetings[2].id, "waitlisted", 1),
    ]
    again = api_as(resident).post(f"/api/v1/series/{series.id}/registrations", json={})
    assert again.status_code == 409
    assert _count(user_id=resident.id) == 2


def test_series_sign_up_of_an_unknown_or_private_series_is_404(api_as, factories):
    resident = factories.make_user()
    assert api_as(resident).post("/api/v1/series/999/registrations").status_code == 404
    series, _meetings = factories.make_series(kind="mediation", visibility="private")
    assert api_as(resident).post(f"/api/v1/series/{series.id}/registrations").status_code == 404
    assert _count() == 0


def test_routes_are_in_the_openapi_document(api_as):
    paths = api_as(None).get("/api/v1/openapi.json").get_json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/sessions/{meeting_id}/registrations"])
    assert "delete" in paths["/api/v1/registrations/{registration_id}"]
    assert "post" in paths["/api/v1/series/{series_id}/registrations"]


@pytest.mark.parametrize("capacity", [1, 5])
def test_a_sign_up_reads_its_session_once_with_its_lock(api_as, factories, count_queries, capacity):
    """The session is read with its row locked in the statement that loads it; the
    sign-up then has nothing to read of it again (a place claimed is read afresh only
    by what comes after)."""
    meeting = factories.make_meeting(capacity=capacity)
    factories.make_signup(meeting, factories.make_user())
    api = api_as(factories.make_user())
    url = _url(meeting)
    db.session.remove()
    with count_queries() as counted:
        response = api.post(url)
    assert response.status_code == 201
    assert response.get_json()["status"] == ("waitlisted" if capacity == 1 else "confirmed")
    reads = [s for s in counted.statements if s.lstrip().startswith("SELECT meetings.")]
    assert len(reads) == 1, counted.statements
    if db.engine.dialect.name == "postgresql":
        assert "FOR UPDATE" in reads[0]


def test_a_waiting_list_sign_up_writes_its_rows_in_five_statements(
    api_as, factories, count_queries
):
    """A sign-up onto a full session's waiting list: the caller's token, the session
    with its lock, then one INSERT each for the registration (which also counts those
    ahead of it, and writes nothing if the person has a registration), the audit entry
    and the confirmation to compose. Its place is known without counting again."""
    meeting = factories.make_meeting(capacity=1)
    factories.make_signup(meeting, factories.make_user())
    factories.make_signup(meeting, factories.make_user(), status="waitlisted")
    resident = factories.make_user()
    api = api_as(resident)
    api.get("/api/v1/me")  # the token's use is recorded by this first request
    url, resident_id = _url(meeting), resident.id
    db.session.remove()
    with count_queries() as counted:
        response = api.post(url)
    assert response.status_code == 201
    assert (response.get_json()["status"], response.get_json()["position"]) == ("waitlisted", 2)
    kinds = [" ".join(s.split()[:3]) for s in counted.statements]
    assert kinds == [
        "SELECT api_tokens.id, api_tokens.user_id,",
        "SELECT meetings.id, meetings.uid,",
        "INSERT INTO registrations",
        "INSERT INTO audit_log",
        "INSERT INTO outbox",
    ], counted.statements
    registration = db.session.get(Registration, response.get_json()["id"])
    assert (registration.status, registration.user_id, registration.registered_by_id) == (
        "waitlisted",
        resident_id,
        resident_id,
    )
    assert registration.updated_at == registration.created_at


def test_the_place_given_counts_only_those_who_signed_up_before(api_as, factories):
    """Someone waiting whose sign-up time is later than this one's (another server's
    clock ahead) comes after it: the place answered is the place in the order served."""
    meeting = factories.make_meeting(capacity=1)
    factories.make_signup(meeting, factories.make_user())
    early = factories.make_signup(meeting, factories.make_user(), status="waitlisted")
    ahead_of_the_clock = factories.make_signup(meeting, factories.make_user(), status="waitlisted")
    ahead_of_the_clock.created_at = early.created_at + timedelta(hours=1)
    db.session.commit()
    body = api_as(factories.make_user()).post(_url(meeting)).get_json()
    assert (body["status"], body["position"]) == ("waitlisted", 2)
    listed = api_as(factories.make_user(role="cadre")).get(_url(meeting)).get_json()["items"]
    positions = {item["id"]: item["position"] for item in listed}
    assert positions[body["id"]] == 2
    assert positions[ahead_of_the_clock.id] == 3


def test_a_place_answered_once_is_counted_afresh_after(api_as, factories):
    """The place a sign-up was given is answered without a query once; asked again after
    someone ahead leaves, it is counted again."""
    from consult.attendance import operations, queries

    meeting = factories.make_meeting(capacity=1)
    factories.make_signup(meeting, factories.make_user())
    ahead = factories.make_signup(meeting, factories.make_user(), status="waitlisted")
    person = factories.make_user()
    registration = operations.sign_up(db.session.get(Meeting, meeting.id), person, person)
    assert queries.waitlist_position(registration) == 2
    operations.cancel_registration(ahead, ahead.user)
    assert queries.waitlist_position(registration) == 1
    db.session.rollback()


@pytest.mark.real_commits  # another process (or connection) holds the writers' lock
def test_a_sign_up_refused_for_its_body_does_not_wait_for_the_writers(api_as, factories):
    """The sign-up's body is read before its writing transaction begins (and its answer
    written after the commit): a body refused with 422 is answered while another writer
    holds the lock, which a valid sign-up waits for."""
    import contextlib
    import threading

    from consult import transactions
    from tests.writers_lock import writers_lock_held

    meeting = factories.make_meeting(capacity=5)
    api = api_as(factories.make_user())
    url = _url(meeting)
    path = transactions._queue_path()
    answers: list = []
    thread = threading.Thread(
        target=lambda: answers.append(api.post(url, json={"colour": "red"})), daemon=True
    )
    with contextlib.ExitStack() as held:
        if path is not None:  # SQLite: every writer queues on the file lock first
            held.enter_context(writers_lock_held(path))
        else:  # PostgreSQL: the session's row, locked by another connection
            connection = held.enter_context(db.engine.connect())
            connection.execute(select(Meeting.id).where(Meeting.id == meeting.id).with_for_update())
        thread.start()
        thread.join(timeout=20)
        assert [a.status_code for a in answers] == [422]
    thread.join(timeout=20)
    assert api.post(url).status_code == 201


@pytest.mark.real_commits  # the engine's own transactions are counted
def test_a_sign_up_reads_its_caller_and_writes_in_as_few_transactions_as_the_database_allows(
    api_as, factories
):
    """PostgreSQL (read committed) goes on from the read of the caller's token into the
    write, on one connection taken from the pool once; SQLite must end the read before
    BEGIN IMMEDIATE takes the write lock."""
    from sqlalchemy import event

    meeting = factories.make_meeting(capacity=5)
    api = api_as(factories.make_user())
    api.get("/api/v1/me")  # the token's use is recorded by this first request
    url = _url(meeting)
    db.session.remove()  # the request starts with no connection, as in a server
    begun, taken = [], []

    def on_begin(connection):
        begun.append(connection)

    def on_checkout(*_args):
        taken.append(1)

    event.listen(db.engine, "begin", on_begin)
    event.listen(db.engine.pool, "checkout", on_checkout)
    try:
        assert api.post(url).status_code == 201
    finally:
        event.remove(db.engine, "begin", on_begin)
        event.remove(db.engine.pool, "checkout", on_checkout)
    expected = 1 if db.engine.dialect.name == "postgresql" else 2
    assert (len(begun), len(taken)) == (expected, expected)
