"""Rendered calendars, kept under a fingerprint of what they show.

Rendering a feed (every VEVENT, the VTIMEZONEs) costs far more than reading what it
shows, and feeds change rarely while clients ask for them every hour. So before
rendering, a *fingerprint* of everything a calendar shows is read:

- for a community's feed, the community's ``calendar_version``, a counter the database
  raises (triggers, migration 0010) whenever one of its sessions or series is inserted,
  changed or removed, and for every community when a venue or a person's name or
  address changes; it is read with the feed's token, so a revalidation reads no session;
- for a personal feed, which may show sessions of any community, every community's
  version (summed, in one small statement), the owner's sign-ups and invitations (which
  decide what the feed carries: how many, the sum of their ids and of their change
  stamps), and who the owner is for the visibility rules (role and communities);
- for a session's file (the session, or its whole series), its community's version,
  read in one small statement;
- the window (whole days), the feed's title (the community's name or the owner's, in
  the owner's language), and the settings written into calendars (BASE_URL, MAIL_FROM,
  MAIL_REPLY_TO), and a digest of the code that renders them.

A change of anything shown changes one of these: an edited row raises its stamp or its
community's version, a row that joins or leaves changes the count and the sums. The
cache then holds two entries:

    etag:<fingerprint>  ->  the ETag: a digest of the body as rendered (DTSTAMP aside)
    ics:<etag>          ->  the body
    latest:<calendar>   ->  the ETag of the body last kept for that calendar (a
                            community's feed in a language, a person's feed, a session's
                            file), whose body is removed when a newer one is kept

A revalidation whose fingerprint is known answers 304 after the fingerprint's (at most)
one statement, without rendering or reading the body; a request for the body reads it from
the cache. A change that raises stamps without altering the body (a sign-up raises its
session's ``updated_at``) costs one rendering, after which the ETag is the same as
before, so clients keep getting 304.

The body is read after its fingerprint, so it is never older than the fingerprint it
is kept under; stamps only rise, so a fingerprint once left behind does not come back.
The versions are kept by the database itself, so no write escapes them; for the owner's
sign-ups and invitations, what bypasses the models (a hand-written UPDATE that leaves
``updated_at`` alone) is not seen until the entries expire (a day,
consult.config.CACHE_SECONDS).

The cache is Flask-Caching's (consult.config.cache_options): Redis when REDIS_URL is
set, shared by every worker and server, so that what one renders the others serve and a
change made through one is seen by all (the fingerprint is read from the database each
time); otherwise each worker's memory. A cache that fails is passed by: the calendar is
rendered as if it held nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import icalendar
from flask import current_app
from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Integer,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)

from consult.accounts.models import User
from consult.calendar.models import FeedToken
from consult.calendar.queries import FeedHead
from consult.community.models import Community
from consult.community.versions import versions_part
from consult.extensions import cache, db
from consult.meetings.models import Invitation, Meeting, Registration

log = logging.getLogger(__name__)


#: How the calendars are rendered: the modules that write them and the library they
#: use. A new version of either is a new fingerprint, so no body rendered by older
#: code is served from a cache that outlived a deployment.
def _rendering() -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(icalendar.__version__.encode())
    for name in ("ics.py", "documents.py", "cache.py"):
        try:
            digest.update((here / name).read_bytes())
        except OSError:  # installed without its sources: the package's version stands in
            from importlib.metadata import PackageNotFoundError, version

            try:
                digest.update(version("consult").encode())
            except PackageNotFoundError:
                pass
    return digest.hexdigest()[:16]


RENDERING = _rendering()

#: 2000-01-01 as a Julian day (SQLite) and as a Unix time (PostgreSQL): change stamps
#: are summed as milliseconds since then, which keeps the sums far from overflowing.
_JULIAN_2000 = 2451544.5
_UNIX_2000 = 946684800


def _stamp(dialect: str, column):
    """Return ``column`` (a timestamp) as whole milliseconds since 2000, or 0 for NULL."""
    if dialect == "sqlite":
        value = cast((func.julianday(column) - _JULIAN_2000) * 86400000.0, Integer)
    else:
        # date_part is double precision, about twice as fast as extract's numeric.
        value = cast((func.date_part("epoch", column) - _UNIX_2000) * 1000, BigInteger)
    return func.coalesce(value, 0)


def _sums(dialect: str, tag: int, table):
    """The aggregate columns of a part of a fingerprint: a tag, how many rows, the sum
    of their ids and of their change stamps (and a 0 where the communities' part has
    its statistics versions)."""
    return (
        literal(tag),
        func.count(table.c.id),
        func.coalesce(func.sum(table.c.id), 0),
        func.coalesce(func.sum(_stamp(dialect, table.c.updated_at)), 0),
        literal(0),
    )


@lru_cache(maxsize=4)
def _owner_select(dialect: str) -> CompoundSelect:
    """Every community's versions, summed, and the owner's sign-ups and invitations (the
    parameters ``owner_id`` and ``owner_email``), as one statement built once per
    dialect (building it is dearer than running it)."""
    registrations, invitations = Registration.__table__, Invitation.__table__
    return union_all(
        versions_part(),
        select(*_sums(dialect, 4, registrations)).where(
            registrations.c.user_id == bindparam("owner_id")
        ),
        select(*_sums(dialect, 5, invitations)).where(
            or_(
                invitations.c.user_id == bindparam("owner_id"),
                invitations.c.email == bindparam("owner_email"),
            )
        ),
    )


def _digest(*values) -> str:
    return hashlib.sha256(repr(values).encode()).hexdigest()[:40]


def _settings() -> tuple:
    config = current_app.config
    return (
        RENDERING,
        config["BASE_URL"],
        config["MAIL_FROM"],
        config.get("MAIL_REPLY_TO") or "",
    )


@dataclass(frozen=True)
class Fingerprint:
    """What a calendar shows (``key``) and which calendar it is (``name``: a community's
    feed in a language, a person's feed, a session's file), whatever it shows."""

    key: str
    name: str


def owner_versions(owner: User) -> list[tuple]:
    """Every community's versions, summed, and the owner's sign-ups and invitations (how
    many, the sum of their ids and of their change stamps), in one statement: what the
    sessions a person sees of their own depend on."""
    statement = _owner_select(db.session.get_bind().dialect.name)
    rows = db.session.execute(statement, _owner_params(owner))
    return sorted(tuple(int(value or 0) for value in row) for row in rows.all())


def _owner_params(owner: User) -> dict:
    return {"owner_id": owner.id, "owner_email": owner.email}


def owner_versions_and_activity(owner: User) -> tuple[list[tuple], int]:
    """``owner_versions`` and every community's activity version, summed, in the same one
    statement (consult.community.versions.read_with_activity)."""
    from consult.community.versions import read_with_activity

    statement = _owner_select(db.session.get_bind().dialect.name)
    return read_with_activity(statement, _owner_params(owner))


def community_feed_fingerprint(head: FeedHead, window: tuple[datetime, datetime]) -> Fingerprint:
    """Return the fingerprint of a community's feed from its token's row alone: the
    community's ``calendar_version`` (raised by the database whenever a session, series,
    venue or organiser shown changes) and the window; no statement of its own."""
    from consult.i18n import language_of

    language = language_of(head.owner_locale)
    key = _digest(
        "feed",
        ("community", head.community_id, head.community_name),
        language,
        window[0].isoformat(),
        window[1].isoformat(),
        _settings(),
        ("version", head.calendar_version),
    )
    return Fingerprint(key, f"community:{head.community_id}:{language}")


def personal_feed_fingerprint(feed: FeedToken, window: tuple[datetime, datetime]) -> Fingerprint:
    """Return the fingerprint of a personal feed: every community's version, the owner's
    sign-ups and invitations (one statement over the owner's rows), and who the owner
    is for the visibility rules."""
    from consult.i18n import language_of
    from consult.permissions import staff_communities

    owner = feed.user
    language = language_of(owner.locale)
    communities = staff_communities(owner)
    title = (
        "mine",
        owner.id,
        owner.name,
        owner.email,
        owner.role,
        None if communities is None else sorted(communities),
    )
    key = _digest(
        "feed",
        title,
        language,
        window[0].isoformat(),
        window[1].isoformat(),
        _settings(),
        owner_versions(owner),
    )
    return Fingerprint(key, f"mine:{owner.id}")


def session_fingerprint(meeting: Meeting, whole_series: bool) -> Fingerprint:
    """Return the fingerprint of a session's file (the session, or its whole series):
    its community's calendar version, which any change of the session, of the other
    weeks of its series, of its venue or of its organiser raises (one small statement)."""
    version = db.session.scalar(
        select(Community.calendar_version).where(Community.id == meeting.community_id)
    )
    key = _digest("session", meeting.id, whole_series, _settings(), version)
    return Fingerprint(key, f"session:{meeting.id}:{int(whole_series)}")


# -- the cache -------------------------------------------------------------------------

#: DTSTAMP says when the body was made, not what it shows: it is left out of the ETag.
_STAMP_LINE = re.compile(rb"^DTSTAMP[:;][^\r\n]*\r\n", re.MULTILINE)


def body_etag(body: bytes) -> str:
    """Return the entity tag of a calendar: a digest of it as rendered, DTSTAMP aside."""
    return hashlib.sha256(_STAMP_LINE.sub(b"", body)).hexdigest()[:40]


def _get(key: str):
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 (a cache that fails is passed by)
        log.warning("calendar cache: reading %s failed", key, exc_info=True)
        return None


def _set(key: str, value) -> None:
    try:
        cache.set(key, value)
    except Exception:  # noqa: BLE001
        log.warning("calendar cache: writing %s failed", key, exc_info=True)


def _delete(key: str) -> None:
    try:
        cache.delete(key)
    except Exception:  # noqa: BLE001
        log.warning("calendar cache: removing %s failed", key, exc_info=True)


@dataclass
class CachedCalendar:
    """A calendar found by its fingerprint: its ETag, and its body once read."""

    fingerprint: Fingerprint
    etag: str | None
    render: Callable[[], bytes]
    _body: bytes | None = None

    def body(self) -> bytes:
        """Return the body: from the cache, else rendered (and kept) now.

        A calendar keeps one body in the cache: the one it showed before a change is
        removed when the new one is kept (a community's feed for a year at a hundred
        times the demo town is over a megabyte)."""
        if self._body is None and self.etag is not None:
            found = _get(f"ics:{self.etag}")
            if isinstance(found, bytes):
                self._body = found
        if self._body is None:
            self._body = self.render()
            self.etag = body_etag(self._body)
            latest = f"latest:{self.fingerprint.name}"
            previous = _get(latest)
            _set(f"ics:{self.etag}", self._body)
            _set(f"etag:{self.fingerprint.key}", self.etag)
            _set(latest, self.etag)
            if isinstance(previous, str) and previous != self.etag:
                _delete(f"ics:{previous}")
        return self._body

    def current_etag(self) -> str:
        """Return the ETag, rendering the calendar if the cache does not know it."""
        if self.etag is None:
            self.body()
        assert self.etag is not None  # body() sets it
        return self.etag


def cached_calendar(fingerprint: Fingerprint, render: Callable[[], bytes]) -> CachedCalendar:
    """Return the calendar of ``fingerprint``; ``render`` makes its body when needed."""
    etag = _get(f"etag:{fingerprint.key}")
    return CachedCalendar(fingerprint, etag if isinstance(etag, str) else None, render)
