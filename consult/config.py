"""Configuration read from the environment (API.md lists each variable)."""

from __future__ import annotations

import os
import secrets
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


def _secret_key(instance_path: Path) -> str:
    """Return SECRET_KEY, or a key generated once and kept in the instance folder."""
    if key := _env("SECRET_KEY"):
        return key
    path = instance_path / "secret_key"
    try:
        if not path.exists():
            # Owner-only permissions, created atomically: two workers starting at once
            # must end up with the same key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"Cannot create the secret key file {path}: {exc.strerror}") from None
    key = path.read_text().strip()
    if not key:
        raise ConfigError(f"{path} is empty: delete it to have a new key generated.")
    return key


def _level_days() -> str:
    """Return CASE_LEVEL_DAYS: the time limit in days of each of the four grid levels."""
    raw = _env("CASE_LEVEL_DAYS") or "3,7,15,30"
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) != 4 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ConfigError(f"CASE_LEVEL_DAYS must be four positive whole numbers, not {raw!r}")
    return ",".join(parts)


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


def load_config(instance_path: Path) -> dict:
    """Build the Flask configuration mapping from the environment."""
    instance_path.mkdir(parents=True, exist_ok=True)
    timezone = _timezone()
    base_url = _base_url()
    secure = base_url.startswith("https://")
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
        "RATELIMIT_STORAGE_URI": _env("RATELIMIT_STORAGE_URI") or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": _rate_limit("LOGIN_RATE_LIMIT", "10 per minute"),
        # Authenticated API requests are not limited unless this is set (per token).
        "API_RATE_LIMIT": _rate_limit("API_RATE_LIMIT", None),
        # The API documents itself with flask-smorest.
        # Tunables of the programme (README, "Configuration").
        "SERIES_HORIZON_DAYS": _int("SERIES_HORIZON_DAYS", 183, 7, 3660),
        "FEED_DAYS_BACK": _int("FEED_DAYS_BACK", 90, 0, 3660),
        "FEED_DAYS_AHEAD": _int("FEED_DAYS_AHEAD", 365, 1, 3660),
        "REMINDER_HOURS": _int("REMINDER_HOURS", 24, 1, 720),
        "MAIL_MAX_ATTEMPTS": _int("MAIL_MAX_ATTEMPTS", 8, 1, 100),
        "CASE_LEVEL_DAYS": _level_days(),
        "EVALUATION_QUORUM": _int("EVALUATION_QUORUM", 3, 1, 100),
        "API_TITLE": "Consult",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_PER_PAGE_MAX": 100,
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": timezone,
        "LANGUAGES": ["zh_CN", "en"],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Cookies only travel over TLS when the site is served over TLS.
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    }
