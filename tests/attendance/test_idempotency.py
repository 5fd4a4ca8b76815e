"""A retried sign-up: with the Idempotency-Key of the first try it gets that registration
back (200); without one, the contract's 409 carries the existing registration."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from consult.extensions import db
from consult.meetings.models import Meeting, Registration
from consult.types import utcnow


def _url(meeting) -> str:
    return f"/api/v1/sessions/{meeting.id}/registrations"


def _rows(meeting) -> int:
    return db.session.scalar(
        select(func.count(Registration.id)).where(Registration.meeting_id == meeting.id)
    )


def test_a_retry_with_the_same_key_returns_the_first_registration(api_as, factories):
    meeting = factories.make_meeting(capacity=5)
    api = api_as(factories.make_user())
    key = {"Idempotency-Key": "3f1c9a52-7d1e-4a5b-9c44-2b7f0e1d8a61"}
    first = api.post(_url(meeting), headers=key)
    assert first.status_code == 201
    again = api.post(_url(meeting), headers=key)
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert _rows(meeting) == 1
    assert db.session.get(Meeting, meeting.id).confirmed_count == 1


def test_the_retry_works_after_the_session_has_started(api_as, factories):
    meeting = factories.make_meeting(capacity=5)
    api = api_as(factories.make_user())
    key = {"Idempotency-Key": "retry-after-start"}
    first = api.post(_url(meeting), headers=key).get_json()
    row = db.session.get(Meeting, meeting.id)
    row.starts_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    again = api.post(_url(meeting), headers=key)
    assert again.status_code == 200
    assert again.get_json()["id"] == first["id"]


def test_without_a_key_the_conflict_carries_the_registration(api_as, factories):
    meeting = factories.make_meeting(capacity=1)
    factories.make_signup(meeting)
    api = api_as(factories.make_user())
    first = api.post(_url(meeting)).get_json()
    assert first["status"] == "waitlisted"
    again = api.post(_url(meeting))
    assert again.status_code == 409
    error = again.get_json()["error"]
    assert error["code"] == "conflict"
    assert error["registration"] == first
    # A new key for a second, distinct attempt is still the contract's conflict.
    other = api.post(_url(meeting), headers={"Idempotency-Key": "another-attempt"})
    assert other.status_code == 409
    assert other.get_json()["error"]["registration"]["id"] == first["id"]
    assert _rows(meeting) == 2


def test_a_proxy_retry_with_its_key_returns_the_same_registration(api_as, factories):
    meeting = factories.make_meeting(capacity=5)
    api = api_as(factories.make_user("cadre"))
    body = {"name": "王秀兰", "phone": "13812345678"}
    key = {"Idempotency-Key": "desk-0001"}
    first = api.post(_url(meeting), json=body, headers=key)
    assert first.status_code == 201
    again = api.post(_url(meeting), json=body, headers=key)
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    plain = api.post(_url(meeting), json=body)
    assert plain.status_code == 409
    assert plain.get_json()["error"]["registration"]["id"] == first.get_json()["id"]
    assert _rows(meeting) == 1


def test_someone_elses_key_is_refused(api_as, factories):
    meeting = factories.make_meeting(capacity=5)
    key = {"Idempotency-Key": "shared-key"}
    assert api_as(factories.make_user()).post(_url(meeting), headers=key).status_code == 201
    response = api_as(factories.make_user()).post(_url(meeting), headers=key)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"
    assert _rows(meeting) == 1


def test_a_malformed_key_is_refused(api_as, factories):
    meeting = factories.make_meeting(capacity=5)
    api = api_as(factories.make_user())
    for bad in ("x" * 65, "with space", "\u4e2d\u6587"):
        response = api.post(
            _url(meeting), headers={"Idempotency-Key": bad.encode().decode("latin-1")}
        )
        assert response.status_code == 422, bad
        assert "Idempotency-Key" in response.get_json()["error"]["fields"]
    assert _rows(meeting) == 0


def test_the_header_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    post = spec["paths"]["/api/v1/sessions/{meeting_id}/registrations"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert "200" in post["responses"]
