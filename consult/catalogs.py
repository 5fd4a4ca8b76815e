"""Compiled message catalogs (.mo) from their sources (.po).

A built package carries them (setup.py compiles them into the wheel). A checkout that
is served as it is (git keeps no .mo) compiles them at start-up, when a .mo is missing
or older than its .po and the folder is writable.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def compile_catalog(po: Path, mo: Path) -> None:
    """Compile ``po`` into ``mo`` (written whole: another process may be reading it)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalog = read_po(source, locale=po.parent.parent.name)
    partial = mo.with_name(f".{mo.name}.{os.getpid()}")
    with partial.open("wb") as out:
        write_mo(out, catalog)
    partial.replace(mo)


def compile_missing_catalogs(folder: Path = TRANSLATIONS) -> list[Path]:
    """Compile each catalog whose .mo is missing or stale; return the ones compiled."""
    compiled = []
    for po in sorted(folder.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        if not os.access(po.parent, os.W_OK):
            log.warning("%s is missing or stale and its folder is read-only", mo)
            continue
        compile_catalog(po, mo)
        compiled.append(mo)
    return compiled
