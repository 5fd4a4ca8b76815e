"""MAIL_QUEUE=rq: writes that queue mail or notices enqueue jobs in Redis, and several
`flask mail rq-worker` processes deliver them, each message exactly once.

Needs the Redis server on 127.0.0.1:6379 (skipped without it, failed under CI); uses a
database number of its own, emptied before and after each test. Runs on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from consult.config import ConfigError, load_config
from consult.extensions import db
from consult.mail.compose import Recipient, compose
from consult.mail.models import OutboxMessage
from consult.mail.outbox import queue_message
from consult.transactions import run_write
from tests.conftest import worker_redis_url
from tests.mail.sink import free_port, running_sink
from tests.notices.robots import running_robots
from tests.test_rate_limits import redis_or_skip

ROOT = Path(__file__).resolve().parents[2]
#: Every test here empties and reads this Redis database: one for each test worker.
REDIS_URL = worker_redis_url(0)


@pytest.fixture
def rq_redis():
    """The Redis database of these tests, empty; emptied again afterwards."""
    redis_or_skip()
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def app_config(app_config, rq_redis):
    return {**app_config, "REDIS_URL": REDIS_URL, "MAIL_QUEUE": "rq"}


def jobs(connection) -> list:
    from rq import Queue

    from consult.mail.queue import QUEUE_NAME

    return Queue(QUEUE_NAME, connection=connection).get_jobs()


def message(address: str):
    return compose(Recipient(address, "王芳"), "测试 Test", "正文 text", "<p>正文</p>")


def queue_in_one_write(*addresses: str) -> list[int]:
    """Queue one message per address in one write (as a request would); return the ids."""
    return run_write(lambda: [queue_message(message(a), "test").id for a in addresses])


def rows() -> list[OutboxMessage]:
    """The outbox as committed now (a read transaction that stays open would keep
    showing the database as it was when it began)."""
    db.session.expire_all()
    try:
        return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    finally:
        db.session.commit()


# -- the setting -------------------------------------------------------------------------


def test_mail_queue_rq_needs_redis_url(monkeypatch, tmp_path):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("MAIL_QUEUE", "rq")
    with pytest.raises(ConfigError, match="MAIL_QUEUE=rq needs REDIS_URL"):
        load_config(tmp_path)


def test_mail_queue_takes_rq_or_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("MAIL_QUEUE", "celery")
    with pytest.raises(ConfigError, match="MAIL_QUEUE must be rq or unset"):
        load_config(tmp_path)
    monkeypatch.delenv("MAIL_QUEUE")
    assert load_config(tmp_path)["MAIL_QUEUE"] is None


def test_mail_queue_rq_with_redis(monkeypatch, tmp_path, rq_redis):
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("MAIL_QUEUE", "RQ")
    assert load_config(tmp_path)["MAIL_QUEUE"] == "rq"


# -- enqueued after the commit ------------------------------------------------------------


def test_a_write_that_queues_mail_enqueues_its_delivery_once_committed(app, rq_redis):
    ids = queue_in_one_write(*(f"resident{n}@example.org" for n in range(25)))
    from consult.mail.queue import BATCH

    queued = jobs(rq_redis)
    # One job per batch of rows, in the order queued.
    assert [job.args for job in queued] == [(ids[:BATCH], []), (ids[BATCH:], [])]
    assert all(job.func_name == "consult.mail.queue.deliver_outbox" for job in queued)


def test_a_failed_message_sent_again_is_enqueued_again(app, rq_redis, factories):
    from consult.notices.operations import resend_message

    (row_id,) = queue_in_one_write("wang.fang@example.org")
    run_write(lambda: setattr(db.session.get(OutboxMessage, row_id), "status", "failed"))
    admin = factories.make_user("admin")
    run_write(lambda: resend_message(db.session.get(OutboxMessage, row_id), admin))
    assert [job.args for job in jobs(rq_redis)] == [([row_id], []), ([row_id], [])]


def test_a_write_that_rolls_back_enqueues_nothing(app, rq_redis):
    def work():
        queue_message(message("wang.fang@example.org"), "test")
        raise RuntimeError("the change is refused")

    with pytest.raises(RuntimeError):
        run_write(work)
    assert rows() == []
    assert jobs(rq_redis) == []


def test_without_mail_queue_nothing_is_enqueued(app, rq_redis):
    app.config["MAIL_QUEUE"] = None
    queue_in_one_write("wang.fang@example.org")
    assert len(rows()) == 1
    assert jobs(rq_redis) == []


def test_a_redis_that_fails_loses_no_message(app, rq_redis, caplog):
    from consult.mail import queue

    app.extensions.pop(queue._CLIENT, None)
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    try:
        (row_id,) = queue_in_one_write("wang.fang@example.org")
    finally:
        app.extensions.pop(queue._CLIENT, None)
    # The write stands; the message waits in the outbox for the next round.
    assert [(r.id, r.status) for r in rows()] == [(row_id, "queued")]
    assert "could not enqueue the delivery of outbox rows" in caplog.text


# -- the job ----------------------------------------------------------------------------


def test_the_job_delivers_its_rows_and_leaves_others_alone(app, rq_redis):
    from consult.mail.queue import deliver_outbox

    mine = queue_in_one_write("a@example.org", "b@example.org")
    other = queue_in_one_write("c@example.org")
    with running_sink() as sink:
        app.config.update(SMTP_HOST=sink.host, SMTP_PORT=sink.port)
        done = deliver_outbox(mine, [])
        received = sorted(str(m["To"]) for m in sink.received())
    assert done == {"mail": {"sent": 2, "retrying": 0, "failed": 0}}
    assert received == ["王芳 <a@example.org>", "王芳 <b@example.org>"]
    assert {r.id: r.status for r in rows()} == {
        mine[0]: "sent",
        mine[1]: "sent",
        other[0]: "queued",
    }


def test_a_job_whose_rows_were_taken_does_nothing(app, rq_redis):
    from consult.mail.queue import deliver_outbox

    ids = queue_in_one_write("a@example.org", "b@example.org")
    run_write(lambda: [setattr(db.session.get(OutboxMessage, i), "status", "sent") for i in ids])
    # Not even a connection: nothing listens where the mail server would be.
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())
    assert deliver_outbox(ids, []) == {}
    assert {r.status for r in rows()} == {"sent"}


def test_rq_worker_refuses_to_run_without_mail_queue(app, runner):
    app.config["MAIL_QUEUE"] = None
    result = runner.invoke(args=["mail", "rq-worker", "--burst"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: MAIL_QUEUE is not rq: no job is queued for this worker; mail is delivered "
        "by `flask mail send` or `flask mail worker`."
    ]


def test_rq_worker_says_in_one_line_that_redis_cannot_be_reached(app, runner):
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    result = runner.invoke(args=["mail", "rq-worker", "--burst"])
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: the job queue cannot be reached: ")


def test_rq_worker_in_burst_mode_delivers_what_is_queued_and_stops(app, runner, rq_redis):
    queue_in_one_write("wang.fang@example.org")
    with running_sink() as sink:
        app.config.update(SMTP_HOST=sink.host, SMTP_PORT=sink.port)
        result = runner.invoke(args=["mail", "rq-worker", "--burst"])
        assert result.exit_code == 0, result.output
        assert [str(m["To"]) for m in sink.received()] == ["王芳 <wang.fang@example.org>"]
    assert [r.status for r in rows()] == ["sent"]
    assert jobs(rq_redis) == []


# -- several worker processes ----------------------------------------------------------

MESSAGES = 40
NOTICES = 10
WORKERS = 3


def _start_workers(app, sink, n: int) -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "test-secret",
        "BASE_URL": "http://consult.test",
        "SMTP_HOST": sink.host,
        "SMTP_PORT": str(sink.port),
        "REDIS_URL": REDIS_URL,
        "MAIL_QUEUE": "rq",
    }
    flask = str(Path(sys.executable).with_name("flask"))
    return [
        subprocess.Popen(
            [flask, "--app", "wsgi", "mail", "rq-worker", "--name", f"test-worker-{k}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for k in range(n)
    ]


def _wait_for(condition, timeout: float, what: str, workers=()) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for worker in workers:
            if worker.poll() is not None:
                raise AssertionError(f"a worker exited: {worker.stdout.read().decode()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.05)


def _stop(workers: list[subprocess.Popen]) -> list[str]:
    """Stop the workers as a service manager does (SIGTERM: warm shut-down)."""
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    outputs = []
    for worker in workers:
        try:
            out, _err = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            out, _err = worker.communicate()
        outputs.append(out.decode(errors="replace"))
    return outputs


@pytest.mark.real_commits  # worker processes read what the test commits
def test_three_workers_deliver_each_message_and_notice_exactly_once(
    app, rq_redis, factories, api_as
):
    from rq import Queue, Worker

    from consult.mail.queue import QUEUE_NAME
    from consult.notices.operations import add_channel

    api = api_as(factories.make_user("cadre"))
    meetings = [factories.make_meeting().id for _ in range(NOTICES)]
    with running_sink(delay=0.02) as sink, running_robots() as robots:
        add_channel({"kind": "webhook", "url": robots.url("/hook/consult")}, None)
        db.session.commit()
        db.session.remove()
        workers = _start_workers(app, sink, WORKERS)
        try:
            _wait_for(
                lambda: len(Worker.all(connection=rq_redis)) == WORKERS,
                60,
                "the workers are registered in Redis",
                workers,
            )
            started = time.monotonic()
            # Mail: one write per message, as sign-ups make them.
            for n in range(MESSAGES):
                queue_in_one_write(f"resident{n}@example.org")
            # Notices: cancelling each session through the API posts one to the channel.
            for meeting_id in meetings:
                assert api.post(f"/api/v1/sessions/{meeting_id}/cancel").status_code == 200
            try:
                _wait_for(
                    lambda: Counter(r.status for r in rows()) == {"sent": MESSAGES + NOTICES},
                    60,
                    "every message and notice is sent",
                    workers,
                )
            except AssertionError as exc:
                state = Counter((r.transport, r.status, r.last_error) for r in rows())
                outputs = [output[-1500:] for output in _stop(workers)]
                raise AssertionError(f"{exc}: {state}; {outputs}") from None
            elapsed = time.monotonic() - started
        finally:
            outputs = _stop(workers)
        received = sink.received()
        posted = robots.at("/hook")

    assert [w.returncode for w in workers] == [0] * WORKERS, outputs
    # Each message arrived once (one Message-ID each), each notice was posted once.
    assert len(received) == MESSAGES
    assert set(Counter(str(m["Message-ID"]) for m in received).values()) == {1}
    assert sorted(str(m["To"]).split("<")[1].rstrip(">") for m in received) == sorted(
        f"resident{n}@example.org" for n in range(MESSAGES)
    )
    assert len(posted) == NOTICES and all(p.problem is None for p in posted)
    assert sorted(p.body["session"] for p in posted) == sorted(meetings)
    assert all(r.attempts == 1 for r in rows())
    # The work was shared among the processes, and every job ran.
    queue = Queue(QUEUE_NAME, connection=rq_redis)
    finished = [queue.fetch_job(i) for i in queue.finished_job_registry.get_job_ids()]
    assert len(finished) == MESSAGES + NOTICES
    assert queue.count == 0 and queue.failed_job_registry.count == 0
    delivering = {job.worker_name for job in finished if job.return_value()}
    assert len(delivering) >= 2, outputs
    assert elapsed < 30
