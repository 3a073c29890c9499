"""The scheduler (APScheduler 3): each bank's jobs at the times its rule file sets, and a sweep.

For every bank and job there is a cron trigger at the job's time in the bank's timezone
(`ZONGZHI_TIMEZONE`, default Asia/Shanghai); when it fires, everything due for that bank runs,
missed periods first. A sweep at start-up and every few minutes catches up after downtime,
runs seals (whose time depends on when each notice went up) and picks up new banks and changed
rule files. Two schedulers on one database never run the same job twice: see `cycle.runs`.
With `ZONGZHI_BROKER_URL` set, the scheduler runs nothing itself: it queues what is due for the
workers (`cycle.queue`).
"""
from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from ledger import banks as ledger_banks
from ground.tenants import Bank

from . import queue, runs

log = logging.getLogger("zongzhi.cycle")

SWEEP_MINUTES = 5


def triggers(cycle, tz) -> dict[str, CronTrigger]:
    """Return each job's cron trigger for a bank's cycle settings."""
    months = ",".join(str(m) for m in cycle.redemption_months)
    close_days = cycle.redemption_days + 1
    return {
        "daily": CronTrigger(hour=cycle.day_close.hour, minute=cycle.day_close.minute, timezone=tz),
        "monthly": CronTrigger(day=cycle.notice_day, hour=cycle.notice_time.hour,
                               minute=cycle.notice_time.minute, timezone=tz),
        "quarterly": CronTrigger(month=months, day=1, hour=cycle.notice_time.hour,
                                 minute=cycle.notice_time.minute, timezone=tz),
        # Day 29 and beyond do not exist every month; the sweep covers any window that long.
        "quarterly_close": CronTrigger(month=months, day=min(close_days, 28), hour=0, minute=1, timezone=tz),
        "annual": CronTrigger(month=cycle.commendation_month, day=cycle.commendation_day,
                              hour=cycle.notice_time.hour, minute=cycle.notice_time.minute, timezone=tz),
    }


class Cycle:
    """The scheduled cycle over one app's database."""

    def __init__(self, app, scheduler: BaseScheduler):
        self.app = app
        self.sessions = app.extensions["zongzhi.sessions"]
        self.clock = app.extensions["zongzhi.clock"]
        self.scheduler = scheduler
        self._installed: dict[int, str] = {}

    def sweep(self, bank_ids=None) -> list[runs.Outcome]:
        if queue.enabled(self.app):
            outcomes = queue.hand_over(self.app, bank_ids=bank_ids)
        else:
            outcomes = runs.sweep(self.sessions, clock=self.clock, bank_ids=bank_ids)
        for outcome in outcomes:
            if outcome.status not in ("skipped", "busy"):
                log.info(outcome.line())
        return outcomes

    def sync(self) -> None:
        """(Re)install each bank's cron triggers from its rules in force, then sweep."""
        with self.sessions() as session:
            banks = list(session.execute(select(Bank.id, Bank.code)).all())
            for bank_id, code in banks:
                version, book = ledger_banks.rulebook(session, bank_id)
                if self._installed.get(bank_id) == version.content_hash:
                    continue
                for job, trigger in triggers(book.settings.cycle, self.clock.tz).items():
                    self.scheduler.add_job(self.sweep, trigger, args=[[bank_id]], id=f"{job}:{code}",
                                           name=f"{code} {job}", replace_existing=True,
                                           coalesce=True, misfire_grace_time=3600, max_instances=1)
                self._installed[bank_id] = version.content_hash
        self.sweep()

    def start(self) -> None:
        self.scheduler.add_job(self.sync, IntervalTrigger(minutes=SWEEP_MINUTES, timezone=self.clock.tz),
                               id="sync", name="sync and sweep", replace_existing=True, coalesce=True,
                               max_instances=1)
        self.scheduler.add_job(self.sync, id="sync-now", name="first sweep", replace_existing=True)
        self.scheduler.start()


def run_forever(app) -> None:
    """Run the cycle in the foreground until interrupted (`zongzhi scheduler`): SIGINT (Ctrl-C)
    or SIGTERM (what a service manager sends) stops it, a job already running let finish, so
    that no run is left marked running until its lease runs out."""
    import signal

    def _stop(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    cycle = Cycle(app, BlockingScheduler(timezone=app.extensions["zongzhi.clock"].tz))
    try:
        cycle.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if cycle.scheduler.running:
            cycle.scheduler.shutdown(wait=True)


def start_background(app) -> Cycle:
    """Run the cycle in a background thread of a serving process (`zongzhi demo`)."""
    cycle = Cycle(app, BackgroundScheduler(timezone=app.extensions["zongzhi.clock"].tz, daemon=True))
    cycle.start()
    return cycle
