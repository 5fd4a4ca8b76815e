"""`make bench`: sign-up throughput, as a ratio to a baseline measured in the same run.

The baseline is the application's cheapest request (GET /healthz: routing, the
request cycle and one SELECT) on the same machine, database and process, so the ratio
says what a sign-up costs whatever the hardware. Absolute rates are printed too.
Usage: python -m benchmarks [--signups N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path


def _setup(app, people: int, capacity: int) -> tuple[int, list[str]]:
    """Build the schema, one session and ``people`` residents with API tokens."""
    from flask_migrate import upgrade

    from consult.accounts.models import ApiToken, User, new_token
    from consult.community.models import Community
    from consult.extensions import db
    from consult.meetings.models import Meeting
    from consult.types import utcnow

    with app.app_context():
        upgrade()
        community = Community(name=f"Bench {uuid.uuid4().hex[:6]}")
        db.session.add(community)
        db.session.flush()
        starts = utcnow().replace(microsecond=0) + timedelta(days=7)
        meeting = Meeting(uid=f"{uuid.uuid4()}@bench", kind="friday_talk", title="周五说事日",
                          community_id=community.id, starts_at=starts,
                          ends_at=starts + timedelta(hours=2), timezone="Asia/Shanghai",
                          capacity=capacity)
        users = [User(email=f"bench{i}-{uuid.uuid4().hex[:6]}@example.org", name=f"居民{i}",
                      role="resident") for i in range(people)]
        db.session.add_all([meeting, *users])
        db.session.flush()
        tokens = []
        for user in users:
            token, token_hash = new_token()
            db.session.add(ApiToken(user_id=user.id, token_hash=token_hash))
            tokens.append(token)
        db.session.commit()
        return meeting.id, tokens


def _rate(n: int, run) -> float:
    started = time.perf_counter()
    run()
    return n / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--signups", type=int, default=200, help="sign-ups to time (200)")
    parser.add_argument("--database-url", help="a database that may be written to "
                        "(default: a new SQLite file)")
    args = parser.parse_args(argv)
    if args.signups < 2:
        parser.error("--signups must be at least 2")

    from consult import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                          "RATELIMIT_ENABLED": False, "SMTP_HOST": None})
        n = args.signups
        # Half confirmed (with their confirmation mail queued), half waiting.
        meeting_id, tokens = _setup(app, n, capacity=n // 2)
        client = app.test_client()
        path = f"/api/v1/sessions/{meeting_id}/registrations"

        def baseline():
            for _ in range(n):
                assert client.get("/healthz").status_code == 200

        def signups():
            for token in tokens:
                response = client.post(path, json={},
                                       headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 201, response.get_data(as_text=True)

        baseline()  # warm up templates, caches and the connection pool
        base_rate = _rate(n, baseline)
        signup_rate = _rate(n, signups)
        result = {
            "benchmark": "signup_throughput",
            "database": url.split(":", 1)[0],
            "signups": n,
            "baseline_requests_per_s": round(base_rate, 1),
            "signups_per_s": round(signup_rate, 1),
            "ratio_to_baseline": round(signup_rate / base_rate, 4),
        }
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
