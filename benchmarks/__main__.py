"""`make bench`: throughput of the heavy endpoints, as ratios to /healthz in the same round.

Each run builds a fresh database (SQLite in a temporary folder, or a new PostgreSQL
database beside the one ``--database-url`` names), loads the demo town at ``--scale``,
analyses it, and serves it with gunicorn (2 workers) in its own process. wrk, an
external load generator, then measures every endpoint for ``--seconds``, each time
right after /healthz, over ``--rounds`` interleaved rounds: the ratio of the two rates
says what an endpoint costs whatever the machine and whatever else it is doing. The
table gives the median ratio with its spread (lowest and highest round), the target,
and the workers' peak memory; ``--output`` writes it as Markdown (docs/PERFORMANCE.md):
between the file's ``<!-- bench:sqlite -->`` and ``<!-- /bench:sqlite -->`` markers (or
``postgresql``) when it has them, else as the whole file.

``--only`` measures the endpoints whose names contain one of its words (for working on
one of them); such a partial run is printed and never written to ``--output``.

Usage: python -m benchmarks [--scale N] [--database-url URL] [--rounds R] [--seconds S]
       [--only WORD ...]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESIDENTS = 400  # residents with API tokens who sign up during the sign-up benchmark
SIGNUP_SESSIONS = 60  # upcoming public sessions they sign up for (each pair once)


@dataclass
class Endpoint:
    """One line of the table: what wrk asks for and the ratio it should reach."""

    name: str
    path: str
    target: float
    headers: dict[str, str] = field(default_factory=dict)
    script: str | None = None  # a wrk Lua script instead of a plain GET
    ratios: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)


class BenchError(Exception):
    """A step of the benchmark could not be done; the message says which."""


# -- the database and the server --------------------------------------------------------


def fresh_database(url: str | None, tmp: Path) -> tuple[str, callable]:
    """Return a new empty database's URL and a function that drops it."""
    if not url:
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None
    from sqlalchemy import create_engine, make_url, text

    given = make_url(url)
    name = f"consult_bench_{os.getpid()}"
    server = create_engine(given, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()

    return given.set(database=name).render_as_string(False), drop


def build_town(url: str, scale: int) -> dict:
    """Migrate, load the demo town, analyse, and make the tokens the benchmark needs."""
    from flask_migrate import upgrade
    from sqlalchemy import select, text

    from consult import create_app
    from consult.accounts.models import ApiToken, User, new_token
    from consult.demo.builder import load_demo
    from consult.extensions import db
    from consult.maintenance import compact_counters
    from consult.meetings.models import Meeting
    from consult.types import utcnow

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "RATELIMIT_ENABLED": False,
            "SMTP_HOST": None,
        }
    )
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        load_demo(scale=scale)
        db.session.commit()
        load_seconds = time.perf_counter() - started
        # load_demo analysed the tables in its transaction; the counters' table is
        # compacted after it, as `demo load` leaves it.
        compact_counters()

        def token_for(user: User) -> str:
            token, token_hash = new_token()
            db.session.add(ApiToken(user_id=user.id, token_hash=token_hash))
            return token

        cadre = db.session.scalar(select(User).where(User.email == "cadre@chengguan.example"))
        if cadre is None:
            raise BenchError("the demo town has no cadre account")
        # New residents, so that no (resident, session) pair is signed up already.
        residents = [
            User(email=f"bench{i:04d}@bench.example", name=f"压测居民{i}", role="resident")
            for i in range(RESIDENTS)
        ]
        db.session.add_all(residents)
        db.session.flush()
        now = utcnow()
        upcoming = db.session.scalars(
            select(Meeting)
            .where(
                Meeting.starts_at > now,
                Meeting.status == "scheduled",
                Meeting.visibility == "public",
            )
            .order_by(Meeting.starts_at)
            .limit(SIGNUP_SESSIONS + 1)
        ).all()
        if len(upcoming) < 2 or not residents:
            raise BenchError("the demo town has no upcoming public session or no resident")
        # The session whose page and file are measured is not one the sign-up benchmark
        # fills: every round then measures the same page.
        staff_session = upcoming[0]
        info = {
            "cadre_email": cadre.email,
            "cadre_token": token_for(cadre),
            "resident_tokens": [token_for(r) for r in residents],
            "signup_sessions": [m.id for m in upcoming[1:]],
            "session_id": staff_session.id,
            "community": staff_session.community.name,
            "load_seconds": load_seconds,
            "sessions": db.session.scalar(text("SELECT count(*) FROM meetings")),
        }
        db.session.commit()
    return info


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int, log: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=url,
        BASE_URL=f"http://127.0.0.1:{port}",
        LOGIN_RATE_LIMIT="1000 per minute",
    )
    env["SECRET_KEY"] = os.urandom(16).hex()  # both workers sign with the same key
    env.pop("SMTP_HOST", None)
    process = subprocess.Popen(  # noqa: S603 (our own gunicorn)
        [
            str(BIN / "gunicorn"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            str(log.with_suffix(".access")),
            "--error-logfile",
            str(log),
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn stopped at start-up; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return process
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    process.terminate()
    raise BenchError("gunicorn did not answer /healthz within 60 s")


def worker_peak_memory(server: subprocess.Popen) -> list[int]:
    """The peak resident memory (kB) of each gunicorn worker."""
    peaks = []
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    for pid in children.read_text().split() if children.exists() else []:
        status = Path(f"/proc/{pid}/status").read_text()
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            peaks.append(int(match.group(1)))
    return peaks


# -- HTTP set-up through the running server ----------------------------------------------


def sign_in(base: str, email: str, password: str) -> str:
    """Sign in through the real form; return the Cookie header of the signed-in browser."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if not token:
        raise BenchError("no csrf_token on /login")
    body = urllib.parse.urlencode(
        {"email": email, "password": password, "csrf_token": token.group(1)}
    ).encode()
    opener.open(f"{base}/login", data=body)
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "remember_token" not in cookies and "session=" not in cookies:
        raise BenchError(f"could not sign in as {email}")
    return cookies


def api(base: str, method: str, path: str, token: str, body: dict | None = None):
    request = urllib.request.Request(  # noqa: S310 (loopback)
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310
        return json.loads(response.read() or b"null"), response.headers


def etag_of(base: str, path: str) -> str:
    with urllib.request.urlopen(base + path) as response:  # noqa: S310
        etag = response.headers.get("ETag")
    if not etag:
        raise BenchError(f"{path} sends no ETag")
    return etag


SIGNUP_LUA = """
local tokens = {%(tokens)s}
local sessions = {%(sessions)s}
local counter = 0
local threads = 0
-- Each thread takes its own range of (resident, session) pairs, from the offset given
-- as the script's argument on: every pair signs up once in the whole run.
function setup(thread)
  thread:set("range", %(per_thread)d * threads)
  threads = threads + 1
end
function init(args)
  offset = range + tonumber(args[1] or "0")
end
request = function()
  local n = counter + offset
  counter = counter + 1
  local t = tokens[(n %% #tokens) + 1]
  local s = sessions[(math.floor(n / #tokens) %% #sessions) + 1]
  return wrk.format("POST", "/api/v1/sessions/" .. s .. "/registrations",
    {["Authorization"] = "Bearer " .. t, ["Content-Type"] = "application/json"}, "{}")
end
"""


def endpoints(base: str, town: dict, tmp: Path) -> list[Endpoint]:
    cadre = {"Authorization": f"Bearer {town['cadre_token']}"}
    cookie = {"Cookie": sign_in(base, town["cadre_email"], "cadre-demo")}
    community, _ = api(
        base,
        "POST",
        "/api/v1/feeds",
        town["cadre_token"],
        {"scope": "community", "community": town["community"]},
    )
    resident = town["resident_tokens"][0]
    sid = town["session_id"]
    api(base, "POST", f"/api/v1/sessions/{sid}/registrations", resident, {})
    mine, _ = api(base, "POST", "/api/v1/feeds", resident, {"scope": "mine"})
    etag = etag_of(base, community["url"])
    per_thread = len(town["resident_tokens"]) * len(town["signup_sessions"]) // 2
    script = tmp / "signup.lua"
    script.write_text(
        SIGNUP_LUA
        % {
            "tokens": ",".join(f'"{t}"' for t in town["resident_tokens"][1:]),
            "sessions": ",".join(str(s) for s in town["signup_sessions"]),
            "per_thread": per_thread,
        }
    )
    return [
        Endpoint("/api/v1/sessions page 1", "/api/v1/sessions", 0.5, cadre),
        Endpoint("/api/v1/stats", "/api/v1/stats", 0.3, cadre),
        Endpoint("/sessions (signed in)", "/sessions", 0.3, cookie),
        Endpoint("a session page as staff", f"/sessions/{sid}", 0.3, cookie),
        Endpoint("month calendar as staff", "/sessions/calendar", 0.3, cookie),
        Endpoint("community feed, 200", community["url"], 0.2),
        Endpoint("personal feed, 200", mine["url"], 0.3),
        Endpoint("feed revalidated, 304", community["url"], 0.8, {"If-None-Match": etag}),
        Endpoint("per-session .ics", f"/sessions/{sid}.ics", 0.5),
        Endpoint("sign-up through the API", "/", 0.25, script=str(script)),
    ]


def chosen(eps: list[Endpoint], words: list[str] | None) -> list[Endpoint]:
    """The endpoints whose names contain one of ``words`` (all without words)."""
    if not words:
        return eps
    found = [ep for ep in eps if any(word in ep.name for word in words)]
    if not found:
        raise BenchError(f"no endpoint's name contains {' or '.join(words)}")
    return found


# -- measuring ---------------------------------------------------------------------------


def wrk(
    base: str,
    path: str,
    seconds: int,
    connections: int,
    headers: dict[str, str],
    script: str | None = None,
    script_args: tuple[str, ...] = (),
) -> tuple[float, int, int]:
    """Run wrk; return requests per second, requests made and non-2xx/3xx answers."""
    command = [
        shutil.which("wrk") or "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", script]
    command.append(base + path)
    if script_args:
        command += ["--", *script_args]
    done = subprocess.run(  # noqa: S603 (wrk, with arguments built here)
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    out = done.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    made = re.search(r"(\d+) requests in", out)
    if not rate or not made or float(rate.group(1)) == 0:
        raise BenchError(f"wrk measured no rate for {path}:\n{out}")
    return float(rate.group(1)), int(made.group(1)), int(bad.group(1)) if bad else 0


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    except (OSError, AttributeError):
        mem = 0
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem // 1024 // 1024} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def report(
    eps: list[Endpoint], town: dict, args, database: str, peaks: list[int], baseline: list[float]
) -> str:
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        f"Database: {database}; demo town at scale {args.scale} ({town['sessions']} sessions, "
        f"loaded in {town['load_seconds']:.0f} s); gunicorn with 2 sync workers; wrk with "
        f"2 threads and {args.connections} connections; {args.rounds} rounds of "
        f"{args.seconds} s per endpoint, each right after /healthz.",
        f"/healthz: median {statistics.median(baseline):.0f} requests/s "
        f"({min(baseline):.0f}–{max(baseline):.0f}).",
        "",
        "| endpoint | median ratio to /healthz | spread | requests/s | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for ep in eps:
        median = statistics.median(ep.ratios)
        lines.append(
            f"| {ep.name} | {median:.3f} | {min(ep.ratios):.3f}–{max(ep.ratios):.3f} "
            f"| {statistics.median(ep.rates):.0f} | ≥ {ep.target} "
            f"| {'yes' if median >= ep.target else 'no'} |"
        )
    lines += [
        "",
        f"Worker peak memory: {', '.join(f'{p // 1024} MB' for p in peaks) or 'n/a'} "
        "(target ≤ 200 MB each).",
    ]
    return "\n".join(lines) + "\n"


def write_report(path: Path, database: str, text: str) -> None:
    """Write the table into ``path``: between the markers of its database when the file
    has them (docs/PERFORMANCE.md keeps one table per database, and the text around
    them), else as the whole file."""
    start, end = f"<!-- bench:{database} -->", f"<!-- /bench:{database} -->"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if start in old and end in old:
        head, rest = old.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{text}{end}{tail}"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", type=int, default=1, help="demo town scale (1)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL; a new database is "
        "made beside the one it names (default: a new SQLite file)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--seconds", type=int, default=5, help="seconds per measurement (5)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--output", help="also write the table as Markdown to this file")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="WORD",
        help="measure only the endpoints whose names contain one of these words "
        "(the table is then printed, not written)",
    )
    args = parser.parse_args(argv)
    if args.scale < 1 or args.rounds < 1 or args.seconds < 1 or args.connections < 2:
        parser.error("--scale, --rounds and --seconds must be at least 1, --connections 2")
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        url, drop = fresh_database(args.database_url, tmp)
        server = None
        try:
            print(f"Loading the demo town at scale {args.scale} ...", flush=True)
            town = build_town(url, args.scale)
            port = free_port()
            server = start_server(url, port, tmp / "gunicorn.log")
            base = f"http://127.0.0.1:{port}"
            eps = chosen(endpoints(base, town, tmp), args.only)
            baseline: list[float] = []
            signed_up = 0  # sign-up pairs used so far: the next run starts after them

            def measure(ep: Endpoint, seconds: int) -> float:
                nonlocal signed_up
                rate, made, bad = wrk(
                    base,
                    ep.path,
                    seconds,
                    args.connections,
                    ep.headers,
                    ep.script,
                    (str(signed_up),) if ep.script else (),
                )
                signed_up += made if ep.script else 0
                if bad:
                    raise BenchError(f"{ep.name}: {bad} of {made} requests failed")
                return rate

            for ep in eps:  # warm up both workers' caches and connections
                for _ in range(4 if not ep.script else 0):
                    request = urllib.request.Request(base + ep.path, headers=ep.headers)  # noqa: S310
                    try:
                        urllib.request.urlopen(request, timeout=120).read()  # noqa: S310
                    except urllib.error.HTTPError as error:
                        if error.code != 304:
                            raise BenchError(f"{ep.name} answered {error.code}") from None
            for round_no in range(1, args.rounds + 1):
                for ep in eps:
                    base_rate, _, _ = wrk(base, "/healthz", args.seconds, args.connections, {})
                    rate = measure(ep, args.seconds)
                    baseline.append(base_rate)
                    ep.rates.append(rate)
                    ep.ratios.append(rate / base_rate)
                    print(
                        f"round {round_no}: {ep.name}: {rate:.0f}/s, /healthz "
                        f"{base_rate:.0f}/s, ratio {rate / base_rate:.3f}",
                        flush=True,
                    )
            peaks = worker_peak_memory(server)
            database = url.split(":", 1)[0].split("+")[0]
            text = report(eps, town, args, database, peaks, baseline)
            print(text)
            if args.output and not args.only:
                write_report(Path(args.output), database, text)
        except BenchError as error:
            print(f"benchmark failed: {error}", file=sys.stderr)
            access = tmp / "gunicorn.access"
            if access.exists():
                failed = [
                    line
                    for line in access.read_text().splitlines()
                    if re.search(r'" [45]\d\d ', line)
                ]
                print("\n".join(failed[-5:]), file=sys.stderr)
            return 1
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
