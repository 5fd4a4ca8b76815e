"""Configuration read from the environment: every variable the application reads, with
its default, is declared here once (README, "Configuration", lists them)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse as parse_rate_limit
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class ConfigError(RuntimeError):
    """A configuration variable holds a value the application cannot use."""


def _env(name: str) -> str | None:
    """Return the variable's value, or None when it is unset or blank."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _write_key_once(path: Path) -> None:
    """Put a new key at ``path`` unless another process did first. Two workers starting
    at once must end up with the same key, and neither may read a file the other has
    created but not yet written: the key is written whole to a file of this process's
    own (owner-only permissions), then linked into place, which fails if ``path`` exists."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)


def _secret_key(instance_path: Path) -> str:
    """Return SECRET_KEY, or a key generated once and kept in the instance folder."""
    if key := _env("SECRET_KEY"):
        return key
    path = instance_path / "secret_key"
    try:
        if not path.exists():
            _write_key_once(path)
    except OSError as exc:
        raise ConfigError(f"Cannot create the secret key file {path}: {exc.strerror}") from None
    key = path.read_text().strip()
    if not key:
        raise ConfigError(f"{path} is empty: delete it to have a new key generated.")
    return key


def parse_level_days(raw: str) -> tuple[int, ...]:
    """Return the time limits in days of the four grid levels written as "3,7,15,30";
    ValueError (naming CASE_LEVEL_DAYS) when they are not four positive whole numbers."""
    parts = [p.strip() for p in str(raw).split(",")]
    if len(parts) != 4 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"CASE_LEVEL_DAYS must be four positive whole numbers, not {raw!r}")
    return tuple(int(p) for p in parts)


def _level_days() -> str:
    """Return CASE_LEVEL_DAYS: the time limit in days of each of the four grid levels."""
    try:
        days = parse_level_days(_env("CASE_LEVEL_DAYS") or "3,7,15,30")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return ",".join(str(d) for d in days)


def _int(name: str, default: int, lowest: int, highest: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if not lowest <= value <= highest:
        raise ConfigError(f"{name} must be between {lowest} and {highest}, not {value}")
    return value


def _database_url(instance_path: Path) -> str:
    url = _env("DATABASE_URL") or f"sqlite:///{instance_path / 'consult.db'}"
    # psycopg 3 is the driver we ship; the bare schemes would ask for psycopg2.
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            url = "postgresql+psycopg://" + url.removeprefix(bare)
    try:
        make_url(url)
    except ArgumentError:
        raise ConfigError(f"DATABASE_URL is not a database URL: {url!r}") from None
    return url


def _timezone() -> str:
    timezone = _env("CONSULT_TIMEZONE") or "Asia/Shanghai"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"CONSULT_TIMEZONE names no known time zone: {timezone!r}") from None
    return timezone


def _mail_from() -> str:
    value = _env("MAIL_FROM") or "consult@localhost"
    address = parseaddr(value)[1]
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise ConfigError(f"MAIL_FROM is not an email address: {value!r}")
    return value


def _mail_reply_to() -> str | None:
    value = _env("MAIL_REPLY_TO")
    if value is None:
        return None
    address = parseaddr(value)[1]
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise ConfigError(f"MAIL_REPLY_TO is not an email address: {value!r}")
    return value


def _base_url() -> str:
    value = (_env("BASE_URL") or "http://localhost:5000").rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"BASE_URL must be an http:// or https:// address, not {value!r}")
    return value


def _rate_limit(name: str, default: str | None) -> str | None:
    value = _env(name) or default
    if value is None:
        return None
    try:
        parse_rate_limit(value)
    except ValueError:
        raise ConfigError(
            f"{name} is not a rate limit such as '10 per minute': {value!r}"
        ) from None
    return value


def _rate_limit_storage() -> str:
    """Return RATELIMIT_STORAGE_URI once the storage it names has answered.

    Every worker counts in that storage; one that cannot be reached or whose client is
    missing would leave the limits uncounted (or stop each request), so it stops
    start-up instead.
    """
    uri = _env("RATELIMIT_STORAGE_URI") or "memory://"
    if uri.startswith("memory://"):
        return uri
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string

    try:
        storage = storage_from_string(uri)
        answered = storage.check()
    except ConfigurationError as exc:
        raise ConfigError(f"RATELIMIT_STORAGE_URI cannot be used ({uri!r}): {exc}") from None
    except Exception as exc:  # noqa: BLE001 (any client error means the same here)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ConfigError(f"RATELIMIT_STORAGE_URI cannot be used ({uri!r}): {reason}") from None
    if not answered:
        raise ConfigError(f"RATELIMIT_STORAGE_URI does not answer: {uri!r}")
    return uri


def _redis_url() -> str | None:
    """Return REDIS_URL once the server it names has answered (None: unset).

    Calendars are cached there, shared by every worker and server; one that cannot be
    reached at start-up stops it, as RATELIMIT_STORAGE_URI does.
    """
    url = _env("REDIS_URL")
    if url is None:
        return None
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"REDIS_URL must be a redis://, rediss:// or unix:// address: {url!r}")
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except (redis.RedisError, ValueError, OSError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ConfigError(f"REDIS_URL cannot be used ({url!r}): {reason}") from None
    return url


#: The values MAIL_QUEUE takes: unset (delivery rounds from `flask mail send` or
#: `flask mail worker`), or "rq" (a job on Redis after each commit that queues mail).
MAIL_QUEUES = ("rq",)


def _mail_queue(redis_url: str | None) -> str | None:
    """Return MAIL_QUEUE ("rq", or None when unset); "rq" needs REDIS_URL, where the
    jobs wait for `flask mail rq-worker`."""
    raw = _env("MAIL_QUEUE")
    if raw is None or raw.lower() in ("none", "off"):
        return None
    if raw.lower() not in MAIL_QUEUES:
        raise ConfigError(f"MAIL_QUEUE must be rq or unset, not {raw!r}")
    if redis_url is None:
        raise ConfigError("MAIL_QUEUE=rq needs REDIS_URL (the jobs wait in Redis)")
    return raw.lower()


#: How long a rendered calendar is kept (seconds); a change shows at once regardless,
#: since what a calendar shows is part of the key it is kept under.
CACHE_SECONDS = 24 * 3600


def cache_options(config: dict) -> dict:
    """Flask-Caching's configuration: Redis when REDIS_URL is set (every worker and
    server shares it), else a cache in the worker's memory, which needs no server."""
    options: dict = {
        "CACHE_DEFAULT_TIMEOUT": CACHE_SECONDS,
        "CACHE_KEY_PREFIX": "consult:",
    }
    if config.get("REDIS_URL"):
        options.update(
            CACHE_TYPE="RedisCache",
            CACHE_REDIS_URL=config["REDIS_URL"],
            # A Redis that stops answering slows a feed by at most this; it is then
            # rendered without the cache.
            CACHE_OPTIONS={"socket_connect_timeout": 2, "socket_timeout": 2},
        )
    else:
        # Entries, not bytes: a community's feed for a year is some 100 KB.
        options.update(CACHE_TYPE="SimpleCache", CACHE_THRESHOLD=500)
    return options


def engine_options(config: dict) -> dict:
    """SQLAlchemy engine options for the configured database.

    On PostgreSQL every wait on the database is bounded: connecting
    (DATABASE_CONNECT_TIMEOUT), each statement (DATABASE_STATEMENT_TIMEOUT, on the
    server) and a link that stops answering (TCP keepalives and TCP_USER_TIMEOUT after
    DATABASE_KEEPALIVE_SECONDS), so that a partition fails requests instead of freezing
    them. SQLite waits for a lock at most its busy timeout (consult.extensions).
    """
    options: dict = {}
    if not str(config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        return options
    connect = config["DATABASE_CONNECT_TIMEOUT"]
    keepalive = config["DATABASE_KEEPALIVE_SECONDS"]
    connect_args: dict = {
        "connect_timeout": connect,
        "keepalives": 1,
        "keepalives_idle": keepalive,
        "keepalives_interval": max(keepalive // 3, 1),
        "keepalives_count": 3,
        # Data sent but unacknowledged this long drops the connection (Linux).
        "tcp_user_timeout": keepalive * 1000,
    }
    statement = config["DATABASE_STATEMENT_TIMEOUT"]
    if statement:
        connect_args["options"] = f"-c statement_timeout={statement * 1000}"
    options.update(connect_args=connect_args, pool_timeout=connect)
    return options


#: The languages of the interface, mail and calendars.
LANGUAGES = ["zh_CN", "en"]


def _default_language() -> str:
    raw = _env("DEFAULT_LANGUAGE") or "zh_CN"
    wanted = raw.replace("-", "_").lower()
    for language in LANGUAGES:
        if language.lower() == wanted:
            return language
    raise ConfigError(f"DEFAULT_LANGUAGE must be one of {', '.join(LANGUAGES)}, not {raw!r}")


def load_config(instance_path: Path) -> dict:
    """Build the Flask configuration mapping from the environment."""
    instance_path.mkdir(parents=True, exist_ok=True)
    timezone = _timezone()
    base_url = _base_url()
    secure = base_url.startswith("https://")
    redis_url = _redis_url()
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "SMTP_HOST": _env("SMTP_HOST"),
        "SMTP_PORT": _int("SMTP_PORT", 25, 1, 65535),
        "MAIL_FROM": _mail_from(),
        # Where calendar replies reach `flask mail receive`; unset: RSVP=FALSE.
        "MAIL_REPLY_TO": _mail_reply_to(),
        "CONSULT_TIMEZONE": timezone,
        "BASE_URL": base_url,
        "PREFERRED_URL_SCHEME": "https" if secure else "http",
        # Flask-Limiter: sign-in is rate limited; the store defaults to memory so that a
        # single process needs nothing else, and RATELIMIT_STORAGE_URI may name Redis.
        "RATELIMIT_STORAGE_URI": _rate_limit_storage(),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Should the store fail later on, each worker counts in memory until it is back,
        # rather than failing every sign-in.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "LOGIN_RATE_LIMIT": _rate_limit("LOGIN_RATE_LIMIT", "10 per minute"),
        # Failed sign-ins on one account, from any address.
        "LOGIN_ACCOUNT_RATE_LIMIT": _rate_limit("LOGIN_ACCOUNT_RATE_LIMIT", "10 per hour"),
        # How many reverse proxies in front of the application set X-Forwarded-For and
        # X-Forwarded-Proto (Werkzeug's ProxyFix); 0 trusts no such header.
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0, 0, 10),
        # Bodies larger than this are refused with 413 (bytes; the grid import uploads).
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 10 * 1024 * 1024, 1024, 2**31),
        # PostgreSQL: bounded waits (seconds; statement timeout 0 turns it off).
        "DATABASE_CONNECT_TIMEOUT": _int("DATABASE_CONNECT_TIMEOUT", 5, 1, 600),
        "DATABASE_STATEMENT_TIMEOUT": _int("DATABASE_STATEMENT_TIMEOUT", 30, 0, 86400),
        "DATABASE_KEEPALIVE_SECONDS": _int("DATABASE_KEEPALIVE_SECONDS", 30, 3, 3600),
        # /healthz answers 503 when the database has not answered SELECT 1 within this.
        "HEALTHZ_TIMEOUT": _int("HEALTHZ_TIMEOUT", 2, 1, 60),
        # Redis, shared by every worker and server: the cache of calendars. Unset, each
        # worker keeps its own cache in memory (consult.config.cache_options).
        "REDIS_URL": redis_url,
        # "rq": each commit that queues mail or notices enqueues a job delivering them,
        # run by `flask mail rq-worker` (consult.mail.queue); unset: delivery rounds only.
        "MAIL_QUEUE": _mail_queue(redis_url),
        # Authenticated API requests are not limited unless this is set (per token).
        "API_RATE_LIMIT": _rate_limit("API_RATE_LIMIT", None),
        # The API documents itself with flask-smorest.
        # Tunables of the programme (README, "Configuration").
        "SERIES_HORIZON_DAYS": _int("SERIES_HORIZON_DAYS", 183, 7, 3660),
        "FEED_DAYS_BACK": _int("FEED_DAYS_BACK", 90, 0, 3660),
        "FEED_DAYS_AHEAD": _int("FEED_DAYS_AHEAD", 365, 1, 3660),
        "REMINDER_HOURS": _int("REMINDER_HOURS", 24, 1, 720),
        "MAIL_MAX_ATTEMPTS": _int("MAIL_MAX_ATTEMPTS", 8, 1, 100),
        # The first retry of a message waits this long, each next one twice as long...
        "MAIL_RETRY_SECONDS": _int("MAIL_RETRY_SECONDS", 60, 1, 86400),
        # ...but never longer than this.
        "MAIL_RETRY_MAX_SECONDS": _int("MAIL_RETRY_MAX_SECONDS", 6 * 3600, 1, 7 * 86400),
        # A message claimed longer ago than this belongs to a delivery run that died.
        "MAIL_CLAIM_SECONDS": _int("MAIL_CLAIM_SECONDS", 600, 30, 86400),
        # Seconds each SMTP operation, and each channel's answer, may take.
        "SMTP_TIMEOUT": _int("SMTP_TIMEOUT", 30, 1, 600),
        "NOTICE_TIMEOUT": _int("NOTICE_TIMEOUT", 10, 1, 600),
        # How many days of a new series are checked for clashes with the venue's bookings.
        "SERIES_CLASH_WINDOW_DAYS": _int("SERIES_CLASH_WINDOW_DAYS", 730, 7, 3660),
        "CASE_LEVEL_DAYS": _level_days(),
        "EVALUATION_QUORUM": _int("EVALUATION_QUORUM", 3, 1, 100),
        "API_TITLE": "Consult",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": timezone,
        "LANGUAGES": list(LANGUAGES),
        # Pages for browsers that name no supported language, and mail and calendar
        # texts for people who chose none.
        "DEFAULT_LANGUAGE": _default_language(),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Cookies only travel over TLS when the site is served over TLS.
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        # "Keep me signed in" lasts 30 days, then the password is asked again.
        "REMEMBER_COOKIE_DURATION": timedelta(days=30),
        # Flask-WTF: forms carry a CSRF token (the tests turn it off), under this name.
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_FIELD_NAME": "csrf_token",
        "WTF_CSRF_TIME_LIMIT": None,
    }
