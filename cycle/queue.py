"""The cycle on Celery, when `ZONGZHI_BROKER_URL` is set (RabbitMQ `amqp://…` or Redis `redis://…`).

The job-runs table (`cycle.runs`) stays the exactly-once record; the broker only carries work:

- The scheduler records each run that falls due as `due`, then hands a bank's due runs to the
  broker, one task per (job, bank, period), chained in the order they fell due (a month's notice
  before the quarter that reads it), and marks them `queued`. Moving due → queued is one
  conditional update per run, so two schedulers never both hand a run over. A broker that is down
  leaves them `due`; the next sweep hands them over: none lost, none doubled.
- A worker claims the run as the in-process cycle does. A task delivered twice finds its run done
  and does nothing. Tasks are acknowledged late: a worker killed mid-task leaves its message to the
  broker, which gives it to another worker; that one finds the run still `running`, waits out the
  dead worker's lease (`ZONGZHI_CYCLE_LEASE_S`) and finishes it.
- A run that fails is tried again with back-off (`ZONGZHI_CYCLE_RETRY_S`, doubling) up to
  `runs.MAX_ATTEMPTS` times, then left failed, shown by `zongzhi cycle status` and the county's
  cycle screen; the bank's later runs and every other bank go on.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta

from celery import Celery, chain, signals
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ground.db import transaction
from ground.tenants import Bank

from . import jobs, runs
from .models import JobRun

log = logging.getLogger("zongzhi.cycle")

TASK = "zongzhi.cycle.run"
DEFAULT_QUEUE = "zongzhi.cycle"
#: A run queued this many leases ago and never started is taken to be lost by the broker.
QUEUED_LEASES = 4


def enabled(app) -> bool:
    """Say whether this app hands the cycle to a broker."""
    return bool(app.config.get("BROKER_URL"))


@dataclass(frozen=True)
class Timing:
    lease: timedelta
    retry_s: float

    @classmethod
    def of(cls, app) -> "Timing":
        return cls(timedelta(seconds=float(app.config.get("CYCLE_LEASE_S") or runs.LEASE.total_seconds())),
                   float(app.config.get("CYCLE_RETRY_S") or 30))


def celery_for(app) -> Celery:
    """Return the app's Celery (made once): late acknowledgement, one task at a time per process."""
    if "zongzhi.celery" in app.extensions:
        return app.extensions["zongzhi.celery"]
    timing = Timing.of(app)
    celery = Celery("zongzhi", broker=app.config["BROKER_URL"], set_as_current=False)
    celery.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_ignore_result=True, task_default_queue=app.config.get("CYCLE_QUEUE") or DEFAULT_QUEUE,
        # Redis gives an unacknowledged task to another worker after this long (RabbitMQ as soon
        # as the dead worker's connection drops).
        broker_transport_options={"visibility_timeout": max(1, int(timing.lease.total_seconds()))},
        broker_connection_timeout=3, broker_connection_retry_on_startup=True,
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.5},
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
    )

    celery.flask_app = app
    celery.task(name=TASK, bind=True, max_retries=None, acks_late=True, reject_on_worker_lost=True)(_run_task)
    app.extensions["zongzhi.celery"] = celery
    return celery


def _run_task(task, job_name: str, bank_id: int, period_key: str) -> str:
    return execute(task.app.flask_app, task, job_name, bank_id, period_key)


def execute(app, task, job_name: str, bank_id: int, period_key: str) -> str:
    """Run one (job, bank, period) in a worker: claim it, run it, or try again later."""
    sessions, clock, timing = app.extensions["zongzhi.sessions"], app.extensions["zongzhi.clock"], Timing.of(app)
    job = jobs.get_job(job_name)
    period = jobs.parse(job, period_key)
    with sessions() as session:
        bank = session.get(Bank, bank_id)
        if bank is None:
            return f"bank {bank_id}: no such bank"
        session.expunge(bank)
    outcome = runs.run_one(sessions, bank, job, period, clock=clock, retry_failed=False, lease=timing.lease)
    if outcome.status in ("busy", "failed"):
        with sessions() as session:
            run = session.execute(select(JobRun).where(JobRun.job == job.name, JobRun.bank_id == bank_id,
                                                       JobRun.period == period.key)).scalar_one()
        if outcome.status == "busy":
            # Someone holds the claim: alive, it finishes and this finds the run done; dead, its
            # lease runs out and this takes the run over.
            wait = (run.lease_until - clock.now()).total_seconds()
            raise task.retry(countdown=min(max(1.0, wait + 0.5), timing.lease.total_seconds()))
        if run.attempts < runs.MAX_ATTEMPTS:
            raise task.retry(countdown=timing.retry_s * 2 ** (run.attempts - 1))
    log.info(outcome.line())
    return outcome.line()


@signals.worker_process_init.connect
def _fresh_connections(**_):
    """A worker child forked from the main process must not share its database connections."""
    for app in _worked:
        app.extensions["zongzhi.engine"].dispose(close=False)


_worked: list = []


def work(app, *, concurrency: int | None = None, extra: tuple[str, ...] = ()) -> None:
    """Run a worker of the distributed cycle in the foreground (`zongzhi worker`)."""
    celery = celery_for(app)
    _worked.append(app)
    # Each worker process under a name of its own: Celery's default, celery@<host>, is the same
    # for two workers on one machine, and RabbitMQ gives the name's control queue to the first
    # alone (the second stopped with RESOURCE_LOCKED).
    argv = ["worker", "--loglevel=INFO", "--without-gossip", "--without-mingle",
            f"--hostname=zongzhi-{os.getpid()}@%h", "-Q", celery.conf.task_default_queue, *extra]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    celery.worker_main(argv)


# --- handing runs over ------------------------------------------------------------------------

def _record(session, bank_id: int, wanted: list[tuple[str, str]], *, clock, reset_failed: bool) -> None:
    """Make sure each (job, period) has a row; a failed one asked for again becomes due."""
    now = clock.now()
    for job, period in wanted:
        try:
            # Bare transactions here: job-run rows are the cycle's leases, no bank's write.
            with transaction(session):
                session.add(JobRun(job=job, bank_id=bank_id, period=period, status="due",
                                   owner=runs.owner_name(), attempts=0, started_at=now, lease_until=now))
        except IntegrityError:
            session.rollback()
            if reset_failed:
                with transaction(session):
                    session.execute(update(JobRun).where(
                        JobRun.job == job, JobRun.bank_id == bank_id, JobRun.period == period,
                        JobRun.status == "failed").values(status="due", attempts=0, error=None))


def _publish(app, session, bank_id: int, wanted: list[tuple[str, str]], *, clock) -> list[tuple[str, str]]:
    """Hand these runs to the broker in order, as one chain; return those handed over.

    Only runs still due (or queued so long ago the broker must have lost them, or left running by
    a process whose lease ran out) are taken, each
    by a conditional update, so a run is never handed over twice; if the broker refuses, they
    go back to due for the next sweep.
    """
    now, lease = clock.now(), Timing.of(app).lease
    me = runs.owner_name()
    taken = []
    with transaction(session):  # conditional updates of lease rows: no bank's lock, nothing audited
        for job, period in wanted:
            moved = session.execute(update(JobRun).where(
                JobRun.job == job, JobRun.bank_id == bank_id, JobRun.period == period,
                (JobRun.status == "due")
                | (JobRun.status.in_(("queued", "running")) & (JobRun.lease_until <= now)))
                .values(status="queued", owner=me, lease_until=now + QUEUED_LEASES * lease)).rowcount
            if moved == 1:
                taken.append((job, period))
    if not taken:
        return []
    celery = celery_for(app)
    tasks = [celery.signature(TASK, args=(job, bank_id, period), immutable=True) for job, period in taken]
    try:
        (tasks[0] if len(tasks) == 1 else chain(*tasks)).apply_async()
    except Exception as err:  # the broker is down: the runs stay due, for the next sweep
        log.warning("broker unreachable, %d run(s) of bank %s left due: %s", len(taken), bank_id, err)
        with transaction(session):  # lease rows back to due: no bank's write
            for job, period in taken:
                session.execute(update(JobRun).where(
                    JobRun.job == job, JobRun.bank_id == bank_id, JobRun.period == period,
                    JobRun.status == "queued", JobRun.owner == me).values(status="due", lease_until=now))
        return []
    return taken


def _in_hand(session, bank_id: int, now) -> bool:
    """Say whether some of the bank's runs are queued or running and not yet given up on."""
    return session.execute(select(JobRun.id).where(
        JobRun.bank_id == bank_id, JobRun.status.in_(("queued", "running")), JobRun.lease_until > now)
        .limit(1)).first() is not None


def hand_over(app, *, bank_ids=None) -> list[runs.Outcome]:
    """The scheduler's sweep with a broker: record what is due in each bank and queue it.

    A bank whose earlier runs are still queued or running is left for a later sweep, as the
    in-process sweep leaves a bank another process is working through.
    """
    sessions, clock = app.extensions["zongzhi.sessions"], app.extensions["zongzhi.clock"]
    banks = runs.banks_to_sweep(sessions, bank_ids)
    outcomes = []
    for bank in banks:
        with sessions() as session:
            try:
                if _in_hand(session, bank.id, clock.now()):
                    continue
                due = runs.due_runs(session, session.get(Bank, bank.id), clock=clock)
            except Exception:  # a bank whose rules cannot be read must not stop the others
                log.exception("%s: cannot work out its due jobs", bank.code)
                continue
            given_up = {(j, p) for j, p in session.execute(select(JobRun.job, JobRun.period).where(
                JobRun.bank_id == bank.id, JobRun.status == "failed")).all()}
            wanted = [(job.name, period.key) for _, _, job, period in due
                      if (job.name, period.key) not in given_up]
            if not wanted:
                continue
            _record(session, bank.id, wanted, clock=clock, reset_failed=False)
            taken = set(_publish(app, session, bank.id, wanted, clock=clock))
        outcomes += [runs.Outcome(job, bank.code, period, "queued" if (job, period) in taken else "due",
                                  "已交给工作进程" if (job, period) in taken else "消息队列不可用，待下次交出")
                     for job, period in wanted]
    return outcomes


def hand_over_by_hand(app, banks: list[Bank], job: jobs.Job, period, *, progress=None) -> list[runs.Outcome]:
    """`zongzhi cycle run` with a broker: queue one task per bank where the run is due and not done."""
    sessions, clock = app.extensions["zongzhi.sessions"], app.extensions["zongzhi.clock"]
    outcomes = []
    for bank in banks:
        with sessions() as session:
            outcome = runs.not_due(session, session.get(Bank, bank.id), job, period, clock=clock)
            if outcome is None:
                run = session.execute(select(JobRun).where(JobRun.job == job.name, JobRun.bank_id == bank.id,
                                                           JobRun.period == period.key)).scalar_one_or_none()
                if run is not None and run.status == "done":
                    outcome = runs.Outcome(job.name, bank.code, period.key, "skipped", "已完成")
                elif run is not None and run.status == "running" and run.lease_until > clock.now():
                    outcome = runs.Outcome(job.name, bank.code, period.key, "busy", f"由其他进程运行中（{run.owner}）")
                else:
                    wanted = [(job.name, period.key)]
                    _record(session, bank.id, wanted, clock=clock, reset_failed=True)
                    taken = _publish(app, session, bank.id, wanted, clock=clock)
                    queued = bool(taken) or session.execute(select(JobRun.status).where(
                        JobRun.job == job.name, JobRun.bank_id == bank.id,
                        JobRun.period == period.key)).scalar() == "queued"
                    outcome = runs.Outcome(job.name, bank.code, period.key, "queued" if queued else "due",
                                           "已交给工作进程" if queued else "消息队列不可用，待调度程序交出")
        outcomes.append(outcome)
        if progress:
            progress(outcome)
    return outcomes
