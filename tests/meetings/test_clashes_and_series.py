"""A venue is never double-booked; series occurrences exist as rows up to a horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from consult.extensions import db
from consult.meetings import operations
from consult.meetings.models import Meeting, Series
from consult.types import utcnow
from tests.meetings.conftest import FRIDAY, body, friday_talk, local_start

# -- clashes -------------------------------------------------------------------------------


def _create(api, start, hours=2.0, **overrides):
    return api.post("/api/v1/sessions", json=body(start, hours=hours, **overrides))


@pytest.mark.parametrize(
    ("offset_minutes", "hours", "clash"),
    [
        (0, 2, True),  # the same slot
        (60, 2, True),  # starts inside
        (-60, 2, True),  # ends inside
        (30, 0.5, True),  # wholly inside
        (-30, 3, True),  # wholly around
        (120, 1, False),  # starts when the other ends
        (-60, 1, False),  # ends when the other starts
        (180, 1, False),  # later on
    ],
)
def test_overlap_in_the_same_venue_is_a_409(cadre_api, table_counts, offset_minutes, hours, clash):
    start = local_start()
    first = _create(cadre_api, start).get_json()
    before = table_counts()

    response = _create(
        cadre_api, start + timedelta(minutes=offset_minutes), hours=hours, title="第二场 Second"
    )

    if clash:
        assert response.status_code == 409, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "venue_clash"
        assert error["clash"]["session"] == first["id"]
        assert error["clash"]["starts_at"] == first["starts_at"]
        assert "社工委圆桌会 Roundtable" in error["message"]
        assert table_counts() == before
    else:
        assert response.status_code == 201, response.get_json()


def test_other_venues_and_same_names_in_other_communities_do_not_clash(cadre_api):
    start = local_start()
    _create(cadre_api, start)

    assert _create(cadre_api, start, venue="Room 2").status_code == 201
    assert _create(cadre_api, start, community="Anle").status_code == 201
    assert _create(cadre_api, start, venue=None).status_code == 201
    assert _create(cadre_api, start, venue=None).status_code == 201


def test_cancelled_sessions_never_clash(cadre_api):
    start = local_start()
    first = _create(cadre_api, start).get_json()
    cadre_api.post(f"/api/v1/sessions/{first['id']}/cancel")

    assert _create(cadre_api, start).status_code == 201


def test_a_materialised_occurrence_clashes_and_a_skipped_one_frees_the_slot(cadre_api):
    first = cadre_api.post("/api/v1/sessions", json=friday_talk(6)).get_json()
    items = cadre_api.get(f"/api/v1/sessions?series={first['series']}").get_json()["items"]
    third = datetime.fromisoformat(items[2]["starts_at"])

    refused = _create(cadre_api, third + timedelta(hours=1))
    assert refused.status_code == 409
    assert refused.get_json()["error"]["clash"] == {
        "session": items[2]["id"],
        "series": first["series"],
        "title": items[2]["title"],
        "starts_at": items[2]["starts_at"],
        "ends_at": items[2]["ends_at"],
    }

    cadre_api.post(f"/api/v1/sessions/{items[2]['id']}/cancel")
    assert _create(cadre_api, third + timedelta(hours=1)).status_code == 201


def test_occurrences_beyond_the_horizon_clash_too(app, cadre_api):
    app.config["SERIES_HORIZON_DAYS"] = 60
    start = local_start(weekday=FRIDAY)
    first = cadre_api.post(
        "/api/v1/sessions", json=body(start, kind="friday_talk", recurrence="FREQ=WEEKLY;BYDAY=FR")
    ).get_json()
    series = db.session.get(Series, first["series"])
    far = start + timedelta(weeks=40)
    assert series.materialised_until < far.astimezone(UTC)
    rows_before = db.session.scalar(select(func.count(Meeting.id)))

    refused = _create(cadre_api, far + timedelta(minutes=90), title="远期会议")
    other_day = _create(cadre_api, far + timedelta(days=1), title="远期会议")

    assert refused.status_code == 409, refused.get_json()
    clash = refused.get_json()["error"]["clash"]
    assert clash["session"] is None and clash["series"] == series.id
    assert datetime.fromisoformat(clash["starts_at"]) == far
    assert other_day.status_code == 201
    assert db.session.scalar(select(func.count(Meeting.id))) == rows_before + 1


def test_a_new_series_clashing_with_a_session_is_refused_whole(cadre_api, table_counts):
    start = local_start(weekday=FRIDAY)
    _create(cadre_api, start + timedelta(weeks=5, minutes=30), title="区里来检查")
    before = table_counts()

    response = cadre_api.post("/api/v1/sessions", json=friday_talk(12))

    assert response.status_code == 409
    assert "区里来检查" in response.get_json()["error"]["message"]
    assert table_counts() == before


def test_a_new_series_clashing_with_another_series_beyond_the_horizon(app, cadre_api):
    app.config["SERIES_HORIZON_DAYS"] = 30
    start = local_start(weekday=FRIDAY)
    existing = cadre_api.post(
        "/api/v1/sessions",
        json=body(start, kind="friday_talk", recurrence="FREQ=WEEKLY;INTERVAL=4;BYDAY=FR"),
    ).get_json()
    assert _occurrence_count(existing["series"]) == 1

    # Weeks 1, 4, 7 meet the 4-weekly series (weeks 0, 4, 8...) in week 4, beyond the rows.
    clashing = cadre_api.post(
        "/api/v1/sessions",
        json=body(start + timedelta(weeks=1), recurrence="FREQ=WEEKLY;INTERVAL=3;BYDAY=FR;COUNT=3"),
    )
    # Weeks 1, 5, 9 never do.
    apart = cadre_api.post(
        "/api/v1/sessions",
        json=body(start + timedelta(weeks=1), recurrence="FREQ=WEEKLY;INTERVAL=4;BYDAY=FR;COUNT=3"),
    )

    assert clashing.status_code == 409
    clash = clashing.get_json()["error"]["clash"]
    assert clash["series"] == existing["series"] and clash["session"] is None
    assert datetime.fromisoformat(clash["starts_at"]) == start + timedelta(weeks=4)
    assert apart.status_code == 201, apart.get_json()


def test_moving_onto_a_booked_slot_is_refused_and_changes_nothing(cadre_api):
    start = local_start()
    first = _create(cadre_api, start).get_json()
    second = _create(cadre_api, start + timedelta(days=1)).get_json()

    response = cadre_api.patch(
        f"/api/v1/sessions/{second['id']}",
        json={
            "starts_at": (start + timedelta(hours=1)).isoformat(),
            "ends_at": (start + timedelta(hours=3)).isoformat(),
        },
    )
    venue_clash = _create(cadre_api, start, venue="Room 9").get_json()
    into_room = cadre_api.patch(
        f"/api/v1/sessions/{venue_clash['id']}", json={"venue": "Community hall"}
    )

    assert response.status_code == 409
    assert response.get_json()["error"]["clash"]["session"] == first["id"]
    assert cadre_api.get(f"/api/v1/sessions/{second['id']}").get_json() == second
    assert into_room.status_code == 409
    assert cadre_api.get(f"/api/v1/sessions/{venue_clash['id']}").get_json()["venue"] == "Room 9"
    # A session never clashes with itself.
    shortened = cadre_api.patch(
        f"/api/v1/sessions/{first['id']}",
        json={"ends_at": (start + timedelta(hours=1)).isoformat()},
    )
    assert shortened.status_code == 200


def test_occurrences_of_one_series_may_not_overlap_each_other(cadre_api):
    start = local_start()
    response = cadre_api.post(
        "/api/v1/sessions", json=body(start, hours=30, recurrence="FREQ=DAILY;COUNT=3")
    )

    assert response.status_code == 422
    assert "recurrence" in response.get_json()["error"]["fields"]


# -- occurrences up to the horizon ------------------------------------------------------------


def _occurrence_count(series_id: int) -> int:
    return db.session.scalar(select(func.count(Meeting.id)).where(Meeting.series_id == series_id))


def test_an_open_ended_series_is_made_up_to_the_horizon(app, cadre_api):
    app.config["SERIES_HORIZON_DAYS"] = 183
    start = local_start(weekday=FRIDAY)
    first = cadre_api.post(
        "/api/v1/sessions", json=body(start, kind="friday_talk", recurrence="FREQ=WEEKLY;BYDAY=FR")
    ).get_json()
    series = db.session.get(Series, first["series"])

    horizon = utcnow() + timedelta(days=183)
    expected = (horizon - start.astimezone(UTC)) // timedelta(weeks=1) + 1
    assert _occurrence_count(series.id) == expected
    assert abs(series.materialised_until - horizon) < timedelta(minutes=1)
    last = db.session.scalar(
        select(func.max(Meeting.starts_at)).where(Meeting.series_id == series.id)
    )
    assert last <= series.materialised_until < last + timedelta(weeks=1)


def test_a_series_far_ahead_has_at_least_its_first_occurrence(cadre_api):
    start = local_start(days=400, weekday=FRIDAY)
    first = cadre_api.post(
        "/api/v1/sessions", json=body(start, recurrence="FREQ=WEEKLY;BYDAY=FR")
    ).get_json()

    assert datetime.fromisoformat(first["starts_at"]) == start
    assert _occurrence_count(first["series"]) == 1


def test_writes_extend_the_series_as_time_passes_and_reads_do_not(app, cadre_api):
    app.config["SERIES_HORIZON_DAYS"] = 30
    first = cadre_api.post(
        "/api/v1/sessions",
        json=body(local_start(weekday=FRIDAY), recurrence="FREQ=WEEKLY;BYDAY=FR"),
    ).get_json()
    made_first = _occurrence_count(first["series"])

    app.config["SERIES_HORIZON_DAYS"] = 120
    # Reading lists nothing new: reads never write.
    read = cadre_api.get(f"/api/v1/sessions?series={first['series']}&per_page=100").get_json()
    assert read["total"] == made_first == _occurrence_count(first["series"])
    # The next write (scheduling any session) extends the series that run short.
    assert (
        cadre_api.post(
            "/api/v1/sessions", json=body(local_start(days=3), title="另一场", venue=None)
        ).status_code
        == 201
    )
    listed = cadre_api.get(f"/api/v1/sessions?series={first['series']}&per_page=100").get_json()

    assert listed["total"] == _occurrence_count(first["series"])
    assert listed["total"] >= made_first + 12
    recurrence_ids = db.session.scalars(
        select(Meeting.recurrence_id)
        .where(Meeting.series_id == first["series"])
        .order_by(Meeting.recurrence_id)
    ).all()
    assert all(
        b - a == timedelta(weeks=1)
        for a, b in zip(recurrence_ids, recurrence_ids[1:], strict=False)
    )
    # A second read finds nothing to do.
    again = cadre_api.get(f"/api/v1/sessions?series={first['series']}&per_page=100").get_json()
    assert again["total"] == listed["total"]


def test_extension_keeps_existing_rows_and_never_duplicates(app, cadre_api):
    app.config["SERIES_HORIZON_DAYS"] = 60
    first = cadre_api.post(
        "/api/v1/sessions",
        json=body(local_start(weekday=FRIDAY), recurrence="FREQ=WEEKLY;BYDAY=FR"),
    ).get_json()
    series = db.session.get(Series, first["series"])
    moved = db.session.scalars(
        select(Meeting).where(Meeting.series_id == series.id).order_by(Meeting.starts_at)
    ).all()[1]
    operations.update_meeting(moved, {"starts_at": moved.starts_at + timedelta(hours=2)}, None)
    # Pretend nothing was made after the first week, as if rows had been lost.
    series.materialised_until = series.dtstart
    db.session.commit()

    made = operations.extend_series(series, utcnow() + timedelta(days=60))
    db.session.commit()

    assert made == 0
    assert (
        db.session.get(Meeting, moved.id).starts_at
        != db.session.get(Meeting, moved.id).recurrence_id
    )


def test_cancelled_series_are_not_extended(app, cadre_api):
    app.config["SERIES_HORIZON_DAYS"] = 30
    first = cadre_api.post(
        "/api/v1/sessions",
        json=body(local_start(weekday=FRIDAY), recurrence="FREQ=WEEKLY;BYDAY=FR"),
    ).get_json()
    cadre_api.post(f"/api/v1/series/{first['series']}/cancel")
    count = _occurrence_count(first["series"])

    app.config["SERIES_HORIZON_DAYS"] = 200
    cadre_api.get("/api/v1/sessions")

    assert _occurrence_count(first["series"]) == count


def test_cli_extends_every_active_series(app, cadre_api, runner):
    app.config["SERIES_HORIZON_DAYS"] = 30
    first = cadre_api.post(
        "/api/v1/sessions",
        json=body(local_start(weekday=FRIDAY), recurrence="FREQ=WEEKLY;BYDAY=FR"),
    ).get_json()
    second = cadre_api.post(
        "/api/v1/sessions",
        json=body(
            local_start(weekday=FRIDAY, hour=9), venue="Hall 2", recurrence="FREQ=WEEKLY;BYDAY=FR"
        ),
    ).get_json()
    before = _occurrence_count(first["series"]) + _occurrence_count(second["series"])

    result = runner.invoke(args=["sessions", "extend", "--days", "100"])

    assert result.exit_code == 0, result.output
    after = _occurrence_count(first["series"]) + _occurrence_count(second["series"])
    assert after > before
    assert result.output.startswith(f"{after - before} occurrences made")
    assert runner.invoke(args=["sessions", "extend", "--days", "100"]).output.startswith("0 ")


def test_cli_refuses_a_bad_horizon(runner):
    result = runner.invoke(args=["sessions", "extend", "--days", "-5"])
    assert result.exit_code != 0


# -- at the same time -------------------------------------------------------------------------


@pytest.mark.parametrize("venue", ["Community hall", "新建的活动室"])
@pytest.mark.real_commits  # threads, one connection each
def test_simultaneous_bookings_of_one_slot_let_exactly_one_through(api_as, factories, venue):
    import threading

    apis = [api_as(factories.make_user(role="cadre")) for _ in range(4)]
    start = local_start()
    # The hall already exists (with a booking the day before); the other venue is new.
    apis[0].post("/api/v1/sessions", json=body(start - timedelta(days=1)))
    barrier = threading.Barrier(len(apis))
    statuses: list[int] = []

    def book(api, i):
        barrier.wait()
        response = api.post(
            "/api/v1/sessions",
            json=body(start + timedelta(minutes=10 * i), title=f"同时预订 {i}", venue=venue),
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=book, args=(api, i)) for i, api in enumerate(apis)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(statuses) == [201, 409, 409, 409]
    db.session.rollback()  # read after the other transactions, not from an older snapshot
    booked = db.session.scalar(
        select(func.count(Meeting.id)).where(Meeting.title.like("同时预订%"))
    )
    assert booked == 1
