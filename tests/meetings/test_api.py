"""The sessions API: create, list, read, change, cancel; series; bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from consult.audit.models import AuditEntry
from consult.extensions import db
from consult.meetings.models import Meeting, Series
from tests.meetings.conftest import FRIDAY, SESSION_KEYS, body, friday_talk, local_start

# -- creating and reading ------------------------------------------------------------------


def test_create_one_off_answers_the_session_object(cadre_api):
    start = local_start()
    response = cadre_api.post("/api/v1/sessions", json=body(start))

    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert set(data) == SESSION_KEYS
    meeting = db.session.get(Meeting, data["id"])
    assert data == {
        "id": meeting.id,
        "kind": "roundtable",
        "title": "社工委圆桌会 Roundtable",
        "community": "Hehe",
        "venue": "Community hall",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "timezone": "Asia/Shanghai",
        "status": "scheduled",
        "capacity": 30,
        "confirmed": 0,
        "waitlisted": 0,
        "sequence": 0,
        "series": None,
        "visibility": "public",
        "ics_url": f"/sessions/{meeting.id}.ics",
    }
    assert data["starts_at"].endswith("+08:00")
    assert meeting.starts_at == start.astimezone(UTC)
    assert meeting.starts_at.tzinfo == UTC
    assert meeting.uid and meeting.organiser.name == "王建国"
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert "meeting.create" in actions and "venue.create" in actions


def test_answer_uses_the_sessions_own_offset_whatever_the_request_used(cadre_api):
    start = local_start("Europe/Berlin", hour=18)
    as_utc = start.astimezone(UTC).isoformat()
    end_utc = (start + timedelta(hours=1)).astimezone(UTC).isoformat()
    response = cadre_api.post(
        "/api/v1/sessions",
        json=body(start, starts_at=as_utc, ends_at=end_utc, timezone="Europe/Berlin"),
    )

    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert datetime.fromisoformat(data["starts_at"]) == start
    assert data["starts_at"][-6:] == start.strftime("%z")[:3] + ":" + start.strftime("%z")[3:]
    assert data["starts_at"][11:16] == "18:00"


def test_defaults_zone_from_config_visibility_by_kind_and_no_venue(app, cadre_api):
    start = local_start()
    minimal = {
        "kind": "mediation",
        "title": "邻里纠纷调解",
        "community": "Hehe",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
    }
    app.config["CONSULT_TIMEZONE"] = "Asia/Shanghai"
    mediation = cadre_api.post("/api/v1/sessions", json=minimal).get_json()
    talk = cadre_api.post(
        "/api/v1/sessions", json=dict(minimal, kind="sentiment_talk", visibility="private")
    ).get_json()
    public = cadre_api.post("/api/v1/sessions", json=dict(minimal, kind="deliberation")).get_json()

    assert mediation["visibility"] == "private"
    assert mediation["timezone"] == "Asia/Shanghai"
    assert mediation["venue"] is None and mediation["capacity"] is None
    assert talk["visibility"] == "private"
    assert public["visibility"] == "public"


def test_new_community_and_venue_are_created_on_first_use_and_venues_are_per_community(cadre_api):
    start = local_start()
    first = cadre_api.post("/api/v1/sessions", json=body(start, community="Xingfu"))
    second = cadre_api.post(
        "/api/v1/sessions", json=body(start + timedelta(days=1), community="Xingfu")
    )
    other = cadre_api.post("/api/v1/sessions", json=body(start, community="Anle"))

    assert [r.status_code for r in (first, second, other)] == [201, 201, 201]
    one, two, three = (db.session.get(Meeting, r.get_json()["id"]) for r in (first, second, other))
    assert one.venue_id == two.venue_id
    assert three.venue_id != one.venue_id
    assert three.venue.community.name == "Anle"


def test_get_one_session(cadre_api, api_as, factories):
    created = cadre_api.post("/api/v1/sessions", json=body(local_start())).get_json()
    resident = api_as(factories.make_user())

    response = resident.get(f"/api/v1/sessions/{created['id']}")

    assert response.status_code == 200
    assert response.get_json() == created


def test_unknown_ids_answer_404(cadre_api):
    for response in (
        cadre_api.get("/api/v1/sessions/999"),
        cadre_api.patch("/api/v1/sessions/999", json={"title": "x"}),
        cadre_api.post("/api/v1/sessions/999/cancel"),
        cadre_api.post("/api/v1/series/999/cancel"),
        cadre_api.get("/api/v1/sessions/99999999999999999999999"),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_requests_without_a_token_answer_401(api_as):
    anonymous = api_as(None)
    assert anonymous.get("/api/v1/sessions").status_code == 401
    assert anonymous.post("/api/v1/sessions", json=body(local_start())).status_code == 401


# -- the list ------------------------------------------------------------------------------


def test_list_filters_orders_and_paginates(cadre_api, factories):
    base = local_start(days=10)
    ids = []
    for i, (kind, community) in enumerate(
        [
            ("roundtable", "Hehe"),
            ("deliberation", "Hehe"),
            ("roundtable", "Anle"),
            ("roundtable", "Hehe"),
            ("joint_meeting", "Hehe"),
        ]
    ):
        # Created out of order: the list must still be by start.
        start = base + timedelta(days=(7 - 2 * i) % 5)
        response = cadre_api.post(
            "/api/v1/sessions", json=body(start, kind=kind, community=community, venue=f"Room {i}")
        )
        assert response.status_code == 201
        ids.append(response.get_json())

    everything = cadre_api.get("/api/v1/sessions").get_json()
    assert everything["total"] == 5 and everything["page"] == 1 and everything["pages"] == 1
    starts = [datetime.fromisoformat(s["starts_at"]) for s in everything["items"]]
    assert starts == sorted(starts)

    hehe_roundtables = cadre_api.get("/api/v1/sessions?community=Hehe&kind=roundtable").get_json()
    assert {s["id"] for s in hehe_roundtables["items"]} == {ids[0]["id"], ids[3]["id"]}

    window_from = (base + timedelta(days=1)).isoformat()
    window_to = (base + timedelta(days=3)).isoformat()
    windowed = cadre_api.get(
        "/api/v1/sessions", query_string={"from": window_from, "to": window_to}
    ).get_json()
    expected = [
        s["id"]
        for s in everything["items"]
        if base + timedelta(days=1)
        <= datetime.fromisoformat(s["starts_at"])
        < base + timedelta(days=3)
    ]
    assert [s["id"] for s in windowed["items"]] == expected and expected

    paged = cadre_api.get("/api/v1/sessions?per_page=2&page=3").get_json()
    assert paged["page"] == 3 and paged["pages"] == 3 and paged["total"] == 5
    assert [s["id"] for s in paged["items"]] == [everything["items"][4]["id"]]
    assert cadre_api.get("/api/v1/sessions?community=Nowhere").get_json()["total"] == 0


def test_per_page_is_capped(app, cadre_api, monkeypatch):
    from consult import lists

    monkeypatch.setattr(lists, "MAX_PER_PAGE", 2)
    for i in range(3):
        cadre_api.post("/api/v1/sessions", json=body(local_start(days=10 + i)))

    page = cadre_api.get("/api/v1/sessions?per_page=1000").get_json()

    assert len(page["items"]) == 2 and page["pages"] == 2 and page["total"] == 3


@pytest.mark.parametrize(
    "query",
    [
        "kind=party",
        "page=0",
        "page=abc",
        "per_page=0",
        "series=1.5",
        "from=yesterday",
        "to=2026-13-01",
        "from=2026-12-04T15:00:00",
        "status=postponed",
        "community=",
    ],
)
def test_list_refuses_bad_query_parameters(cadre_api, query):
    response = cadre_api.get(f"/api/v1/sessions?{query}")

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid"


def test_list_accepts_a_date_and_an_unencoded_plus(cadre_api):
    start = local_start(days=10)
    cadre_api.post("/api/v1/sessions", json=body(start))
    day = start.date().isoformat()
    plus = (start - timedelta(hours=1)).isoformat()  # '+08:00' becomes ' 08:00' unencoded

    by_date = cadre_api.get(f"/api/v1/sessions?from={day}").get_json()
    by_plus = cadre_api.get(f"/api/v1/sessions?from={plus}").get_json()

    assert by_date["total"] == 1 and by_plus["total"] == 1


# -- the Friday Talk Day series -------------------------------------------------------------


def test_twelve_week_friday_talk_series(cadre_api):
    response = cadre_api.post("/api/v1/sessions", json=friday_talk(12))
    assert response.status_code == 201, response.get_json()
    first = response.get_json()
    series_id = first["series"]
    assert isinstance(series_id, int)

    listed = cadre_api.get(f"/api/v1/sessions?series={series_id}&per_page=50").get_json()
    items = listed["items"]
    assert listed["total"] == 12
    assert items[0] == first
    starts = [datetime.fromisoformat(s["starts_at"]) for s in items]
    assert all(s.weekday() == FRIDAY and s.strftime("%H:%M") == "15:00" for s in starts)
    assert all(b - a == timedelta(weeks=1) for a, b in zip(starts, starts[1:], strict=False))
    assert {s["series"] for s in items} == {series_id}
    assert len({s["id"] for s in items}) == 12

    series = db.session.get(Series, series_id)
    assert series.rrule == "FREQ=WEEKLY;BYDAY=FR;COUNT=12"
    assert series.dtstart == starts[0].astimezone(UTC)
    assert series.duration_minutes == 120
    rows = db.session.scalars(select(Meeting).where(Meeting.series_id == series_id)).all()
    assert all(m.recurrence_id == m.starts_at for m in rows)
    assert len({m.uid for m in rows} | {series.uid}) == 13


def test_skip_move_and_cancel_a_series(cadre_api):
    first = cadre_api.post("/api/v1/sessions", json=friday_talk(12)).get_json()
    series_id = first["series"]
    items = cadre_api.get(f"/api/v1/sessions?series={series_id}&per_page=50").get_json()["items"]
    holiday, moved = items[3], items[5]

    skipped = cadre_api.post(f"/api/v1/sessions/{holiday['id']}/cancel")
    assert skipped.status_code == 200
    assert skipped.get_json()["status"] == "cancelled"
    assert skipped.get_json()["sequence"] == 1

    new_start = datetime.fromisoformat(moved["starts_at"]) + timedelta(days=1, hours=-1)
    response = cadre_api.patch(
        f"/api/v1/sessions/{moved['id']}",
        json={
            "starts_at": new_start.isoformat(),
            "ends_at": (new_start + timedelta(hours=2)).isoformat(),
        },
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["starts_at"] == new_start.isoformat()
    assert response.get_json()["sequence"] == 1

    after = cadre_api.get(f"/api/v1/sessions?series={series_id}&per_page=50").get_json()
    assert after["total"] == 12
    by_id = {s["id"]: s for s in after["items"]}
    assert by_id[holiday["id"]]["status"] == "cancelled"
    for before in items:
        if before["id"] in (holiday["id"], moved["id"]):
            continue
        assert by_id[before["id"]] == before
    row = db.session.get(Meeting, moved["id"])
    assert row.recurrence_id == datetime.fromisoformat(moved["starts_at"]).astimezone(UTC)
    assert row.starts_at != row.recurrence_id

    cancelled = cadre_api.post(f"/api/v1/series/{series_id}/cancel", json={})
    assert cancelled.status_code == 200
    assert cancelled.get_json() == {"series": series_id, "cancelled": 11}
    again = cadre_api.post(f"/api/v1/series/{series_id}/cancel")
    assert again.get_json() == {"series": series_id, "cancelled": 0}
    final = cadre_api.get(f"/api/v1/sessions?series={series_id}&per_page=50").get_json()
    assert {s["status"] for s in final["items"]} == {"cancelled"}
    assert final["total"] == 12
    assert by_id[holiday["id"]]["sequence"] == 1
    assert {s["sequence"] for s in final["items"] if s["id"] != moved["id"]} == {1}
    assert db.session.get(Series, series_id).status == "cancelled"
    assert db.session.get(Series, series_id).sequence == 1


def test_series_cancel_leaves_past_and_held_occurrences(cadre_api):
    first = cadre_api.post("/api/v1/sessions", json=friday_talk(4)).get_json()
    rows = db.session.scalars(
        select(Meeting).where(Meeting.series_id == first["series"]).order_by(Meeting.starts_at)
    ).all()
    rows[0].status = "held"
    db.session.commit()

    answer = cadre_api.post(f"/api/v1/series/{first['series']}/cancel").get_json()

    assert answer["cancelled"] == 3
    assert db.session.get(Meeting, rows[0].id).status == "held"


def test_series_starting_off_its_rule_begins_at_the_first_occurrence(cadre_api):
    thursday = local_start(weekday=3)
    response = cadre_api.post(
        "/api/v1/sessions",
        json=body(thursday, kind="friday_talk", recurrence="FREQ=WEEKLY;BYDAY=FR;COUNT=3"),
    )

    first = response.get_json()
    assert response.status_code == 201
    assert datetime.fromisoformat(first["starts_at"]) == thursday + timedelta(days=1)


def test_series_with_until_keeps_occurrences_up_to_that_day(cadre_api):
    start = local_start(weekday=FRIDAY)
    last_day = (start + timedelta(weeks=3)).strftime("%Y%m%d")
    first = cadre_api.post(
        "/api/v1/sessions", json=body(start, recurrence=f"FREQ=WEEKLY;UNTIL={last_day}")
    ).get_json()

    listed = cadre_api.get(f"/api/v1/sessions?series={first['series']}").get_json()
    series = db.session.get(Series, first["series"])

    assert listed["total"] == 4
    # Stored in UTC (RFC 5545: UNTIL in UTC when DTSTART has a TZID), end of that local day.
    assert series.rrule.endswith("Z") and "UNTIL=" in series.rrule


def test_series_occurrences_get_places_and_sign_ups_of_their_own(cadre_api, factories):
    from consult.attendance.operations import sign_up

    first = cadre_api.post("/api/v1/sessions", json=friday_talk(3, capacity=2)).get_json()
    resident = factories.make_user()
    sign_up(db.session.get(Meeting, first["id"]), resident)
    db.session.commit()

    listed = cadre_api.get(f"/api/v1/sessions?series={first['series']}").get_json()["items"]

    assert [s["confirmed"] for s in listed] == [1, 0, 0]
    assert [s["capacity"] for s in listed] == [2, 2, 2]


# -- changing and cancelling ----------------------------------------------------------------


def test_patch_changes_and_sequence_rises_only_for_time_and_venue(cadre_api, factories):
    created = cadre_api.post("/api/v1/sessions", json=body(local_start())).get_json()
    url = f"/api/v1/sessions/{created['id']}"
    unit = factories.make_unit("和合物业 Hehe Property")

    renamed = cadre_api.patch(
        url, json={"title": "新标题", "description": "议程见附件", "host_unit": unit.id}
    )
    assert renamed.status_code == 200
    assert renamed.get_json()["title"] == "新标题" and renamed.get_json()["sequence"] == 0
    assert db.session.get(Meeting, created["id"]).host_unit_id == unit.id

    moved_venue = cadre_api.patch(url, json={"venue": "Mediation room"}).get_json()
    assert moved_venue["venue"] == "Mediation room" and moved_venue["sequence"] == 1

    later = datetime.fromisoformat(created["starts_at"]) + timedelta(hours=3)
    rescheduled = cadre_api.patch(url, json={"starts_at": later.isoformat()}).get_json()
    assert rescheduled["starts_at"] == later.isoformat()
    # Moving the start alone keeps the length.
    assert rescheduled["ends_at"] == (later + timedelta(hours=2)).isoformat()
    assert rescheduled["sequence"] == 2

    same = cadre_api.patch(url, json={"starts_at": later.isoformat(), "venue": "Mediation room"})
    assert same.get_json()["sequence"] == 2

    no_venue = cadre_api.patch(url, json={"venue": None, "capacity": None}).get_json()
    assert no_venue["venue"] is None and no_venue["capacity"] is None
    assert no_venue["sequence"] == 3


def test_cancel_session_then_again_and_changes_refused(cadre_api):
    created = cadre_api.post("/api/v1/sessions", json=body(local_start())).get_json()
    url = f"/api/v1/sessions/{created['id']}"

    first = cadre_api.post(url + "/cancel")
    second = cadre_api.post(url + "/cancel", json={})
    change = cadre_api.patch(url, json={"title": "x"})

    assert first.status_code == 200 and first.get_json()["status"] == "cancelled"
    assert first.get_json()["sequence"] == 1
    assert second.status_code == 200 and second.get_json()["sequence"] == 1
    assert change.status_code == 409
    assert db.session.get(Meeting, created["id"]).cancelled_at is not None


def test_a_held_session_cannot_be_cancelled(cadre_api):
    created = cadre_api.post("/api/v1/sessions", json=body(local_start())).get_json()
    db.session.get(Meeting, created["id"]).status = "held"
    db.session.commit()

    response = cadre_api.post(f"/api/v1/sessions/{created['id']}/cancel")

    assert response.status_code == 409
    assert db.session.get(Meeting, created["id"]).status == "held"


def test_cancel_refuses_a_body_with_data(cadre_api):
    created = cadre_api.post("/api/v1/sessions", json=body(local_start())).get_json()

    response = cadre_api.post(f"/api/v1/sessions/{created['id']}/cancel", json={"why": "rain"})

    assert response.status_code == 422
    assert db.session.get(Meeting, created["id"]).status == "scheduled"


def test_capacity_below_confirmed_is_409_and_changes_nothing(cadre_api, factories):
    from consult.attendance.operations import sign_up

    created = cadre_api.post("/api/v1/sessions", json=body(local_start(), capacity=5)).get_json()
    meeting = db.session.get(Meeting, created["id"])
    for _ in range(3):
        sign_up(meeting, factories.make_user())
    db.session.commit()
    url = f"/api/v1/sessions/{created['id']}"
    later = datetime.fromisoformat(created["starts_at"]) + timedelta(hours=4)

    refused = cadre_api.patch(url, json={"capacity": 2, "starts_at": later.isoformat()})

    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "capacity_below_confirmed"
    unchanged = cadre_api.get(url).get_json()
    assert unchanged["capacity"] == 5 and unchanged["confirmed"] == 3
    assert unchanged["starts_at"] == created["starts_at"] and unchanged["sequence"] == 0

    lowered = cadre_api.patch(url, json={"capacity": 3})
    assert lowered.status_code == 200 and lowered.get_json()["capacity"] == 3


def test_raising_capacity_confirms_the_waiting_list(cadre_api, factories):
    from consult.attendance.operations import sign_up

    created = cadre_api.post("/api/v1/sessions", json=body(local_start(), capacity=1)).get_json()
    meeting = db.session.get(Meeting, created["id"])
    sign_up(meeting, factories.make_user())
    sign_up(meeting, factories.make_user())
    db.session.commit()
    url = f"/api/v1/sessions/{created['id']}"
    assert cadre_api.get(url).get_json()["waitlisted"] == 1

    raised = cadre_api.patch(url, json={"capacity": 2}).get_json()

    assert raised["confirmed"] == 2 and raised["waitlisted"] == 0


def test_changes_call_the_mail_hooks(cadre_api, monkeypatch):
    from consult.mail import notify

    calls = []
    monkeypatch.setattr(
        notify,
        "meeting_changed",
        lambda m, user, changes: calls.append(("changed", m.id, set(changes))),
    )
    monkeypatch.setattr(
        notify, "meeting_cancelled", lambda m, user: calls.append(("cancelled", m.id))
    )
    monkeypatch.setattr(
        notify, "series_cancelled", lambda s, user, cancelled=(): calls.append(("series", s.id))
    )
    one = cadre_api.post("/api/v1/sessions", json=body(local_start())).get_json()
    series = cadre_api.post("/api/v1/sessions", json=friday_talk(3, venue="Hall 2")).get_json()
    later = datetime.fromisoformat(one["starts_at"]) + timedelta(hours=3)

    cadre_api.patch(f"/api/v1/sessions/{one['id']}", json={"title": "只改标题"})
    cadre_api.patch(f"/api/v1/sessions/{one['id']}", json={"starts_at": later.isoformat()})
    cadre_api.patch(f"/api/v1/sessions/{one['id']}", json={"venue": "Room 2"})
    cadre_api.post(f"/api/v1/sessions/{one['id']}/cancel")
    cadre_api.post(f"/api/v1/series/{series['series']}/cancel")

    assert calls == [
        ("changed", one["id"], {"starts_at", "ends_at"}),
        ("changed", one["id"], {"venue"}),
        ("cancelled", one["id"]),
        ("series", series["series"]),
    ]


def test_changes_are_audited(cadre_api, cadre):
    one = cadre_api.post("/api/v1/sessions", json=body(local_start())).get_json()
    cadre_api.patch(f"/api/v1/sessions/{one['id']}", json={"capacity": 40, "title": "改"})
    cadre_api.post(f"/api/v1/sessions/{one['id']}/cancel")

    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == "meetings").order_by(AuditEntry.id)
    ).all()

    assert [e.action for e in entries] == [
        "meeting.create",
        "meeting.capacity",
        "meeting.update",
        "meeting.cancel",
    ]
    assert {e.actor_id for e in entries} == {cadre.id}
    assert entries[2].data["title"] == ["社工委圆桌会 Roundtable", "改"]


# -- bad input: 422, nothing saved ----------------------------------------------------------

BAD_CREATE = [
    ("capacity", {"capacity": 1.5}),
    ("capacity", {"capacity": "10"}),
    ("capacity", {"capacity": -1}),
    ("capacity", {"capacity": 10**9}),
    ("title", {"title": ""}),
    ("title", {"title": "   "}),
    ("title", {"title": ...}),
    ("title", {"title": 7}),
    ("title", {"title": "x" * 201}),
    ("title", {"title": "a\x00b"}),
    ("community", {"community": ""}),
    ("community", {"community": ...}),
    ("kind", {"kind": "party"}),
    ("kind", {"kind": ...}),
    ("starts_at", {"starts_at": "2026-12-04T15:00:00"}),
    ("starts_at", {"starts_at": "next Friday"}),
    ("starts_at", {"starts_at": ...}),
    ("starts_at", {"starts_at": "9999-12-31T23:00:00+00:00"}),
    ("ends_at", {"ends_at": "2026-12-04T17:00:00"}),
    ("ends_at", "end_before_start"),
    ("ends_at", "end_equals_start"),
    ("timezone", {"timezone": "Mars/Olympus_Mons"}),
    ("timezone", {"timezone": "../../etc/passwd"}),
    ("timezone", {"timezone": ""}),
    ("recurrence", {"recurrence": "every friday"}),
    ("recurrence", {"recurrence": "FREQ=WEEKLY;COUNT=3;UNTIL=20300101T000000Z"}),
    ("recurrence", {"recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}),
    ("recurrence", {"recurrence": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31"}),
    ("recurrence", {"recurrence": "FREQ=WEEKLY;BYDAY=XX"}),
    ("recurrence", {"recurrence": "FREQ=MONTHLY;BYDAY=+9TU"}),
    ("recurrence", {"recurrence": "FREQ=WEEKLY;COUNT=0"}),
    ("recurrence", {"recurrence": "FREQ=WEEKLY;INTERVAL=-1"}),
    ("recurrence", {"recurrence": "FREQ=HOURLY"}),
    ("recurrence", {"recurrence": "BYDAY=FR"}),
    ("recurrence", {"recurrence": "FREQ=WEEKLY;UNTIL=20200101T000000Z"}),
    ("recurrence", {"recurrence": "FREQ=WEEKLY\nRDATE:20270101"}),
    ("recurrence", {"recurrence": "FREQ=DAILY;BYEASTER=0"}),
    ("recurrence", {"recurrence": 12}),
    ("visibility", {"visibility": "secret"}),
    ("host_unit", {"host_unit": 4242}),
    ("host_unit", {"host_unit": "1"}),
    ("venue", {"venue": "   "}),
    ("surprise", {"surprise": True}),
]


@pytest.mark.parametrize(
    ("field", "change"), BAD_CREATE, ids=[f"{f}-{i}" for i, (f, _c) in enumerate(BAD_CREATE)]
)
def test_create_refuses_bad_input_with_422_and_saves_nothing(
    cadre_api, table_counts, field, change
):
    start = local_start(weekday=FRIDAY)
    if change == "end_before_start":
        change = {"ends_at": (start - timedelta(minutes=30)).isoformat()}
    elif change == "end_equals_start":
        change = {"ends_at": start.isoformat()}
    data = body(start, **{"community": "Brand new community", "venue": "Brand new hall", **change})
    before = table_counts()

    response = cadre_api.post("/api/v1/sessions", json=data)

    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid" and error["message"]
    assert field in error["fields"]
    assert table_counts() == before


@pytest.mark.parametrize("raw", [b"not json", b'{"kind": '])
def test_create_refuses_a_body_that_is_not_json_with_400(cadre_api, table_counts, raw):
    before = table_counts()
    response = cadre_api.post(
        "/api/v1/sessions", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert table_counts() == before


@pytest.mark.parametrize("payload", [[], "text", None])
def test_create_refuses_json_that_is_not_an_object(cadre_api, payload):
    response = cadre_api.post(
        "/api/v1/sessions",
        data=__import__("json").dumps(payload),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422


BAD_PATCH = [
    ("title", {"title": ""}),
    ("title", {"title": None}),
    ("starts_at", {"starts_at": "2026-12-04T15:00:00"}),
    ("starts_at", {"starts_at": None}),
    ("ends_at", "end_before_start"),
    ("capacity", {"capacity": -3}),
    ("capacity", {"capacity": 2.0}),
    ("host_unit", {"host_unit": 77}),
    ("timezone", {"timezone": "Europe/Berlin"}),
    ("kind", {"kind": "mediation"}),
]


@pytest.mark.parametrize(
    ("field", "change"), BAD_PATCH, ids=[f"{f}-{i}" for i, (f, _c) in enumerate(BAD_PATCH)]
)
def test_patch_refuses_bad_input_with_422_and_changes_nothing(cadre_api, field, change):
    created = cadre_api.post("/api/v1/sessions", json=body(local_start())).get_json()
    if change == "end_before_start":
        change = {
            "ends_at": (
                datetime.fromisoformat(created["starts_at"]) - timedelta(hours=1)
            ).isoformat()
        }

    response = cadre_api.patch(f"/api/v1/sessions/{created['id']}", json=change)

    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert cadre_api.get(f"/api/v1/sessions/{created['id']}").get_json() == created


# -- permissions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("admin", True),
        ("cadre", True),
        ("secretary", False),
        ("resident", False),
        ("unit_rep", False),
    ],
)
def test_only_admins_and_cadres_schedule_change_and_cancel(
    api_as, factories, cadre_api, role, allowed
):
    existing = cadre_api.post("/api/v1/sessions", json=body(local_start(days=20))).get_json()
    series = cadre_api.post("/api/v1/sessions", json=friday_talk(3, venue="Hall B")).get_json()
    api = api_as(factories.make_user(role=role))
    later = datetime.fromisoformat(existing["starts_at"]) + timedelta(hours=5)

    responses = [
        api.post("/api/v1/sessions", json=body(local_start(days=30))),
        api.patch(f"/api/v1/sessions/{existing['id']}", json={"starts_at": later.isoformat()}),
        api.post(f"/api/v1/sessions/{existing['id']}/cancel"),
        api.post(f"/api/v1/series/{series['series']}/cancel"),
    ]

    expected = [201, 200, 200, 200] if allowed else [403, 403, 403, 403]
    assert [r.status_code for r in responses] == expected
    if not allowed:
        assert {r.get_json()["error"]["code"] for r in responses} == {"forbidden"}
        # A refused role's bad body is still a 403: the role is checked first.
        assert api.post("/api/v1/sessions", json={"kind": 1}).status_code == 403
        assert cadre_api.get(f"/api/v1/sessions/{existing['id']}").get_json() == existing
    assert api.get("/api/v1/sessions").status_code == 200


# -- visibility -----------------------------------------------------------------------------


def _mediation(cadre_api):
    response = cadre_api.post(
        "/api/v1/sessions",
        json=body(local_start(), kind="mediation", title="邻里噪音纠纷调解", venue="调解室"),
    )
    assert response.get_json()["visibility"] == "private"
    return response.get_json()


@pytest.mark.parametrize("role", ["resident", "unit_rep"])
def test_private_session_is_404_for_those_not_invited_or_registered(
    api_as, factories, cadre_api, role
):
    mediation = _mediation(cadre_api)
    public = cadre_api.post("/api/v1/sessions", json=body(local_start(days=20))).get_json()
    stranger = api_as(factories.make_user(role=role))
    url = f"/api/v1/sessions/{mediation['id']}"

    assert stranger.get(url).status_code == 404
    assert stranger.patch(url, json={"title": "x"}).status_code == 404
    assert stranger.post(url + "/cancel").status_code == 404
    listed = stranger.get("/api/v1/sessions").get_json()
    assert [s["id"] for s in listed["items"]] == [public["id"]]


@pytest.mark.parametrize("role", ["admin", "cadre", "secretary"])
def test_staff_see_private_sessions(api_as, factories, cadre_api, role):
    mediation = _mediation(cadre_api)
    staff = api_as(factories.make_user(role=role))

    assert staff.get(f"/api/v1/sessions/{mediation['id']}").status_code == 200
    assert staff.get("/api/v1/sessions").get_json()["total"] == 1


def test_invited_and_registered_residents_see_the_private_session(api_as, factories, cadre_api):
    from consult.attendance.operations import sign_up

    mediation = _mediation(cadre_api)
    meeting = db.session.get(Meeting, mediation["id"])
    invited = factories.make_user(email="zhang.wei@example.org")
    factories.make_invitation(meeting, email="zhang.wei@example.org")
    registered = factories.make_user()
    sign_up(meeting, registered)
    db.session.commit()

    for user in (invited, registered):
        api = api_as(user)
        assert api.get(f"/api/v1/sessions/{mediation['id']}").status_code == 200
        assert api.get("/api/v1/sessions").get_json()["total"] == 1


def test_openapi_documents_the_session_routes(api_as):
    spec = api_as(None).get("/api/v1/openapi.json").get_json()

    for path in (
        "/api/v1/sessions",
        "/api/v1/sessions/{meeting_id}",
        "/api/v1/sessions/{meeting_id}/cancel",
        "/api/v1/series/{series_id}/cancel",
    ):
        assert path in spec["paths"]
    assert set(spec["paths"]["/api/v1/sessions"]) >= {"get", "post"}
    assert set(spec["paths"]["/api/v1/sessions/{meeting_id}"]) >= {"get", "patch"}
    schemas = spec["components"]["schemas"]
    assert set(schemas["Session"]["properties"]) == SESSION_KEYS
    assert {"kind", "title", "community", "starts_at", "ends_at"} <= set(
        schemas["SessionCreate"]["required"]
    )
