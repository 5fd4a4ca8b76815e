"""QR codes of check-in links, for pages, printed slips and mail."""

from __future__ import annotations

import io

import segno


def qr_data_uri(url: str) -> str:
    """Return an SVG data: URI of a QR code for ``url`` (for an <img> in a page)."""
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2)


def qr_png(url: str) -> bytes:
    """Return a PNG of a QR code for ``url`` (for a mail attachment)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=6, border=2)
    return out.getvalue()
