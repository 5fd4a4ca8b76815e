"""The programme's journeys in Chromium, at 1366 px and 390 px, in zh_CN and in English.

Every page reached is checked by ``tests.browser.journeys.Tab`` (console errors, failed
requests, horizontal overflow, axe-core, English on zh_CN pages); data is built with the
factories, each journey starting from empty tables.
"""

from __future__ import annotations

import os
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar
from sqlalchemy import select

from consult.attendance.links import checkin_url
from consult.attendance.operations import sign_up
from consult.cases.models import Case, Evaluation, Issue
from consult.extensions import db
from consult.meetings.models import Invitation, Meeting, Registration, Series
from consult.minutes.models import Minutes
from tests.browser.journeys import Tab
from tests.cases.builders import agenda_item, new_case, new_issue
from tests.factories import PASSWORD, next_weekday_at

pytestmark = [
    pytest.mark.browser,
    # The journeys exercise pages, not the database engine: they run in the SQLite pass
    # of the suite; every test of concurrency and of SQL runs on both databases.
    pytest.mark.skipif(
        bool(os.environ.get("CONSULT_TEST_DATABASE_URL")),
        reason="browser journeys run in the SQLite pass",
    ),
]

SIZES_AND_LANGUAGES = [
    pytest.param(width, language, id=f"{width}-{language}")
    for width in ("desktop", "phone")
    for language in ("zh_CN", "en")
]


@pytest.fixture
def tabs(browser, live_server):
    """Return a factory of checked browser tabs; closes them at the end."""
    opened = []

    def _tab(journey, who, width, language):
        tab = Tab(browser, live_server.url, journey, who, width, language)
        opened.append(tab)
        return tab

    yield _tab
    for tab in opened:
        tab.close()


def _fresh(obj=None):
    """End the test's read transaction, so the server's commits are seen; return ``obj``."""
    db.session.rollback()
    return obj


@pytest.mark.parametrize(("width", "language"), SIZES_AND_LANGUAGES)
def test_cadre_schedules_a_friday_talk_series_and_invites_two_units(
    factories, tabs, width, language
):
    hehe = factories.make_community("和合社区")
    units = []
    for name in ("城关物业公司", "和合业主委员会", "县供电公司"):
        unit = factories.make_unit(
            name,
            kind="property_company"
            if "物业" in name
            else "owners_committee"
            if "业主" in name
            else "enterprise",
        )
        factories.make_alliance_member(hehe, unit)
        rep = factories.make_user("unit_rep", community=None, name=f"{name}代表")
        rep.unit_id = unit.id
        units.append(unit)
    db.session.commit()
    for room in ("党群服务中心议事厅", "二楼会议室", "和合调解室"):
        factories.make_venue(hehe, room)
    cadre = factories.make_user("cadre", community="和合社区", name="王丽华")
    first = next_weekday_at(4, 15)

    tab = tabs("schedule", "cadre", width, language)
    tab.sign_in(cadre.email, PASSWORD)
    tab.visit("/sessions/new", "new-session")
    page = tab.page
    page.select_option("select[name=kind]", "friday_talk")
    page.fill("input[name=title]", "周五说事日")
    page.fill("input[name=community]", "和合社区")
    # The venue list is searched by part of a name, as on a phone with many rooms.
    page.fill("[data-filter-select=venue]", "议事")
    assert page.locator("select[name=venue]").input_value() == "党群服务中心议事厅"
    shown = page.locator("select[name=venue] option:not([hidden])").all_inner_texts()
    assert shown == ["党群服务中心议事厅"]
    page.fill("input[name=starts_at]", first.strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=ends_at]", first.replace(hour=17).strftime("%Y-%m-%dT%H:%M"))
    page.check("input[name=repeat][value=weekly]")
    page.check("input[name=weekdays][value=FR]")
    page.check("input[name=end][value=count]")
    page.fill("input[name=count]", "12")
    tab.submit("form:has(input[name=title])", "series-scheduled")

    _fresh()
    series = db.session.scalars(select(Series)).one()
    assert "COUNT=12" in series.rrule and "BYDAY=FR" in series.rrule
    assert len(series.occurrences) == 12
    assert {m.venue.name for m in series.occurrences} == {"党群服务中心议事厅"}
    assert urlsplit(page.url).path == f"/sessions/{series.occurrences[0].id}"

    # The picker finds units by part of their name, grouped by kind, without a page load.
    picker = page.locator("[data-unit-picker]")
    picker.locator("input[name=unit_q]").fill("物业")
    picker.locator("[data-unit-kind=property_company] input[type=checkbox]").first.check()
    picker.locator("input[name=unit_q]").fill("业主")
    picker.locator("[data-unit-kind=owners_committee] input[type=checkbox]").first.check()
    # The first unit chosen stays chosen while the second search shows its results.
    assert picker.locator("input[name=invite-units]:checked").count() == 2
    tab.check("units-chosen")
    tab.submit("form[data-form=invite]", "invited")

    _fresh()
    invited = {i.unit_id for i in db.session.scalars(select(Invitation))}
    assert invited == {units[0].id, units[1].id}
    assert page.locator("[data-list=invitees] [data-invitation]").count() >= 2


@pytest.mark.parametrize(("width", "language"), SIZES_AND_LANGUAGES)
def test_resident_finds_signs_up_adds_to_calendar_and_cancels(factories, tabs, width, language):
    hehe = factories.make_community("和合社区")
    resident = factories.make_user("resident", community="和合社区", name="张秀英")
    meeting = factories.make_meeting(
        hehe, kind="friday_talk", title="和合周五说事日", starts_in=timedelta(days=3), capacity=20
    )

    tab = tabs("resident", "resident", width, language)
    tab.sign_in(resident.email, PASSWORD)
    tab.visit("/", "home")
    page = tab.page
    tab.after(page.locator(f"[data-session='{meeting.id}'] a").first.click, "session")
    # On a phone the sign-up panel comes right after the time and place.
    facts = page.locator(".session-facts").bounding_box()
    panel = page.locator("[data-panel=attendance]").bounding_box()
    if width == "phone":
        assert panel["y"] >= facts["y"] + facts["height"] - 1
        assert panel["y"] - (facts["y"] + facts["height"]) < 40
    tab.after(page.locator("[data-action=sign-up]").first.click, "signed-up")
    assert page.locator("[data-mine=confirmed]").count() == 1

    ics_href = page.locator("[data-link=ics]").get_attribute("href")
    response = page.request.get(ics_href)
    assert response.ok and response.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(response.body()).walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == ["和合周五说事日"]

    # Cancelling asks for confirmation first: one more click, on the confirmation page.
    tab.after(page.locator("[data-panel=attendance] [data-action=cancel]").click, "confirm-cancel")
    tab.after(page.locator("[data-confirm] [data-action=confirm]").click, "cancelled")
    _fresh()
    registration = db.session.scalars(select(Registration)).one()
    assert registration.status == "cancelled"
    assert page.locator("[data-action=sign-up]").count() >= 1

    # The resident raises a concern from the home page and follows it.
    tab.visit("/", "home-again")
    tab.after(page.locator("a[href='/me/concerns/new']").first.click, "raise-concern")
    assert page.locator("select[name=community]").input_value() == str(hehe.id)
    page.fill("input[name=title]", "三单元楼道灯坏了")
    page.fill("textarea[name=description]", "晚上很黑，老人上下楼不方便")
    page.select_option("select[name=category]", "concern")
    tab.after(page.locator("form [data-action=raise]").click, "concern-raised")
    _fresh()
    case = db.session.scalars(select(Case)).one()
    assert (case.source, case.created_by_id, case.community_id) == ("online", resident.id, hehe.id)
    assert urlsplit(page.url).path == f"/cases/{case.id}"
    tab.visit("/me/concerns", "my-concerns")
    assert page.locator(f"[data-case='{case.id}']").count() == 1


@pytest.mark.parametrize(("width", "language"), SIZES_AND_LANGUAGES)
def test_secretary_minutes_a_session_the_cadre_publishes_and_a_representative_rates(
    factories, tabs, width, language
):
    hehe = factories.make_community("和合社区")
    cadre = factories.make_user("cadre", community="和合社区", name="王丽华")
    secretary = factories.make_user("secretary", community="和合社区", name="李秘书")
    representative = factories.make_user(
        "resident", community="和合社区", name="赵代表", representative=True
    )
    resident = factories.make_user("resident", community="和合社区", name="张秀英")
    meeting = factories.make_meeting(
        hehe, kind="roundtable", title="和合圆桌会", starts_in=timedelta(hours=2)
    )
    registration = sign_up(meeting, resident)
    cases = [new_case(cadre, community="和合社区", title=t) for t in ("楼道堆物", "路灯不亮")]
    issue = new_issue(cadre, cases, community="和合社区", title="楼道环境")
    item = agenda_item(meeting, cadre, issue, title="楼道环境")
    # The session has begun: it started half an hour ago.
    meeting.starts_at -= timedelta(hours=2, minutes=30)
    meeting.ends_at -= timedelta(hours=2, minutes=30)
    db.session.commit()
    checkin = urlsplit(checkin_url(registration))

    secretary_tab = tabs("minutes", "secretary", width, language)
    secretary_tab.sign_in(secretary.email, PASSWORD)
    page = secretary_tab.page
    # The secretary's phone opens the resident's check-in code.
    secretary_tab.visit(checkin.path, "check-in")
    secretary_tab.after(page.locator("[data-action=check-in]").click, "checked-in")
    assert _fresh(meeting).attended_count == 1

    secretary_tab.visit(f"/sessions/{meeting.id}/minutes/edit", "minutes-edit")
    page.locator(f"textarea[name=note_{item.id}]").fill(
        "居民反映楼道堆物和路灯问题，物业答应一周内处理。"
    )
    secretary_tab.submit("form:has(textarea[name^=note_])", "minutes-saved")

    secretary_tab.visit(f"/agenda/{item.id}/resolution", "resolution")
    page.fill("textarea[name=text]", "由物业公司一周内清理楼道并修好路灯。")
    page.select_option("select[name=outcome]", "resolved")
    for case in cases:
        page.check(f"input[name=closes_cases][value='{case.id}']")
    secretary_tab.submit("form:has(textarea[name=text])", "resolution-recorded")
    _fresh()
    assert {c.status for c in db.session.scalars(select(Case))} == {"resolved"}

    cadre_tab = tabs("minutes", "cadre", width, language)
    cadre_tab.sign_in(cadre.email, PASSWORD)
    page = cadre_tab.page
    # The cadre's home page says the minutes wait for approval.
    cadre_tab.visit("/", "cadre-home")
    waiting = page.locator("[data-waiting-list=minutes_to_approve]")
    assert waiting.locator(f"a[href='/sessions/{meeting.id}/minutes']").count() == 1
    cadre_tab.after(waiting.locator("a").first.click, "minutes")
    cadre_tab.submit(f"form[action='/sessions/{meeting.id}/minutes/approve']", "approved")
    cadre_tab.submit(f"form[action='/sessions/{meeting.id}/minutes/publish']", "published")
    _fresh()
    minutes = db.session.scalars(select(Minutes)).one()
    assert minutes.status == "published"

    rep_tab = tabs("minutes", "representative", width, language)
    rep_tab.sign_in(representative.email, PASSWORD)
    page = rep_tab.page
    rep_tab.visit("/", "representative-home")
    to_rate = page.locator("[data-waiting-list=issues_to_rate]")
    rep_tab.after(to_rate.locator(f"a[href='/issues/{issue.id}']").click, "issue")
    page.check("input[name=rating][value=satisfied]")
    rep_tab.submit("form:has(input[name=rating])", "rated")
    _fresh()
    rating = db.session.scalars(select(Evaluation)).one()
    assert (rating.user_id, rating.issue_id, rating.rating) == (
        representative.id,
        issue.id,
        "satisfied",
    )
    assert db.session.get(Issue, issue.id).evaluations
    assert db.session.get(Meeting, meeting.id).status == "held"
