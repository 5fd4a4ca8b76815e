"""Configuration from the environment, variable by variable, and SQLite's pragmas."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from consult import create_app
from consult.config import ConfigError, load_config
from consult.extensions import db

ROOT = Path(__file__).resolve().parent.parent

VARIABLES = (
    "DATABASE_URL",
    "SECRET_KEY",
    "SMTP_HOST",
    "SMTP_PORT",
    "MAIL_FROM",
    "CONSULT_TIMEZONE",
    "BASE_URL",
    "LOGIN_RATE_LIMIT",
    "API_RATE_LIMIT",
    "SERIES_HORIZON_DAYS",
    "FEED_DAYS_BACK",
    "FEED_DAYS_AHEAD",
    "REMINDER_HOURS",
    "MAIL_MAX_ATTEMPTS",
    "MAIL_RETRY_SECONDS",
    "MAIL_RETRY_MAX_SECONDS",
    "MAIL_CLAIM_SECONDS",
    "SMTP_TIMEOUT",
    "NOTICE_TIMEOUT",
    "SERIES_CLASH_WINDOW_DAYS",
    "CASE_LEVEL_DAYS",
    "EVALUATION_QUORUM",
    "REDIS_URL",
)


@pytest.fixture
def env(monkeypatch):
    """Start from an environment without any of the application's variables."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults(env, tmp_path):
    config = load_config(tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'consult.db'}"
    assert config["SMTP_HOST"] is None
    assert config["SMTP_PORT"] == 25
    assert config["MAIL_FROM"] == "consult@localhost"
    assert config["CONSULT_TIMEZONE"] == "Asia/Shanghai"
    assert config["BASE_URL"] == "http://localhost:5000"
    assert config["LOGIN_RATE_LIMIT"] == "10 per minute"
    assert config["API_RATE_LIMIT"] is None
    assert config["SESSION_COOKIE_SECURE"] is False


def test_the_programme_tunables_have_defaults_and_are_read(env, tmp_path):
    config = load_config(tmp_path)
    assert (
        config["SERIES_HORIZON_DAYS"],
        config["FEED_DAYS_BACK"],
        config["FEED_DAYS_AHEAD"],
        config["REMINDER_HOURS"],
        config["MAIL_MAX_ATTEMPTS"],
        config["EVALUATION_QUORUM"],
        config["CASE_LEVEL_DAYS"],
    ) == (183, 90, 365, 24, 8, 3, "3,7,15,30")
    env.setenv("REMINDER_HOURS", "48")
    env.setenv("CASE_LEVEL_DAYS", " 1, 2,3 ,4")
    config = load_config(tmp_path)
    assert config["REMINDER_HOURS"] == 48
    assert config["CASE_LEVEL_DAYS"] == "1,2,3,4"


def test_the_delivery_settings_have_defaults_and_are_read(env, tmp_path):
    config = load_config(tmp_path)
    names = (
        "MAIL_RETRY_SECONDS",
        "MAIL_RETRY_MAX_SECONDS",
        "MAIL_CLAIM_SECONDS",
        "SMTP_TIMEOUT",
        "NOTICE_TIMEOUT",
        "SERIES_CLASH_WINDOW_DAYS",
    )
    assert [config[name] for name in names] == [60, 21600, 600, 30, 10, 730]
    for value, name in enumerate(names, start=40):
        env.setenv(name, str(value))
    config = load_config(tmp_path)
    assert [config[name] for name in names] == list(range(40, 46))


#: What the code reads from the configuration, found by reading the code.
READ = re.compile(
    r"""config(?:\.get)?[\[(]\s*["']([A-Z][A-Z0-9_]+)["']""" r'|setting\(\s*"([A-Z][A-Z0-9_]+)"'
)


def _read_by_the_code() -> set[str]:
    names = set()
    for path in (ROOT / "consult").rglob("*.py"):
        if path.name != "config.py":
            for match in READ.finditer(path.read_text(encoding="utf-8")):
                names.add(match.group(1) or match.group(2))
    return names


def test_every_setting_the_code_reads_is_declared_in_config(env, tmp_path):
    read = _read_by_the_code()
    assert {"SMTP_TIMEOUT", "NOTICE_TIMEOUT", "HEALTHZ_TIMEOUT"} <= read  # the scan works
    assert read - set(load_config(tmp_path)) == set()


def test_every_environment_variable_is_in_the_readme():
    source = (ROOT / "consult" / "config.py").read_text(encoding="utf-8")
    variables = set(re.findall(r'_(?:env|int|rate_limit)\(\s*"([A-Z][A-Z0-9_]+)"', source))
    assert "SECRET_KEY" in variables and "SMTP_TIMEOUT" in variables
    table = (ROOT / "README.md").read_text(encoding="utf-8").split("## Configuration")[1]
    table = table.split("\n## ")[0]
    assert {v for v in variables if f"`{v}`" not in table} == set()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REMINDER_HOURS", "soon"),
        ("REMINDER_HOURS", "0"),
        ("FEED_DAYS_AHEAD", "-1"),
        ("CASE_LEVEL_DAYS", "3,7,15"),
        ("CASE_LEVEL_DAYS", "3,7,0,30"),
        ("EVALUATION_QUORUM", "x"),
        ("MAIL_RETRY_SECONDS", "0"),
        ("MAIL_CLAIM_SECONDS", "a while"),
        ("SMTP_TIMEOUT", "0"),
        ("NOTICE_TIMEOUT", "-5"),
        ("SERIES_CLASH_WINDOW_DAYS", "1"),
    ],
)
def test_a_bad_tunable_is_refused_at_start_up_by_name(env, tmp_path, name, value):
    env.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path)


def test_the_instance_folder_is_created(env, tmp_path):
    instance = tmp_path / "a" / "instance"
    load_config(instance)
    assert instance.is_dir()


# -- DATABASE_URL ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "used"),
    [
        (
            "postgresql://u:p@db.example.org:5432/consult",
            "postgresql+psycopg://u:p@db.example.org:5432/consult",
        ),
        ("postgres://u@db/consult", "postgresql+psycopg://u@db/consult"),
        ("postgresql+psycopg://u@db/consult", "postgresql+psycopg://u@db/consult"),
        ("sqlite:////var/lib/consult/consult.db", "sqlite:////var/lib/consult/consult.db"),
    ],
)
def test_database_url(env, tmp_path, given, used):
    env.setenv("DATABASE_URL", given)
    url = load_config(tmp_path)["SQLALCHEMY_DATABASE_URI"]
    assert url == used
    assert make_url(url).get_dialect().driver in ("psycopg", "pysqlite")


def test_a_database_url_that_is_no_url_is_refused(env, tmp_path):
    env.setenv("DATABASE_URL", "my database please")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_config(tmp_path)


@pytest.mark.skipif(
    not os.environ.get("CONSULT_TEST_DATABASE_URL"),
    reason="CONSULT_TEST_DATABASE_URL is not set (PostgreSQL)",
)
@pytest.mark.parametrize("scheme", ["postgresql://", "postgresql+psycopg://"])
def test_both_postgresql_schemes_connect_through_psycopg(env, tmp_path, scheme):
    server = make_url(os.environ["CONSULT_TEST_DATABASE_URL"])
    rest = server.render_as_string(hide_password=False).split("://", 1)[1]
    env.setenv("DATABASE_URL", scheme + rest)
    env.setenv("SECRET_KEY", "test")
    app = create_app({"TESTING": True})
    with app.app_context():
        assert db.engine.dialect.driver == "psycopg"
        assert db.session.execute(text("SELECT 1")).scalar() == 1
        db.session.remove()
        db.engine.dispose()


# -- SECRET_KEY ----------------------------------------------------------------------------


def test_secret_key_from_the_environment(env, tmp_path):
    env.setenv("SECRET_KEY", "from-the-environment")
    assert load_config(tmp_path)["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


def test_a_secret_key_is_generated_once_kept_private_and_reused(env, tmp_path):
    first = load_config(tmp_path)["SECRET_KEY"]
    path = tmp_path / "secret_key"
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first
    # The next start (another process, another worker) reads the same key.
    assert load_config(tmp_path)["SECRET_KEY"] == first
    other = tmp_path / "other"
    assert load_config(other)["SECRET_KEY"] != first


def _key_when_released(folder: str, barrier, keys) -> None:
    from consult.config import _secret_key

    barrier.wait()
    try:
        keys.put(_secret_key(Path(folder)))
    except ConfigError as exc:
        keys.put(f"refused: {exc}")


def test_workers_starting_at_once_read_one_whole_key(env, tmp_path):
    """Processes released together on a folder without a key: none reads a key file
    another has created but not yet written, and all get the same key."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for round_ in range(15):
        folder = tmp_path / str(round_)
        folder.mkdir()
        barrier, keys = context.Barrier(4), context.Queue()
        workers = [
            context.Process(target=_key_when_released, args=(str(folder), barrier, keys))
            for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        got = [keys.get(timeout=30) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
        assert len(set(got)) == 1 and len(got[0]) == 64, got
        assert [p.name for p in folder.iterdir()] == ["secret_key"]


def test_an_empty_secret_key_file_is_refused(env, tmp_path):
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(ConfigError, match="secret_key"):
        load_config(tmp_path)


# -- mail ----------------------------------------------------------------------------------


def test_smtp_host_and_port(env, tmp_path):
    env.setenv("SMTP_HOST", "mail.town.gov.cn")
    env.setenv("SMTP_PORT", "2525")
    config = load_config(tmp_path)
    assert (config["SMTP_HOST"], config["SMTP_PORT"]) == ("mail.town.gov.cn", 2525)


@pytest.mark.parametrize("port", ["smtp", "0", "65536", "-25", "2.5"])
def test_a_bad_smtp_port_is_refused(env, tmp_path, port):
    env.setenv("SMTP_PORT", port)
    with pytest.raises(ConfigError, match="SMTP_PORT"):
        load_config(tmp_path)


def test_a_blank_smtp_host_means_no_mail_server(env, tmp_path):
    env.setenv("SMTP_HOST", "  ")
    assert load_config(tmp_path)["SMTP_HOST"] is None


@pytest.mark.parametrize("value", ["consult@town.gov.cn", "Consult <consult@town.gov.cn>"])
def test_mail_from(env, tmp_path, value):
    env.setenv("MAIL_FROM", value)
    assert load_config(tmp_path)["MAIL_FROM"] == value


@pytest.mark.parametrize("value", ["consult", "@town.gov.cn", "Consult <>"])
def test_a_mail_from_that_is_no_address_is_refused(env, tmp_path, value):
    env.setenv("MAIL_FROM", value)
    with pytest.raises(ConfigError, match="MAIL_FROM"):
        load_config(tmp_path)


# -- CONSULT_TIMEZONE -------------------------------------------------------------------------


def test_consult_timezone(env, tmp_path):
    env.setenv("CONSULT_TIMEZONE", "Asia/Urumqi")
    config = load_config(tmp_path)
    assert config["CONSULT_TIMEZONE"] == "Asia/Urumqi"
    assert config["BABEL_DEFAULT_TIMEZONE"] == "Asia/Urumqi"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Asia/Shanghai/", "../etc/passwd", "+08:00"])
def test_an_unknown_time_zone_stops_the_start_with_a_clear_error(env, zone):
    env.setenv("CONSULT_TIMEZONE", zone)
    env.setenv("SECRET_KEY", "test")
    with pytest.raises(ConfigError, match="CONSULT_TIMEZONE names no known time zone"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


# -- BASE_URL ----------------------------------------------------------------------------------


def test_base_url_loses_its_trailing_slash(env, tmp_path):
    env.setenv("BASE_URL", "https://consult.town.gov.cn/")
    config = load_config(tmp_path)
    assert config["BASE_URL"] == "https://consult.town.gov.cn"
    # Served over TLS: cookies only travel over TLS.
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["PREFERRED_URL_SCHEME"] == "https"


@pytest.mark.parametrize("value", ["consult.town.gov.cn", "ftp://consult", "https://"])
def test_a_base_url_that_is_no_web_address_is_refused(env, tmp_path, value):
    env.setenv("BASE_URL", value)
    with pytest.raises(ConfigError, match="BASE_URL"):
        load_config(tmp_path)


# -- rate limits -------------------------------------------------------------------------------


def test_rate_limits(env, tmp_path):
    env.setenv("LOGIN_RATE_LIMIT", "5 per minute")
    env.setenv("API_RATE_LIMIT", "1000/hour")
    config = load_config(tmp_path)
    assert (config["LOGIN_RATE_LIMIT"], config["API_RATE_LIMIT"]) == ("5 per minute", "1000/hour")


@pytest.mark.parametrize("name", ["LOGIN_RATE_LIMIT", "API_RATE_LIMIT"])
def test_a_rate_limit_that_does_not_parse_is_refused(env, tmp_path, name):
    env.setenv(name, "plenty")
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path)


# -- the cache of calendars ---------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_without_redis_url_calendars_are_cached_in_memory(env, tmp_path):
    from consult.config import cache_options

    config = load_config(tmp_path)
    assert config["REDIS_URL"] is None
    assert cache_options(config)["CACHE_TYPE"] == "SimpleCache"


def test_redis_url_caches_calendars_in_redis(env, tmp_path):
    from consult.config import cache_options
    from tests.test_rate_limits import redis_or_skip

    redis_or_skip()
    env.setenv("REDIS_URL", "redis://127.0.0.1:6379/13")
    config = load_config(tmp_path)
    options = cache_options(config)
    assert (options["CACHE_TYPE"], options["CACHE_REDIS_URL"]) == (
        "RedisCache",
        "redis://127.0.0.1:6379/13",
    )


@pytest.mark.parametrize(
    "value",
    ["http://127.0.0.1:6379/0", "127.0.0.1:6379", "redis://127.0.0.1:{free_port}/0"],
    ids=["wrong-scheme", "no-scheme", "nobody-listens"],
)
def test_a_redis_url_that_cannot_be_used_stops_the_start(env, tmp_path, value):
    env.setenv("REDIS_URL", value.format(free_port=_free_port()))
    with pytest.raises(ConfigError, match="REDIS_URL") as raised:
        load_config(tmp_path)
    assert "\n" not in str(raised.value)


# -- SQLite: WAL, busy timeout, foreign keys -------------------------------------------------


def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(env, tmp_path):
    env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'pragmas.db'}")
    env.setenv("SECRET_KEY", "test")
    app = create_app({"TESTING": True})
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
            # Foreign keys are enforced, not just declared.
            conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            conn.exec_driver_sql(
                "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent)"
            )
            with pytest.raises(IntegrityError, match="FOREIGN KEY"):
                conn.exec_driver_sql("INSERT INTO child (parent_id) VALUES (42)")
        db.engine.dispose()


def test_the_pragmas_hold_on_every_new_connection(tmp_path):
    # The hook is on every Engine, not only the application's.
    engine = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    for _ in range(2):
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        engine.dispose()


@pytest.mark.parametrize(
    ("value", "used"), [(None, "zh_CN"), ("en", "en"), ("zh-cn", "zh_CN"), ("EN", "en")]
)
def test_default_language(env, tmp_path, value, used):
    if value is not None:
        env.setenv("DEFAULT_LANGUAGE", value)
    assert load_config(tmp_path)["DEFAULT_LANGUAGE"] == used


@pytest.mark.parametrize("value", ["fr", "zh_TW", "chinese"])
def test_an_unsupported_default_language_is_refused_by_name(env, tmp_path, value):
    env.setenv("DEFAULT_LANGUAGE", value)
    with pytest.raises(ConfigError, match="DEFAULT_LANGUAGE"):
        load_config(tmp_path)
