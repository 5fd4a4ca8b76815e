"""Rate limits that hold: a shared Redis store, trusted proxies, a per-account throttle."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from consult import create_app
from consult.config import ConfigError, load_config
from consult.extensions import db
from tests.attendance.load import Server, request, sign_in_attempt
from tests.conftest import csrf_token_from

#: Servers in other processes read what the test commits.
pytestmark = pytest.mark.real_commits

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_or_skip() -> None:
    """Skip without a Redis server on 127.0.0.1:6379 (fail under CI, which starts one)."""
    import os

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail("Redis does not answer on 127.0.0.1:6379; .ci/run starts it")
        pytest.skip("no Redis on 127.0.0.1:6379")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the storage ------------------------------------------------------------------------


def test_a_redis_storage_is_accepted(monkeypatch, tmp_path):
    redis_or_skip()
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", REDIS_URL)
    assert load_config(tmp_path)["RATELIMIT_STORAGE_URI"] == REDIS_URL


@pytest.mark.parametrize(
    "uri",
    ["redis://127.0.0.1:{free_port}/0", "nosuch://x"],
    ids=["redis-nobody-listens", "unknown-scheme"],
)
def test_a_storage_that_cannot_be_used_stops_start_up(monkeypatch, tmp_path, uri):
    # The free port is found when the test runs: every test worker collects the same ids.
    uri = uri.format(free_port=_free_port())
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", uri)
    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI"):
        load_config(tmp_path)


def test_the_command_line_says_so_in_one_line(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "SECRET_KEY": "k",
        "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{_free_port()}/0",
    }
    done = subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "--app", "wsgi", "db", "current"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Configuration error: RATELIMIT_STORAGE_URI")


# -- across processes -------------------------------------------------------------------


@pytest.fixture
def two_servers(app, database_url, tmp_path, monkeypatch):
    """Two gunicorn processes on the test database, counting in the store asked for."""
    started: list[Server] = []

    def _start(storage: str, **env) -> list[Server]:
        if storage.startswith("redis"):
            redis_or_skip()
        monkeypatch.setenv("RATELIMIT_STORAGE_URI", storage)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        db.session.remove()
        for n in range(2):
            server = Server(database_url, tmp_path / f"gunicorn-{n}.log", workers=1)
            started.append(server)
        for server in started:
            server.wait_ready()
        return started

    try:
        yield _start
    finally:
        for server in started:
            server.stop()


@pytest.mark.parametrize(("storage", "allowed"), [(REDIS_URL, 5), ("memory://", 10)])
def test_the_api_limit_holds_across_processes_only_with_a_shared_store(
    two_servers, factories, storage, allowed
):
    token = factories.make_api_token(factories.make_user())
    servers = two_servers(storage, API_RATE_LIMIT="5 per minute")
    statuses = [
        request(
            servers[n % 2].port, "GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"}
        )[0]
        for n in range(16)
    ]
    assert sorted(set(statuses)) == [200, 429]
    # Redis: five in all. Memory (each process counts alone): five per process.
    assert statuses.count(200) == allowed


def test_the_sign_in_limit_holds_across_processes_with_redis(two_servers, factories):
    email = f"limit-{uuid.uuid4().hex[:8]}@example.org"
    factories.make_user(email=email)
    servers = two_servers(
        REDIS_URL, LOGIN_RATE_LIMIT="1000 per minute", LOGIN_ACCOUNT_RATE_LIMIT="3 per minute"
    )
    statuses = [sign_in_attempt(servers[n % 2].port, email) for n in range(6)]
    assert statuses == [200, 200, 200, 429, 429, 429]


# -- in one process: trusted proxies and the per-account throttle ------------------------


def _attempt(client, email: str, password: str, address: str | None = None):
    headers = {"X-Forwarded-For": address} if address else {}
    token = csrf_token_from(client.get("/login", headers=headers).get_data(as_text=True))
    return client.post(
        "/login", headers=headers, data={"email": email, "password": password, "csrf_token": token}
    )


def _limited_app(app_config, **config):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", **config)
    return create_app(app_config)


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(app_config, factories):
    user = factories.make_user()
    limited = _limited_app(
        app_config,
        LOGIN_RATE_LIMIT="2 per minute",
        TRUSTED_PROXIES=1,
        LOGIN_ACCOUNT_RATE_LIMIT="100 per minute",
    )
    client = limited.test_client()
    first = [_attempt(client, user.email, "nope", "203.0.113.7").status_code for _ in range(3)]
    assert first == [200, 200, 429]
    # Another client behind the same proxy is not locked out.
    assert _attempt(client, user.email, "secret-pw", "203.0.113.8").status_code == 302


def test_without_trusted_proxies_the_forwarded_address_is_ignored(app_config, factories):
    user = factories.make_user()
    limited = _limited_app(
        app_config, LOGIN_RATE_LIMIT="2 per minute", LOGIN_ACCOUNT_RATE_LIMIT="100 per minute"
    )
    client = limited.test_client()
    statuses = [
        _attempt(client, user.email, "nope", f"203.0.113.{n}").status_code for n in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_failed_sign_ins_on_one_account_are_limited_from_any_address(app_config, factories):
    target, other = factories.make_user(), factories.make_user()
    limited = _limited_app(
        app_config,
        LOGIN_RATE_LIMIT="100 per minute",
        TRUSTED_PROXIES=1,
        LOGIN_ACCOUNT_RATE_LIMIT="3 per minute",
    )
    client = limited.test_client()
    statuses = [
        _attempt(client, target.email, "nope", f"198.51.100.{n}").status_code for n in range(3)
    ]
    assert statuses == [200, 200, 200]
    # Locked for now, even with the right password and from yet another address...
    refused = _attempt(client, target.email.upper(), "secret-pw", "198.51.100.99")
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    # ...while other accounts sign in as usual.
    assert _attempt(client, other.email, "secret-pw", "198.51.100.1").status_code == 302


def test_successful_sign_ins_do_not_count_against_the_account(app_config, factories):
    user = factories.make_user()
    limited = _limited_app(
        app_config, LOGIN_RATE_LIMIT="100 per minute", LOGIN_ACCOUNT_RATE_LIMIT="2 per minute"
    )
    for _ in range(4):
        client = limited.test_client()
        assert _attempt(client, user.email, "secret-pw").status_code == 302


def test_a_store_lost_after_start_up_falls_back_to_counting_in_memory(app_config, factories):
    user = factories.make_user()
    # As if Redis went away after the start-up check: nothing listens there.
    limited = _limited_app(
        app_config, LOGIN_RATE_LIMIT="2 per minute", LOGIN_ACCOUNT_RATE_LIMIT="100 per minute"
    )
    limited = create_app(
        {**app_config, "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{_free_port()}/0"}
    )
    client = limited.test_client()
    statuses = [_attempt(client, user.email, "nope").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
