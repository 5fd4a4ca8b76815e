"""A database that stops answering fails requests fast instead of freezing the site."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from consult import create_app
from consult.config import engine_options
from tests.blackhole import BlackholeProxy

PG_URL = os.environ.get("CONSULT_TEST_DATABASE_URL")
needs_postgres = pytest.mark.skipif(not PG_URL, reason="CONSULT_TEST_DATABASE_URL is not set")


def _timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_healthz_is_503_fast_when_sqlite_cannot_be_opened(tmp_path):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/no/such/dir/x.db",
            "TESTING": True,
            "SECRET_KEY": "k",
            "HEALTHZ_TIMEOUT": 1,
        }
    )
    response, took = _timed(lambda: app.test_client().get("/healthz"))
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "error": "the database does not answer"}
    assert took < 2


@needs_postgres
@pytest.mark.postgres
def test_postgresql_waits_are_bounded_by_the_configuration(database_url):
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "DATABASE_CONNECT_TIMEOUT": 3,
        "DATABASE_STATEMENT_TIMEOUT": 1,
        "DATABASE_KEEPALIVE_SECONDS": 15,
    }
    options = engine_options(config)
    args = options["connect_args"]
    assert (args["connect_timeout"], args["keepalives"], args["keepalives_idle"]) == (3, 1, 15)
    assert args["tcp_user_timeout"] == 15_000
    engine = create_engine(database_url, **options)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1s"
            _, took = _timed(
                lambda: pytest.raises(OperationalError, conn.execute, text("SELECT pg_sleep(10)"))
            )
            assert took < 5
    finally:
        engine.dispose()


@needs_postgres
@pytest.mark.postgres
def test_the_statement_timeout_can_be_turned_off(database_url):
    options = engine_options(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "DATABASE_CONNECT_TIMEOUT": 3,
            "DATABASE_STATEMENT_TIMEOUT": 0,
            "DATABASE_KEEPALIVE_SECONDS": 30,
        }
    )
    assert "options" not in options["connect_args"]


@needs_postgres
@pytest.mark.postgres
def test_a_blackholed_database_makes_healthz_503_fast_and_connects_time_out(database_url):
    url = make_url(database_url)
    with BlackholeProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": through,
                "TESTING": True,
                "SECRET_KEY": "k",
                "HEALTHZ_TIMEOUT": 1,
                "DATABASE_CONNECT_TIMEOUT": 2,
            }
        )
        client = app.test_client()
        assert client.get("/healthz").status_code == 200

        proxy.cut()
        # The pooled connection now hangs: the check gives up after HEALTHZ_TIMEOUT...
        response, took = _timed(lambda: client.get("/healthz"))
        assert response.status_code == 503 and took < 3
        assert response.get_json()["status"] == "unavailable"
        # ...and so does the next one, while the first probe still hangs.
        response, took = _timed(lambda: client.get("/healthz"))
        assert response.status_code == 503 and took < 3
        # A new connection gives up after DATABASE_CONNECT_TIMEOUT.
        with app.app_context():
            from consult.extensions import db

            engine = create_engine(through, **app.config["SQLALCHEMY_ENGINE_OPTIONS"])
            try:
                _, took = _timed(lambda: pytest.raises(OperationalError, engine.connect))
            finally:
                engine.dispose()
            assert took < 6

            proxy.restore()
            deadline = time.monotonic() + 15
            while client.get("/healthz").status_code != 200:
                assert time.monotonic() < deadline, "healthz did not recover"
                time.sleep(0.2)
            db.engine.dispose()


def test_an_address_where_nothing_listens_is_503_fast():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://postgres@127.0.0.1:{port}/x",
            "TESTING": True,
            "SECRET_KEY": "k",
            "HEALTHZ_TIMEOUT": 1,
            "DATABASE_CONNECT_TIMEOUT": 2,
        }
    )
    response, took = _timed(lambda: app.test_client().get("/healthz"))
    assert response.status_code == 503 and took < 3


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_CONNECT_TIMEOUT", "0"),
        ("DATABASE_STATEMENT_TIMEOUT", "-1"),
        ("DATABASE_KEEPALIVE_SECONDS", "soon"),
        ("HEALTHZ_TIMEOUT", "600"),
        ("TRUSTED_PROXIES", "-1"),
        ("MAX_CONTENT_LENGTH", "lots"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(monkeypatch, tmp_path, name, value):
    from consult.config import ConfigError, load_config

    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path)


def test_the_defaults(monkeypatch, tmp_path):
    from consult.config import load_config

    for name in (
        "DATABASE_CONNECT_TIMEOUT",
        "DATABASE_STATEMENT_TIMEOUT",
        "DATABASE_KEEPALIVE_SECONDS",
        "HEALTHZ_TIMEOUT",
        "TRUSTED_PROXIES",
        "MAX_CONTENT_LENGTH",
        "LOGIN_ACCOUNT_RATE_LIMIT",
    ):
        monkeypatch.delenv(name, raising=False)
    config = load_config(tmp_path)
    assert (
        config["DATABASE_CONNECT_TIMEOUT"],
        config["DATABASE_STATEMENT_TIMEOUT"],
        config["DATABASE_KEEPALIVE_SECONDS"],
        config["HEALTHZ_TIMEOUT"],
    ) == (5, 30, 30, 2)
    assert (config["TRUSTED_PROXIES"], config["MAX_CONTENT_LENGTH"]) == (0, 10 * 1024 * 1024)
    assert config["LOGIN_ACCOUNT_RATE_LIMIT"] == "10 per hour"


@needs_postgres
@pytest.mark.postgres
def test_an_idle_connection_is_pinged_and_one_the_server_dropped_is_replaced(
    database_url, monkeypatch
):
    """A pooled connection taken again at once is used without a ping; one idle for
    PING_AFTER_IDLE is pinged first, and replaced when its server end is gone."""
    from consult import extensions
    from consult.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, "SECRET_KEY": "k"})

    def backend() -> int:
        with app.app_context():
            try:
                return db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            finally:
                db.session.remove()

    with app.app_context():
        engine = db.engine
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection):
        pings.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    try:
        first = backend()
        assert backend() == first  # the same connection, back in use at once
        assert pings == []
        monkeypatch.setattr(extensions, "PING_AFTER_IDLE", 0.0)
        assert backend() == first  # idle long enough (no time at all): pinged, alive
        assert pings == [1]
        killer = create_engine(database_url)
        try:
            with killer.connect() as conn:
                assert conn.execute(text(f"SELECT pg_terminate_backend({first})")).scalar()
        finally:
            killer.dispose()
        # The server dropped it: the ping fails and the pool connects afresh.
        replaced = backend()
        assert replaced != first
        assert pings == [1, 1]
    finally:
        engine.dispose()
