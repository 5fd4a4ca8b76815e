"""Posters and public pages in Debian's chromium: one A4 page in print, no sideways
scrolling on a phone, a QR code that a reader decodes."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _print_pages(page) -> int:
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    return len(PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.parametrize("which", ["coming", "series", "cancelled"])
def test_poster_prints_on_one_a4_page(town, page, live_server, which):
    meeting = {"coming": town.coming, "series": town.weeks[0], "cancelled": town.cancelled}[which]
    page.goto(f"/sessions/{meeting.id}/poster?lang=zh_CN")
    assert page.locator("article.poster").is_visible()
    assert _print_pages(page) == 1
    # In print the tools bar is gone and the poster is one A4 sheet (96 px per inch).
    assert page.locator(".poster-tools").is_hidden()
    box = page.locator("article.poster").bounding_box()
    assert abs(box["width"] - 210 / 25.4 * 96) < 2 and abs(box["height"] - 297 / 25.4 * 96) < 2


def test_poster_qr_code_decodes_to_the_session_page(town, page, live_server):
    page.goto(f"/sessions/{town.coming.id}/poster")
    png = page.locator("figure.qr svg").screenshot()
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [c.text for c in codes] == [f"http://consult.test/sessions/{town.coming.id}"]


def test_cancelled_poster_says_so_in_large_type(town, page, live_server):
    page.goto(f"/sessions/{town.cancelled.id}/poster?lang=en")
    banner = page.locator("[data-cancelled]")
    assert banner.inner_text() == "This session is cancelled"
    size = banner.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    title = page.locator("h1").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 48 and size > title


def test_public_pages_fit_a_phone_without_sideways_scrolling(town, page, live_server):
    page.set_viewport_size(PHONE)
    for path in (
        f"/public/{town.hehe.id}",
        f"/public/{town.hehe.id}?from=bad",
        "/public/",
        f"/board/{town.hehe.id}",
        f"/sessions/{town.coming.id}/poster",
    ):
        for lang in ("zh_CN", "en"):
            page.goto(f"{path}{'&' if '?' in path else '?'}lang={lang}")
            assert page.evaluate(OVERFLOW) <= 0, (path, lang)
    page.goto(f"/public/{town.hehe.id}?lang=en")
    assert page.locator(f"#resolution-{town.resolution.id}").is_visible()


def test_filter_form_narrows_the_page(town, page, live_server):
    page.goto(f"/public/{town.hehe.id}?lang=en")
    page.select_option("select[name=category]", "urgent")
    page.click("form[data-public-filter] button[type=submit]")
    page.wait_for_url("**category=urgent**")
    assert page.locator("[data-resolution]").count() == 0
    page.select_option("select[name=category]", "conflict")
    page.click("form[data-public-filter] button[type=submit]")
    page.wait_for_url("**category=conflict**")
    assert page.locator(f"#resolution-{town.resolution.id}").is_visible()


def test_print_button_opens_the_print_dialogue(town, page, live_server):
    page.goto(f"/sessions/{town.coming.id}/poster")
    page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    page.click("[data-print]")
    page.wait_for_function("document.body.dataset.printed === 'yes'")


def test_board_fills_a_tv_screen_without_scrolling(town, factories, page, live_server):
    from datetime import timedelta

    for day in (8, 9, 10):
        factories.make_meeting(
            town.hehe,
            kind="joint_meeting",
            starts_in=timedelta(days=day),
            title="联席会议：老旧小区改造、加装电梯与停车管理协调推进会",
            capacity=40,
        )
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"/board/{town.hehe.id}?lang=zh_CN")
    assert page.locator("[data-session]").count() == 5
    assert page.evaluate("document.documentElement.scrollHeight") <= 1080
    assert page.evaluate(OVERFLOW) <= 0
