"""The health check's database probe, bounded in time.

The probe runs ``SELECT 1`` in a thread of its own and is waited for at most
HEALTHZ_TIMEOUT seconds, so that a database behind a link that stops answering makes
``/healthz`` fail fast instead of hanging with it. At most one probe runs at a time
per process: while one hangs, later checks wait for that one instead of starting more.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import text

from consult.extensions import db

log = logging.getLogger(__name__)


@dataclass
class _Probe:
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False


_lock = threading.Lock()


def _run(app: Flask, probe: _Probe) -> None:
    try:
        with app.app_context(), db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        probe.ok = True
    except Exception:  # noqa: BLE001 (any failure means "not healthy")
        log.warning("health check: the database does not answer", exc_info=True)
    finally:
        probe.done.set()


def database_answers(app: Flask, timeout: float) -> bool:
    """Return whether the database answered ``SELECT 1`` within ``timeout`` seconds."""
    with _lock:
        probe = app.extensions.get("consult.health_probe")
        if probe is None or probe.done.is_set():
            probe = _Probe()
            app.extensions["consult.health_probe"] = probe
            threading.Thread(
                target=_run, args=(app, probe), name="health-probe", daemon=True
            ).start()
    return probe.done.wait(timeout) and probe.ok
