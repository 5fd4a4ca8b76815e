"""Build the demo town from real records, in the caller's transaction.

The published figures come out of the statistics queries because the records behind
them exist: ``RESOLVED_CASES`` lists, per scale unit, the cases that resolutions of
held sessions closed, and ``RESOLVED_ISSUES`` how many issues they form. Everything
is planned in memory first (rows as dicts, linked by reference), then written table
by table in bulk and analysed; nothing commits here.
"""

from __future__ import annotations

import gc
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from werkzeug.security import generate_password_hash

from consult import audit
from consult.accounts.models import Membership, User
from consult.cases.models import Case, CaseEvent, Evaluation, Issue
from consult.community.models import Agreement, AllianceMember, Community, Town, Unit, Venue
from consult.demo import data
from consult.demo.data import chinese_number
from consult.extensions import db
from consult.meetings.models import Attendance, Invitation, Meeting, Registration, Series
from consult.minutes.models import (
    ActionItem,
    AgendaItem,
    Minutes,
    MinutesRevision,
    Resolution,
    resolution_cases,
)
from consult.types import UTCDateTime, utcnow

SEED = 20240517
ZONE = "Asia/Shanghai"
#: The history runs this many days back from today, and the calendar this far ahead.
PAST_DAYS = 120
FUTURE_DAYS = 60
DOMAIN = "chengguan.example"
#: Password of every demo account that is not one of DEMO_ACCOUNTS.
SHARED_PASSWORD = "consult-demo"  # noqa: S105 (printed for everyone to use)
#: One account per role: (role, email local part, password, name).
DEMO_ACCOUNTS = (
    ("admin", "admin", "admin-demo", "周建华"),
    ("cadre", "cadre", "cadre-demo", "王丽华"),
    ("secretary", "secretary", "secretary-demo", "李晓燕"),
    ("resident", "resident", "resident-demo", "张秀英"),
    ("unit_rep", "unitrep", "unitrep-demo", "陈志强"),
)

#: Alliance units per scale unit: 263 agencies and organisations, 166 owners'
#: committees, 22 property companies.
UNITS = {
    "government_agency": 58,
    "enterprise": 92,
    "public_institution": 52,
    "social_organisation": 36,
    "mass_organisation": 25,
    "owners_committee": 166,
    "property_company": 22,
}
RESIDENTS = 40  # per community and scale unit
REPRESENTATIVES = 5  # of those residents
CADRES = 2
ROTATION = 10  # units per community and scale unit taking turns to host joint meetings

#: Cases closed by resolutions, per scale unit: (category, source, level at which it was
#: resolved, kind of the session whose resolution closed it, count). The published
#: figures: 129 concerns and 146 conflicts resolved; grid cases resolved at levels
#: 1-4: 69, 27, 11, 2; mediation resolved 31 conflicts and 22 urgent problems.
RESOLVED_CASES = (
    ("concern", "grid", 1, "friday_talk", 24),
    ("concern", "grid", 1, "sentiment_talk", 14),
    ("concern", "grid", 2, "deliberation", 7),
    ("concern", "grid", 2, "roundtable", 5),
    ("concern", "grid", 3, "roundtable", 2),
    ("concern", "grid", 3, "joint_meeting", 2),
    ("concern", "grid", 4, "joint_meeting", 1),
    ("conflict", "grid", 1, "mediation", 10),
    ("conflict", "grid", 1, "friday_talk", 10),
    ("conflict", "grid", 2, "mediation", 6),
    ("conflict", "grid", 2, "deliberation", 4),
    ("conflict", "grid", 3, "mediation", 2),
    ("conflict", "grid", 3, "joint_meeting", 2),
    ("urgent", "grid", 1, "mediation", 6),
    ("urgent", "grid", 1, "friday_talk", 5),
    ("urgent", "grid", 2, "mediation", 3),
    ("urgent", "grid", 2, "deliberation", 2),
    ("urgent", "grid", 3, "mediation", 2),
    ("urgent", "grid", 3, "joint_meeting", 1),
    ("urgent", "grid", 4, "joint_meeting", 1),
    ("concern", "session", 1, "friday_talk", 16),
    ("concern", "walk_in", 1, "sentiment_talk", 12),
    ("concern", "hotline", 1, "friday_talk", 10),
    ("concern", "online", 1, "sentiment_talk", 8),
    ("concern", "hotline", 2, "deliberation", 10),
    ("concern", "online", 2, "roundtable", 8),
    ("concern", "walk_in", 2, "deliberation", 5),
    ("concern", "session", 3, "joint_meeting", 3),
    ("concern", "hotline", 3, "roundtable", 2),
    ("conflict", "walk_in", 1, "mediation", 6),
    ("conflict", "hotline", 2, "mediation", 4),
    ("conflict", "session", 3, "mediation", 3),
    ("conflict", "walk_in", 1, "friday_talk", 20),
    ("conflict", "hotline", 1, "sentiment_talk", 18),
    ("conflict", "online", 1, "friday_talk", 12),
    ("conflict", "session", 2, "deliberation", 20),
    ("conflict", "hotline", 2, "roundtable", 12),
    ("conflict", "walk_in", 2, "deliberation", 9),
    ("conflict", "online", 3, "joint_meeting", 5),
    ("conflict", "session", 4, "joint_meeting", 3),
    ("urgent", "walk_in", 1, "mediation", 5),
    ("urgent", "hotline", 2, "mediation", 4),
    ("urgent", "session", 3, "mediation", 2),
    ("urgent", "hotline", 1, "friday_talk", 4),
    ("urgent", "online", 2, "deliberation", 3),
    ("urgent", "walk_in", 4, "joint_meeting", 2),
)
#: Issues those cases form, all resolved by a resolution with outcome "resolved".
RESOLVED_ISSUES = 129
#: Per scale unit: issues reopened after a poor evaluation (one per level reached),
#: open issues, and fresh cases not yet put to any session.
REOPENED_LEVELS = (1, 2, 3, 4)
OPEN_ISSUE_PLANS = ("planned",) * 4 + ("deferred",) * 2 + ("escalated",) * 2 + ("referred",) * 2
LOOSE_CASE_LEVELS = (1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 1, 1, 2, 1, 1)

#: The session kind that usually handles a case at each grid level.
KIND_FOR_LEVEL = {1: "friday_talk", 2: "deliberation", 3: "roundtable", 4: "joint_meeting"}
LEVEL_BODIES = {2: "网格党组织", 3: "社区党委", 4: "镇党委"}
SOURCES = ("grid", "session", "walk_in", "hotline", "online")
CATEGORIES = ("concern", "conflict", "urgent")
#: Times of day a session may move to when its room is taken at the wished time.
SLOTS = ((9, 0), (14, 30), (19, 0))


#: Rows per COPY statement on PostgreSQL (a second or two each).
COPY_ROWS = 50_000


class DemoError(Exception):
    """The demo town cannot be loaded; the message says why."""


@dataclass
class DemoResult:
    accounts: list[tuple[str, str, str]]
    counts: dict[str, int]


def database_is_empty() -> bool:
    """Tell whether no community, session or case exists (users may)."""
    for model in (Community, Meeting, Case):
        if db.session.scalar(select(model.id).limit(1)) is not None:
            return False
    return True


def load_demo(scale: int = 1, now: datetime | None = None) -> DemoResult:
    """Add the demo town, ``scale`` times its volumes, to the session (flushed, not committed)."""
    if not isinstance(scale, int) or scale < 1:
        raise DemoError("The scale must be an integer of at least 1.")
    if not database_is_empty():
        raise DemoError("The database is not empty.")
    with _no_cycle_collection():
        return _Builder(scale, now or utcnow()).build()


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector while the plan (millions of rows as dicts) is alive.

    Each full collection would walk every planned row again; at scale 100 that was a
    third of the load's time. What cycles the rows leave are collected once it resumes.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _bulk_insert(model, rows: list[dict], ids: bool = True) -> None:
    """INSERT ``rows`` (dicts) into ``model``'s table and, if ``ids``, give each row["id"].

    Keys starting with "_" are planning notes, except "_ref_<column>", whose value is
    another planned row (or None): the column gets that row's id. Columns the rows do
    not name get their Python default, as the ORM would give them.

    Values are converted column by column, with the column type's own conversion, and
    written without SQLAlchemy's per-row work: COPY on PostgreSQL, one executemany on
    SQLite (which runs it in C).
    """
    if not rows:
        return
    table = getattr(model, "__table__", model)
    if ids:
        for row, new_id in zip(rows, _reserve_ids(table, len(rows)), strict=True):
            row["id"] = new_id
    dialect = db.session.get_bind().dialect
    keys = [key for key in rows[0] if key.startswith("_ref_") or not key.startswith("_")]
    names = [key.removeprefix("_ref_") for key in keys]
    # One C call per row picks its values; zip turns the rows into columns.
    pick = itemgetter(*keys)
    picked = map(pick, rows) if len(keys) > 1 else ((pick(row),) for row in rows)
    columns: list[list] = []
    for key, name, values in zip(keys, names, zip(*picked, strict=True), strict=True):
        if key.startswith("_ref_"):
            columns.append([None if ref is None else ref["id"] for ref in values])
        else:
            columns.append(_bind(table.c[name], values, dialect))
    for column in table.columns:
        if column.name in names or column.primary_key or column.default is None:
            continue
        default = column.default
        if default.is_scalar:
            value = default.arg
        elif default.is_callable:
            value = default.arg(None)
        else:
            raise DemoError(f"{table.name}.{column.name} has a default the load cannot compute.")
        names.append(column.name)
        columns.append(_bind(column, [value] * len(rows), dialect))
    _write(table, names, list(zip(*columns, strict=True)), dialect)


def _bind(column, values, dialect) -> list:
    """Return ``values`` converted for the database as the column's type converts them."""
    convert = column.type.dialect_impl(dialect).bind_processor(dialect)
    if convert is None:
        return list(values)
    if isinstance(column.type, UTCDateTime):
        # The planned instants are aware UTC values: their conversion reduces to a
        # format (SQLite) or to nothing (PostgreSQL).
        if dialect.name == "sqlite":
            return _sqlite_utc(values, convert)
        if dialect.name == "postgresql":
            return [v if v is None or v.tzinfo is UTC else convert(v) for v in values]
    return [convert(value) for value in values]


def _sqlite_utc(values, convert: Callable) -> list:
    """Write aware UTC instants as SQLAlchemy's SQLite DateTime does: naive UTC text."""
    formatted: dict[datetime, str] = {}  # instants repeat: a few in five are new
    out = []
    for value in values:
        if value is None or value.tzinfo is not UTC:
            out.append(None if value is None else convert(value))
            continue
        stamp = formatted.get(value)
        if stamp is None:
            # "2024-05-17 10:00:00.000000+00:00" without its offset.
            stamp = formatted[value] = value.isoformat(" ", "microseconds")[:26]
        out.append(stamp)
    return out


def _write(table, names: list[str], params: list[tuple], dialect) -> None:
    """INSERT the rows ``params`` (tuples of converted values, in the order of ``names``)."""
    quote = dialect.identifier_preparer.quote
    target = f"{dialect.identifier_preparer.format_table(table)} ({', '.join(map(quote, names))})"
    connection = db.session.connection()
    if dialect.name == "postgresql":
        statement = f"COPY {target} FROM STDIN"
        cursor = connection.connection.cursor()
        try:
            # In parts, so that no statement nears DATABASE_STATEMENT_TIMEOUT.
            for start in range(0, len(params), COPY_ROWS):
                with cursor.copy(statement) as copy:
                    for row in params[start : start + COPY_ROWS]:
                        copy.write_row(row)
        except dialect.loaded_dbapi.Error as exc:
            # As SQLAlchemy reports the driver's errors (the write boundary and the
            # commands read them that way).
            raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error) from exc
        finally:
            cursor.close()
        return
    marks = ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * len(names))
    # Names come from the table, quoted by the dialect; values are bound.
    connection.exec_driver_sql(f"INSERT INTO {target} VALUES ({marks})", params)  # noqa: S608


def _reserve_ids(table, count: int) -> list[int]:
    """Return ``count`` new primary keys for ``table``, never handed out before."""
    if db.session.get_bind().dialect.name == "postgresql":
        return list(
            db.session.scalars(
                # The sequence is looked up once, not once per key.
                text(
                    "SELECT nextval(sequence) "
                    "FROM pg_get_serial_sequence(:table, 'id') AS sequence, "
                    "generate_series(1, :count)"
                ),
                {"table": table.name, "count": count},
            )
        )
    # SQLite has no sequences; the transaction holds the database's only write lock, so
    # the keys above the largest one are free.
    first = (db.session.scalar(select(func.max(table.c.id))) or 0) + 1
    return list(range(first, first + count))


class _Builder:
    def __init__(self, scale: int, now: datetime):
        self.scale = scale
        self.rng = random.Random(SEED)
        self.now = now.astimezone(UTC).replace(microsecond=0)
        self.tz = ZoneInfo(ZONE)
        self.today = self.now.astimezone(self.tz).date()
        self.first_day = self.today - timedelta(days=PAST_DAYS)
        self.last_day = self.today + timedelta(days=FUTURE_DAYS)
        # Planned rows, table by table, in the order they are written.
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self.busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        self.position: dict[int, int] = defaultdict(int)
        self.accounts: list[tuple[str, str, str]] = []
        self.estate_names: dict[tuple[int, int], list[str]] = {}

    # -- small helpers --------------------------------------------------------------------

    def add(self, table: str, row: dict) -> dict:
        self.rows[table].append(row)
        return row

    def local(self, day: date, hour: int, minute: int = 0) -> datetime:
        """Return the UTC instant of a wall-clock time in the town's zone."""
        return datetime.combine(day, time(hour, minute), tzinfo=self.tz).astimezone(UTC)

    def between(self, start: datetime, end: datetime) -> datetime:
        """Return a random whole minute in [start, end] (start when the span is empty)."""
        span = int((end - start).total_seconds() // 60)
        if span <= 0:
            return start
        return start + timedelta(minutes=self.rng.randint(0, span))

    def days_ago(self, low: float, high: float) -> datetime:
        return self.now - timedelta(minutes=self.rng.randint(int(low * 1440), int(high * 1440)))

    def pick(self, items):
        return items[self.rng.randrange(len(items))]

    def email(self, local_part: str) -> str:
        address, n = f"{local_part}@{DOMAIN}", 1
        while address in self.taken_emails:
            n += 1
            address = f"{local_part}{n}@{DOMAIN}"
        self.taken_emails.add(address)
        return address

    # -- the whole town ---------------------------------------------------------------------

    def build(self) -> DemoResult:
        self.taken_emails = set(db.session.scalars(select(User.email)))
        self.taken_units = set(db.session.scalars(select(Unit.name)))
        self.shared_hash = generate_password_hash(SHARED_PASSWORD, method="scrypt")
        self.plan_town()
        self.plan_units()
        self.plan_people()
        self.plan_alliance()
        self.plan_sessions()
        self.plan_attendance_lists()
        for block in range(self.scale):
            self.plan_cases(block)
        self.plan_minutes()
        self.write()
        self.add_reach()
        counts = {
            "communities": len(self.communities),
            "units": len(self.rows["units"]),
            "users": len(self.rows["users"]),
            "sessions": len(self.rows["meetings"]),
            "registrations": len(self.rows["registrations"]),
            "issues": len(self.rows["issues"]),
            "cases": len(self.rows["cases"]),
        }
        audit.record("demo.load", self.town, None, scale=self.scale, **counts)
        db.session.flush()
        # Fresh statistics, in the same transaction, so that the planner knows the
        # tables' sizes from the first query on (without them PostgreSQL takes the
        # large tables for empty until autovacuum comes by, and SQLite guesses).
        db.session.execute(text("ANALYZE"))
        return DemoResult(self.accounts, counts)

    def plan_town(self) -> None:
        town = db.session.scalar(select(Town).where(Town.name == data.TOWN))
        if town is None:
            town = Town(name=data.TOWN, timezone=ZONE, created_at=self.now - timedelta(days=1100))
            db.session.add(town)
            db.session.flush()
        self.town = town
        self.communities = []
        for ci, (name, brand, street) in enumerate(data.COMMUNITIES):
            community = self.add(
                "communities",
                {
                    "town_id": town.id,
                    "name": name,
                    "brand": brand,
                    "created_at": self.now - timedelta(days=1000 + ci),
                    "_short": name.removesuffix("社区"),
                },
            )
            self.communities.append(community)
            community["_venues"] = {}
            for vname, kind, capacity in data.COMMUNITY_VENUES:
                community["_venues"][vname] = self.add(
                    "venues",
                    {
                        "_ref_community_id": community,
                        "_ref_unit_id": None,
                        "name": vname,
                        "kind": kind,
                        "capacity": capacity,
                        "address": f"{data.TOWN}{street}{18 + ci * 7}号{name}党群服务中心",
                        "created_at": community["created_at"],
                    },
                )

    # -- alliance units ---------------------------------------------------------------------

    def plan_units(self) -> None:
        names = {kind: data.unit_names(kind) for kind in UNITS}
        self.block_units: dict[tuple[int, int], list[dict]] = defaultdict(list)
        for block in range(self.scale):
            for kind, number in UNITS.items():
                for i in range(number):
                    name = next(names[kind])
                    while name in self.taken_units:
                        name = next(names[kind])
                    self.taken_units.add(name)
                    home = i % len(self.communities)
                    unit = self.add(
                        "units",
                        {
                            "town_id": self.town.id,
                            "name": name,
                            "kind": kind,
                            "contact_email": None,
                            "contact_phone": data.phone_number(self.rng),
                            "created_at": self.days_ago(400, 1100),
                            "_home": home,
                            "_block": block,
                            "_communities": [home],
                        },
                    )
                    extra = {
                        "government_agency": 0.35,
                        "property_company": 0.6,
                        "enterprise": 0.15,
                        "public_institution": 0.3,
                        "mass_organisation": 0.4,
                        "social_organisation": 0.25,
                    }.get(kind, 0)
                    if self.rng.random() < extra:
                        for _ in range(self.rng.randint(1, 2)):
                            other = self.rng.randrange(len(self.communities))
                            if other not in unit["_communities"]:
                                unit["_communities"].append(other)
                    for ci in unit["_communities"]:
                        self.block_units[(block, ci)].append(unit)

    # -- people ---------------------------------------------------------------------------

    def user(
        self, role: str, name: str, local_part: str, password_hash: str, unit: dict | None = None
    ) -> dict:
        return self.add(
            "users",
            {
                "email": self.email(local_part),
                "name": name,
                "role": role,
                "password_hash": password_hash,
                "phone": data.phone_number(self.rng),
                "_ref_unit_id": unit,
                "named_in_minutes": self.rng.random() < 0.4,
                "locale": None,
                "active": True,
                "created_at": self.days_ago(30, 700),
            },
        )

    def member(self, user: dict, community: dict, representative: bool = False) -> None:
        self.add(
            "memberships",
            {
                "_ref_user_id": user,
                "_ref_community_id": community,
                "is_representative": representative,
                "created_at": user["created_at"],
            },
        )

    def plan_people(self) -> None:
        demo = {}
        for role, local_part, password, name in DEMO_ACCOUNTS:
            password_hash = generate_password_hash(password, method="scrypt")
            demo[role] = self.user(role, name, local_part, password_hash)
            self.accounts.append((role, demo[role]["email"], password))
        self.demo = demo
        counter = defaultdict(int)

        def next_local(prefix: str) -> str:
            counter[prefix] += 1
            return f"{prefix}{counter[prefix]:05d}"

        self.cadres: dict[tuple[int, int], list[dict]] = {}
        self.secretary: dict[tuple[int, int], dict] = {}
        self.residents: dict[tuple[int, int], list[dict]] = {}
        self.representatives: dict[tuple[int, int], list[dict]] = {}
        for block in range(self.scale):
            for ci, community in enumerate(self.communities):
                key = (block, ci)
                first = key == (0, 0)
                cadres = [demo["cadre"]] if first else []
                while len(cadres) < CADRES:
                    cadres.append(
                        self.user(
                            "cadre",
                            data.person_name(self.rng),
                            next_local("cadre"),
                            self.shared_hash,
                        )
                    )
                secretary = (
                    demo["secretary"]
                    if first
                    else self.user(
                        "secretary",
                        data.person_name(self.rng),
                        next_local("secretary"),
                        self.shared_hash,
                    )
                )
                residents = [demo["resident"]] if first else []
                while len(residents) < RESIDENTS:
                    residents.append(
                        self.user(
                            "resident",
                            data.person_name(self.rng),
                            next_local("resident"),
                            self.shared_hash,
                        )
                    )
                for user in (*cadres, secretary):
                    self.member(user, community)
                for i, user in enumerate(residents):
                    self.member(user, community, representative=i < REPRESENTATIVES)
                self.cadres[key] = cadres
                self.secretary[key] = secretary
                self.residents[key] = residents
                self.representatives[key] = residents[:REPRESENTATIVES]

    # -- the "1+X" alliance ---------------------------------------------------------------

    def plan_alliance(self) -> None:
        self.rotation: dict[int, list[dict]] = defaultdict(list)
        core_kinds = (
            "enterprise",
            "government_agency",
            "public_institution",
            "property_company",
            "social_organisation",
        )
        for block in range(self.scale):
            for ci, community in enumerate(self.communities):
                homes = [u for u in self.block_units[(block, ci)] if u["_home"] == ci]
                by_kind = {k: [u for u in homes if u["kind"] == k] for k in core_kinds}
                core = []
                for i in range(ROTATION):
                    for kind in core_kinds:
                        if i < len(by_kind[kind]) and len(core) < ROTATION:
                            core.append(by_kind[kind][i])
                positions = {}
                for unit in core:
                    self.rotation[ci].append(unit)
                    positions[id(unit)] = len(self.rotation[ci])
                for unit in self.block_units[(block, ci)]:
                    joined = self.today - timedelta(days=self.rng.randint(90, 1000))
                    self.add(
                        "alliance_members",
                        {
                            "_ref_community_id": community,
                            "_ref_unit_id": unit,
                            "joined_on": joined,
                            "rotation_position": positions.get(id(unit)),
                        },
                    )
                    if unit["_home"] == ci and self.rng.random() < 0.7:
                        signed = joined + timedelta(days=self.rng.randint(0, 60))
                        term = self.rng.choice((1, 2, 3))
                        pledges = data.COMMITMENTS[unit["kind"]]
                        chosen = self.rng.sample(pledges, min(len(pledges), self.rng.randint(2, 3)))
                        self.add(
                            "agreements",
                            {
                                "_ref_community_id": community,
                                "_ref_unit_id": unit,
                                "signed_on": signed,
                                "ends_on": signed + timedelta(days=365 * term),
                                "commitments": "；".join(chosen) + "。",
                                "created_at": self.local(signed, 10),
                            },
                        )
                # A room a unit of the alliance opens to the community.
                host = next((u for u in core if u["kind"] == "public_institution"), core[0])
                room, kind, capacity = data.UNIT_ROOMS[(block + ci) % len(data.UNIT_ROOMS)]
                host["_venue"] = self.add(
                    "venues",
                    {
                        "_ref_community_id": community,
                        "_ref_unit_id": host,
                        "name": host["name"] + room,
                        "kind": kind,
                        "capacity": capacity,
                        "address": None,
                        "created_at": self.days_ago(100, 400),
                    },
                )
                host["_venue_community"] = ci
        # Every unit speaks through one representative; the demo account speaks for the
        # first unit in the rotation of the first community.
        self.demo_unit = self.rotation[0][0]
        for unit in self.rows["units"]:
            if unit is self.demo_unit:
                rep = self.demo["unit_rep"]
                rep["_ref_unit_id"] = unit
            else:
                rep = self.user(
                    "unit_rep",
                    data.person_name(self.rng),
                    f"unitrep{len(self.rows['users']):05d}",
                    self.shared_hash,
                    unit,
                )
            unit["_rep"] = rep
            unit["contact_email"] = rep["email"]

    # -- sessions -------------------------------------------------------------------------

    def free(self, venue: dict, start: datetime, end: datetime) -> bool:
        return all(end <= s or start >= e for s, e in self.busy[id(venue)])

    def book(
        self, venue: dict, day: date, hour: int, minute: int, minutes: int
    ) -> tuple[datetime, datetime] | None:
        """Find the first free slot at ``venue`` from the wished time on, and take it."""
        for shift in range(21):
            when = day + timedelta(days=shift)
            if when > self.last_day:
                return None
            for h, m in ((hour, minute), *[s for s in SLOTS if s != (hour, minute)]):
                start = self.local(when, h, m)
                end = start + timedelta(minutes=minutes)
                if self.free(venue, start, end):
                    self.busy[id(venue)].append((start, end))
                    return start, end
        return None

    def meeting(
        self,
        block: int,
        ci: int,
        kind: str,
        title: str,
        venue: dict | None,
        start: datetime,
        end: datetime,
        capacity: int | None,
        **extra,
    ) -> dict:
        created = min(start - timedelta(days=21), self.now - timedelta(days=1))
        row = {
            "uid": f"{uuid.uuid4()}@consult.demo",
            "kind": kind,
            "title": title,
            "description": data.SESSION_DESCRIPTIONS[kind],
            "_ref_community_id": self.communities[ci],
            "_ref_venue_id": venue,
            "starts_at": start,
            "ends_at": end,
            "timezone": ZONE,
            "capacity": capacity,
            "confirmed_count": 0,
            "status": "held" if end <= self.now else "scheduled",
            "visibility": "private" if kind == "mediation" else "public",
            "_ref_organiser_id": self.cadres[(block, ci)][0],
            "_ref_host_unit_id": None,
            "_ref_series_id": None,
            "recurrence_id": None,
            "sequence": 0,
            "cancelled_at": None,
            "created_at": created,
            "updated_at": created,
            "_block": block,
            "_ci": ci,
        }
        row.update(extra)
        self.add("meetings", row)
        return row

    def plan_sessions(self) -> None:
        for block in range(self.scale):
            for ci in range(len(self.communities)):
                self.plan_series(block, ci)
        for block in range(self.scale):
            for ci in range(len(self.communities)):
                self.plan_one_offs(block, ci)
        self.assign_hosts()
        self.sessions: dict[tuple[int, int, str], list[dict]] = defaultdict(list)
        self.upcoming: dict[tuple[int, int, str], list[dict]] = defaultdict(list)
        for m in sorted(self.rows["meetings"], key=lambda m: m["starts_at"]):
            key = (m["_block"], m["_ci"], m["kind"])
            if m["status"] == "held":
                self.sessions[key].append(m)
            elif m["status"] == "scheduled" and m["starts_at"] > self.now:
                self.upcoming[key].append(m)
        for m in self.rows["meetings"]:
            self.plan_standing_items(m)

    def plan_series(self, block: int, ci: int) -> None:
        community = self.communities[ci]
        if block == 0:
            venue = community["_venues"]["党群服务中心大厅"]
            title = data.SESSION_TITLES["friday_talk"]
        else:
            grid = f"第{chinese_number(block + 1)}网格"
            venue = self.add(
                "venues",
                {
                    "_ref_community_id": community,
                    "_ref_unit_id": None,
                    "name": f"{grid}议事点",
                    "kind": "meeting_room",
                    "capacity": 30,
                    "address": None,
                    "created_at": community["created_at"],
                },
            )
            title = f"{data.SESSION_TITLES['friday_talk']}（{grid}）"
        first = self.first_day + timedelta(days=(4 - self.first_day.weekday()) % 7)
        fridays = []
        while first <= self.last_day:
            fridays.append(first)
            first += timedelta(days=7)
        starts = [self.local(day, 15) for day in fridays]
        past = [s for s in starts if s + timedelta(hours=2) <= self.now]
        skipped = len(past) // 2
        moved = len(past) + 1 if len(past) + 1 < len(starts) else None
        series = self.add(
            "series",
            {
                "uid": f"{uuid.uuid4()}@consult.demo",
                "kind": "friday_talk",
                "title": title,
                "description": data.SESSION_DESCRIPTIONS["friday_talk"],
                "_ref_community_id": community,
                "_ref_venue_id": venue,
                "_ref_organiser_id": self.cadres[(block, ci)][0],
                "_ref_host_unit_id": None,
                "rrule": "FREQ=WEEKLY;BYDAY=FR",
                "dtstart": starts[0],
                "duration_minutes": 120,
                "timezone": ZONE,
                "capacity": 30,
                "visibility": "public",
                "status": "active",
                "sequence": 0,
                "materialised_until": starts[-1],
                "created_at": starts[0] - timedelta(days=14),
                "updated_at": starts[0] - timedelta(days=14),
            },
        )
        for i, original in enumerate(starts):
            start = original - timedelta(days=1) if i == moved else original
            end = start + timedelta(hours=2)
            self.busy[id(venue)].append((start, end))
            row = self.meeting(
                block,
                ci,
                "friday_talk",
                title,
                venue,
                start,
                end,
                30,
                _ref_series_id=series,
                recurrence_id=original,
                created_at=series["created_at"],
                updated_at=series["created_at"],
            )
            if i == skipped:
                changed = original - timedelta(days=6)
                row.update(
                    status="cancelled",
                    sequence=1,
                    cancelled_at=changed,
                    updated_at=changed,
                    description="本周逢节假日，周五说事日暂停一次，下周照常。",
                )
            elif i == moved:
                changed = min(original - timedelta(days=5), self.now - timedelta(hours=2))
                row.update(
                    sequence=1,
                    updated_at=changed,
                    description="本周因场地安排，周五说事日改到周四同一时间举行。",
                )

    def block_venues(self, block: int, ci: int) -> dict[str, dict]:
        """The rooms a block meets in: the community's own for the first, a grid's after.

        Each further scale unit is another grid of the community with rooms of its own,
        so a large scale never runs out of free slots in the community's few rooms.
        """
        community = self.communities[ci]
        if block == 0:
            return community["_venues"]
        grid = f"第{chinese_number(block + 1)}网格"
        return {
            vname: self.add(
                "venues",
                {
                    "_ref_community_id": community,
                    "_ref_unit_id": None,
                    "name": f"{grid}{vname}",
                    "kind": kind,
                    "capacity": capacity,
                    "address": community["_venues"][vname]["address"],
                    "created_at": community["created_at"],
                },
            )
            for vname, kind, capacity in data.COMMUNITY_VENUES
        }

    def plan_one_offs(self, block: int, ci: int) -> None:
        venues = self.block_venues(block, ci)
        wishes = []
        month = date(self.first_day.year, self.first_day.month, 1)
        while month <= self.last_day:
            y, mo = month.year, month.month
            wishes += [
                (
                    "roundtable",
                    _nth_weekday(y, mo, 1, 2),
                    (9, 30),
                    120,
                    "议事厅",
                    30,
                    f"{mo}月{data.SESSION_TITLES['roundtable']}",
                ),
                (
                    "joint_meeting",
                    _nth_weekday(y, mo, 2, -1),
                    (14, 30),
                    120,
                    "议事厅",
                    None,
                    f"{mo}月{data.SESSION_TITLES['joint_meeting']}",
                ),
                (
                    "sentiment_talk",
                    _nth_weekday(y, mo, 3, 1),
                    (19, 0),
                    90,
                    "居民活动室",
                    40,
                    f"{mo}月{data.SESSION_TITLES['sentiment_talk']}",
                ),
                (
                    "deliberation",
                    _nth_weekday(y, mo, 0, 2),
                    (15, 0),
                    120,
                    "议事厅",
                    20,
                    data.SESSION_TITLES["deliberation"],
                ),
                (
                    "deliberation",
                    _nth_weekday(y, mo, 0, 4),
                    (15, 0),
                    120,
                    "议事厅",
                    20,
                    data.SESSION_TITLES["deliberation"],
                ),
                (
                    "mediation",
                    _nth_weekday(y, mo, 5, 1),
                    (9, 0),
                    90,
                    "调解室",
                    8,
                    data.SESSION_TITLES["mediation"],
                ),
                ("mediation", _nth_weekday(y, mo, 5, 3), (9, 0), 90, "调解室", 8, "矛盾纠纷调解会"),
            ]
            month = date(y + (mo == 12), mo % 12 + 1, 1)
        for kind, day, (hour, minute), minutes, vname, capacity, title in wishes:
            if not self.first_day <= day <= self.last_day:
                continue
            slot = self.book(venues[vname], day, hour, minute, minutes)
            if slot is not None:
                self.meeting(block, ci, kind, title, venues[vname], *slot, capacity)

    def assign_hosts(self) -> None:
        """Give joint meetings their host in the order of each community's rotation."""
        for ci in range(len(self.communities)):
            meetings = sorted(
                (
                    m
                    for m in self.rows["meetings"]
                    if m["_ci"] == ci and m["kind"] == "joint_meeting"
                ),
                key=lambda m: m["starts_at"],
            )
            rotation = self.rotation[ci]
            for j, m in enumerate(meetings):
                host = rotation[j % len(rotation)]
                m["_ref_host_unit_id"] = host
                m["_host_index"] = j % len(rotation)
                if host.get("_venue_community") == ci:
                    # Held at the host's own room, which only its own meetings use.
                    m["_ref_venue_id"] = host["_venue"]

    def agenda_item(
        self,
        meeting: dict,
        title: str,
        issue: dict | None = None,
        created: datetime | None = None,
        carried: dict | None = None,
        table: str = "agenda_items",
    ) -> dict:
        self.position[id(meeting)] += 1
        created = created or min(
            meeting["starts_at"] - timedelta(days=2), self.now - timedelta(hours=1)
        )
        if issue is not None:
            created = max(created, issue["created_at"] + timedelta(minutes=5))
        item = self.add(
            table,
            {
                "_ref_meeting_id": meeting,
                "position": self.position[id(meeting)],
                "title": title[:200],
                "_ref_issue_id": issue,
                "_ref_carried_action_id": carried,
                "duration_minutes": self.rng.choice((10, 15, 20, 30)),
                "created_at": created,
                "_notes": None,
            },
        )
        meeting.setdefault("_items", []).append(item)
        return item

    def plan_standing_items(self, m: dict) -> None:
        if m["status"] == "cancelled" or m["starts_at"] > self.now + timedelta(days=14):
            return
        items = data.STANDING_ITEMS[m["kind"]]
        for title in items[: self.rng.randint(1, len(items))]:
            self.agenda_item(m, title)

    # -- registrations, invitations, attendance -------------------------------------------

    def plan_attendance_lists(self) -> None:
        full = set()
        for block in range(self.scale):
            for ci in range(len(self.communities)):
                past = self.sessions[(block, ci, "deliberation")]
                coming = self.upcoming[(block, ci, "deliberation")]
                full.update(id(m) for m in (past[-1:] + coming[:1]))
        for m in self.rows["meetings"]:
            if m["status"] == "cancelled":
                continue
            self.plan_registrations(m, id(m) in full)
            self.plan_invitations(m)
            if m["status"] == "held":
                self.plan_presence(m)

    def sign_up_times(self, m: dict, n: int) -> list[datetime]:
        low = m["created_at"]
        high = min(m["starts_at"], self.now) - timedelta(hours=1)
        return sorted(self.between(low, high) for _ in range(n))

    def plan_registrations(self, m: dict, full: bool) -> None:
        key = (m["_block"], m["_ci"])
        kind, capacity, held = m["kind"], m["capacity"], m["status"] == "held"
        ahead = (m["starts_at"] - self.now).days
        if kind == "mediation":
            confirmed = 2
        elif held or ahead < 7:
            confirmed = {
                "friday_talk": (10, 24),
                "roundtable": (8, 16),
                "joint_meeting": (3, 8),
                "sentiment_talk": (15, 32),
                "deliberation": (10, 18),
            }[kind]
            confirmed = self.rng.randint(*confirmed)
        elif ahead < 21:
            confirmed = self.rng.randint(3, 10)
        else:
            confirmed = self.rng.randint(0, 4)
        waitlisted = 0
        if full and capacity:
            confirmed, waitlisted = capacity, self.rng.randint(1, 3)
        if capacity is not None:
            confirmed = min(confirmed, capacity)
        proxies = 0
        if kind == "friday_talk" and confirmed >= 2 and self.rng.random() < 0.3:
            proxies = self.rng.randint(1, 2)
        cancelled = 1 if confirmed and self.rng.random() < 0.15 else 0
        pool = self.residents[key]
        people = self.rng.sample(pool, confirmed - proxies + waitlisted + cancelled)
        times = self.sign_up_times(m, len(people) + proxies)
        statuses = ["confirmed"] * confirmed + ["waitlisted"] * waitlisted
        cadre = self.cadres[key][0]
        entries = [("user", person) for person in people[: confirmed - proxies]]
        entries += [("proxy", None)] * proxies
        self.rng.shuffle(entries)
        entries += [("user", person) for person in people[confirmed - proxies :]]
        m["_registrations"] = []
        for (how, person), at in zip(entries, times, strict=True):
            status = statuses.pop(0) if statuses else "cancelled"
            row = self.add(
                "registrations",
                {
                    "_ref_meeting_id": m,
                    "_ref_user_id": person,
                    "name": data.person_name(self.rng) if how == "proxy" else None,
                    "phone": data.phone_number(self.rng) if how == "proxy" else None,
                    "note": data.PROXY_NOTE if how == "proxy" else None,
                    "status": status,
                    "created_at": at,
                    "confirmed_at": at if status == "confirmed" else None,
                    "cancelled_at": (
                        self.between(at, min(m["starts_at"], self.now))
                        if status == "cancelled"
                        else None
                    ),
                    "_ref_registered_by_id": cadre if how == "proxy" else person,
                    "reminder_sent_at": (
                        max(at, m["starts_at"] - timedelta(days=1))
                        if held and status == "confirmed"
                        else None
                    ),
                },
            )
            m["_registrations"].append(row)
        m["confirmed_count"] = sum(r["status"] == "confirmed" for r in m["_registrations"])

    def plan_invitations(self, m: dict) -> None:
        block, ci, kind = m["_block"], m["_ci"], m["kind"]
        units = [u for u in self.block_units[(block, ci)] if u["kind"] != "owners_committee"]
        committees = [u for u in self.block_units[(block, ci)] if u["kind"] == "owners_committee"]
        rotation = self.rotation[ci]
        chosen: list[dict] = []
        if kind == "joint_meeting":
            start = m["_host_index"]
            chosen = [rotation[(start + j) % len(rotation)] for j in range(3)]
            chosen += self.rng.sample(units, min(len(units), self.rng.randint(5, 8)))
            if block == 0 and ci == 0:
                chosen.append(self.demo_unit)
        elif kind == "roundtable":
            chosen = self.rng.sample(units, min(len(units), self.rng.randint(2, 4)))
            if block == 0 and ci == 0:
                chosen.append(self.demo_unit)
        elif kind == "deliberation":
            chosen = self.rng.sample(committees, min(len(committees), 2))
            chosen += self.rng.sample(units, 1)
        elif kind == "mediation":
            mediators = [
                u for u in units if u["kind"] in ("government_agency", "social_organisation")
            ]
            chosen = self.rng.sample(mediators or units, 1)
        elif kind == "sentiment_talk":
            chosen = self.rng.sample(units, self.rng.randint(1, 3))
        elif kind == "friday_talk" and m["recurrence_id"] == m["starts_at"]:
            chosen = self.rng.sample(units, self.rng.randint(0, 1))
        seen = set()
        m["_invitations"] = []
        organiser = self.cadres[(block, ci)][0]
        for unit in chosen:
            if id(unit) in seen:
                continue
            seen.add(id(unit))
            rep = unit["_rep"]
            roll = self.rng.random()
            if m["status"] == "held":
                partstat = (
                    "ACCEPTED"
                    if roll < 0.72
                    else "DECLINED"
                    if roll < 0.87
                    else "TENTATIVE"
                    if roll < 0.92
                    else "NEEDS-ACTION"
                )
            else:
                partstat = (
                    "NEEDS-ACTION"
                    if roll < 0.5
                    else "ACCEPTED"
                    if roll < 0.85
                    else "DECLINED"
                    if roll < 0.95
                    else "TENTATIVE"
                )
            sent = min(m["created_at"] + timedelta(days=1), self.now - timedelta(hours=2))
            m["_invitations"].append(
                self.add(
                    "invitations",
                    {
                        "_ref_meeting_id": m,
                        "email": rep["email"],
                        "name": rep["name"],
                        "_ref_user_id": rep,
                        "_ref_unit_id": unit,
                        "whole_series": False,
                        "partstat": partstat,
                        "_ref_invited_by_id": organiser,
                        "created_at": sent,
                        "responded_at": (
                            None
                            if partstat == "NEEDS-ACTION"
                            else self.between(sent, min(m["starts_at"], self.now))
                        ),
                    },
                )
            )
        if kind == "friday_talk" and m["recurrence_id"] == self.first_start(m):
            # A government agency of the alliance follows the whole series.
            police = next(
                (u for u in units if "派出所" in u["name"]),
                next((u for u in units if u["kind"] == "government_agency"), units[0]),
            )
            if id(police) not in seen:
                rep = police["_rep"]
                m["_invitations"].append(
                    self.add(
                        "invitations",
                        {
                            "_ref_meeting_id": m,
                            "email": rep["email"],
                            "name": rep["name"],
                            "_ref_user_id": rep,
                            "_ref_unit_id": police,
                            "whole_series": True,
                            "partstat": "ACCEPTED",
                            "_ref_invited_by_id": organiser,
                            "created_at": m["created_at"],
                            "responded_at": m["created_at"] + timedelta(days=1),
                        },
                    )
                )

    def first_start(self, m: dict) -> datetime:
        return m["_ref_series_id"]["dtstart"]

    def plan_presence(self, m: dict) -> None:
        secretary = self.secretary[(m["_block"], m["_ci"])]
        at = m["starts_at"] + timedelta(minutes=10)

        def record(status, registration=None, invitation=None, name=None):
            self.add(
                "attendance",
                {
                    "_ref_meeting_id": m,
                    "_ref_registration_id": registration,
                    "_ref_invitation_id": invitation,
                    "name": name,
                    "status": status,
                    "_ref_recorded_by_id": secretary,
                    "recorded_at": at,
                },
            )

        for r in m["_registrations"]:
            if r["status"] == "confirmed":
                roll = self.rng.random()
                record("present" if roll < 0.82 else "late" if roll < 0.9 else "absent", r)
        for inv in m["_invitations"]:
            if inv["partstat"] == "ACCEPTED" or (
                inv["partstat"] == "TENTATIVE" and self.rng.random() < 0.5
            ):
                record("present" if self.rng.random() < 0.9 else "late", invitation=inv)
        if m["kind"] in ("friday_talk", "sentiment_talk"):
            for _ in range(self.rng.randint(0, 3)):
                record("present", name=data.person_name(self.rng))

    # -- cases, issues, resolutions ---------------------------------------------------------

    def plan_cases(self, block: int) -> None:
        self.block = block
        self.plan_resolved(block)
        for i, level in enumerate(REOPENED_LEVELS):
            self.plan_reopened(block, (block + i * 3) % len(self.communities), level)
        for i, plan in enumerate(OPEN_ISSUE_PLANS):
            self.plan_open_issue(block, (block + i) % len(self.communities), plan, i)
        for i, level in enumerate(LOOSE_CASE_LEVELS):
            self.plan_loose_case(block, i % len(self.communities), level, i)

    def topic(self, category: str, ci: int):
        issue_title, case_titles, description, fix = self.pick(data.TOPICS[category])
        estate = self.pick(self.estates(ci))
        return {
            "estate": estate,
            "issue_title": issue_title.format(estate=estate),
            "case_titles": case_titles,
            "description": description,
            "fix": fix,
            "in_estate": "{estate}" in issue_title,
        }

    def estates(self, ci: int) -> list[str]:
        """Return the housing estates of a community: those with an owners' committee."""
        key = (self.block, ci)
        if key not in self.estate_names:
            self.estate_names[key] = [
                u["name"].removesuffix("业主委员会")
                for u in self.block_units[key]
                if u["kind"] == "owners_committee"
            ] or [self.communities[ci]["_short"] + "小区"]
        return self.estate_names[key]

    def new_case(
        self,
        ci: int,
        topic: dict,
        category: str,
        source: str,
        created: datetime,
        raised_at: dict | None = None,
    ) -> dict:
        key = (self.block, ci)
        community = self.communities[ci]
        building = self.rng.randint(1, 32)
        fill = {"estate": topic["estate"], "building": building}
        reporter = self.pick(self.residents[key]) if source == "session" else None
        case = self.add(
            "cases",
            {
                "reference": None,
                "_ref_community_id": community,
                "grid": f"{community['_short']}第{chinese_number(self.rng.randint(1, 6))}网格",
                "category": category,
                "source": source,
                "title": self.pick(topic["case_titles"]).format(**fill),
                "description": topic["description"].format(**fill),
                "reporter_name": (
                    reporter["name"]
                    if reporter
                    else data.person_name(self.rng)
                    if source != "online" or self.rng.random() < 0.5
                    else None
                ),
                "reporter_phone": None if source == "online" else data.phone_number(self.rng),
                "reported_at": created - timedelta(minutes=self.rng.randint(5, 600))
                if source == "grid"
                else created,
                "level": 1,
                "level_since": created,
                "status": "open",
                "_ref_issue_id": None,
                "_ref_resolution_id": None,
                "_ref_created_by_id": None if source == "grid" else self.cadres[key][1],
                "created_at": created,
                "resolved_at": None,
                "closed_at": None,
                "reopened_at": None,
            },
        )
        if source == "grid":
            n = len(self.rows["cases"])
            local_day = created.astimezone(self.tz)
            case["reference"] = f"WG{local_day:%Y%m%d}{n:06d}"
        case["_ref_meeting_id"] = raised_at if source == "session" else None
        self.event(case, created, "created", None, "open", "", case["_ref_created_by_id"])
        return case

    def event(
        self,
        case: dict,
        at: datetime,
        kind: str,
        old,
        new,
        reason: str,
        actor: dict | None,
        resolution: dict | None = None,
        issue: dict | None = None,
    ) -> None:
        self.add(
            "case_events",
            {
                "_ref_case_id": case,
                "at": at,
                "_ref_actor_id": actor,
                "kind": kind,
                "from_value": None if old is None else str(old),
                "to_value": None if new is None else str(new),
                "reason": reason,
                "_ref_resolution_id": resolution,
                "_issue": issue,
            },
        )

    def raise_level(
        self,
        case: dict,
        level: int,
        start: datetime,
        end: datetime,
        actor: dict | None,
        reason: str | None = None,
    ) -> None:
        """Escalate ``case`` step by step to ``level`` at times spread over [start, end]."""
        steps = level - case["level"]
        for i in range(steps):
            at = start + (end - start) * (i + 1) / (steps + 1)
            at = at.replace(second=0, microsecond=0)
            new = case["level"] + 1
            self.event(
                case, at, "level", case["level"], new, reason or data.LEVEL_REASONS[new], actor
            )
            case["level"], case["level_since"] = new, at

    def new_issue(self, ci: int, topic: dict, cases: list[dict], created: datetime) -> dict:
        key = (self.block, ci)
        issue = self.add(
            "issues",
            {
                "_ref_community_id": self.communities[ci],
                "title": topic["issue_title"],
                "description": cases[0]["description"],
                "status": "open",
                "evaluation_round": 1,
                "_ref_created_by_id": self.cadres[key][0],
                "created_at": created,
                "resolved_at": None,
                "_resolution": None,
            },
        )
        for case in cases:
            case["_ref_issue_id"] = issue
            self.event(
                case,
                created,
                "issue",
                None,
                None,
                topic["issue_title"],
                self.cadres[key][0],
                issue=issue,
            )
        return issue

    def raising_session(
        self, ci: int, before: datetime, since: datetime | None = None
    ) -> dict | None:
        """Return a public session of the community held before ``before``, if any."""
        options = [
            m
            for kind in ("friday_talk", "sentiment_talk", "deliberation")
            for m in self.sessions[(self.block, ci, kind)]
            if m["ends_at"] < before - timedelta(days=1)
            and (since is None or m["starts_at"] > since)
        ]
        return self.pick(options) if options else None

    def cases_for(
        self,
        ci: int,
        topic: dict,
        category: str,
        sources,
        level: int,
        before: datetime,
        earliest_days: int = 45,
        session: dict | None = None,
    ) -> list[dict]:
        """Create cases raised before ``before`` (or at ``session``), escalated to ``level``."""
        cases = []
        for source in sources:
            raised_at = None
            if source == "session":
                raised_at = self.raising_session(ci, before) or session
                source = "session" if raised_at is not None else "walk_in"
            if raised_at is not None and raised_at["ends_at"] < before:
                created = raised_at["ends_at"] - timedelta(minutes=self.rng.randint(10, 60))
                settled = before - timedelta(hours=1)
            elif raised_at is not None:
                # Raised at the very session that handles it.
                created = raised_at["starts_at"] + timedelta(minutes=self.rng.randint(5, 20))
                settled = created + timedelta(minutes=20)
            else:
                created = before - timedelta(
                    minutes=self.rng.randint(2 * 1440, earliest_days * 1440)
                )
                settled = before - timedelta(hours=1)
            case = self.new_case(ci, topic, category, source, created, raised_at)
            self.raise_level(case, level, created, settled, self.cadres[(self.block, ci)][0])
            cases.append(case)
        return cases

    def resolve(
        self,
        session: dict,
        issue: dict,
        cases: list[dict],
        outcome: str,
        text: str,
        title: str | None = None,
        unit: dict | None = None,
    ) -> dict:
        """Put ``issue`` on the agenda of a held session and record its resolution."""
        key = (session["_block"], session["_ci"])
        at = session["ends_at"] - timedelta(minutes=self.rng.randint(5, 30))
        item = self.agenda_item(
            session,
            title or issue["title"],
            issue,
            created=max(issue["created_at"], session["starts_at"] - timedelta(days=3))
            + timedelta(minutes=5),
        )
        resolution = self.add(
            "resolutions",
            {
                "_ref_agenda_item_id": item,
                "text": text,
                "outcome": outcome,
                "_ref_referred_unit_id": unit,
                "_ref_created_by_id": self.secretary[key],
                "created_at": at,
                "_cases": cases,
            },
        )
        item["_resolution"] = resolution
        for case in cases:
            self.add("resolution_cases", {"_ref_resolution_id": resolution, "_ref_case_id": case})
            self.event(
                case,
                at,
                "status",
                case["status"],
                "resolved",
                f"{session['title']}：{outcome_word(outcome)}",
                self.secretary[key],
                resolution=resolution,
            )
            case.update(status="resolved", _ref_resolution_id=resolution, resolved_at=at)
        if outcome == "resolved":
            issue.update(status="resolved", resolved_at=at, _resolution=resolution)
        return resolution

    def evaluate(
        self, issue: dict, ci: int, ratings: list[str], after: datetime, until: datetime
    ) -> datetime:
        """Record the representatives' ratings of ``issue`` between two instants."""
        raters = self.rng.sample(self.representatives[(self.block, ci)], len(ratings))
        last = after
        for user, rating in zip(raters, ratings, strict=True):
            at = self.between(after + timedelta(hours=2), until)
            last = max(last, at)
            self.add(
                "evaluations",
                {
                    "_ref_issue_id": issue,
                    "_ref_user_id": user,
                    "round": issue["evaluation_round"],
                    "rating": rating,
                    "comment": self.pick(data.EVALUATION_COMMENTS[rating]),
                    "created_at": at,
                },
            )
        return last

    def close_or_wait(self, issue: dict, ci: int, resolved_at: datetime) -> None:
        """Let the representatives judge a resolved issue, closing it when they accept it."""
        age = self.now - resolved_at
        good = ["satisfied", "satisfied", "basically_satisfied", "satisfied"]
        if age > timedelta(days=14):
            ratings = self.rng.sample(good, 3)
            if self.rng.random() < 0.15:
                ratings[2] = "unsatisfied"
            last = self.evaluate(issue, ci, ratings, resolved_at, resolved_at + timedelta(days=10))
            issue["status"] = "closed"
            for case in issue["_cases"]:
                self.event(case, last, "status", "resolved", "closed", data.CLOSE_REASON, None)
                case.update(status="closed", closed_at=last)
        elif age > timedelta(days=4):
            self.evaluate(
                issue,
                ci,
                self.rng.sample(good, self.rng.randint(1, 2)),
                resolved_at,
                self.now - timedelta(hours=1),
            )

    def responsible_unit(self, ci: int, topic: dict) -> dict:
        """Pick the alliance unit that helps carry out a decision on ``topic``."""
        kinds = (
            ("property_company", "owners_committee")
            if topic["in_estate"]
            else ("government_agency", "social_organisation")
        )
        units = [u for u in self.block_units[(self.block, ci)] if u["kind"] in kinds]
        return self.pick(units)

    def plan_actions(self, resolution: dict, ci: int, session: dict, fix: str, lead: dict) -> None:
        key = (self.block, ci)
        at = resolution["created_at"]
        count = 1 if session["kind"] in ("friday_talk", "sentiment_talk", "mediation") else 2
        for n in range(count):
            if session["kind"] == "mediation":
                unit, assignee = None, self.cadres[key][n % CADRES]
                description = "回访调解协议履行情况"
            else:
                unit, assignee = lead, None
                description = fix if n == 0 else "向居民代表通报办理结果"
            due = at.astimezone(self.tz).date() + timedelta(days=self.rng.randint(7, 21))
            status, done_at, done_by, note = "open", None, None, ""
            if due < self.today and self.rng.random() < 0.9:
                status = "done"
                done_at = self.between(
                    at + timedelta(days=1), min(self.local(due, 18), self.now - timedelta(hours=1))
                )
                done_by = unit["_rep"] if unit else assignee
                note = self.pick(data.ACTION_NOTES)
            elif due < self.today and self.rng.random() < 0.3:
                status = "cancelled"
            self.add(
                "action_items",
                {
                    "_ref_resolution_id": resolution,
                    "description": description,
                    "_ref_unit_id": unit,
                    "_ref_assignee_id": assignee,
                    "due_on": due,
                    "status": status,
                    "done_at": done_at,
                    "_ref_done_by_id": done_by,
                    "done_note": note,
                    "created_at": at,
                },
            )

    def resolution_text(self, kind: str, fix: str, unit: dict) -> str:
        if kind == "mediation":
            return f"调解达成一致：{fix}。双方当事人签字确认，网格员定期回访。"
        if kind in ("friday_talk", "sentiment_talk"):
            return f"现场协调处理：{fix}。网格员跟踪回访。"
        return f"经协商议定：{fix}。{unit['name']}配合落实，网格员跟踪回访。"

    def plan_resolved(self, block: int) -> None:
        """Plan the resolved cases and issues behind the published figures."""
        groups: dict[tuple[str, str, int], list[str]] = defaultdict(list)
        for category, source, level, kind, number in RESOLVED_CASES:
            groups[(kind, category, level)] += [source] * number
        keys = list(groups)
        shares = _apportion([len(groups[k]) for k in keys], RESOLVED_ISSUES)
        plans = []
        for key, share in zip(keys, shares, strict=True):
            sources = groups[key]
            self.rng.shuffle(sources)
            sizes = [1] * share
            for _ in range(len(sources) - share):
                sizes[self.rng.randrange(share)] += 1
            offset = self.rng.randrange(len(self.communities))
            for n, size in enumerate(sizes):
                plans.append((key, sources[:size], (offset + n) % len(self.communities)))
                sources = sources[size:]
        self.rng.shuffle(plans)
        turn: dict[tuple[int, str], int] = defaultdict(int)
        reresolved = False
        for (kind, category, level), sources, ci in plans:
            held = self.sessions[(block, ci, kind)]
            if not held:
                raise DemoError(f"No past {kind} session to resolve cases at.")
            start = self.rng.randrange(len(held))
            session = held[(start + turn[(ci, kind)]) % len(held)]
            turn[(ci, kind)] += 1
            earlier = None
            if not reresolved and kind != "mediation":
                earlier = self.earlier_session(block, ci, session)
                reresolved = earlier is not None
            self.plan_one_resolved(ci, kind, category, level, sources, session, earlier)

    def earlier_session(self, block: int, ci: int, session: dict) -> dict | None:
        options = [
            m
            for kind in ("deliberation", "roundtable", "friday_talk")
            for m in self.sessions[(block, ci, kind)]
            if m["ends_at"] + timedelta(days=12) < session["starts_at"]
        ]
        return max(options, key=lambda m: m["starts_at"]) if options else None

    def plan_one_resolved(
        self,
        ci: int,
        kind: str,
        category: str,
        level: int,
        sources,
        session: dict,
        earlier: dict | None,
    ) -> None:
        topic = self.topic(category, ci)
        first = earlier or session
        cases = self.cases_for(
            ci, topic, category, sources, level, first["starts_at"], session=first
        )
        created = max(c["created_at"] for c in cases) + timedelta(hours=self.rng.randint(1, 30))
        created = min(created, first["starts_at"] - timedelta(hours=1))
        created = max(created, max(c["created_at"] for c in cases) + timedelta(minutes=5))
        issue = self.new_issue(ci, topic, cases, created)
        issue["_cases"] = cases
        unit = self.responsible_unit(ci, topic)
        text = self.resolution_text(kind, topic["fix"], unit)
        if earlier is not None:
            # Resolved once, judged poorly by the representatives, reopened, then resolved
            # again at a later session and accepted.
            first_text = self.resolution_text(earlier["kind"], topic["fix"], unit)
            r1 = self.resolve(earlier, issue, cases, "resolved", first_text)
            last = self.evaluate(
                issue,
                ci,
                ["unsatisfied", "unsatisfied", "basically_satisfied"],
                r1["created_at"],
                session["starts_at"] - timedelta(days=2),
            )
            self.reopen(issue, cases, last + timedelta(hours=3))
            resolution = self.resolve(
                session, issue, cases, "resolved", text, title=f"复议：{issue['title']}"
            )
        else:
            resolution = self.resolve(session, issue, cases, "resolved", text)
        if kind not in ("friday_talk", "sentiment_talk") or self.rng.random() < 0.3:
            self.plan_actions(resolution, ci, session, topic["fix"], unit)
        self.close_or_wait(issue, ci, resolution["created_at"])

    def reopen(self, issue: dict, cases: list[dict], at: datetime) -> None:
        issue.update(
            status="reopened",
            resolved_at=None,
            _resolution=None,
            evaluation_round=issue["evaluation_round"] + 1,
        )
        for case in cases:
            self.event(case, at, "status", "resolved", "reopened", data.REOPEN_REASON, None)
            case.update(
                status="reopened", _ref_resolution_id=None, resolved_at=None, reopened_at=at
            )

    def plan_reopened(self, block: int, ci: int, level: int) -> None:
        """Plan an issue resolved, then reopened by a mostly unsatisfied evaluation."""
        first_level = min(level, 3)
        kind = KIND_FOR_LEVEL[first_level]
        held = [
            m
            for m in self.sessions[(block, ci, kind)]
            if m["ends_at"] < self.now - timedelta(days=20)
        ]
        if not held:
            raise DemoError(f"No {kind} session old enough for a reopened issue.")
        session = self.pick(held)
        category = CATEGORIES[level % 3]
        topic = self.topic(category, ci)
        sources = [SOURCES[(level + n) % len(SOURCES)] for n in range(1 + level % 2)]
        cases = self.cases_for(
            ci, topic, category, sources, first_level, session["starts_at"], session=session
        )
        issue = self.new_issue(
            ci, topic, cases, max(c["created_at"] for c in cases) + timedelta(minutes=5)
        )
        issue["_cases"] = cases
        unit = self.responsible_unit(ci, topic)
        resolution = self.resolve(
            session, issue, cases, "resolved", self.resolution_text(kind, topic["fix"], unit)
        )
        self.plan_actions(resolution, ci, session, topic["fix"], unit)
        ratings = ["unsatisfied", "basically_satisfied", "unsatisfied"]
        last = self.evaluate(
            issue,
            ci,
            ratings,
            resolution["created_at"],
            resolution["created_at"] + timedelta(days=10),
        )
        reopened = last + timedelta(hours=3)
        self.reopen(issue, cases, reopened)
        cadre = self.cadres[(block, ci)][0]
        for case in cases:
            if level > case["level"]:
                self.raise_level(
                    case,
                    level,
                    reopened,
                    min(reopened + timedelta(days=3), self.now - timedelta(hours=1)),
                    cadre,
                )
        coming = self.upcoming[(block, ci, KIND_FOR_LEVEL[level])]
        if coming:
            self.agenda_item(
                coming[0],
                f"复议：{issue['title']}",
                issue,
                created=min(reopened + timedelta(days=1), self.now),
            )

    def plan_open_issue(self, block: int, ci: int, plan: str, i: int) -> None:
        """Plan an issue still being handled: planned, deferred, escalated or referred."""
        level = 1 + i % 3 if plan == "escalated" else 1 + i % 4
        category = CATEGORIES[i % 3]
        topic = self.topic(category, ci)
        sources = [SOURCES[(i + n) % len(SOURCES)] for n in range(1 + i % 3)]
        cadre = self.cadres[(block, ci)][0]
        kind = KIND_FOR_LEVEL[level]
        if plan == "planned":
            before = self.days_ago(1, 4)
            cases = self.cases_for(ci, topic, category, sources, level, before, 20)
            issue = self.new_issue(ci, topic, cases, before)
        else:
            held = [
                m
                for m in self.sessions[(block, ci, kind)]
                if self.now - timedelta(days=60) < m["starts_at"]
                and m["ends_at"] < self.now - timedelta(days=2)
            ]
            held = held or self.sessions[(block, ci, kind)]
            session = self.pick(held)
            cases = self.cases_for(
                ci, topic, category, sources, level, session["starts_at"], session=session
            )
            issue = self.new_issue(
                ci, topic, cases, max(c["created_at"] for c in cases) + timedelta(minutes=5)
            )
            unit = self.responsible_unit(ci, topic)
            if plan == "deferred":
                text = "情况尚需进一步核实，责成网格员会同相关单位调查，下次会议继续讨论。"
                self.resolve(session, issue, [], "deferred", text)
            elif plan == "escalated":
                text = f"本级难以解决，提交{LEVEL_BODIES[level + 1]}协调处理。"
                resolution = self.resolve(session, issue, [], "escalated", text)
                for case in cases:
                    self.raise_level(
                        case,
                        level + 1,
                        resolution["created_at"],
                        resolution["created_at"] + timedelta(hours=2),
                        cadre,
                        f"{session['title']}决定提级处理",
                    )
                kind = KIND_FOR_LEVEL[level + 1]
            else:
                text = f"交由{unit['name']}办理：{topic['fix']}，限期反馈。"
                resolution = self.resolve(session, issue, [], "referred", text, unit=unit)
                due = session["ends_at"].astimezone(self.tz).date() + timedelta(days=21)
                action = self.add(
                    "action_items",
                    {
                        "_ref_resolution_id": resolution,
                        "description": topic["fix"],
                        "_ref_unit_id": unit,
                        "_ref_assignee_id": None,
                        "due_on": due,
                        "status": "open",
                        "done_at": None,
                        "_ref_done_by_id": None,
                        "done_note": "",
                        "created_at": resolution["created_at"],
                    },
                )
                follow_up = self.upcoming[(block, ci, "roundtable")]
                if follow_up:
                    self.agenda_item(
                        follow_up[0],
                        f"跟进：{topic['fix']}",
                        issue,
                        carried=action,
                        table="carried_items",
                    )
                return
        coming = self.upcoming[(block, ci, kind)]
        if coming:
            self.agenda_item(coming[0], issue["title"], issue)

    def plan_loose_case(self, block: int, ci: int, level: int, i: int) -> None:
        """Plan a fresh case not yet put to any session."""
        category = CATEGORIES[i % 3]
        topic = self.topic(category, ci)
        source = SOURCES[i % len(SOURCES)]
        created = self.days_ago(0.5, 25)
        raised_at = (
            self.raising_session(ci, self.now, self.now - timedelta(days=25))
            if source == "session"
            else None
        )
        if raised_at is not None:
            created = raised_at["ends_at"] - timedelta(minutes=20)
        case = self.new_case(ci, topic, category, source, created, raised_at)
        self.raise_level(
            case, level, created, self.now - timedelta(hours=1), self.cadres[(block, ci)][0]
        )

    # -- minutes ----------------------------------------------------------------------------

    def plan_minutes(self) -> None:
        for m in self.rows["meetings"]:
            if m["status"] != "held":
                continue
            key = (m["_block"], m["_ci"])
            secretary, cadre = self.secretary[key], self.cadres[key][0]
            residents = self.residents[key]
            for item in m.get("_items", []):
                resolution = item.get("_resolution")
                if item["_ref_issue_id"] is None:
                    text = f"{cadre['name']}：{item['title']}。"
                else:
                    text = (
                        f"{self.pick(residents)['name']}：{self.pick(data.SPEECHES)}\n\n"
                        f"{cadre['name']}：{self.pick(data.REPLIES)}"
                    )
                if resolution is not None:
                    text += f"\n\n**决议**：{resolution['text']}"
                item["_notes"] = text
            age = self.now - m["ends_at"]
            status = (
                "draft"
                if age < timedelta(days=3)
                else "approved"
                if age < timedelta(days=10) or m["kind"] == "mediation"
                else "published"
            )
            versions = self.rng.randint(1, 2 if status == "draft" else 3)
            minutes = self.add(
                "minutes",
                {
                    "_ref_meeting_id": m,
                    "status": status,
                    "version": versions,
                    "notes": None,
                    "_ref_updated_by_id": secretary,
                    "updated_at": m["ends_at"] + timedelta(hours=3 * versions),
                    "_ref_approved_by_id": cadre if status != "draft" else None,
                    "approved_at": m["ends_at"] + timedelta(days=2) if status != "draft" else None,
                    "_ref_published_by_id": cadre if status == "published" else None,
                    "published_at": (
                        m["ends_at"] + timedelta(days=4) if status == "published" else None
                    ),
                    "_items": m.get("_items", []),
                },
            )
            for v in range(1, versions + 1):
                self.add(
                    "minutes_revisions",
                    {
                        "_ref_minutes_id": minutes,
                        "version": v,
                        "notes": None,
                        "_ref_author_id": secretary,
                        "created_at": m["ends_at"] + timedelta(hours=3 * v),
                        "_items": minutes["_items"],
                        "_share": v / versions,
                    },
                )

    # -- writing ------------------------------------------------------------------------------

    def add_reach(self) -> None:
        """Group-chat channels, and votes on decisions of past meetings."""
        from consult.demo import reach

        reach.add_channels(self.communities, self.now)
        secretaries = {}
        for (block, ci), row in self.secretary.items():
            if block == 0:
                secretaries[self.communities[ci]["id"]] = db.session.get(User, row["id"])
        reach.add_votes([c["id"] for c in self.communities], secretaries, self.rng)

    def write(self) -> None:
        rows = self.rows
        _bulk_insert(Community, rows["communities"])
        _bulk_insert(Unit, rows["units"])
        _bulk_insert(Venue, rows["venues"])
        _bulk_insert(User, rows["users"])
        _bulk_insert(Membership, rows["memberships"], ids=False)
        _bulk_insert(AllianceMember, rows["alliance_members"], ids=False)
        _bulk_insert(Agreement, rows["agreements"], ids=False)
        _bulk_insert(Series, rows["series"])
        _bulk_insert(Meeting, rows["meetings"])
        _bulk_insert(Registration, rows["registrations"])
        _bulk_insert(Invitation, rows["invitations"])
        _bulk_insert(Attendance, rows["attendance"], ids=False)
        _bulk_insert(Issue, rows["issues"])
        _bulk_insert(AgendaItem, rows["agenda_items"])
        _bulk_insert(Resolution, rows["resolutions"])
        _bulk_insert(Case, rows["cases"])
        _bulk_insert(resolution_cases, rows["resolution_cases"], ids=False)
        resolved = [
            {"id": i["id"], "resolution_id": i["_resolution"]["id"]}
            for i in rows["issues"]
            if i["_resolution"] is not None
        ]
        if resolved:
            db.session.execute(update(Issue), resolved)
        _bulk_insert(ActionItem, rows["action_items"])
        _bulk_insert(AgendaItem, rows["carried_items"], ids=False)
        for minutes in rows["minutes"]:
            minutes["notes"] = _notes(minutes["_items"], 1.0)
        for revision in rows["minutes_revisions"]:
            revision["notes"] = _notes(revision["_items"], revision["_share"])
        _bulk_insert(Minutes, rows["minutes"])
        _bulk_insert(MinutesRevision, rows["minutes_revisions"], ids=False)
        # Timelines in the order things happened, so ids follow time as well.
        rows["case_events"].sort(key=lambda e: e["at"])
        for event in rows["case_events"]:
            if event["_issue"] is not None:
                event["to_value"] = str(event["_issue"]["id"])
        _bulk_insert(CaseEvent, rows["case_events"], ids=False)
        _bulk_insert(Evaluation, rows["evaluations"], ids=False)


def _notes(items: list[dict], share: float) -> dict:
    """Return minutes notes for the first ``share`` of the agenda items (a draft's progress)."""
    count = max(1, round(len(items) * share)) if items else 0
    return {str(item["id"]): item["_notes"] for item in items[:count] if item["_notes"]}


def outcome_word(outcome: str) -> str:
    return {"resolved": "议定解决", "deferred": "暂缓", "escalated": "提级", "referred": "转办"}[
        outcome
    ]


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """Return the n-th (1-based; -1: last) ``weekday`` (0 = Monday) of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    following = date(year + (month == 12), month % 12 + 1, 1)
    last = following - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _apportion(sizes: list[int], total: int) -> list[int]:
    """Split ``total`` into shares proportional to ``sizes``, each in [1, size]."""
    whole = sum(sizes)
    if not len(sizes) <= total <= whole:
        raise DemoError("The demo figures cannot be split into that many issues.")
    quotas = [s * total / whole for s in sizes]
    shares = [min(s, max(1, int(q))) for s, q in zip(sizes, quotas, strict=True)]
    while sum(shares) < total:
        i = max(
            (i for i in range(len(sizes)) if shares[i] < sizes[i]),
            key=lambda i: quotas[i] - shares[i],
        )
        shares[i] += 1
    while sum(shares) > total:
        i = min(
            (i for i in range(len(sizes)) if shares[i] > 1), key=lambda i: quotas[i] - shares[i]
        )
        shares[i] -= 1
    return shares
