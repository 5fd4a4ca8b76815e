"""Load harness: a real multi-process server, concurrent clients, and the overbooking check."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving wsgi:app on 127.0.0.1 with N worker processes."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        workers: int = 4,
        secret_key: str = "load-test-secret",
        env: dict[str, str] | None = None,
    ):  # noqa: S107 (a test server's key)
        """``env``: variables of the server's environment beyond (or instead of) these."""
        self.port = free_port()
        self.log_path = log_path
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": secret_key,
            "BASE_URL": f"http://127.0.0.1:{self.port}",
        }
        environment.pop("SMTP_HOST", None)
        environment.update(env or {})
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop())
        # --preload: the app is built once and forked, so all workers serve from the start.
        # The access log records each request's worker pid (%(p)s).
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--preload",
                "--no-control-socket",
                "--timeout",
                "60",
                "--graceful-timeout",
                "2",
                "--access-logfile",
                "-",
                "--access-logformat",
                'ACCESS %(p)s "%(r)s" %(s)s',
                "wsgi:app",
            ],
            cwd=ROOT,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log()}")
            try:
                status, body = request(self.port, "GET", "/healthz")
                if status == 200 and json.loads(body) == {"status": "ok"}:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer /healthz in {timeout}s: {self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGINT: quick shutdown (the test is over, nothing is in flight).
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                # The server's own process group: the master and its workers.
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()

    def worker_pids(self, request_line: str) -> set[str]:
        """Return the pids of the workers that answered requests starting with ``request_line``."""
        pids = set()
        for line in self.log().splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[0] == "ACCESS" and parts[2].startswith(f'"{request_line}'):
                pids.add(parts[1])
        return pids

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict | None = None,
    timeout: float = 60.0,
) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", errors="replace")
    finally:
        conn.close()


def all_at_once(jobs) -> list:
    """Run each callable in its own thread, released together by a barrier; return results."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(index, job):
        barrier.wait()
        try:
            results[index] = job()
        except Exception as exc:  # noqa: BLE001 (reported to the test as a result)
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@dataclass
class Booking:
    """What the database says about one session's places."""

    capacity: int | None
    counter: int
    confirmed: int
    waitlisted: int

    @property
    def overbooked(self) -> bool:
        return self.capacity is not None and (
            self.confirmed > self.capacity or self.counter > self.capacity
        )


def booking(conn, meeting_id: int) -> Booking:
    """Read a session's capacity, its counter and its registrations by status."""
    capacity, counter = conn.execute(
        text("SELECT capacity, confirmed_count FROM meetings WHERE id = :m"), {"m": meeting_id}
    ).one()
    counts = dict(
        conn.execute(
            text(
                "SELECT status, count(*) FROM registrations WHERE meeting_id = :m GROUP BY status"
            ),
            {"m": meeting_id},
        ).all()
    )
    return Booking(capacity, counter, counts.get("confirmed", 0), counts.get("waitlisted", 0))


def residents_with_tokens(n: int) -> list[tuple[int, str]]:
    """Create ``n`` residents with API tokens, committed in one transaction (the servers
    read them through their own connections); return (id, token) pairs."""
    import uuid

    from consult.accounts.models import ApiToken, User, new_token
    from consult.extensions import db

    users = [
        User(
            email=f"resident{i}-{uuid.uuid4().hex[:6]}@example.org",
            name=f"居民{i}",
            role="resident",
        )
        for i in range(n)
    ]
    db.session.add_all(users)
    db.session.flush()
    pairs = []
    for user in users:
        token, token_hash = new_token()
        db.session.add(ApiToken(user_id=user.id, token_hash=token_hash))
        pairs.append((user.id, token))
    db.session.commit()
    return pairs


def sign_in_attempt(port: int, email: str, password: str = "wrong-password") -> int:
    """Sign in through the form of the server on ``port`` (CSRF token and cookie as a
    browser sends them); return the answer's status."""
    from tests.conftest import csrf_token_from

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/login")
        page = conn.getresponse()
        html = page.read().decode()
        cookie = page.getheader("Set-Cookie").split(";", 1)[0]
        body = f"email={email}&password={password}&csrf_token={csrf_token_from(html)}"
        conn.request(
            "POST",
            "/login",
            body=body.encode(),
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()
