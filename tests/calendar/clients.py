"""Calendar clients nobody here wrote, reading what Consult emits.

- Mozilla's ical.js (Thunderbird's parser) through node (``tests/calendar/js``; its
  package is installed from the lock file with ``npm ci`` by ``ensure_icaljs``);
- recurring-ical-events (Python);
- Radicale, a CalDAV server started on a loopback port with a temporary storage folder,
  written to and read from with the caldav library (the server expands the series).

Each returns the instances between two instants as ``Instance`` tuples, so tests can
compare them with one another and with the application's own list of occurrences.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import recurring_ical_events
from icalendar import Calendar

JS_DIR = Path(__file__).parent / "js"
NODE = shutil.which("node") or "/usr/bin/node"


class Instance(NamedTuple):
    uid: str
    start: datetime
    end: datetime
    status: str


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)


def ensure_icaljs() -> None:
    """Install ical.js from the lock file (npm ci) unless it is there; one process at a
    time (parallel test workers share the folder)."""
    marker = JS_DIR / "node_modules" / "ical.js" / "package.json"
    if marker.exists():
        return
    with open(JS_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=JS_DIR,
                check=True,
                capture_output=True,
                timeout=300,
            )


def icaljs(body: bytes, start: datetime, end: datetime) -> list[Instance]:
    """Instances as ical.js expands them."""
    ensure_icaljs()
    done = subprocess.run(
        [NODE, "expand.mjs", start.isoformat(), end.isoformat()],
        cwd=JS_DIR,
        input=body,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    return sorted(
        Instance(
            item["uid"],
            _iso(item["start"]),
            _iso(item["end"]),
            (item["status"] or "CONFIRMED").upper(),
        )
        for item in json.loads(done.stdout)
    )


def _iso(value: str) -> datetime:
    return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def rie(body: bytes, start: datetime, end: datetime) -> list[Instance]:
    """Instances as recurring-ical-events expands them."""
    out = []
    for cal in Calendar.from_ical(body, multiple=True):
        for event in recurring_ical_events.of(cal).between(start, end):
            out.append(_instance(event))
    return sorted(out)


def _instance(event) -> Instance:
    return Instance(
        str(event["UID"]),
        _utc(event.decoded("DTSTART")),
        _utc(event.decoded("DTEND")),
        str(event.get("STATUS", "CONFIRMED")).upper(),
    )


def live(instances: list[Instance]) -> list[tuple[str, datetime, datetime]]:
    """The instances that take place (not STATUS:CANCELLED), without their status."""
    return sorted((i.uid, i.start, i.end) for i in instances if i.status != "CANCELLED")


# -- Radicale ------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def radicale(storage: Path) -> Iterator[str]:
    """Run Radicale on a free loopback port (no authentication, storage in ``storage``);
    yield its base URL once it answers."""
    port = _free_port()
    config = storage / "config"
    config.write_text("[server]\n[auth]\ntype = none\n[rights]\ntype = owner_only\n")
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [
            sys.executable,
            "-m",
            "radicale",
            "--config",
            str(config),
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--storage-filesystem-folder",
            str(storage / "collections"),
            "--logging-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 (loopback)
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Radicale did not start: {process.stderr.read().decode()}"
                    ) from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def objects_by_uid(body: bytes) -> list[bytes]:
    """Split a calendar into one calendar object per UID (master and overrides together,
    with the time zones), as a CalDAV client such as vdirsyncer stores it."""
    cal = Calendar.from_ical(body)
    zones = list(cal.walk("VTIMEZONE"))
    groups: dict[str, list] = {}
    for event in cal.walk("VEVENT"):
        groups.setdefault(str(event["UID"]), []).append(event)
    out = []
    for events in groups.values():
        obj = Calendar()
        for name in ("PRODID", "VERSION", "CALSCALE"):
            if name in cal:
                obj.add(name.lower(), cal[name])
        for zone in zones:
            obj.add_component(zone)
        for event in events:
            obj.add_component(event)
        out.append(obj.to_ical())
    return out


def caldav_roundtrip(
    url: str, body: bytes, start: datetime, end: datetime, name: str = "consult"
) -> list[Instance]:
    """PUT every object of ``body`` into a new calendar on the CalDAV server at ``url``
    (through the caldav library), then read the instances back, expanded by the server."""
    import caldav

    try:
        client = caldav.DAVClient(url=url, username="tester", password="x", require_tls=False)
    except TypeError:  # caldav before 3 has no require_tls and allows plain HTTP
        client = caldav.DAVClient(url=url, username="tester", password="x")
    principal = client.principal()
    calendar = principal.make_calendar(name=name, cal_id=name)
    for obj in objects_by_uid(body):
        calendar.save_event(obj.decode())
    found = calendar.search(start=start, end=end, event=True, expand=True)
    out = []
    for item in found:
        cal = Calendar.from_ical(item.data)
        for event in cal.walk("VEVENT"):
            out.append(_instance(event))
    return sorted(out)
