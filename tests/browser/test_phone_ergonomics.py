"""At 390 px: tap targets of at least 44 px, readable badges, the favicon, the dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consult.attendance.operations import sign_up
from consult.extensions import db
from tests.browser.journeys import Tab
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

#: Heights and font sizes of what a thumb or an eye has to hit, measured in the page.
MEASURE = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter(el => el.offsetParent !== null)
  .map(el => ({text: el.innerText.trim().slice(0, 30),
               height: el.getBoundingClientRect().height,
               font: parseFloat(getComputedStyle(el).fontSize)}))"""


@pytest.fixture
def phone(browser, live_server):
    tabs = []

    def _tab(who):
        tab = Tab(browser, live_server.url, "ergonomics", who, "phone", "zh_CN")
        tabs.append(tab)
        return tab

    yield _tab
    for tab in tabs:
        tab.close()


def _measure(tab, selector):
    found = tab.page.evaluate(MEASURE, selector)
    assert found, f"nothing matches {selector} on {tab.page.url}"
    return found


def test_buttons_dates_toggles_and_badges_fit_a_thumb(factories, phone):
    hehe = factories.make_community("和合社区")
    cadre = factories.make_user("cadre", community="和合社区")
    series, weeks = factories.make_series(hehe, count=4, capacity=1)
    resident = factories.make_user("resident", community="和合社区", name="张秀英")
    sign_up(weeks[0], resident)
    sign_up(weeks[0], factories.make_user("resident", name="李明"))  # waiting list
    weeks[0].starts_at -= timedelta(days=2, hours=1)  # attendance opens a day before
    db.session.commit()

    tab = phone("cadre")
    tab.sign_in(cadre.email, PASSWORD)
    tab.visit(f"/sessions/{weeks[1].id}", "series-week")
    for item in _measure(tab, "main .btn"):
        assert item["height"] >= 44, item
    for item in _measure(tab, ".series-dates li > a, .series-dates li > strong"):
        assert item["height"] >= 44, item
    for item in _measure(tab, ".badge"):
        assert item["font"] >= 12, item

    tab.visit(f"/sessions/{weeks[0].id}/attendance", "attendance")
    toggles = _measure(tab, ".btn-check + .btn")
    assert len(toggles) >= 6
    assert all(t["height"] >= 44 for t in toggles), toggles
    for item in _measure(tab, ".badge"):
        assert item["font"] >= 12, item


def test_favicon_and_viewport_of_printable_pages(factories, phone, live_server):
    hehe = factories.make_community("和合社区")
    meeting = factories.make_meeting(hehe, starts_in=timedelta(days=-1))
    cadre = factories.make_user("cadre", community="和合社区")
    tab = phone("cadre")
    tab.sign_in(cadre.email, PASSWORD)
    for path in ("/favicon.ico", "/static/favicon.svg"):
        response = tab.page.request.get(path)
        assert response.ok and response.headers["content-type"].startswith("image/"), path
    printable = (
        f"/sessions/{meeting.id}/minutes/print",
        f"/sessions/{meeting.id}/attendance/sheet",
    )
    for path in printable:
        tab.page.goto(path)
        viewport = tab.page.locator("meta[name=viewport]").get_attribute("content")
        assert "width=device-width" in viewport, path
        assert tab.page.locator("link[rel=icon]").count() == 1, path


def test_the_dashboard_reads_on_a_phone(factories, phone):
    from tests.cases.builders import new_case

    factories.make_community("和合社区")
    cadre = factories.make_user("cadre", community="和合社区")
    for category in ("concern", "conflict", "urgent"):
        new_case(cadre, community="和合社区", category=category)
    tab = phone("cadre")
    tab.sign_in(cadre.email, PASSWORD)
    tab.visit("/stats", "dashboard")
    labels = tab.page.evaluate(
        "Array.from(document.querySelectorAll('svg.chart text'))"
        ".map(t => t.getBoundingClientRect().height)"
    )
    # Chart text scales with the chart: still at least 11 px high at 390 px.
    assert labels and min(labels) >= 11, labels
