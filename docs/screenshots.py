"""Make the README's screenshots with Debian's chromium from a database holding the demo town.

    DATABASE_URL=sqlite:////tmp/demo.db flask --app wsgi db upgrade
    DATABASE_URL=sqlite:////tmp/demo.db flask --app wsgi demo load
    DATABASE_URL=sqlite:////tmp/demo.db python -m docs.screenshots

A font with Chinese glyphs must be installed (e.g. Debian's fonts-wqy-microhei).
"""

from __future__ import annotations

import threading
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from consult import create_app
from consult.extensions import db
from consult.meetings.models import Meeting
from consult.types import utcnow

HERE = Path(__file__).resolve().parent


def _shrink(path: Path, width: int) -> None:
    """Scale the PNG down to ``width`` pixels and reduce it to 128 colours (small files)."""
    image = Image.open(path).convert("RGB")
    image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> None:
    app = create_app()
    with app.app_context():
        meeting = db.session.scalars(
            select(Meeting)
            .where(
                Meeting.visibility == "public",
                Meeting.series_id.is_not(None),
                Meeting.starts_at > utcnow(),
                Meeting.community_id == 1,
            )
            .order_by(Meeting.starts_at)
            .limit(1)
        ).one()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 794, "height": 1123})
            page.goto(f"{base}/sessions/{meeting.id}/poster?lang=zh_CN")
            page.emulate_media(media="print")
            page.locator("article.poster").screenshot(path=HERE / "poster.png")
            _shrink(HERE / "poster.png", 480)
            page = browser.new_page(viewport={"width": 1000, "height": 1300})
            page.goto(f"{base}/public/1?lang=zh_CN")
            page.screenshot(path=HERE / "public-page.png")
            _shrink(HERE / "public-page.png", 640)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(f"{base}/board/1?lang=zh_CN")
            page.screenshot(path=HERE / "board.png")
            _shrink(HERE / "board.png", 640)
            browser.close()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
