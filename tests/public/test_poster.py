"""Noticeboard posters: the printable page and the A4 PDF, with a QR code of the session."""

from __future__ import annotations

import io
import re

import pypdfium2
import zxingcpp
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4


def _pdf(client, meeting, lang="zh_CN"):
    response = client.get(f"/sessions/{meeting.id}/poster.pdf?lang={lang}")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    return response.data


def _pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def _qr_codes(data: bytes) -> list[str]:
    """Render the PDF's page and decode every QR code on it."""
    image = pypdfium2.PdfDocument(data)[0].render(scale=2).to_pil()
    return [
        r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]


def test_pdf_is_one_a4_page_with_chinese_text_and_the_session_qr_code(town, client):
    data = _pdf(client, town.coming)
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (round(A4[0]), round(A4[1]))
    text = _pdf_text(data)
    for expected in (
        "和合新邻",
        "和合社区",
        "民主协商议事会",
        "议程",
        "听取王**的意见",
        "小区加装电梯",
        "党群服务中心大厅",
        "扫码报名",
    ):
        assert expected in text, expected
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", text)
    assert _qr_codes(data) == [f"http://consult.test/sessions/{town.coming.id}"]


def test_html_poster_has_the_same_content_and_print_css(town, client):
    page = client.get(f"/sessions/{town.coming.id}/poster?lang=zh_CN").get_data(as_text=True)
    for expected in (
        "和合新邻",
        "民主协商议事会",
        "听取王**的意见",
        "小区加装电梯",
        "党群服务中心大厅",
        "扫码报名",
        "poster.css",
    ):
        assert expected in page, expected
    assert "<svg" in page and 'data-qr="http://consult.test/sessions/' in page
    # Scripts only from files: the page works under a policy without inline scripts.
    for tag in re.findall(r"<script[^>]*>", page):
        assert "src=" in tag
    assert "onclick" not in page and "javascript:" not in page
    css = client.get("/static/poster.css").get_data(as_text=True)
    assert "@page" in css and "size: A4" in css and "@media print" in css


def test_series_poster_lists_its_coming_weeks(town, client):
    first, second, skipped, last = town.weeks
    page = client.get(f"/sessions/{first.id}/poster?lang=en").get_data(as_text=True)
    assert "Coming weeks" in page
    weeks = re.findall(
        r"<li( class=\"week-cancelled\")?[^>]*>([^<]+)</li>", page.split("Coming weeks", 1)[1]
    )
    assert len(weeks) == 4
    assert [bool(cancelled) for cancelled, _ in weeks] == [False, False, True, False]
    text = _pdf_text(_pdf(client, first, "en"))
    assert "Coming weeks" in text
    assert text.count("(cancelled)") == 1
    assert _qr_codes(_pdf(client, second)) == [f"http://consult.test/sessions/{second.id}"]
    # A one-off session's poster has no list of weeks.
    assert "Coming weeks" not in client.get(f"/sessions/{town.coming.id}/poster?lang=en").get_data(
        as_text=True
    )


def test_cancelled_session_poster_says_so(town, client):
    page = client.get(f"/sessions/{town.cancelled.id}/poster?lang=zh_CN").get_data(as_text=True)
    assert "data-cancelled" in page and "本次会议已取消" in page
    assert "本次会议已取消" in _pdf_text(_pdf(client, town.cancelled))
    page = client.get(f"/sessions/{town.coming.id}/poster?lang=zh_CN").get_data(as_text=True)
    assert "data-cancelled" not in page


def test_session_page_links_its_poster(town, client):
    page = client.get(f"/sessions/{town.coming.id}").get_data(as_text=True)
    assert f"/sessions/{town.coming.id}/poster" in page
