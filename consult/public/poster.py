"""A session's noticeboard poster: its content, its QR code, and the A4 PDF.

The PDF is drawn by ReportLab with its built-in CID font STSong-Light (Adobe's
Simplified Chinese font, which PDF readers supply), so Chinese text renders without a
font file on the server.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import segno
from reportlab.lib.colors import HexColor, black, white
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

FONT = "STSong-Light"
RED = HexColor("#b3261e")
INK = HexColor("#1b2a3a")
MUTED = HexColor("#4a5661")


@dataclass
class Week:
    when: str
    cancelled: bool = False
    current: bool = False


@dataclass
class Poster:
    """What a poster says, in the reader's language (the view fills it in)."""

    brand: str
    community: str
    kind: str
    title: str
    when: str
    place: str | None
    url: str
    cancelled: bool = False
    agenda: list[str] = field(default_factory=list)
    more_items: int = 0
    weeks: list[Week] = field(default_factory=list)
    #: Translated words: agenda, weeks, scan, cancelled, cancelled_week, more, time, place,
    #: and line ("%(label)s: %(value)s", a labelled line).
    words: dict[str, str] = field(default_factory=dict)


def qr_svg(url: str, scale: int = 6) -> str:
    """Return the QR code of ``url`` as inline SVG markup (no script, no data URI)."""
    return segno.make(url, error="m").svg_inline(scale=scale, border=2, omitsize=True)


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _draw_qr(canvas: Canvas, url: str, x: float, y: float, size: float) -> None:
    matrix = segno.make(url, error="m").matrix
    modules = len(matrix) + 4  # a quiet zone of two modules each side
    cell = size / modules
    canvas.setFillColor(white)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    path = canvas.beginPath()
    for row, line in enumerate(matrix):
        for col, dark in enumerate(line):
            if dark:
                path.rect(x + (col + 2) * cell, y + size - (row + 3) * cell, cell, cell)
    canvas.setFillColor(black)
    canvas.drawPath(path, stroke=0, fill=1)


def _paragraph(
    canvas: Canvas, text: str, style: ParagraphStyle, x: float, top: float, width: float
) -> float:
    """Draw ``text`` wrapped to ``width`` below ``top``; return the new top."""
    para = Paragraph(escape(text), style)
    _, height = para.wrap(width, 10_000)
    para.drawOn(canvas, x, top - height)
    return top - height


def poster_pdf(poster: Poster) -> bytes:
    """Return the poster as a one-page A4 PDF."""
    _register_font()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(poster.title)
    canvas.setAuthor(poster.brand)
    canvas.setSubject(poster.community)
    page_w, page_h = A4
    margin = 48
    width = page_w - 2 * margin

    def style(size, colour=INK, leading=None, align=0, space=0):
        return ParagraphStyle(
            f"s{size}",
            fontName=FONT,
            fontSize=size,
            leading=leading or size * 1.3,
            textColor=colour,
            wordWrap="CJK",
            alignment=align,
            spaceBefore=space,
        )

    # The community's brand across the top.
    canvas.setFillColor(INK)
    canvas.rect(0, page_h - 70, page_w, 70, stroke=0, fill=1)
    brand = style(22, white)
    _paragraph(canvas, poster.brand, brand, margin, page_h - 22, width)
    top = page_h - 96
    if poster.brand != poster.community:
        top = _paragraph(canvas, poster.community, style(13, MUTED), margin, top, width) - 4

    if poster.cancelled:
        canvas.setFillColor(RED)
        canvas.rect(margin, top - 78, width, 72, stroke=0, fill=1)
        _paragraph(
            canvas,
            poster.words.get("cancelled", ""),
            style(44, white, align=TA_CENTER),
            margin,
            top - 16,
            width,
        )
        top -= 92

    if poster.kind:
        top = _paragraph(canvas, poster.kind, style(15, MUTED), margin, top, width) - 4
    top = _paragraph(canvas, poster.title, style(32, INK, leading=40), margin, top, width) - 14
    line = poster.words.get("line", "%(label)s: %(value)s")
    top = (
        _paragraph(
            canvas,
            line % {"label": poster.words.get("time", ""), "value": poster.when},
            style(16),
            margin,
            top,
            width,
        )
        - 4
    )
    if poster.place:
        top = (
            _paragraph(
                canvas,
                line % {"label": poster.words.get("place", ""), "value": poster.place},
                style(16),
                margin,
                top,
                width,
            )
            - 4
        )

    qr_size = 150
    column = width - qr_size - 24
    if poster.agenda:
        top = (
            _paragraph(
                canvas, poster.words.get("agenda", ""), style(18, INK), margin, top - 16, column
            )
            - 4
        )
        for number, title in enumerate(poster.agenda, start=1):
            top = (
                _paragraph(canvas, f"{number}. {title}", style(13), margin + 8, top, column - 8) - 2
            )
        if poster.more_items:
            top = (
                _paragraph(
                    canvas,
                    poster.words.get("more", ""),
                    style(12, MUTED),
                    margin + 8,
                    top,
                    column - 8,
                )
                - 2
            )
    if poster.weeks:
        top = (
            _paragraph(
                canvas, poster.words.get("weeks", ""), style(18, INK), margin, top - 16, column
            )
            - 4
        )
        for week in poster.weeks:
            text = week.when
            if week.cancelled:
                text = f"{text} ({poster.words.get('cancelled_week', '')})"
            colour = MUTED if week.cancelled else INK
            top = _paragraph(canvas, text, style(13, colour), margin + 8, top, column - 8) - 2

    # The QR code and its caption at the bottom right.
    qr_x, qr_y = page_w - margin - qr_size, margin + 40
    _draw_qr(canvas, poster.url, qr_x, qr_y, qr_size)
    _paragraph(
        canvas,
        poster.words.get("scan", ""),
        style(15, INK, align=TA_CENTER),
        qr_x - 20,
        qr_y - 2,
        qr_size + 40,
    )
    _paragraph(canvas, poster.url, style(9, MUTED), margin, margin + 14, column)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
