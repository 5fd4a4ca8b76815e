"""The message catalogs are complete: every message the code and templates use today has
a Chinese translation that is neither empty nor fuzzy.

The messages are extracted afresh, exactly as `make extract-messages` does, so a message
added without running it (or left untranslated) fails here instead of showing English
on a Chinese page.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "consult" / "translations"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict:
    pot = tmp_path_factory.mktemp("catalog") / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(  # noqa: S603 (our own tool, fixed arguments)
        [
            str(pybabel),
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        catalog = read_po(fh)
    return {(m.id if isinstance(m.id, str) else m.id[0], m.context): m for m in catalog if m.id}


def _catalog(language: str):
    with (CATALOGS / language / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=language)


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings) and not message.fuzzy


def test_every_message_in_use_has_a_chinese_translation(extracted):
    catalog = _catalog("zh_CN")
    missing = []
    for (msgid, context), message in extracted.items():
        known = catalog.get(message.id, context)
        if known is None or not _translated(known):
            where = ", ".join(f"{path}:{line}" for path, line in message.locations[:2])
            missing.append(f"{msgid!r} ({where})")
    assert missing == [], (
        "untranslated in zh_CN (run make extract-messages and translate):\n" + "\n".join(missing)
    )


def test_every_message_in_use_is_in_the_english_catalog(extracted):
    catalog = _catalog("en")
    missing = [
        msgid
        for (msgid, context), message in extracted.items()
        if catalog.get(message.id, context) is None
    ]
    assert missing == []


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_no_catalog_has_fuzzy_entries(language):
    catalog = _catalog(language)
    assert [m.id for m in catalog if m.id and m.fuzzy] == []
