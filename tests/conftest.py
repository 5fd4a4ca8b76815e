"""Fixtures: a database built by the real migrations, an app, clients, mail, factories.

The suite runs on SQLite by default. With CONSULT_TEST_DATABASE_URL set (a PostgreSQL
database that may be wiped), it runs on that database instead; `.ci/run` does both.
Each test starts from empty tables: after it, every table is emptied (the schema
stays, built once per run by `flask db upgrade`), so tests may commit for real and
several connections, processes and servers can share the database.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import g, has_app_context
from flask.testing import FlaskClient
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


def _empty_all_tables(app) -> None:
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in db.metadata.sorted_tables]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
                for name in reversed(tables):
                    conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608 (table names)
        db.engine.dispose()


@pytest.fixture
def app_config(database_url) -> dict:
    """Configuration for the test app; tests may change it before asking for `app`."""
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


@pytest.fixture
def app(app_config):
    application = create_app(app_config)
    application.test_client_class = FreshRequestClient
    ctx = application.app_context()
    ctx.push()
    try:
        yield application
    finally:
        db.session.remove()
        ctx.pop()
        _empty_all_tables(application)


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
                .startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE"))
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
