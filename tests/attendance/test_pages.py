"""The sign-up panel of the session page, proxy sign-up, slips and the registrations page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from consult.attendance import operations
from consult.extensions import db
from consult.meetings.models import Meeting, Registration
from tests.conftest import csrf_token_from


def _page(client, meeting):
    response = client.get(f"/sessions/{meeting.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _panel(html: str) -> str:
    match = re.search(r'<section class="card mb-3 attendance-panel".*?</section>', html, re.S)
    assert match, "no sign-up panel on the session page"
    return match.group(0)


def _sign_up(client, meeting):
    token = csrf_token_from(_page(client, meeting))
    return client.post(
        f"/sessions/{meeting.id}/sign-up", data={"csrf_token": token}, follow_redirects=True
    )


def test_anonymous_visitor_is_asked_to_sign_in(client, factories):
    meeting = factories.make_meeting(capacity=10)
    panel = _panel(_page(client, meeting))
    assert "Sign in to sign up" in panel
    assert "Places taken: 0 of 10" in panel


def test_resident_signs_up_from_the_page_and_sees_the_status(client, login_as, factories):
    meeting = factories.make_meeting(capacity=10)
    resident = factories.make_user()
    login_as(resident)
    panel = _panel(_page(client, meeting))
    assert 'data-action="sign-up"' in panel
    response = _sign_up(client, meeting)
    html = response.get_data(as_text=True)
    assert "You have a place" in html
    panel = _panel(html)
    assert 'data-mine="confirmed"' in panel
    assert 'data-qr="checkin"' in panel and "data:image/svg+xml" in panel
    assert 'data-action="cancel"' in panel
    assert db.session.scalar(select(func.count(Registration.id))) == 1


def test_signing_up_twice_from_the_page_says_already_registered(client, login_as, factories):
    meeting = factories.make_meeting(capacity=10)
    login_as(factories.make_user())
    token = csrf_token_from(_page(client, meeting))
    client.post(f"/sessions/{meeting.id}/sign-up", data={"csrf_token": token})
    again = client.post(
        f"/sessions/{meeting.id}/sign-up", data={"csrf_token": token}, follow_redirects=True
    )
    assert "already registered" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Registration.id))) == 1


def test_waiting_person_sees_the_position(client, login_as, factories):
    meeting = factories.make_meeting(capacity=1)
    operations.sign_up(meeting, factories.make_user())
    db.session.commit()
    login_as(factories.make_user())
    assert "Join the waiting list" in _panel(_page(client, meeting))
    html = _sign_up(client, meeting).get_data(as_text=True)
    assert "number 1 on the waiting list" in html
    assert "Waiting list, number 1" in _panel(html)


def test_cancel_from_the_page(client, login_as, factories):
    meeting = factories.make_meeting(capacity=1)
    resident = factories.make_user()
    login_as(resident)
    _sign_up(client, meeting)
    registration = db.session.scalar(select(Registration))
    token = csrf_token_from(_page(client, meeting))
    # The first POST asks: the place of a full session would be lost.
    asked = client.post(f"/registrations/{registration.id}/cancel", data={"csrf_token": token})
    assert asked.status_code == 200 and "data-confirm" in asked.get_data(as_text=True)
    assert "The session is full" in asked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Registration, registration.id).status == "confirmed"
    response = client.post(
        f"/registrations/{registration.id}/cancel",
        data={"csrf_token": token, "confirmed": "1"},
        follow_redirects=True,
    )
    assert "The registration is cancelled." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Registration, registration.id).status == "cancelled"
    assert 'data-action="sign-up"' in _panel(response.get_data(as_text=True))


def test_cancelled_and_started_sessions_take_no_sign_up(client, login_as, factories):
    login_as(factories.make_user())
    cancelled = factories.make_meeting(status="cancelled")
    started = factories.make_meeting(starts_in=timedelta(minutes=-10))
    assert "has been cancelled" in _panel(_page(client, cancelled))
    assert "the session has started" in _panel(_page(client, started))
    for meeting in (cancelled, started):
        token = csrf_token_from(_page(client, meeting))
        response = client.post(
            f"/sessions/{meeting.id}/sign-up", data={"csrf_token": token}, follow_redirects=True
        )
        assert response.status_code == 200
    assert db.session.scalar(select(func.count(Registration.id))) == 0


def test_sign_up_without_a_csrf_token_is_refused(client, login_as, factories):
    meeting = factories.make_meeting()
    login_as(factories.make_user())
    assert client.post(f"/sessions/{meeting.id}/sign-up").status_code == 400
    assert db.session.scalar(select(func.count(Registration.id))) == 0


def test_anonymous_sign_up_goes_to_the_sign_in_page(client, factories):
    meeting = factories.make_meeting()
    client.application.config["WTF_CSRF_ENABLED"] = False
    response = client.post(f"/sessions/{meeting.id}/sign-up")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_series_button_signs_up_for_all_coming_occurrences(client, login_as, factories):
    series, meetings = factories.make_series(count=3, capacity=5)
    login_as(factories.make_user())
    html = _page(client, meetings[0])
    assert "Sign up for all 3 coming sessions" in _panel(html)
    response = client.post(
        f"/series/{series.id}/sign-up",
        data={"csrf_token": csrf_token_from(html), "next": f"/sessions/{meetings[0].id}"},
        follow_redirects=True,
    )
    assert "Signed up for 3 sessions: 3 confirmed" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Registration.id))) == 3
    assert "sign-up-series" not in _panel(response.get_data(as_text=True))


def test_staff_see_the_invitation_answers_on_the_panel(client, login_as, factories):
    meeting = factories.make_meeting(kind="joint_meeting")
    unit = factories.make_unit(name="城关供电所")
    factories.make_invitation(meeting, name="马建国", unit=unit, partstat="ACCEPTED")
    factories.make_invitation(meeting, email="li@example.org", partstat="DECLINED")
    factories.make_invitation(meeting, email="zhou@example.org", partstat="ACCEPTED")
    factories.make_invitation(meeting, email="wu@example.org")
    login_as(factories.make_user(role="cadre"))
    panel = _panel(_page(client, meeting))
    answers = dict(re.findall(r'data-answers="([A-Z-]+)">.*?answer-count">(\d+)<', panel, re.S))
    assert answers == {"ACCEPTED": "2", "DECLINED": "1", "NEEDS-ACTION": "1"}
    # Each invitee's answer is on the attendance list the panel links to.
    page = client.get(f"/sessions/{meeting.id}/attendance").get_data(as_text=True)
    assert "马建国" in page and "城关供电所" in page and 'data-partstat="DECLINED"' in page


def test_residents_do_not_see_the_answers(client, login_as, factories):
    meeting = factories.make_meeting(kind="joint_meeting")
    factories.make_invitation(meeting, name="马建国", partstat="ACCEPTED")
    login_as(factories.make_user())
    panel = _panel(_page(client, meeting))
    assert "马建国" not in panel and "data-staff-links" not in panel


# -- proxy sign-up ---------------------------------------------------------------------


def _proxy(client, meeting, **data):
    url = f"/sessions/{meeting.id}/proxy"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def test_cadre_signs_up_someone_and_prints_the_slip(client, login_as, factories):
    meeting = factories.make_meeting(capacity=2, title="周五说事日")
    login_as(factories.make_user(role="cadre"))
    response = _proxy(client, meeting, name="王秀英", phone="0936-6621188", note="腿脚不便")
    assert response.status_code == 302
    registration = db.session.scalar(select(Registration))
    assert response.headers["Location"].endswith(f"/registrations/{registration.id}/slip")
    assert (registration.name, registration.phone, registration.note, registration.status) == (
        "王秀英",
        "0936-6621188",
        "腿脚不便",
        "confirmed",
    )
    slip = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "王秀英" in slip and "周五说事日" in slip
    # The print button works through consult.js (no inline script under the CSP).
    assert 'data-qr="checkin"' in slip and "data-print" in slip
    assert 'src="/static/consult.js"' in slip and "window.print()" not in slip
    assert db.session.get(Meeting, meeting.id).confirmed_count == 1


def test_the_secretary_reaches_desk_sign_up(client, login_as, factories):
    meeting = factories.make_meeting(title="周五说事日")
    login_as(factories.make_user(role="secretary"))
    panel = client.get(f"/sessions/{meeting.id}").get_data(as_text=True)
    assert f'href="/sessions/{meeting.id}/proxy"' in panel
    response = _proxy(client, meeting, name="王秀英", phone="0936-6621188")
    assert response.status_code == 302
    assert db.session.scalar(select(Registration)).name == "王秀英"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "phone": "13812345678"}, "This field is required."),
        ({"name": "王秀英", "phone": ""}, "This field is required."),
        ({"name": "王秀英", "phone": "1234"}, "Enter a mobile number of 11 digits"),
        ({"name": "王秀英", "phone": "23812345678"}, "Enter a mobile number of 11 digits"),
    ],
)
def test_proxy_form_shows_field_errors_and_keeps_the_input(
    client, login_as, factories, data, message
):
    meeting = factories.make_meeting()
    login_as(factories.make_user(role="cadre"))
    response = _proxy(client, meeting, note="keep me", **data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and "is-invalid" in html and "keep me" in html
    if data["name"]:
        assert f'value="{data["name"]}"' in html
    assert db.session.scalar(select(func.count(Registration.id))) == 0


def test_proxy_twice_with_the_same_phone_says_already_registered(client, login_as, factories):
    meeting = factories.make_meeting()
    login_as(factories.make_user(role="cadre"))
    _proxy(client, meeting, name="王秀英", phone="13812345678")
    again = _proxy(client, meeting, name="王秀英", phone="13812345678")
    assert again.status_code == 409
    assert "already registered" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Registration.id))) == 1


def test_proxy_for_a_cancelled_session_is_refused(client, login_as, factories):
    meeting = factories.make_meeting(status="cancelled")
    login_as(factories.make_user(role="cadre"))
    page = client.get(f"/sessions/{meeting.id}/proxy").get_data(as_text=True)
    assert "has been cancelled" in page
    client.application.config["WTF_CSRF_ENABLED"] = False
    response = client.post(
        f"/sessions/{meeting.id}/proxy", data={"name": "王秀英", "phone": "13812345678"}
    )
    assert response.status_code == 409
    assert db.session.scalar(select(func.count(Registration.id))) == 0


# -- who may open which page -----------------------------------------------------------


ROLES = ["admin", "cadre", "secretary", "resident", "unit_rep"]
PAGES = {
    "proxy": ("/sessions/{m}/proxy", {"admin", "cadre", "secretary"}),
    "registrations": ("/sessions/{m}/registrations", {"admin", "cadre", "secretary"}),
    "attendance": ("/sessions/{m}/attendance", {"admin", "cadre", "secretary"}),
    "sheet": ("/sessions/{m}/attendance/sheet", {"admin", "cadre", "secretary"}),
    "csv": ("/sessions/{m}/attendance.csv", {"admin", "cadre", "secretary"}),
    "slip": ("/registrations/{r}/slip", {"admin", "cadre", "secretary"}),
}


@pytest.mark.parametrize("page", sorted(PAGES))
@pytest.mark.parametrize("role", ROLES)
def test_page_permissions_per_role(client, login_as, factories, page, role):
    meeting = factories.make_meeting(starts_in=timedelta(hours=2))
    registration = operations.sign_up(meeting, factories.make_user())
    db.session.commit()
    path, allowed = PAGES[page]
    url = path.format(m=meeting.id, r=registration.id)
    login_as(factories.make_user(role=role))
    # Someone else's registration is not even seen: 404; the session's pages: 403.
    refused = 404 if page == "slip" else 403
    assert client.get(url).status_code == (200 if role in allowed else refused)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_pages_send_anonymous_visitors_to_sign_in(client, factories, page):
    meeting = factories.make_meeting()
    registration = operations.sign_up(meeting, factories.make_user())
    db.session.commit()
    url = PAGES[page][0].format(m=meeting.id, r=registration.id)
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_registrant_sees_their_own_slip(client, login_as, factories):
    meeting = factories.make_meeting()
    resident = factories.make_user()
    registration = operations.sign_up(meeting, resident)
    db.session.commit()
    login_as(resident)
    assert client.get(f"/registrations/{registration.id}/slip").status_code == 200


def test_private_session_pages_are_404_for_strangers(client, login_as, factories):
    meeting = factories.make_meeting(kind="mediation")
    login_as(factories.make_user())
    assert client.get(f"/sessions/{meeting.id}/proxy").status_code == 404
    assert client.get("/sessions/999999/registrations").status_code == 404


# -- the registrations page --------------------------------------------------------------


def _registrants(factories, meeting, n):
    for i in range(n):
        if i % 3 == 2:
            operations.sign_up_proxy(meeting, {"name": f"王{i}", "phone": f"1390000{i:04d}"}, None)
        else:
            operations.sign_up(meeting, factories.make_user(name=f"刘{i}"))
        db.session.commit()


def test_registrations_page_lists_confirmed_then_waiting_in_order(client, login_as, factories):
    meeting = factories.make_meeting(capacity=2)
    _registrants(factories, meeting, 5)
    login_as(factories.make_user(role="secretary"))
    html = client.get(f"/sessions/{meeting.id}/registrations").get_data(as_text=True)
    rows = re.findall(
        r'<tr data-registration="\d+" data-status="(\w+)"(?: data-position="(\d+)")?', html
    )
    assert rows == [
        ("confirmed", ""),
        ("confirmed", ""),
        ("waitlisted", "1"),
        ("waitlisted", "2"),
        ("waitlisted", "3"),
    ]
    names = re.findall(r"<td>(刘\d|王\d)", html)
    assert names == ["刘0", "刘1", "王2", "刘3", "刘4"]


def test_registrations_page_query_count_does_not_grow_with_rows(
    client, login_as, factories, count_queries
):
    meeting = factories.make_meeting(capacity=3)
    login_as(factories.make_user(role="cadre"))
    url = f"/sessions/{meeting.id}/registrations"
    counts = []
    for n in (2, 12):
        _registrants(factories, meeting, n - (counts and 2 or 0))
        db.session.expire_all()
        with count_queries() as counted:
            assert client.get(url).status_code == 200
        counts.append(counted.n)
    # (the cadre's memberships, for the community scope, among them)
    assert counts == [5, 5], counts
