"""Extensions, created unbound and bound to the application in create_app()."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

from flask_babel import Babel
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, Table, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase

#: Stable constraint names, so that migrations can name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
#: How long a SQLite connection waits for a lock (milliseconds) before "database is locked".
SQLITE_BUSY_MS = 30000


def table_of(model) -> Table:
    """The table of a mapped class, for a Core statement written once where the ORM's
    unit of work would cost more than the row (type checkers see ``__table__`` as any
    FROM clause)."""
    return cast(Table, model.__table__)


if TYPE_CHECKING:
    #: What the models derive from: ``db.Model``, which type checkers see as ``Base``.
    Model = Base
else:
    Model = db.Model
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
api = Api()
#: Rendered calendars (consult.calendar.cache); configured by consult.config.cache_options.
cache = Cache()


#: A pooled connection to PostgreSQL that has waited this long (seconds) since its last
#: use is pinged before it is used again (a server restarted or a link dropped shows on
#: an idle connection); one taken again at once, as under load, is not.
PING_AFTER_IDLE = 1.0
_IDLE_SINCE = "consult.idle_since"


def ping_after_idle(engine: Engine) -> None:
    """Have ``engine``'s pool ping a PostgreSQL connection idle PING_AFTER_IDLE or longer
    when it is checked out, and replace one that does not answer (SQLAlchemy's
    ``pool_pre_ping`` pings at every checkout: a round trip a request). Called once per
    engine, when the application is made."""
    dialect = engine.dialect
    if dialect.name != "postgresql":
        return

    def ping(dbapi_connection, record, proxy) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return  # new, or back in use at once
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            # The pool drops this connection and connects afresh.
            raise DisconnectionError("an idle connection did not answer its ping") from exc

    event.listen(engine.pool, "checkin", _note_idle)
    event.listen(engine.pool, "checkout", ping)


def _note_idle(dbapi_connection, record) -> None:
    if record is not None:
        record.info[_IDLE_SINCE] = time.monotonic()


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    """Turn on foreign keys, WAL and a busy timeout, and let SQLAlchemy own transactions.

    pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; with
    isolation_level=None and the "begin" hook below, every transaction starts where
    SQLAlchemy says it does (the documented recipe for SQLite).
    """
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    if conn.dialect.name == "sqlite":
        # IMMEDIATE takes the write lock at the start, so two writers queue on the busy
        # timeout instead of failing with "database is locked" when one upgrades a read.
        options = conn.get_execution_options()
        mode = options.get("sqlite_begin", "DEFERRED")
        # A transaction that may wait less than the busy timeout for the lock
        # (consult.transactions.begin's ``wait``); the write lock, once taken, is not
        # waited for again, so the connection gets its usual timeout back right away.
        busy_ms = options.get("sqlite_busy_ms")
        if busy_ms is None:
            conn.exec_driver_sql(f"BEGIN {mode}")
            return
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(busy_ms)}")
        try:
            conn.exec_driver_sql(f"BEGIN {mode}")
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
