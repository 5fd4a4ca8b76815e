"""Values kept in the cache under the communities' change counters.

The database raises ``communities.calendar_version`` whenever a session or a series of
the community changes (and every community's when a venue or a person's name or address
does), and ``communities.stats_version`` whenever one of its cases or issues changes
(triggers, migration 0010), and ``communities.activity_version`` whenever a sign-up,
an invitation, an agenda item, a resolution, minutes or attendance of one of its
sessions, or its alliance, changes (and every community's when a unit, or whether a
person may be named in minutes, does: migration 0012); renaming a community raises its
own calendar version (consult.community.operations). What is counted over every
session or case (the statistics, the number of sessions a list shows) and what shows
sessions (calendar grids, lists of sessions, a session's page) is therefore unchanged
while the counters are, and is kept in the cache (consult.config.cache_options) under a
digest of what was asked and of the counters, read in one small statement over the
communities (for a session's page, with the session).

The counters are read before the value is computed, so a value is never older than the
key it is kept under; counters only rise, so a key once left behind does not come back.
Every digest also names the code that computes and renders the values (``CODE``: the
application's sources, templates and compiled catalogues), so that nothing kept by one
release is served by the next from a cache that outlived the deployment (Redis).
A cache that fails is passed by: the value is computed as if it held nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, literal, select, union_all

from consult.community.models import Community
from consult.extensions import cache, db

log = logging.getLogger(__name__)


def _code() -> str:
    """A digest of what computes and renders kept values: the package's Python sources
    and compiled catalogues, and the templates (inside the package, or beside it in a
    checkout)."""
    package = Path(__file__).resolve().parent.parent
    folders = [package, package / "templates", package.parent / "templates"]
    found = hashlib.sha256()
    for folder in folders:
        if not folder.is_dir():
            continue
        pattern = "**/*.html" if folder.name == "templates" else "**/*"
        for path in sorted(folder.glob(pattern)):
            if path.suffix in (".py", ".mo", ".html") and path.is_file():
                found.update(str(path.relative_to(folder)).encode())
                found.update(path.read_bytes())
    return found.hexdigest()[:16]


#: The release's code, as ``_code`` reads it once when the application starts.
CODE = _code()


@lru_cache(maxsize=8)
def versions_part(tag: int = 6) -> Select:
    """One row over every community: a tag, how many there are, the sum of their ids,
    of their calendar versions and of their statistics versions (built once: a
    statement is dearer to build than to run)."""
    return select(
        literal(tag),
        func.count(Community.id),
        func.coalesce(func.sum(Community.id), 0),
        func.coalesce(func.sum(Community.calendar_version), 0),
        func.coalesce(func.sum(Community.stats_version), 0),
    )


def all_versions() -> tuple[int, ...]:
    """Return the counters of every community, summed (see ``versions_part``)."""
    row = db.session.execute(versions_part()).one()
    return tuple(int(value or 0) for value in row)


#: The tag of the row ``activity_part`` reads.
ACTIVITY_TAG = 7


@lru_cache(maxsize=1)
def activity_part() -> Select:
    """One row: ``ACTIVITY_TAG`` and the sum of every community's activity version (with
    zeros, so that it stands beside ``versions_part`` in one statement).

    Kept apart from the other counters: what only lists, counts and statistics show does
    not change with a sign-up to a full session or an invitation."""
    return select(
        literal(ACTIVITY_TAG),
        func.coalesce(func.sum(Community.activity_version), 0),
        literal(0),
        literal(0),
        literal(0),
    )


@lru_cache(maxsize=8)
def _with_activity(statement):
    """``statement`` and ``activity_part`` as one flat UNION ALL (SQLite takes no compound
    statement in parentheses), built once per statement (those given are built once)."""
    parts = list(getattr(statement, "selects", None) or [statement])
    return union_all(*parts, activity_part())


def read_with_activity(statement, params: dict | None = None) -> tuple[list[tuple], int]:
    """Run ``statement`` (rows of counters: ``versions_part`` and the like) together with
    ``activity_part``, in one statement; return its rows, sorted, and the activity sum."""
    rows = db.session.execute(_with_activity(statement), params or {}).all()
    found = sorted(tuple(int(value or 0) for value in row) for row in rows)
    activity = [row for row in found if row[0] == ACTIVITY_TAG]
    return [row for row in found if row[0] != ACTIVITY_TAG], activity[0][1]


def digest(*values) -> str:
    """The key of a value computed from ``values`` by this release's code."""
    return hashlib.sha256(repr((CODE, *values)).encode()).hexdigest()[:40]


def cached_value(
    key: str, compute: Callable[[], Any], fresh: Callable[[Any], bool] | None = None
) -> Any:
    """Return the value kept under ``key`` (a digest that names the counters it was
    computed under), else compute and keep it.

    ``fresh``, when given, says whether a value found still holds (one that depends on
    the clock beyond what the key names): one that does not is computed again and kept
    in its place."""
    name = f"value:{key}"
    try:
        found = cache.get(name)
    except Exception:  # noqa: BLE001 (a cache that fails is passed by)
        log.warning("cache: reading %s failed", name, exc_info=True)
        found = None
    if found is not None and (fresh is None or fresh(found)):
        return found
    value = compute()
    try:
        cache.set(name, value)
    except Exception:  # noqa: BLE001
        log.warning("cache: writing %s failed", name, exc_info=True)
    return value
