"""Writes of every kind at once, on a real multi-process server: nothing is "locked".

Sign-ups, case creation, invitations and minutes saves are sent together (one thread
each, released by a barrier) to gunicorn with 4 worker processes on the test
database. Every write takes the same path (the write boundary: BEGIN IMMEDIATE on
SQLite, retries of lock and serialisation failures), so none fails with "database is
locked" or a 500; each answers as the contract says, and the database holds exactly
what the answers report.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from consult.cases.models import Case
from consult.extensions import db
from consult.mail.models import OutboxMessage
from consult.meetings.models import Invitation, Registration
from consult.minutes.models import AgendaItem, Minutes
from tests.attendance.load import Server, all_at_once, request, residents_with_tokens

#: Writers race in threads, each on a connection of its own.
pytestmark = pytest.mark.real_commits

SIGN_UPS = 16
CASES = 10
INVITATIONS = 10
SAVES = 8


@pytest.fixture
def server(app, database_url, tmp_path):
    # The app fixture's teardown empties the tables after the server is gone.
    db.session.remove()
    live = Server(database_url, tmp_path / "gunicorn.log", workers=4)
    try:
        live.wait_ready()
        yield live
    finally:
        live.stop()


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_concurrent_writes_of_every_kind_never_lock(app, factories, server):
    cadre = factories.make_user("cadre")
    cadre_token = factories.make_api_token(cadre)
    signup_meeting = factories.make_meeting(capacity=5).id
    invite_meeting = factories.make_meeting().id
    minutes_meeting = factories.make_meeting()
    item = AgendaItem(meeting_id=minutes_meeting.id, position=1, title="议题一")
    db.session.add(item)
    db.session.commit()
    item_id, minutes_id, community = item.id, minutes_meeting.id, minutes_meeting.community.name
    people = residents_with_tokens(SIGN_UPS)
    db.session.remove()

    def call(method, path, body, token):
        data = json.dumps(body).encode()
        return lambda: request(
            server.port,
            method,
            path,
            body=data,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept-Language": "en",
            },
        )

    jobs = {"sign_up": [], "case": [], "invite": [], "minutes": []}
    for _user_id, token in people:
        jobs["sign_up"].append(
            call("POST", f"/api/v1/sessions/{signup_meeting}/registrations", {}, token)
        )
    for k in range(CASES):
        jobs["case"].append(
            call(
                "POST",
                "/api/v1/cases",
                {
                    "title": f"楼道堆物 {k}",
                    "description": "",
                    "community": community,
                    "category": "concern",
                },
                cadre_token,
            )
        )
    for k in range(INVITATIONS):
        jobs["invite"].append(
            call(
                "POST",
                f"/api/v1/sessions/{invite_meeting}/invitations",
                {"emails": [f"guest{k}@example.org"]},
                cadre_token,
            )
        )
    for k in range(SAVES):
        jobs["minutes"].append(
            call(
                "PUT",
                f"/api/v1/sessions/{minutes_id}/minutes",
                {"version": 0, "notes": {str(item_id): f"第 {k} 稿"}},
                cadre_token,
            )
        )

    kinds = [kind for kind, calls in jobs.items() for _ in calls]
    results = all_at_once([job for calls in jobs.values() for job in calls])
    failures = [r for r in results if isinstance(r, Exception)]
    assert not failures, failures
    by_kind: dict[str, list[tuple[int, str]]] = {kind: [] for kind in jobs}
    for kind, result in zip(kinds, results, strict=True):
        by_kind[kind].append(result)

    log = server.log()
    everything = [body for results in by_kind.values() for _status, body in results]
    assert not any("database is locked" in body for body in everything)
    assert all(status < 500 for results in by_kind.values() for status, _ in results), log[-3000:]
    assert "database is locked" not in log and "Traceback" not in log

    assert [s for s, _ in by_kind["sign_up"]] == [201] * SIGN_UPS
    assert [s for s, _ in by_kind["case"]] == [201] * CASES
    assert [s for s, _ in by_kind["invite"]] == [202] * INVITATIONS
    saves = sorted(s for s, _ in by_kind["minutes"])
    # One save wins version 0; the others were stale, answered 409 with the current text.
    assert saves == [200] + [409] * (SAVES - 1)
    stale = [json.loads(b)["error"] for s, b in by_kind["minutes"] if s == 409]
    assert all(e["code"] == "stale_version" and e["current"]["version"] == 1 for e in stale)

    db.session.remove()
    assert _count(Registration, Registration.meeting_id == signup_meeting) == SIGN_UPS
    assert _count(Case) == CASES
    assert _count(Invitation, Invitation.meeting_id == invite_meeting) == INVITATIONS
    assert _count(OutboxMessage) >= INVITATIONS
    assert db.session.scalar(select(Minutes.version).where(Minutes.meeting_id == minutes_id)) == 1
    # Several processes really served the writes at once.
    assert len(server.worker_pids("POST /api/v1/")) >= 2, log[-3000:]
