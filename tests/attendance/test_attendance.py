"""Taking attendance: marks, walk-ins, the count, the sign-in sheet, the CSV and check-in."""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from consult.attendance import links, operations
from consult.extensions import db
from consult.meetings.models import Attendance, Meeting
from tests.conftest import csrf_token_from


@pytest.fixture
def session_today(factories):
    """A session starting in an hour with two confirmed, one waiting, two invitees."""
    meeting = factories.make_meeting(
        capacity=2, starts_in=timedelta(hours=1), kind="joint_meeting", title="联席会议"
    )
    regs = [
        operations.sign_up(meeting, factories.make_user(name=n)) for n in ("张伟", "王芳", "李娜")
    ]
    operations.sign_up_proxy(meeting, {"name": "赵敏", "phone": "0936-6621188"}, None)
    db.session.commit()
    unit = factories.make_unit(name="城关供电所")
    invitations = [
        factories.make_invitation(meeting, name="马建国", unit=unit, partstat="ACCEPTED"),
        factories.make_invitation(meeting, email="li@example.org"),
    ]
    return meeting, regs, invitations


def _marks(client, meeting, marks):
    url = f"/sessions/{meeting.id}/attendance"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **marks})


def _status(meeting_id):
    return {
        (a.registration_id, a.invitation_id, a.name): a.status
        for a in db.session.scalars(select(Attendance).where(Attendance.meeting_id == meeting_id))
    }


def test_secretary_marks_registrants_and_invitees(client, login_as, factories, session_today):
    meeting, regs, invitations = session_today
    login_as(factories.make_user(role="secretary"))
    page = client.get(f"/sessions/{meeting.id}/attendance").get_data(as_text=True)
    for name in ("张伟", "王芳", "李娜", "赵敏", "马建国", "li@example.org"):
        assert name in page
    response = _marks(
        client,
        meeting,
        {
            f"mark-registration-{regs[0].id}": "present",
            f"mark-registration-{regs[1].id}": "late",
            f"mark-registration-{regs[2].id}": "absent",
            f"mark-invitation-{invitations[0].id}": "present",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert _status(meeting.id) == {
        (regs[0].id, None, None): "present",
        (regs[1].id, None, None): "late",
        (regs[2].id, None, None): "absent",
        (None, invitations[0].id, None): "present",
    }
    meeting = db.session.get(Meeting, meeting.id)
    # Taken an hour early: counted, but the session is held only once it has started.
    assert meeting.status == "scheduled" and meeting.attended_count == 3
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Attendance saved: 3 people came." in page
    assert f'data-row="registration-{regs[1].id}" data-attendance="late"' in page


def test_marks_can_be_corrected(client, login_as, factories, session_today):
    meeting, regs, _invitations = session_today
    login_as(factories.make_user(role="secretary"))
    _marks(client, meeting, {f"mark-registration-{regs[0].id}": "present"})
    _marks(client, meeting, {f"mark-registration-{regs[0].id}": "absent"})
    db.session.expire_all()
    assert _status(meeting.id) == {(regs[0].id, None, None): "absent"}
    assert db.session.get(Meeting, meeting.id).attended_count == 0
    assert db.session.scalar(select(func.count(Attendance.id))) == 1


def test_walk_ins_are_added_by_name_and_counted(client, login_as, factories, session_today):
    meeting, regs, _invitations = session_today
    login_as(factories.make_user(role="secretary"))
    url = f"/sessions/{meeting.id}/attendance"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    response = client.post(f"{url}/walk-in", data={"csrf_token": token, "name": " 孙丽 "})
    assert response.status_code == 302
    db.session.expire_all()
    walk_in = db.session.scalar(select(Attendance).where(Attendance.name.is_not(None)))
    assert (walk_in.name, walk_in.status) == ("孙丽", "present")
    assert db.session.get(Meeting, meeting.id).attended_count == 1
    assert db.session.get(Meeting, meeting.id).status == "scheduled"  # not started yet
    _marks(
        client,
        meeting,
        {f"mark-attendance-{walk_in.id}": "late", f"mark-registration-{regs[0].id}": "present"},
    )
    db.session.expire_all()
    assert db.session.get(Attendance, walk_in.id).status == "late"
    assert db.session.get(Meeting, meeting.id).attended_count == 2


def test_walk_in_without_a_name_is_a_field_error(client, login_as, factories, session_today):
    meeting, _regs, _invitations = session_today
    login_as(factories.make_user(role="secretary"))
    url = f"/sessions/{meeting.id}/attendance"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    response = client.post(f"{url}/walk-in", data={"csrf_token": token, "name": "  "})
    assert response.status_code == 422
    assert "is-invalid" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Attendance.id))) == 0
    assert db.session.get(Meeting, meeting.id).status == "scheduled"


def test_marks_for_someone_of_another_session_are_refused(
    client, login_as, factories, session_today
):
    meeting, regs, _invitations = session_today
    other = factories.make_meeting(starts_in=timedelta(hours=1))
    stranger = operations.sign_up(other, factories.make_user())
    db.session.commit()
    login_as(factories.make_user(role="secretary"))
    response = _marks(
        client,
        meeting,
        {
            f"mark-registration-{regs[0].id}": "present",
            f"mark-registration-{stranger.id}": "present",
        },
    )
    assert response.status_code == 422
    assert "does not belong to this session" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Attendance.id))) == 0


def test_unknown_mark_values_are_ignored(client, login_as, factories, session_today):
    meeting, regs, _invitations = session_today
    login_as(factories.make_user(role="secretary"))
    _marks(
        client,
        meeting,
        {f"mark-registration-{regs[0].id}": "asleep", "mark-registration-x": "present"},
    )
    assert db.session.scalar(select(func.count(Attendance.id))) == 0


def test_attendance_of_a_cancelled_or_far_future_session_is_refused(client, login_as, factories):
    cancelled = factories.make_meeting(status="cancelled", starts_in=timedelta(hours=1))
    future = factories.make_meeting(starts_in=timedelta(days=3))
    login_as(factories.make_user(role="secretary"))
    for meeting, message in ((cancelled, "has been cancelled"), (future, "from one day before")):
        url = f"/sessions/{meeting.id}/attendance"
        token = csrf_token_from(client.get(url).get_data(as_text=True))
        response = client.post(f"{url}/walk-in", data={"csrf_token": token, "name": "孙丽"})
        assert response.status_code == 409
        assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Meeting, cancelled.id).status == "cancelled"
    assert db.session.get(Meeting, future.id).status == "scheduled"
    assert db.session.scalar(select(func.count(Attendance.id))) == 0


def test_past_session_attendance_can_be_entered_afterwards(client, login_as, factories):
    meeting = factories.make_meeting(starts_in=timedelta(days=-2), capacity=3)
    login_as(factories.make_user(role="secretary"))
    url = f"/sessions/{meeting.id}/attendance"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    assert (
        client.post(f"{url}/walk-in", data={"csrf_token": token, "name": "孙丽"}).status_code == 302
    )
    assert db.session.get(Meeting, meeting.id).status == "held"


def test_sign_in_sheet_has_a_blank_signature_column(client, login_as, factories, session_today):
    meeting, _regs, _invitations = session_today
    login_as(factories.make_user(role="cadre"))
    html = client.get(f"/sessions/{meeting.id}/attendance/sheet").get_data(as_text=True)
    assert "Signature" in html and "联席会议" in html
    assert html.count('<td class="signature"></td>') == 6 + 8  # people + blank lines
    assert "@media print" in html
    for name in ("张伟", "王芳", "李娜", "赵敏", "马建国"):
        assert name in html


def test_csv_export_is_utf8_with_bom_and_chinese(client, login_as, factories, session_today):
    meeting, regs, _invitations = session_today
    login_as(factories.make_user(role="secretary"))
    _marks(client, meeting, {f"mark-registration-{regs[0].id}": "present"})
    response = client.get(f"/sessions/{meeting.id}/attendance.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["No.", "Name", "Phone or unit", "Sign-up", "Attendance"]
    assert rows[1] == ["1", "张伟", "", "Confirmed", "Present"]
    assert ["4", "赵敏", "0936-6621188", "Waiting list", ""] in rows
    assert ["5", "li@example.org", "", "Invited, no answer yet", ""] in rows
    assert ["6", "马建国", "城关供电所", "Invited, accepted", ""] in rows
    assert b"\r\n" in raw


def test_csv_cells_cannot_become_formulas(client, login_as, factories):
    meeting = factories.make_meeting(starts_in=timedelta(hours=1))
    operations.add_walk_in(meeting, {"name": '=HYPERLINK("x")'}, None)
    db.session.commit()
    login_as(factories.make_user(role="secretary"))
    text = client.get(f"/sessions/{meeting.id}/attendance.csv").get_data().decode("utf-8-sig")
    assert "'=HYPERLINK" in text


# -- check-in by QR code ----------------------------------------------------------------


def _checkin_path(registration):
    url = links.checkin_url(registration)
    assert url.startswith("http://consult.test/checkin/")
    return url.removeprefix("http://consult.test")


def test_staff_check_someone_in_with_one_tap(client, login_as, factories, session_today):
    meeting, regs, _invitations = session_today
    path = _checkin_path(regs[0])
    login_as(factories.make_user(role="secretary"))
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "张伟" in html and 'data-action="check-in"' in html
    assert db.session.scalar(select(func.count(Attendance.id))) == 0  # GET changes nothing
    response = client.post(path, data={"csrf_token": csrf_token_from(html)})
    assert response.status_code == 302
    db.session.expire_all()
    assert _status(meeting.id) == {(regs[0].id, None, None): "present"}
    meeting = db.session.get(Meeting, meeting.id)
    assert meeting.status == "scheduled" and meeting.attended_count == 1  # an early check-in
    after = client.get(path).get_data(as_text=True)
    assert "is checked in" in after and 'data-action="check-in"' not in after
    # Twice is harmless.
    client.post(path, data={"csrf_token": csrf_token_from(html)})
    assert db.session.scalar(select(func.count(Attendance.id))) == 1


def test_check_in_keeps_a_late_mark(client, login_as, factories, session_today):
    meeting, regs, _invitations = session_today
    operations.record_attendance(meeting, {("registration", regs[0].id): "late"}, None)
    db.session.commit()
    row = operations.check_in(regs[0], None)
    assert row.status == "late"


def test_anonymous_visitor_is_sent_to_sign_in(client, factories, session_today):
    _meeting, regs, _invitations = session_today
    path = _checkin_path(regs[0])
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"] and "checkin" in response.headers["Location"]


@pytest.mark.parametrize("role", ["resident", "unit_rep"])
def test_other_roles_may_not_check_in(client, login_as, factories, session_today, role):
    _meeting, regs, _invitations = session_today
    login_as(factories.make_user(role=role))
    assert client.get(_checkin_path(regs[0])).status_code == 403
    client.application.config["WTF_CSRF_ENABLED"] = False
    assert client.post(_checkin_path(regs[0])).status_code == 403
    assert db.session.scalar(select(func.count(Attendance.id))) == 0


class _PastSigner(TimestampSigner):
    """Signs as if the link had been made long ago."""

    def get_timestamp(self):
        return int(time.time()) - links.CHECKIN_MAX_AGE - 60


def _past(app, salt):
    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=salt, signer=_PastSigner)


@pytest.mark.parametrize(("kind", "status"), [("forged", 400), ("expired", 410)])
def test_forged_or_expired_check_in_link(
    app, client, login_as, factories, session_today, kind, status
):
    _meeting, regs, _invitations = session_today
    if kind == "forged":
        token = links.checkin_token(regs[0].id)[:-3] + "xyz"
    else:
        token = _past(app, links.CHECKIN_SALT).dumps({"r": regs[0].id})
    login_as(factories.make_user(role="secretary"))
    app.config["WTF_CSRF_ENABLED"] = False
    for method in ("GET", "POST"):
        response = client.open(f"/checkin/{token}", method=method)
        assert response.status_code == status
        assert "Nothing was changed" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Attendance.id))) == 0


def test_cancelled_registration_cannot_be_checked_in(client, login_as, factories, session_today):
    _meeting, regs, _invitations = session_today
    operations.cancel_registration(regs[0], None)
    db.session.commit()
    login_as(factories.make_user(role="secretary"))
    html = client.get(_checkin_path(regs[0])).get_data(as_text=True)
    assert "was cancelled" in html and 'data-action="check-in"' not in html
    response = client.post(_checkin_path(regs[0]), data={"csrf_token": csrf_token_from(html)})
    assert response.status_code == 409
    assert db.session.scalar(select(func.count(Attendance.id))) == 0


def test_attendance_page_query_count_does_not_grow_with_rows(
    client, login_as, factories, count_queries
):
    meeting = factories.make_meeting(capacity=2, starts_in=timedelta(hours=1))
    login_as(factories.make_user(role="secretary"))
    url = f"/sessions/{meeting.id}/attendance"
    counts = []
    for batch in (1, 6):
        for i in range(batch):
            operations.sign_up(meeting, factories.make_user())
            operations.add_walk_in(meeting, {"name": f"孙{i}"}, None)
            db.session.commit()
            factories.make_invitation(meeting, unit=factories.make_unit())
        db.session.expire_all()
        with count_queries() as counted:
            assert client.get(url).status_code == 200
        counts.append(counted.n)
    # ... the secretary's memberships (the community scope) among them.
    assert counts == [7, 7], counts
