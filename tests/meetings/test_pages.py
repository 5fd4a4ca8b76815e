"""Session pages: list, calendar, schedule form, session page, change, skip, move, cancel."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from consult.community.models import Venue
from consult.extensions import cache, db
from consult.meetings import operations
from consult.meetings.models import Meeting, Series
from tests.conftest import csrf_token_from
from tests.meetings.conftest import FRIDAY, body, friday_talk, local_start

LOCAL = "%Y-%m-%dT%H:%M"


def _form(client, url: str, **fields) -> dict:
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    return {"csrf_token": token, **fields}


def _new_session_form(client, start: datetime, **fields) -> dict:
    data = {
        "kind": "roundtable",
        "title": "社工委圆桌会",
        "community": "Hehe",
        "venue": "",
        "new_venue": "Community hall",
        "starts_at": start.strftime(LOCAL),
        "ends_at": (start + timedelta(hours=2)).strftime(LOCAL),
        "timezone": getattr(start.tzinfo, "key", "Asia/Shanghai"),
        "capacity": "30",
        "visibility": "",
        "host_unit": "",
        "description": "",
        "repeat": "none",
        "interval": "1",
        "month_week": "1",
        "month_weekday": "",
        "end": "count",
        "count": "",
        "until": "",
        "rrule": "",
    }
    data.update(fields)
    return _form(client, "/sessions/new", **data)


def _create(cadre, start=None, **overrides):
    return operations.create_meeting({**_data(start or local_start()), **overrides}, cadre)


def _data(start):
    raw = body(start)
    return {**raw, "starts_at": start, "ends_at": start + timedelta(hours=2)}


def _count(model=Meeting):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


# -- scheduling through the form ------------------------------------------------------------


def test_cadre_schedules_a_session_in_its_own_zone(client, login_as, cadre):
    login_as(cadre)
    start = local_start("Europe/Berlin", hour=18)

    response = client.post(
        "/sessions/new", data=_new_session_form(client, start, description="议题：楼道堆物")
    )

    assert response.status_code == 302
    meeting = db.session.scalars(select(Meeting)).one()
    assert response.headers["Location"].endswith(f"/sessions/{meeting.id}")
    assert meeting.starts_at == start.astimezone(UTC)
    assert meeting.timezone == "Europe/Berlin"
    assert meeting.capacity == 30 and meeting.description == "议题：楼道堆物"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "18:00" in page and "Europe/Berlin" in page


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"repeat": "weekly", "weekdays": ["FR"], "count": "12"}, "FREQ=WEEKLY;BYDAY=FR;COUNT=12"),
        (
            {"repeat": "weekly", "interval": "2", "weekdays": ["TU", "FR"], "end": "never"},
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,FR",
        ),
        ({"repeat": "weekly", "count": "4"}, "FREQ=WEEKLY;BYDAY=FR;COUNT=4"),
        (
            {"repeat": "monthly", "month_week": "2", "month_weekday": "TU", "count": "6"},
            "FREQ=MONTHLY;BYDAY=2TU;COUNT=6",
        ),
        (
            {"repeat": "monthly", "month_week": "-1", "count": "3"},
            "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
        ),
        (
            {"repeat": "custom", "rrule": "FREQ=WEEKLY;BYDAY=FR;COUNT=5"},
            "FREQ=WEEKLY;BYDAY=FR;COUNT=5",
        ),
    ],
)
def test_the_form_offers_the_common_patterns(client, login_as, cadre, fields, rule):
    login_as(cadre)
    start = local_start(weekday=FRIDAY)

    response = client.post(
        "/sessions/new", data=_new_session_form(client, start, kind="friday_talk", **fields)
    )

    assert response.status_code == 302, _errors(response)
    series = db.session.scalars(select(Series)).one()
    assert series.rrule == rule
    assert series.occurrences[0].starts_at.astimezone(ZoneInfo("Asia/Shanghai")).hour == 15


def test_end_date_pattern_keeps_the_last_day(client, login_as, cadre):
    login_as(cadre)
    start = local_start(weekday=FRIDAY)
    last = (start + timedelta(weeks=3)).date()

    response = client.post(
        "/sessions/new",
        data=_new_session_form(client, start, repeat="weekly", end="until", until=last.isoformat()),
    )

    assert response.status_code == 302, _errors(response)
    series = db.session.scalars(select(Series)).one()
    assert len(series.occurrences) == 4
    assert series.occurrences[-1].starts_at.astimezone(ZoneInfo("Asia/Shanghai")).date() == last


def _errors(response) -> list[str]:
    html = response.get_data(as_text=True)
    return [unescape(m) for m in re.findall(r'class="invalid-feedback[^"]*">([^<]+)<', html)] + [
        unescape(m)
        for m in re.findall(r'<div class="alert alert-danger"[^>]*>\s*<div>([^<]+)<', html)
    ]


def _value(response, name: str) -> str | None:
    """Return what the form shows in the input or textarea called ``name``."""
    html = response.get_data(as_text=True)
    area = re.search(rf'<textarea[^>]*name="{name}"[^>]*>([^<]*)</textarea>', html)
    if area:
        return unescape(area.group(1)).strip()
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    if tag is None:
        return None
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return unescape(value.group(1)) if value else ""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("end_before_start", "The end must be after the start."),
        ({"timezone": "Mars/Olympus"}, "Unknown time zone: Mars/Olympus."),
        ({"kind": "party"}, "Not a valid choice."),
        ({"title": "  "}, "This field is required."),
        ({"capacity": "-2"}, "Number must be between 0 and 100000."),
        ({"repeat": "custom", "rrule": "every friday"}, "The recurrence rule does not parse."),
        (
            {"repeat": "custom", "rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"},
            "The recurrence rule yields no occurrence.",
        ),
        (
            {"repeat": "custom", "rrule": "FREQ=WEEKLY;COUNT=2;UNTIL=20301231"},
            "A rule has either COUNT or UNTIL, not both.",
        ),
        ({"repeat": "custom", "rrule": ""}, "Type the rule, or choose another pattern."),
        ({"repeat": "weekly", "end": "count", "count": ""}, "How many sessions?"),
        ({"repeat": "weekly", "end": "until", "until": ""}, "Which is the last date?"),
        ({"host_unit": "不存在的单位"}, "Not a valid choice."),
        (
            {
                "timezone": "Europe/Berlin",
                "starts_at": "2027-03-28T02:30",
                "ends_at": "2027-03-28T04:00",
            },
            "This time does not exist in Europe/Berlin: the clocks change then.",
        ),
    ],
)
def test_bad_input_gives_a_field_error_keeps_the_input_and_saves_nothing(
    client, login_as, cadre, fields, message
):
    login_as(cadre)
    start = local_start()
    if fields == "end_before_start":
        fields = {"ends_at": (start - timedelta(hours=1)).strftime(LOCAL)}
    before = (_count(Meeting), _count(Series))

    typed = {"title": "楼道堆物协商会", "description": "请带上照片", **fields}
    response = client.post("/sessions/new", data=_new_session_form(client, start, **typed))

    assert response.status_code == 200
    assert message in _errors(response)
    assert (_count(Meeting), _count(Series)) == before
    if "title" not in fields:
        assert _value(response, "title") == "楼道堆物协商会"
    assert _value(response, "description") == "请带上照片"
    assert _value(response, "new_venue") == "Community hall"


def test_venues_and_host_units_are_chosen_from_lists(client, login_as, cadre, factories):
    community = factories.make_community("Hehe")
    factories.make_venue(community, name="议事厅")
    factories.make_unit("和合物业公司", kind="property_company")
    login_as(cadre)
    page = client.get("/sessions/new").get_data(as_text=True)
    assert re.search(r'<select[^>]*name="venue"', page)
    assert re.search(r'<select[^>]*name="host_unit"', page)
    assert '<option value="议事厅">' in page and '<option value="和合物业公司">' in page
    start = local_start()
    # A typo is no venue: nothing is created, nothing scheduled.
    typo = client.post(
        "/sessions/new", data=_new_session_form(client, start, venue="议事厅室", new_venue="")
    )
    assert typo.status_code == 200 and "Not a valid choice." in _errors(typo)
    assert _count(Venue) == 1 and _count(Meeting) == 0
    # The list's venue is used; it takes part in the clash check.
    chosen = client.post(
        "/sessions/new",
        data=_new_session_form(
            client, start, venue="议事厅", new_venue="", host_unit="和合物业公司"
        ),
    )
    assert chosen.status_code == 302
    clash = client.post(
        "/sessions/new",
        data=_new_session_form(client, start, venue="议事厅", new_venue="", title="另一个会"),
    )
    assert clash.status_code == 200 and _count(Meeting) == 1
    # A new venue is added only on purpose.
    added = client.post(
        "/sessions/new", data=_new_session_form(client, start, venue="", new_venue="调解室")
    )
    assert added.status_code == 302 and _count(Venue) == 2


def test_a_clash_is_shown_on_the_venue_field_naming_the_other_session(client, login_as, cadre):
    start = local_start()
    _create(cadre, start, title="居民议事会")
    db.session.commit()
    login_as(cadre)

    response = client.post(
        "/sessions/new", data=_new_session_form(client, start + timedelta(minutes=30))
    )

    assert response.status_code == 200
    errors = _errors(response)
    assert any("居民议事会" in e for e in errors)
    assert 'name="venue"' in response.get_data(as_text=True)
    assert _count() == 1


def test_the_form_lists_communities_and_defaults_to_the_configured_zone(
    app, client, login_as, cadre, factories
):
    app.config["CONSULT_TIMEZONE"] = "Asia/Shanghai"
    # A town-level cadre is offered every community there is.
    factories.make_community("Hehe")
    factories.make_community("Wuyi")
    login_as(cadre)
    html = client.get("/sessions/new").get_data(as_text=True)

    assert 'value="Asia/Shanghai"' in html
    assert '<option value="Hehe">' in html and '<option value="Wuyi">' in html
    for kind in (
        "roundtable",
        "friday_talk",
        "joint_meeting",
        "sentiment_talk",
        "deliberation",
        "mediation",
    ):
        assert f'value="{kind}"' in html


# -- the list ---------------------------------------------------------------------------------


def test_list_shows_upcoming_sessions_with_filters(client, cadre, factories):
    start = local_start()
    _create(cadre, start, title="和合圆桌会")
    _create(
        cadre, start + timedelta(days=1), title="安乐议事会", community="Anle", kind="deliberation"
    )
    _create(cadre, start - timedelta(days=60), title="上月的会")
    db.session.commit()
    anle = db.session.scalar(select(Meeting.community_id).where(Meeting.title == "安乐议事会"))

    upcoming = client.get("/sessions").get_data(as_text=True)
    only_anle = client.get(f"/sessions?community={anle}").get_data(as_text=True)
    only_kind = client.get("/sessions?kind=roundtable&when=all").get_data(as_text=True)
    past = client.get("/sessions?when=past").get_data(as_text=True)
    nonsense = client.get("/sessions?community=abc&kind=party&when=x&page=-1")

    assert "和合圆桌会" in upcoming and "安乐议事会" in upcoming and "上月的会" not in upcoming
    assert "安乐议事会" in only_anle and "和合圆桌会" not in only_anle
    assert "和合圆桌会" in only_kind and "上月的会" in only_kind and "安乐议事会" not in only_kind
    assert "上月的会" in past and "和合圆桌会" not in past
    assert nonsense.status_code == 200


def test_list_paginates(client, cadre):
    start = local_start()
    for i in range(23):
        _create(cadre, start + timedelta(hours=3 * i), title=f"会议{i:02d}")
    db.session.commit()

    first = client.get("/sessions").get_data(as_text=True)
    second = client.get("/sessions?page=2").get_data(as_text=True)

    assert first.count("data-session=") == 20 and "会议00" in first and "会议20" not in first
    assert second.count("data-session=") == 3 and "会议22" in second
    assert 'href="/sessions?page=2"' in first


def test_list_query_count_is_fixed_and_does_not_grow_with_rows(
    client, login_as, cadre, count_queries
):
    login_as(cadre)
    start = local_start()
    for i in range(3):
        _create(cadre, start + timedelta(hours=3 * i), title=f"会议{i}")
    db.session.commit()
    client.get("/sessions")

    # Each request starts from a fresh state, as in production.
    db.session.expire_all()
    with count_queries() as few:
        assert client.get("/sessions").status_code == 200
    for i in range(3, 15):
        _create(
            cadre,
            start + timedelta(hours=3 * i),
            title=f"会议{i}",
            venue=f"Room {i}",
            community="Anle" if i % 2 else "Hehe",
        )
    db.session.commit()
    db.session.expire_all()
    with count_queries() as recounted:
        client.get("/sessions")
    db.session.expire_all()
    with count_queries() as many:
        page = client.get("/sessions").get_data(as_text=True)
    # Sessions were added: the first request renders the list again, once.
    assert recounted.n == few.n + 4, recounted.statements

    assert page.count("data-session=") == 15
    # The signed-in user, the user's memberships (the community scope), the
    # communities' change counters (consult.community.versions) and the start of the
    # first session shown, under which the rendered list is kept; rendering it, besides:
    # the communities of the filter, the page of sessions with their community and
    # venue, the counters under which the count is kept, the count, and the sessions of
    # this hour that began already.
    assert few.n == 4, few.statements
    assert many.n == few.n


def test_list_hides_private_sessions_from_residents(client, login_as, cadre, factories):
    _create(cadre, title="邻里纠纷调解", kind="mediation")
    _create(cadre, local_start(days=20), title="公开议事会")
    db.session.commit()

    anonymous = client.get("/sessions").get_data(as_text=True)
    login_as(factories.make_user())
    resident = client.get("/sessions").get_data(as_text=True)

    for html in (anonymous, resident):
        assert "公开议事会" in html and "邻里纠纷调解" not in html


# -- the session page --------------------------------------------------------------------------


def test_session_page_shows_time_in_its_zone_and_everything_about_it(client, cadre, factories):
    unit = factories.make_unit("城关供电所")
    start = local_start("Europe/Berlin", hour=19, minute=30)
    meeting = _create(
        cadre,
        start,
        timezone="Europe/Berlin",
        kind="joint_meeting",
        title="联席会议",
        host_unit=unit.id,
        capacity=25,
        description="季度联席",
    )
    db.session.commit()

    html = client.get(f"/sessions/{meeting.id}").get_data(as_text=True)

    assert "联席会议" in html and "Joint meeting" in html
    assert "19:30" in html and "21:30" in html
    assert "Europe/Berlin, UTC+0" in html
    assert "Community hall" in html and "Hehe" in html
    assert "王建国" in html and "城关供电所" in html
    assert "25 of 25 places left" in html
    google = re.search(r'href="(https://calendar\.google\.com/[^"]+)"', html).group(1)
    query = parse_qs(urlsplit(unescape(google)).query)
    utc = meeting.starts_at.strftime("%Y%m%dT%H%M%SZ")
    assert query["action"] == ["TEMPLATE"] and query["text"] == ["联席会议"]
    assert query["dates"] == [f"{utc}/{meeting.ends_at.strftime('%Y%m%dT%H%M%SZ')}"]
    assert query["location"] == ["Community hall"]
    assert query["details"][0].endswith(f"/sessions/{meeting.id}")


def test_session_page_links_the_calendar_file_when_there_is_one(app, client, cadre):
    meeting = _create(cadre)
    db.session.commit()

    html = client.get(f"/sessions/{meeting.id}").get_data(as_text=True)

    assert f'href="/sessions/{meeting.id}.ics"' in html


def test_series_page_lists_the_occurrences_and_describes_the_rule(client, cadre_api, cadre):
    first = cadre_api.post("/api/v1/sessions", json=friday_talk(6)).get_json()
    items = cadre_api.get(f"/api/v1/sessions?series={first['series']}").get_json()["items"]
    cadre_api.post(f"/api/v1/sessions/{items[1]['id']}/cancel")

    html = client.get(f"/sessions/{items[2]['id']}").get_data(as_text=True)

    assert "Every week on Friday, 6 times" in html
    assert html.count("data-occurrence=") == 6
    assert 'data-status="cancelled"' in html


@pytest.mark.parametrize(
    "url",
    [
        "/sessions/{id}",
        "/sessions/{id}/edit",
        "/sessions/{id}/move",
    ],
)
def test_private_session_pages_are_404_for_residents(client, login_as, cadre, factories, url):
    meeting = _create(cadre, kind="mediation", title="邻里纠纷调解")
    db.session.commit()
    login_as(factories.make_user())

    assert client.get(url.format(id=meeting.id)).status_code == 404


def test_private_session_posts_are_404_for_residents(client, login_as, cadre, factories):
    meeting = _create(cadre, kind="mediation", title="邻里纠纷调解")
    db.session.commit()
    login_as(factories.make_user())
    token = csrf_token_from(client.get("/sessions").get_data(as_text=True))

    for action in ("cancel", "skip", "cancel-series", "edit", "restore"):
        response = client.post(f"/sessions/{meeting.id}/{action}", data={"csrf_token": token})
        assert response.status_code == 404
    assert db.session.get(Meeting, meeting.id).status == "scheduled"


def test_private_session_page_for_staff_and_for_the_invited(client, login_as, cadre, factories):
    meeting = _create(cadre, kind="mediation", title="邻里纠纷调解")
    db.session.commit()
    factories.make_invitation(meeting, email="li.na@example.org")

    assert client.get(f"/sessions/{meeting.id}").status_code == 404
    login_as(factories.make_user(email="li.na@example.org"))
    assert client.get(f"/sessions/{meeting.id}").status_code == 200
    client.post(
        "/logout",
        data={"csrf_token": csrf_token_from(client.get("/sessions").get_data(as_text=True))},
    )
    login_as(factories.make_user(role="secretary"))
    assert "邻里纠纷调解" in client.get(f"/sessions/{meeting.id}").get_data(as_text=True)


def test_unknown_session_is_404(client):
    assert client.get("/sessions/4242").status_code == 404
    assert client.get("/sessions/99999999999999999999").status_code == 404


# -- who may do what -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("admin", 200),
        ("cadre", 200),
        ("secretary", 403),
        ("resident", 403),
        ("unit_rep", 403),
    ],
)
@pytest.mark.parametrize("url", ["/sessions/new", "/sessions/{id}/edit", "/sessions/{id}/move"])
def test_schedule_and_change_pages_per_role(
    client, login_as, cadre_api, factories, role, status, url
):
    first = cadre_api.post("/api/v1/sessions", json=friday_talk(3)).get_json()
    login_as(factories.make_user(role=role))

    assert client.get(url.format(id=first["id"])).status_code == status


@pytest.mark.parametrize("url", ["/sessions/new", "/sessions/1/edit"])
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("role", "may"),
    [
        ("admin", True),
        ("cadre", True),
        ("secretary", False),
        ("resident", False),
    ],
)
def test_action_buttons_only_for_those_allowed(client, login_as, cadre_api, factories, role, may):
    first = cadre_api.post("/api/v1/sessions", json=friday_talk(3)).get_json()
    login_as(factories.make_user(role=role))

    html = client.get(f"/sessions/{first['id']}").get_data(as_text=True)

    for action in ("edit", "move", "skip", "cancel-series"):
        assert (f'data-action="{action}"' in html) is may


@pytest.mark.parametrize("role", ["secretary", "resident"])
def test_other_roles_cannot_post_changes(client, login_as, cadre_api, factories, role):
    first = cadre_api.post("/api/v1/sessions", json=friday_talk(3)).get_json()
    login_as(factories.make_user(role=role))
    token = csrf_token_from(client.get("/sessions").get_data(as_text=True))

    for action in ("cancel", "skip", "cancel-series", "edit", "move", "restore"):
        for confirmation in ({}, {"confirmed": "1"}):
            response = client.post(
                f"/sessions/{first['id']}/{action}", data={"csrf_token": token, **confirmation}
            )
            assert response.status_code == 403
    assert db.session.get(Meeting, first["id"]).status == "scheduled"


# -- changing, skipping, moving, cancelling ------------------------------------------------------


def test_reschedule_through_the_edit_form(client, login_as, cadre):
    meeting = _create(cadre, local_start("Europe/Berlin"), timezone="Europe/Berlin")
    db.session.commit()
    login_as(cadre)
    edit = client.get(f"/sessions/{meeting.id}/edit").get_data(as_text=True)
    local = meeting.starts_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert f'value="{local.strftime(LOCAL)}"' in edit
    later = local + timedelta(hours=2)

    response = client.post(
        f"/sessions/{meeting.id}/edit",
        data=_form(
            client,
            f"/sessions/{meeting.id}/edit",
            title="改期的圆桌会",
            starts_at=later.strftime(LOCAL),
            ends_at=(later + timedelta(hours=1)).strftime(LOCAL),
            venue="",
            new_venue="Room 3",
            capacity="",
            host_unit="",
            description="",
        ),
    )

    assert response.status_code == 302
    db.session.expire_all()
    changed = db.session.get(Meeting, meeting.id)
    assert changed.starts_at == later.astimezone(UTC)
    assert changed.title == "改期的圆桌会" and changed.venue.name == "Room 3"
    assert changed.capacity is None and changed.sequence == 1


def test_edit_form_shows_capacity_below_confirmed_as_a_field_error(
    client, login_as, cadre, factories
):
    from consult.attendance.operations import sign_up

    meeting = _create(cadre, capacity=5)
    for _ in range(2):
        sign_up(meeting, factories.make_user())
    db.session.commit()
    login_as(cadre)
    local = meeting.starts_at.astimezone(ZoneInfo("Asia/Shanghai"))

    response = client.post(
        f"/sessions/{meeting.id}/edit",
        data=_form(
            client,
            f"/sessions/{meeting.id}/edit",
            title="圆桌会",
            starts_at=local.strftime(LOCAL),
            ends_at=(local + timedelta(hours=2)).strftime(LOCAL),
            venue="Community hall",
            capacity="1",
            host_unit="",
            description="",
        ),
    )

    assert response.status_code == 200
    assert any("already confirmed" in e for e in _errors(response))
    assert _value(response, "capacity") == "1"
    assert db.session.get(Meeting, meeting.id).capacity == 5


def test_skip_and_move_one_week_then_cancel_the_series(client, login_as, cadre_api, cadre):
    first = cadre_api.post("/api/v1/sessions", json=friday_talk(5)).get_json()
    items = cadre_api.get(f"/api/v1/sessions?series={first['series']}").get_json()["items"]
    login_as(cadre)
    token = csrf_token_from(client.get("/sessions").get_data(as_text=True))

    asked = client.post(f"/sessions/{items[1]['id']}/skip", data={"csrf_token": token})
    assert asked.status_code == 200 and "can be restored" in asked.get_data(as_text=True)
    assert db.session.get(Meeting, items[1]["id"]).status == "scheduled"
    skipped = client.post(
        f"/sessions/{items[1]['id']}/skip", data={"csrf_token": token, "confirmed": "1"}
    )
    assert skipped.status_code == 302
    moved_to = datetime.fromisoformat(items[2]["starts_at"]) + timedelta(days=1)
    moved = client.post(
        f"/sessions/{items[2]['id']}/move",
        data=_form(
            client,
            f"/sessions/{items[2]['id']}/move",
            starts_at=moved_to.strftime(LOCAL),
            ends_at=(moved_to + timedelta(hours=2)).strftime(LOCAL),
        ),
    )
    assert moved.status_code == 302

    db.session.expire_all()
    rows = {m.id: m for m in db.session.get(Series, first["series"]).occurrences}
    assert rows[items[1]["id"]].status == "cancelled"
    assert rows[items[2]["id"]].starts_at == moved_to.astimezone(UTC)
    assert rows[items[2]["id"]].recurrence_id != rows[items[2]["id"]].starts_at
    assert [m.status for m in rows.values()].count("scheduled") == 4
    page = client.get(f"/sessions/{items[2]['id']}").get_data(as_text=True)
    assert "data-moved" in page

    asked = client.post(f"/sessions/{items[0]['id']}/cancel-series", data={"csrf_token": token})
    assert "All 4 coming sessions" in asked.get_data(as_text=True)
    cancelled = client.post(
        f"/sessions/{items[0]['id']}/cancel-series",
        data={"csrf_token": token, "confirmed": "1"},
        follow_redirects=True,
    )
    assert "The series is cancelled (4 sessions)." in cancelled.get_data(as_text=True)
    db.session.expire_all()
    assert {m.status for m in db.session.get(Series, first["series"]).occurrences} == {"cancelled"}


def test_a_skipped_week_is_restored(client, login_as, cadre_api, cadre, mailbox):
    first = cadre_api.post("/api/v1/sessions", json=friday_talk(3)).get_json()
    items = cadre_api.get(f"/api/v1/sessions?series={first['series']}").get_json()["items"]
    week = items[1]["id"]
    cadre_api.post(f"/api/v1/sessions/{week}/invitations", json={"emails": ["li@example.org"]})
    login_as(cadre)
    token = csrf_token_from(client.get("/sessions").get_data(as_text=True))
    client.post(f"/sessions/{week}/skip", data={"csrf_token": token, "confirmed": "1"})
    page = client.get(f"/sessions/{week}").get_data(as_text=True)
    assert 'data-action="restore"' in page
    before = len(mailbox.send())
    response = client.post(
        f"/sessions/{week}/restore", data={"csrf_token": token}, follow_redirects=True
    )
    assert "This week is back on" in response.get_data(as_text=True)
    db.session.expire_all()
    restored = db.session.get(Meeting, week)
    assert restored.status == "scheduled" and restored.cancelled_at is None
    assert restored.sequence == 2  # skipped, then back
    (update,) = mailbox.send()[before:]
    assert "li@example.org" in str(update["To"]) and "Updated" in str(update["Subject"])
    # Restoring what is not skipped changes nothing.
    again = client.post(
        f"/sessions/{week}/restore", data={"csrf_token": token}, follow_redirects=True
    )
    assert "This week is not skipped." in again.get_data(as_text=True)
    assert db.session.get(Meeting, week).sequence == 2


def test_cancel_a_one_off_session(client, login_as, cadre):
    meeting = _create(cadre)
    db.session.commit()
    login_as(cadre)
    token = csrf_token_from(client.get("/sessions").get_data(as_text=True))

    asked = client.post(f"/sessions/{meeting.id}/cancel", data={"csrf_token": token})
    assert "data-confirm" in asked.get_data(as_text=True)
    assert db.session.get(Meeting, meeting.id).status == "scheduled"
    response = client.post(
        f"/sessions/{meeting.id}/cancel",
        data={"csrf_token": token, "confirmed": "1"},
        follow_redirects=True,
    )

    assert "This session has been cancelled." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).status == "cancelled"
    assert db.session.get(Meeting, meeting.id).sequence == 1
    assert client.get(f"/sessions/{meeting.id}/edit").status_code == 302


def test_posts_without_a_csrf_token_are_refused(client, login_as, cadre):
    meeting = _create(cadre)
    db.session.commit()
    login_as(cadre)

    assert client.post(f"/sessions/{meeting.id}/cancel").status_code == 400
    assert db.session.get(Meeting, meeting.id).status == "scheduled"


def test_moving_a_one_off_session_is_404(client, login_as, cadre):
    meeting = _create(cadre)
    db.session.commit()
    login_as(cadre)
    assert client.get(f"/sessions/{meeting.id}/move").status_code == 404


# -- the calendar -------------------------------------------------------------------------------


def test_month_calendar_puts_sessions_on_their_local_day(client, cadre):
    # 23:30 in Shanghai is 15:30 UTC: the session belongs to the Shanghai day.
    start = local_start(days=20, hour=23, minute=30)
    meeting = _create(cadre, start, title="夜间议事")
    db.session.commit()
    day = start.date()

    html = client.get(f"/sessions/calendar?date={day.isoformat()}").get_data(as_text=True)

    cell = re.search(rf'data-day="{day.isoformat()}">(.*?)</td>', html, re.S).group(1)
    assert f'data-session="{meeting.id}"' in cell and "23:30" in cell


def test_week_calendar_and_kind_filter(client, cadre):
    start = local_start(days=20)
    _create(cadre, start, title="圆桌会A")
    _create(cadre, start + timedelta(hours=3), title="调解会B", kind="deliberation")
    _create(cadre, start + timedelta(days=8), title="下周的会")
    db.session.commit()

    week = client.get(f"/sessions/calendar?view=week&date={start.date().isoformat()}").get_data(
        as_text=True
    )
    only_roundtables = client.get(
        f"/sessions/calendar?view=week&kind=roundtable&date={start.date().isoformat()}"
    ).get_data(as_text=True)

    assert "圆桌会A" in week and "调解会B" in week and "下周的会" not in week
    assert week.count("data-day=") == 7
    assert "圆桌会A" in only_roundtables and "调解会B" not in only_roundtables


def test_calendar_is_per_community_and_hides_private_sessions(client, login_as, cadre, factories):
    start = local_start(days=20)
    _create(cadre, start, title="和合的会")
    _create(cadre, start, title="安乐的会", community="Anle")
    _create(cadre, start + timedelta(hours=4), title="邻里调解", kind="mediation")
    db.session.commit()
    anle = db.session.scalar(select(Meeting.community_id).where(Meeting.title == "安乐的会"))
    login_as(factories.make_user())  # a resident of Hehe

    html = client.get(f"/sessions/calendar?date={start.date()}").get_data(as_text=True)
    per_community = client.get(f"/sessions/calendar?community={anle}&date={start.date()}").get_data(
        as_text=True
    )

    # Their own community by default; another one when chosen.
    assert "和合的会" in html and "安乐的会" not in html and "邻里调解" not in html
    assert "安乐的会" in per_community and "和合的会" not in per_community


def _calendar_choice(html: str) -> tuple[list[str], str | None]:
    """The community select's options and the one selected."""
    select_html = re.search(r'<select[^>]*name="community"[^>]*>(.*?)</select>', html, re.S)
    options = re.findall(r"<option[^>]*>([^<]*)</option>", select_html.group(1))
    chosen = re.search(r"<option[^>]*selected[^>]*>([^<]*)</option>", select_html.group(1))
    return options, chosen.group(1) if chosen else None


def test_calendar_shows_one_community_never_all(client, login_as, cadre, factories):
    """A town-level cadre gets the first community and a choice of every one; there is no
    month of every community's sessions."""
    start = local_start(days=20)
    for name in ("Anle", "Hehe", "Yuelai"):
        _create(cadre, start, title=f"{name} 的会", community=name)
    db.session.commit()
    login_as(cadre)

    html = client.get(f"/sessions/calendar?date={start.date()}").get_data(as_text=True)
    options, chosen = _calendar_choice(html)
    assert options == ["Anle", "Hehe", "Yuelai"] and chosen == "Anle"
    assert "Anle 的会" in html and "Hehe 的会" not in html and "Yuelai 的会" not in html
    assert "Sessions of Anle" in html
    # The period links keep the community shown.
    yuelai = db.session.scalar(select(Meeting.community_id).where(Meeting.title == "Yuelai 的会"))
    chosen_html = client.get(f"/sessions/calendar?community={yuelai}&date={start.date()}")
    chosen_html = chosen_html.get_data(as_text=True)
    assert "Yuelai 的会" in chosen_html and "Anle 的会" not in chosen_html
    following = re.search(r'href="([^"]*)" rel="next"', chosen_html).group(1)
    assert f"community={yuelai}" in unescape(following)


@pytest.mark.parametrize("community", ["", "0", "999999", "all", "Anle"])
def test_calendar_falls_back_to_the_own_community(client, login_as, cadre, factories, community):
    start = local_start(days=20)
    _create(cadre, start, title="和合的会")
    _create(cadre, start, title="安乐的会", community="Anle")
    db.session.commit()
    login_as(factories.make_user())  # a resident of Hehe

    html = client.get(f"/sessions/calendar?community={community}&date={start.date()}")
    html = html.get_data(as_text=True)
    assert "和合的会" in html and "安乐的会" not in html
    assert _calendar_choice(html)[1] == "Hehe"


def test_calendar_of_a_visitor_shows_the_first_community(client, cadre):
    start = local_start(days=20)
    _create(cadre, start, title="和合的会")
    _create(cadre, start, title="安乐的会", community="Anle")
    db.session.commit()

    html = client.get(f"/sessions/calendar?date={start.date()}").get_data(as_text=True)
    assert "安乐的会" in html and "和合的会" not in html


def test_calendar_of_a_town_without_communities_is_empty(client):
    response = client.get("/sessions/calendar")
    assert response.status_code == 200
    assert "No sessions in this period." in response.get_data(as_text=True)


def _uncached() -> None:
    """Read afresh, and render the grid rather than take the one kept in the cache
    (consult.community.versions)."""
    db.session.expire_all()
    cache.clear()


def test_calendar_statements_and_size_do_not_grow_with_other_communities(
    client, login_as, cadre, factories, count_queries
):
    start = local_start(days=20)
    _create(cadre, start, title="和合的会")
    db.session.commit()
    login_as(factories.make_user())
    url = f"/sessions/calendar?date={start.date()}"
    client.get(url)
    _uncached()
    with count_queries() as few:
        small = client.get(url).get_data(as_text=True)
    for n in range(6):
        _create(cadre, start + timedelta(hours=n % 3), title=f"别处的会{n}", community=f"C{n}")
    db.session.commit()
    _uncached()
    with count_queries() as many:
        large = client.get(url).get_data(as_text=True)
    assert few.n == many.n, many.statements
    assert "别处的会" not in large
    # The community select grows by one option per community; nothing else does.
    assert len(large) - len(small) < 6 * 80


def _busy_day(cadre, count: int, start=None):
    start = start or local_start(days=20, hour=8)
    for n in range(count):
        _create(
            cadre, start + timedelta(minutes=20 * n), title=f"第{n + 1:02d}场", venue=f"Room {n}"
        )
    db.session.commit()
    return start


def _sessions_in(html: str, day) -> int:
    cell = re.search(rf'<td[^>]*data-day="{day.isoformat()}">(.*?)</td>', html, re.S).group(1)
    return cell.count("data-session=")


def test_a_busy_day_shows_a_few_sessions_in_the_month_and_links_to_the_day(
    client, login_as, cadre, factories
):
    start = _busy_day(cadre, 7)
    login_as(factories.make_user())
    day = start.date()

    month = client.get(f"/sessions/calendar?date={day}").get_data(as_text=True)
    assert _sessions_in(month, day) == 3
    assert "第01场" in month and "第04场" not in month
    more = re.search(r'<a[^>]*href="([^"]*)"[^>]*data-more="4"', month)
    assert more, "no link to the other sessions of the day"
    target = parse_qs(urlsplit(unescape(more.group(1))).query)
    assert target["view"] == ["day"] and target["date"] == [day.isoformat()]
    assert "community" in target

    week = client.get(f"/sessions/calendar?view=week&date={day}").get_data(as_text=True)
    assert _sessions_in(week, day) == 7 and "data-more" not in week

    whole_day = client.get(unescape(more.group(1))).get_data(as_text=True)
    assert whole_day.count("data-session=") == 7
    assert all(f"第{n:02d}场" in whole_day for n in range(1, 8))
    following = re.search(r'href="([^"]*)" rel="next"', whole_day).group(1)
    assert f"date={day + timedelta(days=1)}" in unescape(following)


def test_a_month_does_not_grow_with_a_busier_day(client, login_as, cadre, factories, count_queries):
    start = _busy_day(cadre, 4)
    login_as(factories.make_user())
    url = f"/sessions/calendar?date={start.date()}"
    client.get(url)
    _uncached()
    with count_queries() as few:
        quiet = client.get(url).get_data(as_text=True)
    _busy_day(cadre, 12, start + timedelta(hours=5))
    _uncached()
    with count_queries() as many:
        busy = client.get(url).get_data(as_text=True)
    assert few.n == many.n, many.statements
    assert _sessions_in(busy, start.date()) == 3
    assert abs(len(busy) - len(quiet)) < 10  # only the number of the others differs


@pytest.mark.parametrize("query", ["view=day", "view=day&date=nonsense", "view=day&kind=party"])
def test_the_day_view_survives_odd_parameters(client, query):
    assert client.get(f"/sessions/calendar?{query}").status_code == 200


def test_calendar_in_chinese(client, login_as, cadre, factories):
    start = local_start(days=20)
    _create(cadre, start, title="和合的会")
    db.session.commit()
    login_as(factories.make_user())
    html = client.get(f"/sessions/calendar?date={start.date()}&lang=zh_CN").get_data(as_text=True)
    assert "Hehe 的议事会议" in html
    assert "Sessions of" not in html
    assert all(f">{name}<" in html for name in ("月", "周", "日"))


def test_a_busy_day_in_chinese(client, login_as, cadre, factories):
    start = _busy_day(cadre, 5)
    login_as(factories.make_user())
    html = client.get(f"/sessions/calendar?date={start.date()}&lang=zh_CN").get_data(as_text=True)
    assert "还有 2 场" in html and "2 more" not in html
    day = client.get(f"/sessions/calendar?view=day&date={start.date()}&lang=zh_CN")
    day = day.get_data(as_text=True)
    assert "前一天" in day and "后一天" in day


@pytest.mark.parametrize(
    "query",
    ["date=nonsense", "date=0001-01-01", "view=year", "community=999999999999999", "kind=party"],
)
def test_calendar_survives_odd_parameters(client, query):
    assert client.get(f"/sessions/calendar?{query}").status_code == 200


def test_pages_in_chinese(client, cadre):
    meeting = _create(cadre)
    db.session.commit()

    response = client.get(f"/sessions/{meeting.id}?lang=zh_CN")

    assert response.status_code == 200
    assert 'lang="zh-CN"' in response.get_data(as_text=True)


def test_a_kept_calendar_follows_a_change_of_its_sessions(
    client, login_as, cadre, factories, count_queries
):
    start = local_start(days=20)
    meeting = _create(cadre, start, title="和合的会")
    db.session.commit()
    login_as(factories.make_user())
    url = f"/sessions/calendar?date={start.date()}"
    assert "和合的会" in client.get(url).get_data(as_text=True)
    db.session.expire_all()
    with count_queries() as kept:
        assert "和合的会" in client.get(url).get_data(as_text=True)
    # The communities of the filter, the user, the memberships and the change counters:
    # no session is read for a grid kept in the cache.
    assert not [s for s in kept.statements if "FROM meetings" in s], kept.statements
    db.session.execute(
        text("UPDATE meetings SET title = '改过的会' WHERE id = :id"), {"id": meeting.id}
    )
    db.session.commit()
    db.session.expire_all()
    page = client.get(url).get_data(as_text=True)
    assert "改过的会" in page and "和合的会" not in page
