"""What is posted, when, to which channels, in which language."""

from __future__ import annotations

import json
from datetime import timedelta

from consult.extensions import db
from consult.minutes.operations import approve_minutes, publish_minutes, save_minutes
from consult.votes.operations import record_vote
from tests.cases.builders import agenda_item, new_case, new_issue, resolve
from tests.notices.conftest import notices

BODY = {
    "kind": "roundtable",
    "title": "圆桌会",
    "community": "Hehe",
    "starts_at": "2030-12-06T15:00:00+08:00",
    "ends_at": "2030-12-06T17:00:00+08:00",
}


def posted() -> list[dict]:
    return [json.loads(n.body) | {"channel": n.channel_id} for n in notices()]


def test_a_new_session_goes_to_its_community_and_the_town_only(api_as, factories, make_channel):
    factories.make_community("Hehe")
    factories.make_community("Anle")
    own = make_channel("wecom", "https://qyapi.example.invalid/send?key=1", "Hehe")
    town = make_channel("webhook", "https://hooks.example.invalid/town", None, language="en")
    make_channel("wecom", "https://qyapi.example.invalid/send?key=2", "Anle")
    make_channel("sms", "https://sms.example.invalid/send", "Hehe")
    response = api_as(factories.make_user("cadre")).post("/api/v1/sessions", json=BODY)
    assert response.status_code == 201
    sent = posted()
    assert sorted(p["channel"] for p in sent) == sorted([own.id, town.id])
    assert {p["event"] for p in sent} == {"session_created"}
    assert all(p["url"] == f"http://consult.test/sessions/{response.json['id']}" for p in sent)
    english = next(p for p in sent if p["channel"] == town.id)
    assert english["title"] == "New session: 圆桌会"
    assert any("**Time**: Friday, December 6, 2030" in line for line in english["lines"])


def test_private_sessions_are_never_posted(api_as, factories, make_channel):
    factories.make_community("Hehe")
    make_channel("wecom", "https://qyapi.example.invalid/send?key=1", "Hehe")
    api = api_as(factories.make_user("cadre"))
    created = api.post("/api/v1/sessions", json=BODY | {"kind": "mediation"}).json
    api.patch(
        f"/api/v1/sessions/{created['id']}",
        json={"starts_at": "2030-12-07T15:00:00+08:00", "ends_at": "2030-12-07T16:00:00+08:00"},
    )
    api.post(f"/api/v1/sessions/{created['id']}/cancel")
    assert created["visibility"] == "private"
    assert notices() == []


def test_a_change_of_time_or_place_and_a_cancellation(api_as, factories, make_channel):
    factories.make_community("Hehe")
    make_channel("webhook", "https://hooks.example.invalid/h", "Hehe", language="en")
    api = api_as(factories.make_user("cadre"))
    created = api.post("/api/v1/sessions", json=BODY | {"venue": "Hall A"}).json
    api.patch(f"/api/v1/sessions/{created['id']}", json={"title": "Round table"})
    assert len(notices()) == 1  # a new title alone is no change of time or place
    api.patch(
        f"/api/v1/sessions/{created['id']}",
        json={"venue": "Hall B", "starts_at": "2030-12-07T09:00:00+08:00"},
    )
    api.post(f"/api/v1/sessions/{created['id']}/cancel")
    created_, changed, cancelled = posted()
    assert changed["event"] == "session_changed"
    text = "\n".join(changed["lines"])
    assert "**Time**: Saturday, December 7, 2030, 09:00–11:00" in text
    assert "**Before**: Friday, December 6, 2030, 15:00–17:00" in text
    assert "**Place**: Hall B" in text and "**Place before**: Hall A" in text
    assert cancelled["event"] == "session_cancelled"
    assert cancelled["title"] == "Cancelled: Round table"


def test_a_series_and_its_cancellation(api_as, factories, make_channel):
    factories.make_community("Hehe")
    make_channel("webhook", "https://hooks.example.invalid/h", "Hehe", language="en")
    api = api_as(factories.make_user("cadre"))
    created = api.post(
        "/api/v1/sessions",
        json=BODY
        | {
            "kind": "friday_talk",
            "title": "Friday Talk Day",
            "recurrence": "FREQ=WEEKLY;BYDAY=FR;COUNT=4",
        },
    ).json
    # Occurrences exist up to the horizon: in 2030, only the first one does yet.
    assert api.post(f"/api/v1/series/{created['series']}/cancel").json["cancelled"] == 1
    series, cancelled = posted()
    assert series["event"] == "series_created" and len(notices()) == 2
    assert any("**Repeats**: Every week on Friday, 4 times" in line for line in series["lines"])
    assert cancelled["event"] == "series_cancelled"
    assert "1 coming session will not take place." in cancelled["lines"]


def test_published_minutes_list_resolutions_votes_and_cases_closed(app, factories, make_channel):
    factories.make_community("Hehe")
    meeting = factories.make_meeting(kind="sentiment_talk", starts_in=-timedelta(hours=1))
    make_channel("webhook", "https://hooks.example.invalid/h", "Hehe", language="en")
    cadre = factories.make_user("cadre")
    cases = [new_case(cadre, title=f"case {n}") for n in range(3)]
    first = agenda_item(meeting, cadre, new_issue(cadre, cases[:2]), title="Parking")
    second = agenda_item(
        meeting, cadre, new_issue(cadre, cases[2:], title="Lights"), title="Lights"
    )
    agenda_item(meeting, cadre, title="Any other business")
    from consult.meetings.models import Attendance

    db.session.add_all(
        [Attendance(meeting_id=meeting.id, name=f"p{n}", status="present") for n in range(5)]
    )
    db.session.commit()
    record_vote(first, {"for": 4, "against": 1, "abstain": 0}, cadre)
    db.session.commit()
    resolve(first, cadre, cases[:2])
    resolve(second, cadre, [], outcome="deferred")
    save_minutes(meeting, {"version": 0, "notes": {}}, cadre)
    approve_minutes(meeting, cadre)
    db.session.commit()
    assert notices() == []
    publish_minutes(meeting, cadre)
    db.session.commit()
    (notice,) = posted()
    assert notice["event"] == "minutes_published"
    assert notice["url"] == f"http://consult.test/sessions/{meeting.id}/minutes"
    assert "2 resolutions, 2 cases closed" in notice["lines"]
    assert (
        "> 1. Parking: **Resolved**; vote Carried (4 for, 1 against, 0 abstaining); "
        "2 cases closed" in notice["lines"]
    )
    assert "> 2. Lights: **Deferred**" in notice["lines"]
