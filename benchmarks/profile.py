"""Profile the benchmark's endpoints in one process, with pyinstrument.

The demo town is built once per scale and database and kept (a SQLite file under the
temporary folder, or a PostgreSQL database ``consult_profile_<scale>`` beside the one
``--database-url`` names), so that later runs start at once; ``--rebuild`` builds it
again. The application then answers ``--requests`` requests of each endpoint chosen
through Flask's test client (after two warm-up requests), under pyinstrument; the
text summary of each (time per request, the frames that take it) is printed and
written to ``--output`` (a folder).

Usage: python -m benchmarks.profile [--scale N] [--database-url URL] [--requests N]
       [--only NAME ...] [--output DIR] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.__main__ import build_town


def _database(url: str | None, scale: int, rebuild: bool) -> tuple[str, Path]:
    """The kept database's URL and the file that holds its town's details."""
    state = Path(tempfile.gettempdir()) / "consult-profile"
    state.mkdir(exist_ok=True)
    if not url:
        path = state / f"town-{scale}.db"
        info = state / f"town-{scale}.sqlite.json"
        if rebuild or not info.exists() or not path.exists():
            for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), info):
                stale.unlink(missing_ok=True)
        return f"sqlite:///{path}", info
    from sqlalchemy import create_engine, make_url, text

    given = make_url(url)
    name = f"consult_profile_{scale}"
    info = state / f"town-{scale}.postgresql.json"
    if rebuild or not info.exists():
        info.unlink(missing_ok=True)
        server = create_engine(given, isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        server.dispose()
    return given.set(database=name).render_as_string(False), info


def _town(url: str, info: Path, scale: int) -> dict:
    if info.exists():
        return json.loads(info.read_text())
    print(f"Loading the demo town at scale {scale} ...", flush=True)
    town = build_town(url, scale)
    info.write_text(json.dumps(town))
    return town


def _sign_in(client, email: str, password: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if token is None:
        raise SystemExit("no csrf_token on /login")
    answer = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
    )
    if answer.status_code != 302:
        raise SystemExit(f"could not sign in as {email}")


def _unused_pairs(town: dict):
    """(token, session id) pairs of residents not yet signed up for that session."""
    from sqlalchemy import select

    from consult.accounts.models import ApiToken, hash_token
    from consult.extensions import db
    from consult.meetings.models import Registration

    taken = set(
        db.session.execute(
            select(ApiToken.token_hash, Registration.meeting_id).join(
                Registration, Registration.user_id == ApiToken.user_id
            )
        ).all()
    )
    # Session by session, as the benchmark's script signs up: each session fills, then
    # most sign-ups join its waiting list.
    for sid in town["signup_sessions"]:
        for token in town["resident_tokens"][1:]:
            if (hash_token(token), sid) not in taken:
                yield token, sid


def requests_for(app, town: dict) -> dict:
    """Endpoint name → a function that makes one request and returns the response."""
    cadre = {"Authorization": f"Bearer {town['cadre_token']}"}
    resident = {"Authorization": f"Bearer {town['resident_tokens'][0]}"}
    staff = app.test_client()
    _sign_in(staff, town["cadre_email"], "cadre-demo")
    anyone = app.test_client()
    sid = town["session_id"]
    community = anyone.post(
        "/api/v1/feeds",
        json={"scope": "community", "community": town["community"]},
        headers=cadre,
    ).get_json()["url"]
    mine = anyone.post("/api/v1/feeds", json={"scope": "mine"}, headers=resident).get_json()["url"]
    anyone.post(f"/api/v1/sessions/{sid}/registrations", json={}, headers=resident)
    etag = anyone.get(community).headers["ETag"]
    with app.app_context():
        pairs = iter(list(_unused_pairs(town)))

    def sign_up():
        token, session_id = next(pairs)
        return anyone.post(
            f"/api/v1/sessions/{session_id}/registrations",
            json={},
            headers={"Authorization": f"Bearer {token}"},
        )

    return {
        "healthz": lambda: anyone.get("/healthz"),
        "api-sessions": lambda: anyone.get("/api/v1/sessions", headers=cadre),
        "api-stats": lambda: anyone.get("/api/v1/stats", headers=cadre),
        "sessions": lambda: staff.get("/sessions"),
        "session-page": lambda: staff.get(f"/sessions/{sid}"),
        "calendar": lambda: staff.get("/sessions/calendar"),
        "community-feed": lambda: anyone.get(community),
        "personal-feed": lambda: anyone.get(mine),
        "feed-304": lambda: anyone.get(community, headers={"If-None-Match": etag}),
        "session-ics": lambda: anyone.get(f"/sessions/{sid}.ics"),
        "sign-up": sign_up,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--requests", type=int, default=50, help="requests per endpoint (50)")
    parser.add_argument("--only", nargs="*", help="endpoint names (default: all)")
    parser.add_argument("--output", help="a folder for one text summary per endpoint")
    parser.add_argument("--rebuild", action="store_true", help="load the town again")
    parser.add_argument("--frames", type=int, default=25, help="lines of each summary (25)")
    args = parser.parse_args(argv)

    from pyinstrument import Profiler

    from consult import create_app

    url, info = _database(args.database_url, args.scale, args.rebuild)
    town = _town(url, info, args.scale)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "profile",
            "RATELIMIT_ENABLED": False,
            "SMTP_HOST": None,
            "BASE_URL": "http://127.0.0.1",
        }
    )
    calls = requests_for(app, town)
    chosen = args.only or list(calls)
    output = Path(args.output) if args.output else None
    if output:
        output.mkdir(parents=True, exist_ok=True)
    dialect = url.split(":", 1)[0].split("+")[0]
    for name in chosen:
        call = calls[name]
        for _ in range(2):
            status = call().status_code
        if status >= 400:
            print(f"{name}: answered {status}", file=sys.stderr)
            return 1
        profiler = Profiler(interval=0.0005)
        started = time.perf_counter()
        profiler.start()
        for _ in range(args.requests):
            call()
        profiler.stop()
        per_request = (time.perf_counter() - started) / args.requests * 1000
        head = (
            f"{name} on {dialect}, scale {args.scale}: {per_request:.2f} ms per request "
            f"(mean of {args.requests}, profiled)\n"
        )
        text = profiler.output_text(unicode=True, color=False, show_all=False)
        lines = text.splitlines()
        summary = head + "\n".join(lines[: args.frames + 8]) + "\n"
        print(summary, flush=True)
        if output:
            (output / f"{name}.{dialect}.txt").write_text(head + text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
