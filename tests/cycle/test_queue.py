"""The cycle on Celery, against the RabbitMQ and the Redis this machine runs: one task per
(job, bank, period), the job-runs table as the exactly-once record, and the faults — a task
delivered twice, a worker killed mid-task, a bank that keeps failing, a broker that is down."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner
from kombu import Connection
from sqlalchemy import func, select

from cycle import queue
from cycle.models import JobRun
from cycle.scheduler import Cycle
from ledger import banks as ledger_banks
from reports import services as reports
from reports.models import Snapshot
from tests.conftest import POSTGRES_URL, RULES
from tests.reports.helpers import at
from zongzhi.cli import WORKER_NICENESS, main
from zongzhi.app import create_app

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BROKERS = {"rabbitmq": "amqp://guest:guest@127.0.0.1:5672//", "redis": "redis://127.0.0.1:6379/11"}

#: A worker whose monthly notice takes seconds, so that it can be killed in the middle of one.
SLOW_WORKER = """
import sys, time
from dataclasses import replace
from cycle import jobs, queue
from zongzhi.app import create_app

url, broker, name = sys.argv[1:4]
job = jobs.JOBS["monthly"]
def slow(*args):
    print("started", flush=True)
    time.sleep(30)
    return job.run(*args)
jobs.JOBS["monthly"] = replace(job, run=slow)
app = create_app({"DATABASE_URL": url, "BROKER_URL": broker, "CYCLE_QUEUE": name, "CYCLE_LEASE_S": "2",
                  "SECRET_KEY": "t"})
queue.work(app, concurrency=1, extra=("--pool=solo",))
"""


def _reachable(url: str) -> bool:
    port = 5672 if url.startswith("amqp") else 6379
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(params=sorted(BROKERS))
def broker(request, backend):
    """A real broker and a queue of this test's own, deleted afterwards.

    Each broker runs against one database when both are tested (RabbitMQ with PostgreSQL, Redis
    with SQLite), so that every broker and every database is covered at half the suite's time.
    """
    if POSTGRES_URL and backend["name"] != {"rabbitmq": "postgresql", "redis": "sqlite"}[request.param]:
        pytest.skip(f"{request.param} is tested against the other database")
    url = BROKERS[request.param]
    if not _reachable(url):
        pytest.skip(f"{request.param} is not running at {url}")
    name = f"zongzhi.test.{uuid.uuid4().hex[:12]}"
    yield {"url": url, "queue": name}
    with Connection(url) as conn:
        try:
            conn.default_channel.queue_delete(name)
        except Exception:  # never declared: nothing to delete
            pass


@pytest.fixture
def env(database_url, broker):
    return {**os.environ, "PYTHONPATH": str(ROOT), "ZONGZHI_DATABASE_URL": database_url,
            "ZONGZHI_BROKER_URL": broker["url"], "ZONGZHI_CYCLE_QUEUE": broker["queue"],
            "ZONGZHI_CYCLE_LEASE_S": "2", "ZONGZHI_CYCLE_RETRY_S": "0.3", "ZONGZHI_SECRET_KEY": "t" * 32}


@pytest.fixture
def workers(env, tmp_path):
    """Start `zongzhi worker` processes (each in a process group of its own); stopped at the end."""
    started = []

    def start(*args, script=None):
        command = ([sys.executable, "-c", script, env["ZONGZHI_DATABASE_URL"], env["ZONGZHI_BROKER_URL"],
                    env["ZONGZHI_CYCLE_QUEUE"]] if script else
                   [sys.executable, "-m", "zongzhi.cli", "worker", *args])
        log = open(tmp_path / f"worker{len(started)}.log", "w+")
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, text=True)
        proc.log = log
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.log.close()


def _niceness(pid) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _cli(env, *args):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result


def _wait(session, test, seconds=20, what=""):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        session.expire_all()
        rows = session.execute(select(JobRun).order_by(JobRun.id)).scalars().all()
        if test(rows):
            return rows
        session.rollback()
        time.sleep(0.2)
    raise AssertionError(f"{what}: still {[(r.job, r.bank_id, r.period, r.status, r.attempts) for r in rows]}")


def _bank(session, code, created=None):
    return ledger_banks.create_bank(session, code, f"{code}村综治银行", rules_text=RULES, source_name="t",
                                    by="t", clock=created or at(2026, 8, 1))


def _snapshots(session, kind):
    session.expire_all()
    return session.execute(select(func.count()).select_from(Snapshot).where(Snapshot.kind == kind)).scalar()


def test_cycle_run_for_every_bank_queues_one_task_each_that_workers_run_once(session, env, workers):
    banks = [_bank(session, code) for code in ("a1", "b2", "c3")]
    session.commit()
    queued = _cli(env, "cycle", "run", "monthly", "--bank", "all", "--period", "2026-09")
    assert queued.exit_code == 0, queued.output
    assert queued.output.count("已排队 queued") == 3
    assert {r.status for r in session.execute(select(JobRun)).scalars()} == {"queued"}
    worker = workers("--concurrency", "2")
    rows = _wait(session, lambda rows: all(r.status == "done" for r in rows), what="three notices")
    assert sorted(r.bank_id for r in rows) == sorted(b.id for b in banks)
    # The worker and its pool run below normal priority: a web server beside them answers first.
    pool = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    assert len(pool) == 2 and {_niceness(pid) for pid in [worker.pid, *pool]} == {WORKER_NICENESS}
    assert all(r.attempts == 1 for r in rows)
    # The same task delivered again: the job-runs table says it is done, nothing is rendered again.
    app = create_app({"DATABASE_URL": env["ZONGZHI_DATABASE_URL"], "BROKER_URL": env["ZONGZHI_BROKER_URL"],
                      "CYCLE_QUEUE": env["ZONGZHI_CYCLE_QUEUE"], "SECRET_KEY": "t"})
    again = queue.celery_for(app).tasks[queue.TASK].apply(args=("monthly", banks[0].id, "2026-09")).get()
    assert "跳过 skipped" in again
    assert _snapshots(session, "notice") == 3
    # And by hand once more: nothing is queued for runs already done.
    repeat = _cli(env, "cycle", "run", "monthly", "--bank", "all", "--period", "2026-09")
    assert repeat.exit_code == 0 and repeat.output.count("跳过 skipped") == 3
    status = _cli(env, "cycle", "status", "--period", "2026-09")
    assert status.exit_code == 0, status.output
    assert [line.split()[:4] for line in status.output.splitlines()] == [
        [code, "monthly", "2026-09:", "done"] for code in ("a1", "b2", "c3")]
    app.extensions["zongzhi.engine"].dispose()


def test_two_workers_on_one_machine_each_run_under_a_name_of_its_own(session, env, workers):
    # Celery names a worker celery@<host> unless told otherwise; on RabbitMQ the second of two
    # such workers on one machine was refused that name's control queue and stopped.
    banks = [_bank(session, code) for code in ("a1", "b2")]
    session.commit()
    pair = [workers("--concurrency", "1"), workers("--concurrency", "1")]
    deadline = time.monotonic() + 40
    logs = ["", ""]
    while not all(" ready." in log for log in logs):
        assert time.monotonic() < deadline, logs
        assert all(w.poll() is None for w in pair), [Path(w.log.name).read_text()[-2000:] for w in pair]
        time.sleep(0.2)
        logs = [Path(w.log.name).read_text() for w in pair]
    names = [re.search(r"(\S+@\S+) ready\.", log).group(1) for log in logs]
    assert names == [f"zongzhi-{w.pid}@{socket.gethostname()}" for w in pair]
    assert _cli(env, "cycle", "run", "monthly", "--bank", "all", "--period", "2026-09").exit_code == 0
    rows = _wait(session, lambda rows: len(rows) == 2 and all(r.status == "done" for r in rows),
                 seconds=40, what="both notices")
    assert sorted(r.bank_id for r in rows) == sorted(b.id for b in banks)
    assert all(w.poll() is None for w in pair)


def test_a_failing_bank_is_retried_with_back_off_then_shown_failed_without_holding_up_the_others(
        session, env, workers):
    first, second = _bank(session, "a1", at(2026, 9, 1)), _bank(session, "b2", at(2026, 9, 1))
    reports.publish_notice(session, first, "2026-09", by="t", clock=at(2026, 10, 1, 9))
    from cycle import jobs, runs
    opening = jobs.JOBS["quarterly"]
    app = create_app({"DATABASE_URL": env["ZONGZHI_DATABASE_URL"], "SECRET_KEY": "t", "CLOCK": at(2026, 10, 15)})
    assert [o.status for o in runs.run_by_hand(app.extensions["zongzhi.sessions"], [first], opening,
                                               jobs.parse(opening, "2026-Q4"), clock=at(2026, 10, 15))] == ["done"]
    app.extensions["zongzhi.engine"].dispose()
    workers()
    # b2's window was never opened, so closing it fails each time; a1's closes at once
    queued = _cli(env, "cycle", "run", "quarterly_close", "--bank", "all", "--period", "2026-Q4")
    assert queued.exit_code == 0, queued.output
    rows = _wait(session, lambda rows: {(r.bank_id, r.status, r.attempts) for r in rows if r.job == "quarterly_close"}
                 == {(first.id, "done", 1), (second.id, "failed", 3)}, what="one done, one failed three times")
    time.sleep(1.5)  # longer than the next back-off would be: there is no fourth try
    session.expire_all()
    done, failed = sorted(session.execute(select(JobRun).where(JobRun.job == "quarterly_close")).scalars(),
                          key=lambda r: r.bank_id)
    assert failed.status == "failed" and failed.attempts == 3 and "兑换期" in failed.error
    assert done.attempts == 1 and done.finished_at <= failed.started_at
    # three tries spaced by the doubling back-off (0.3 s, then 0.6 s)
    status = _cli(env, "cycle", "status", "--period", "2026-Q4", "--bank", "all")
    assert status.exit_code == 1
    assert "b2 quarterly_close 2026-Q4: failed (attempts 3" in status.output and "兑换期" in status.output
    assert "a1 quarterly_close 2026-Q4: done" in status.output
    one = _cli(env, "cycle", "status", "--period", "2026-Q4", "--bank", "a1")
    assert one.exit_code == 0 and "b2" not in one.output


def test_a_worker_killed_mid_task_leaves_the_job_to_another_which_finishes_it_once(session, env, workers):
    bank = _bank(session, "a1")
    session.commit()
    doomed = workers(script=SLOW_WORKER)
    assert _cli(env, "cycle", "run", "monthly", "--bank", "a1", "--period", "2026-09").exit_code == 0
    _wait(session, lambda rows: rows and rows[0].status == "running", what="the slow worker's claim")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    workers()
    [run] = _wait(session, lambda rows: rows and rows[0].status == "done", seconds=40,
                  what="the second worker taking over")
    assert run.attempts == 2 and run.bank_id == bank.id
    assert _snapshots(session, "notice") == 1


def test_a_broker_down_when_the_scheduler_fires_leaves_the_runs_due_and_queues_them_once_it_is_back(
        session, env, workers, database_url, broker):
    _bank(session, "a1", created=at(2026, 10, 13))
    session.commit()
    down = create_app({"DATABASE_URL": database_url, "BROKER_URL": "amqp://guest:guest@127.0.0.1:1//",
                       "CYCLE_QUEUE": broker["queue"], "CLOCK": at(2026, 10, 15, 10), "SECRET_KEY": "t"})
    fired = Cycle(down, BackgroundScheduler()).sweep()
    wanted = {(o.job, o.period) for o in fired}
    assert wanted == {("daily", "2026-10-13"), ("daily", "2026-10-14")}
    assert {o.status for o in fired} == {"due"}
    assert Cycle(down, BackgroundScheduler()).sweep() and _statuses(session) == {"due"}
    back = create_app({"DATABASE_URL": database_url, "BROKER_URL": broker["url"], "CYCLE_QUEUE": broker["queue"],
                       "CLOCK": at(2026, 10, 15, 10, 5), "SECRET_KEY": "t"})
    assert {o.status for o in Cycle(back, BackgroundScheduler()).sweep()} == {"queued"}
    assert Cycle(back, BackgroundScheduler()).sweep() == []  # already in the workers' hands
    workers()
    rows = _wait(session, lambda rows: all(r.status == "done" for r in rows), what="the runs queued late")
    assert {(r.job, r.period) for r in rows} == wanted and all(r.attempts == 1 for r in rows)
    assert _snapshots(session, "day") == 2
    for app in (down, back):
        app.extensions["zongzhi.engine"].dispose()


def _statuses(session):
    session.expire_all()
    return {r.status for r in session.execute(select(JobRun)).scalars()}
