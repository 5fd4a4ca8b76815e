"""Fixtures: a database built by the real migrations, an app, clients, mail, factories.

The suite runs on SQLite by default. With CONSULT_TEST_DATABASE_URL set (a PostgreSQL
database that may be wiped), it runs on that database instead; `.ci/run` does both.

The schema is built once per run by `flask db upgrade`, and one application is made
per configuration and reused (its configuration is restored after each test). Each
test runs inside one outer transaction on one connection, which is rolled back at
its end: the code's own commits become SAVEPOINT releases, so the write boundary,
refusals and rollbacks behave as in production while nothing outlives the test.

Tests that need real commits seen by other connections (a served app, threads or
processes racing, commands run as subprocesses) are marked ``real_commits`` (those
using ``live_server`` are, without saying so): they commit for real, and every table
is emptied after them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import g, has_app_context
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import create_engine, make_url, text

from consult import create_app
from consult.extensions import db

PG_URL = os.environ.get("CONSULT_TEST_DATABASE_URL") or None

# The browser fixtures (live_server, page) for any test folder.
pytest_plugins = ["tests.browser_fixtures"]


def _normalise(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """Create the test database with the real migrations, once per run."""
    if PG_URL:
        url = _normalise(PG_URL)
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker:
            # Each pytest-xdist worker gets its own database beside the one named.
            given = make_url(url)
            url = given.set(database=f"{given.database}_{worker}").render_as_string(False)
            server = create_engine(given, isolation_level="AUTOCOMMIT")
            with server.connect() as conn:
                name = make_url(url).database
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            server.dispose()
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'consult-test.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    return url


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


def empty_all_tables(app) -> None:
    """Empty every table and restart the id sequences (after a real-commits test).

    DELETE, not TRUNCATE: on PostgreSQL, TRUNCATE of every table costs ~0.6 s, while
    deleting the few rows a test made costs milliseconds.
    """
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in db.metadata.sorted_tables]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Foreign keys form cycles (cases and resolutions): skip their checks
                # while emptying, as a restore does (the suite's user owns the database).
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                for name in reversed(tables):
                    conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608 (table names)
                sequences = conn.execute(
                    text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
                ).scalars()
                for name in sequences:
                    conn.execute(text(f"ALTER SEQUENCE {name} RESTART"))
            else:
                conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
                for name in reversed(tables):
                    conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608 (table names)


def test_config(database_url: str) -> dict:
    """The configuration of the tests' application."""
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SERVER_NAME": None,
        "RATELIMIT_ENABLED": False,
        "SMTP_HOST": None,
        "BASE_URL": "http://consult.test",
        # The suite reads pages and mail in English unless a test asks otherwise; the
        # installation's default (zh_CN) has tests of its own.
        "DEFAULT_LANGUAGE": "en",
    }


test_config.__test__ = False  # a helper, not a test


@pytest.fixture
def app_config(database_url) -> dict:
    """Configuration for the test app; tests may change it before asking for `app`."""
    return test_config(database_url)


class FreshRequestClient(FlaskClient):
    """A test client whose every request starts with an empty ``g``, as when served.

    The test's application context stays pushed (factories use the database), and a
    request reuses it; without this, what one request cached in ``g`` (the signed-in
    user, the CSRF token, the language) would leak into the next.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            g.__dict__.clear()
        return super().open(*args, **kwargs)


#: One application per distinct configuration, for the whole run, with the state
#: Flask-Limiter keeps on its one object for the application initialised last.
_APPLICATIONS: dict[str, tuple[object, dict]] = {}


def application_for(config: dict, own: bool = False):
    """Return the application made for ``config``, making it the first time.

    ``own``: a new application, which no other test shares (for tests that add routes
    that others would see).
    """
    from consult.extensions import limiter

    if own:
        application = create_app(dict(config))
        application.test_client_class = FreshRequestClient
        return application
    key = repr(sorted(config.items(), key=lambda item: item[0]))
    if key not in _APPLICATIONS:
        application = create_app(dict(config))
        application.test_client_class = FreshRequestClient
        _APPLICATIONS[key] = (application, dict(limiter.__dict__))
    application, limiter_state = _APPLICATIONS[key]
    limiter.__dict__.update(limiter_state)
    return application


def worker_redis_url(purpose: int) -> str:
    """A Redis database of its own for each test worker and ``purpose`` (0: the mail
    queue's tests, 1: the two-server tests), for tests that empty and read a whole
    database: databases 1 to 10, five workers for each purpose."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    n = int(worker[2:]) if worker[2:].isdigit() else 0
    return f"redis://127.0.0.1:6379/{1 + purpose * 5 + n % 5}"


def add_test_route(app, rule: str, endpoint: str, view, **options) -> None:
    """Give the (shared) test application a route of a test's own, once.

    The applications are reused across tests, so Flask's guard against adding routes
    after the first request is lifted for this; the route stays for later tests.
    """
    if endpoint in app.view_functions:
        return
    app._got_first_request = False
    app.add_url_rule(rule, endpoint, view, **options)
    app.extensions.setdefault("test_routes", set()).add(endpoint)


def is_test_route(app, endpoint: str) -> bool:
    """Whether ``endpoint`` was added by a test (``add_test_route``), not by Consult."""
    return endpoint in app.extensions.get("test_routes", ())


def needs_real_commits(request) -> bool:
    return (
        request.node.get_closest_marker("real_commits") is not None
        or "live_server" in request.fixturenames
    )


class _BoundSession(FlaskSession):
    """Flask-SQLAlchemy's session, bound to the test's connection when given one.

    (Flask-SQLAlchemy's ``get_bind`` picks the application's engine before looking at
    the session's own ``bind``.)
    """

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and self.bind is not None:
            return self.bind
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


class _TestTransaction:
    """Bind the database session to one connection whose outer transaction is undone.

    ``create_savepoint``: the session's commits and rollbacks work on SAVEPOINTs inside
    the outer transaction, which the test's end rolls back (SQLAlchemy's recipe for
    joining a session into an external transaction).
    """

    def __init__(self, application):
        self.factory = db.session.session_factory
        self.saved = (self.factory.class_, dict(self.factory.kw))
        self.factory.class_ = _BoundSession
        self.connection = db.engine.connect()
        self.outer = self.connection.begin()
        db.session.remove()
        self.factory.configure(bind=self.connection, join_transaction_mode="create_savepoint")

    def close(self) -> None:
        db.session.remove()
        self.factory.class_, self.factory.kw = self.saved
        if self.outer.is_active:
            self.outer.rollback()
        self.connection.close()


@pytest.fixture
def app(request, app_config):
    own = request.node.get_closest_marker("own_app") is not None
    application = application_for(app_config, own=own)
    saved_config = dict(application.config)
    real = needs_real_commits(request)
    ctx = application.app_context()
    ctx.push()
    _reset_process_state(application)
    transaction = None if real else _TestTransaction(application)
    try:
        yield application
    finally:
        if transaction is not None:
            transaction.close()
        db.session.remove()
        ctx.pop()
        application.config.clear()
        application.config.update(saved_config)
        if real:
            empty_all_tables(application)


def _reset_process_state(application) -> None:
    """Forget what an earlier test left in the application's memory (rate-limit counts,
    rendered calendars)."""
    from consult.extensions import cache, limiter

    with application.app_context():
        if application.config.get("CACHE_TYPE", "SimpleCache") == "SimpleCache":
            cache.clear()

    storage = application.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    if application.config.get("RATELIMIT_ENABLED", True) and storage.startswith("memory"):
        limiter.reset()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


def login(client, email: str, password: str = "secret-pw"):
    """Sign in through the real form, CSRF token included."""
    page = client.get("/login")
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def login_as(client):
    def _login(user, password: str = "secret-pw"):
        response = login(client, user.email, password)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return _login


@dataclass
class ApiClient:
    """A test client that sends a Bearer token and JSON bodies."""

    client: object
    token: str | None

    def _headers(self, headers=None):
        out = dict(headers or {})
        if self.token:
            out.setdefault("Authorization", f"Bearer {self.token}")
        return out

    def get(self, url, **kw):
        return self.client.get(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, url, **kw):
        return self.client.delete(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, url, json=None, **kw):
        return self.client.post(
            url, json=json, headers=self._headers(kw.pop("headers", None)), **kw
        )

    def patch(self, url, json=None, **kw):
        return self.client.patch(
            url, json=json, headers=self._headers(kw.pop("headers", None)), **kw
        )

    def put(self, url, json=None, **kw):
        return self.client.put(url, json=json, headers=self._headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def api_as(app):
    """Return a factory: api_as(user) gives an ApiClient authenticated as that user."""
    from consult.accounts.operations import create_api_token

    def _api(user=None):
        token = None
        if user is not None:
            token = create_api_token(user)
            db.session.commit()
        return ApiClient(app.test_client(), token)

    return _api


@pytest.fixture
def factories(app):
    from tests import factories as f

    return f


# -- mail: a real SMTP server on a loopback port -------------------------------------


@pytest.fixture
def smtp_server():
    """Run aiosmtpd on a free port of 127.0.0.1 and collect what it receives."""
    from tests.mail.sink import running_sink

    with running_sink() as sink:
        yield sink


# -- query counting --------------------------------------------------------------------


@pytest.fixture
def count_queries(app):
    """Return a context manager counting the SQL statements run inside it.

    with count_queries() as counted:
        client.get("/")
    assert counted.n == 4
    """
    from contextlib import contextmanager

    from sqlalchemy import event

    @contextmanager
    def _count():
        class Counted:
            n = 0
            statements: list[str] = []

        counted = Counted()
        counted.statements = []
        engine = db.engine

        def before(conn, cursor, statement, parameters, context, executemany):
            if (
                statement.lstrip()
                .upper()
                .startswith(
                    ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SET ", "SAVEPOINT", "RELEASE")
                )
            ):
                return
            counted.n += 1
            counted.statements.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counted
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return _count


# -- translations: compile the catalogues the tests read -------------------------------


@pytest.fixture(scope="session", autouse=True)
def compiled_translations():
    """Compile each messages.po that is newer than its .mo (a fresh clone has no .mo)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in Path(__file__).parent.parent.glob("consult/translations/*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as src:
                catalog = read_po(src, locale=po.parent.parent.name)
            partial = mo.with_name(f".{mo.name}.{os.getpid()}")
            with partial.open("wb") as out:
                write_mo(out, catalog)
            partial.replace(mo)  # atomic: another run may be reading it
