"""The shared macros speak Chinese too: their messages are extracted and translated."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "consult/translations/zh_CN/LC_MESSAGES/messages.po"


def _live_translations() -> dict:
    with CATALOG.open("rb") as fh:
        catalog = read_po(fh)
    return {m.id: m.string for m in catalog if m.id}


def test_the_extraction_reads_every_template_folder():
    """babel.cfg's walk skips folders whose names start with "_": no template lives in one."""
    skipped = [
        p for p in (ROOT / "templates").rglob("*") if p.is_dir() and p.name.startswith(("_", "."))
    ]
    assert skipped == []


def test_every_macro_message_is_translated():
    found = [
        message
        for _file, _line, message, *_rest in extract_from_dir(
            str(ROOT / "templates" / "macros"), [("**.html", "jinja2")]
        )
    ]
    assert "Previous" in found and "%(total)d in all." in found
    live = _live_translations()
    missing = [m for m in found if not live.get(m if isinstance(m, str) else m[0])]
    assert missing == []


def test_a_long_list_pages_in_chinese(client, login_as, factories):
    cadre = factories.make_user("cadre")
    for k in range(26):
        factories.make_case(title=f"个案 {k}")
    login_as(cadre)
    body = client.get("/cases?lang=zh_CN").get_data(as_text=True)
    assert "上一页" in body and "下一页" in body and "共 26 条。" in body
    assert "Previous" not in body and "in all." not in body
