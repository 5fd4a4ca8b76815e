"""Invitees answer from the signed link in their mail, without signing in."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from consult.attendance import links
from consult.audit.models import AuditEntry
from consult.extensions import db
from consult.meetings.models import Invitation
from tests.conftest import csrf_token_from


def _path(url: str) -> str:
    assert url.startswith("http://consult.test/rsvp/")
    return url.removeprefix("http://consult.test")


def _answer(client, path):
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token})


def test_get_shows_the_question_and_changes_nothing(client, factories):
    meeting = factories.make_meeting(kind="joint_meeting", title="联席会议")
    invitation = factories.make_invitation(meeting, name="马建国")
    response = client.get(_path(links.rsvp_url(invitation, "ACCEPTED")))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "联席会议" in html and "马建国" in html
    assert 'data-answer="ACCEPTED"' in html and 'data-answer="DECLINED"' in html
    db.session.expire_all()
    invitation = db.session.get(Invitation, invitation.id)
    assert invitation.partstat == "NEEDS-ACTION" and invitation.responded_at is None
    assert (
        db.session.scalar(select(AuditEntry).where(AuditEntry.action == "invitation.answer"))
        is None
    )


@pytest.mark.parametrize("partstat", ["ACCEPTED", "DECLINED", "TENTATIVE"])
def test_post_records_the_answer(client, factories, partstat):
    meeting = factories.make_meeting(kind="joint_meeting")
    invitation = factories.make_invitation(meeting)
    response = _answer(client, _path(links.rsvp_url(invitation, partstat)))
    assert response.status_code == 302
    db.session.expire_all()
    invitation = db.session.get(Invitation, invitation.id)
    assert invitation.partstat == partstat and invitation.responded_at is not None
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "invitation.answer"))
    assert entry.data == {"partstat": ["NEEDS-ACTION", partstat]} and entry.actor_id is None
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "your answer is recorded" in page
    assert f'data-partstat="{partstat}"' in page


def test_answer_can_be_changed_from_the_same_page(client, factories):
    meeting = factories.make_meeting(kind="joint_meeting")
    invitation = factories.make_invitation(meeting)
    _answer(client, _path(links.rsvp_url(invitation, "ACCEPTED")))
    _answer(client, _path(links.rsvp_url(invitation, "DECLINED")))
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).partstat == "DECLINED"


def test_post_without_the_form_token_changes_nothing(client, factories):
    invitation = factories.make_invitation(factories.make_meeting())
    response = client.post(_path(links.rsvp_url(invitation, "ACCEPTED")))
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).partstat == "NEEDS-ACTION"


def _forgeries(invitation, app):
    good = links.rsvp_token(invitation.id, "ACCEPTED")
    other_key = URLSafeTimedSerializer("another-secret", salt=links.RSVP_SALT)
    checkin_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=links.CHECKIN_SALT)
    return {
        "altered": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "cut short": good[: len(good) // 2],
        "garbage": "not-a-token",
        "other key": other_key.dumps({"i": invitation.id, "p": "ACCEPTED"}),
        "other purpose": checkin_salt.dumps({"i": invitation.id, "p": "ACCEPTED"}),
    }


@pytest.mark.parametrize("kind", ["altered", "cut short", "garbage", "other key", "other purpose"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_forged_link_shows_a_clear_page_and_changes_nothing(app, client, factories, kind, method):
    invitation = factories.make_invitation(factories.make_meeting())
    token = _forgeries(invitation, app)[kind]
    app.config["WTF_CSRF_ENABLED"] = False
    response = client.open(f"/rsvp/{token}", method=method)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'data-link-error="invalid"' in html and "Nothing was changed" in html
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).partstat == "NEEDS-ACTION"


class _PastSigner(TimestampSigner):
    """Signs as if the link had been made long ago."""

    def get_timestamp(self):
        return int(time.time()) - links.RSVP_MAX_AGE - 60


def _past(app, salt):
    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=salt, signer=_PastSigner)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_expired_link_is_gone_and_changes_nothing(app, client, factories, method):
    invitation = factories.make_invitation(factories.make_meeting())
    token = _past(app, links.RSVP_SALT).dumps({"i": invitation.id, "p": "ACCEPTED"})
    app.config["WTF_CSRF_ENABLED"] = False
    response = client.open(f"/rsvp/{token}", method=method)
    assert response.status_code == 410
    assert 'data-link-error="expired"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).partstat == "NEEDS-ACTION"


def test_link_of_a_deleted_invitation_or_unknown_answer(app, client, factories):
    invitation = factories.make_invitation(factories.make_meeting())
    gone = links.rsvp_token(invitation.id + 1000, "ACCEPTED")
    assert client.get(f"/rsvp/{gone}").status_code == 400
    odd = links.rsvp_token(invitation.id, "NEEDS-ACTION")
    assert client.get(f"/rsvp/{odd}").status_code == 400


def test_cancelled_session_takes_no_answer(app, client, factories):
    meeting = factories.make_meeting(status="cancelled")
    invitation = factories.make_invitation(meeting)
    path = _path(links.rsvp_url(invitation, "ACCEPTED"))
    page = client.get(path).get_data(as_text=True)
    assert "has been cancelled" in page and "data-answer" not in page
    app.config["WTF_CSRF_ENABLED"] = False
    assert client.post(path).status_code == 409
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).partstat == "NEEDS-ACTION"


def test_private_session_invitee_answers_without_an_account(client, factories):
    meeting = factories.make_meeting(kind="mediation", title="邻里调解")
    invitation = factories.make_invitation(meeting, name="陈立")
    response = _answer(client, _path(links.rsvp_url(invitation, "TENTATIVE")))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).partstat == "TENTATIVE"
