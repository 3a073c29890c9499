"""Running jobs: claim a (job, bank, period) in the job-runs table, run it, record the outcome.

The claim is the lock between scheduler processes: the table's unique key lets exactly one
process insert a run. A run still marked running after its lease is taken to belong to a dead
process and may be taken over; a failed run is tried again (by hand always, by the scheduler up
to MAX_ATTEMPTS times).
"""
from __future__ import annotations

import json
import logging
import os
import socket
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ledger import periods
from ground.clock import Clock
from ground.db import transaction
from ground.errors import ZongzhiError
from ground.i18n import _, as_record, current_language, from_record, render
from ground.tenants import Bank
from rules.periods import periods_since

from . import jobs
from .models import JobRun

log = logging.getLogger("zongzhi.cycle")

LEASE = timedelta(minutes=30)
MAX_ATTEMPTS = 3
ACTOR = "cycle"


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


@dataclass(frozen=True)
class Outcome:
    """What happened to one (job, bank, period): ran, skipped (done or taken elsewhere), or failed."""

    job: str
    bank: str
    period: str
    #: done | skipped | busy (another process is running it) | failed; with a broker also
    #: queued (handed to the workers) | due (recorded, the broker being unreachable)
    status: str
    message: str

    def line(self) -> str:
        """Return the outcome as the command line and the log say it: the status in words, then its
        code (what a search of the log looks for; a failure's in capitals)."""
        code = self.status.upper() if self.status == "failed" else self.status
        return f"{self.bank} {self.job} {self.period}: {STATUS_WORDS[self.status]} {code} — {self.message}"


#: Each status of an outcome in words.
STATUS_WORDS = {"done": _("完成"), "skipped": _("跳过"), "busy": _("其他进程运行中"), "failed": _("失败"),
                "queued": _("已排队"), "due": _("待排队")}


def claim(session: Session, job: str, bank_id: int, period: str, *, clock: Clock,
          retry_failed: bool = True, lease: timedelta = LEASE) -> JobRun | None:
    """Claim a run for this process; None if it is done, running elsewhere, or failed too often.

    A run recorded as due or queued (the distributed cycle) is claimed by whoever comes first.
    """
    now = clock.now()
    me = owner_name()
    try:
        # A bare transaction: the claim is the cycle's lease row, no bank's write (the job has its own).
        with transaction(session):
            run = session.execute(select(JobRun).where(
                JobRun.job == job, JobRun.bank_id == bank_id, JobRun.period == period)).scalar_one_or_none()
            if run is None:
                run = JobRun(job=job, bank_id=bank_id, period=period, status="running", owner=me,
                             attempts=1, started_at=now, lease_until=now + lease)
                session.add(run)
                session.flush()
                return run
            session.refresh(run)
            stale = run.status == "running" and run.lease_until <= now
            again = run.status == "failed" and (retry_failed or run.attempts < MAX_ATTEMPTS)
            waiting = run.status in ("due", "queued")
            if not (stale or again or waiting):
                return None
            taken = session.execute(update(JobRun).where(
                JobRun.id == run.id, JobRun.status == run.status, JobRun.attempts == run.attempts)
                .values(status="running", owner=me, attempts=run.attempts + 1, started_at=now,
                        lease_until=now + lease, finished_at=None, error=None)).rowcount
            if taken != 1:
                return None
            session.refresh(run)
            return run
    except IntegrityError:
        # Another process inserted the same run first: it is theirs.
        session.rollback()
        return None


def finish(session: Session, run: JobRun, *, ok: bool, message: str, clock: Clock) -> None:
    """Record how a claimed run ended."""
    with transaction(session):  # the lease row alone, after the job's own unit of work
        session.execute(update(JobRun).where(JobRun.id == run.id).values(
            status="done" if ok else "failed", finished_at=clock.now(),
            result=message if ok else None, error=None if ok else message[:4000]))


def run_one(sessions: sessionmaker, bank: Bank, job: jobs.Job, period, *, clock: Clock,
            retry_failed: bool = True, lease: timedelta = LEASE) -> Outcome:
    """Claim and run one job for one bank and period, in sessions of its own."""
    with sessions() as session:
        run = claim(session, job.name, bank.id, period.key, clock=clock, retry_failed=retry_failed,
                    lease=lease)
        if run is None:
            existing = session.execute(select(JobRun.status, JobRun.owner).where(
                JobRun.job == job.name, JobRun.bank_id == bank.id, JobRun.period == period.key)).one_or_none()
            why = f"已{ {'done': '完成', 'running': '由其他进程运行中', 'failed': '多次失败'}.get(existing[0], existing[0])}" \
                  f"（{existing[1]}）" if existing else "无"
            busy = existing is not None and existing[0] == "running"
            return Outcome(job.name, bank.code, period.key, "busy" if busy else "skipped", why)
        try:
            work = session.get(Bank, bank.id)
            said = job.run(session, work, period, ACTOR, clock)
        except Exception as err:  # one failure is recorded and logged; the others go on
            session.rollback()
            # A refusal is kept as its message, read in each reader's language; anything else as
            # the error's own words.
            kept = (json.dumps({"said": [as_record(err.message)]}, ensure_ascii=False)
                    if isinstance(err, ZongzhiError) else f"{type(err).__name__}: {err}")
            message = result_text(kept, "zh")
            if not isinstance(err, ZongzhiError):
                log.error("%s %s %s failed:\n%s", bank.code, job.name, period.key, traceback.format_exc())
            finish(session, run, ok=False, message=kept, clock=clock)
            log.warning("%s %s %s: failed — %s", bank.code, job.name, period.key, message)
            return Outcome(job.name, bank.code, period.key, "failed", message)
        kept = json.dumps({"said": [as_record(m) for m in said]}, ensure_ascii=False)
        message = result_text(kept, "zh")  # the log and the command line speak Chinese
        finish(session, run, ok=True, message=kept, clock=clock)
        log.info("%s %s %s: done — %s", bank.code, job.name, period.key, message)
        return Outcome(job.name, bank.code, period.key, "done", message)


def result_text(result: str | None, lang: str | None = None) -> str:
    """Return what a run said (its result, or a failed run's refusal), in `lang` (by default the
    reader's language): a run keeps them as messages, so a screen in English reads English; a
    run kept before that, or an unforeseen error, as the words it was written in."""
    if not result or not result.startswith('{"said"'):
        return result or ""
    try:
        said = [from_record(r) for r in json.loads(result)["said"]]
    except (ValueError, KeyError, TypeError):
        return result
    return ("; " if (lang or current_language()) == "en" else "；").join(str(m) for m in render(said, lang))


def not_due(session: Session, bank: Bank, job: jobs.Job, period, *, clock: Clock) -> Outcome | None:
    """Return the refusal of a run asked for by hand before it falls due, or None if it is due."""
    due = jobs.due_at(session, bank, job, period, clock)
    if due is not None and clock.now() >= due:
        return None
    if due is None:  # it falls due only once something else has happened: say what
        return Outcome(job.name, bank.code, period.key, "failed",
                       f"{WAITING.get(job.name, '尚未到期')}，未做任何更改 / "
                       f"{WAITING_EN.get(job.name, 'not due yet')}, nothing written")
    when = due.astimezone(clock.tz).strftime("%Y-%m-%d %H:%M")
    return Outcome(job.name, bank.code, period.key, "failed",
                   f"尚未到期（到期时间 {when}），未做任何更改 / not due yet, nothing written")


#: What a job whose time comes only after another's waits for, in the command line's words.
WAITING = {"seal": "该月尚未公示，公示的异议期满后才能封账", "quarterly_close": "本季度没有常规兑换期"}
WAITING_EN = {"seal": "the month has no notice yet: it is sealed once its notice's objection window closes",
              "quarterly_close": "the quarter has no regular redemption window"}


def any_period(text: str):
    """Parse a period of any kind (2026-10-05, 2026-10, 2026-Q4, 2026); refuse anything else."""
    from ground.errors import ValidationError
    from ground.i18n import _

    for kind in periods.KINDS:
        try:
            return periods.parse_period(kind, (text or "")[:20])
        except ValidationError:
            continue
    raise ValidationError({"period": [_("%(text)s 不是一个存在的周期；格式须为 2026-10-05、2026-10、2026-Q4 或 2026",
                                        text=repr((text or "")[:20]))]},
                          _("周期有误"))


def for_period(session: Session, period: str, bank_ids: Iterable[int] | None = None) -> list[tuple[Bank, list[JobRun]]]:
    """Return each bank (or those named) with its runs for a period key, in the order they began."""
    stmt = select(Bank).order_by(Bank.code)
    if bank_ids is not None:
        stmt = stmt.where(Bank.id.in_(list(bank_ids)))
    banks = list(session.execute(stmt).scalars())
    found: dict[int, list[JobRun]] = {bank.id: [] for bank in banks}
    stmt = select(JobRun).where(JobRun.period == period).order_by(JobRun.started_at, JobRun.id)
    if bank_ids is not None:
        stmt = stmt.where(JobRun.bank_id.in_(list(found)))
    for run in session.execute(stmt).scalars():
        if run.bank_id in found:
            found[run.bank_id].append(run)
    return [(bank, found[bank.id]) for bank in banks]


def run_by_hand(sessions: sessionmaker, banks: list[Bank], job: jobs.Job, period, *, clock: Clock,
                progress: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Run a job for a period in each bank in turn; a bank where it is not due yet is refused."""
    outcomes = []
    for bank in banks:
        with sessions() as session:
            outcome = not_due(session, session.get(Bank, bank.id), job, period, clock=clock)
        if outcome is None:
            outcome = run_one(sessions, bank, job, period, clock=clock, retry_failed=True)
        outcomes.append(outcome)
        if progress:
            progress(outcome)
    return outcomes


def due_runs(session: Session, bank: Bank, *, clock: Clock) -> list[tuple[datetime, int, jobs.Job, object]]:
    """Return every run due for a bank and not done yet, in order: missed periods first."""
    from ledger import banks as ledger_banks

    _version, book = ledger_banks.rulebook(session, bank.id)
    cycle = book.settings.cycle
    now = clock.now()
    first = periods.first_day(session, bank, clock.tz)
    today = now.astimezone(clock.tz).date()
    settled = {(job, period) for job, period in session.execute(select(JobRun.job, JobRun.period).where(
        JobRun.bank_id == bank.id, JobRun.status == "done")).all()}
    found = []
    for job in jobs.JOBS.values():
        for period in periods_since(job.kind, first, today):
            if (job.name, period.key) in settled:
                continue
            due = job.due(session, bank, cycle, period, clock)
            # Runs that fell due before the bank existed (a quarter's window opened before it
            # was founded) are not its business; but every month from the first that holds an
            # entry gets its notice (and so its seal), even one before the bank opened.
            if due is not None and due <= now and (bank.created_at <= due or job.kind == "month"):
                found.append((due, jobs.ORDER[job.name], job, period))
    found.sort(key=lambda item: (item[0], item[1]))
    return found


def banks_to_sweep(sessions: sessionmaker, bank_ids: Iterable[int] | None = None) -> list[Bank]:
    """Every bank in order of id, or those named: what a sweep goes through."""
    with sessions() as session:
        stmt = select(Bank).order_by(Bank.id)
        if bank_ids is not None:
            stmt = stmt.where(Bank.id.in_(list(bank_ids)))
        return list(session.execute(stmt).scalars())


def sweep(sessions: sessionmaker, *, clock: Clock, bank_ids: Iterable[int] | None = None) -> list[Outcome]:
    """Run everything due in every bank (or in those named), catching up on missed periods in order."""
    banks = banks_to_sweep(sessions, bank_ids)
    outcomes = []
    for bank in banks:
        try:
            with sessions() as session:
                due = due_runs(session, session.get(Bank, bank.id), clock=clock)
        except Exception:  # a bank whose rules cannot be read must not stop the others
            log.exception("%s: cannot work out its due jobs", bank.code)
            continue
        for _due_at, _order, job, period in due:
            outcome = run_one(sessions, bank, job, period, clock=clock, retry_failed=False)
            outcomes.append(outcome)
            if outcome.status == "busy":
                # Another process is working through this bank: its later runs depend on this one
                # (a window is closed after it is opened), so they are left to that process or
                # to the next sweep.
                break
    return outcomes
