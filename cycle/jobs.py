"""The cycle's jobs: what each does, for which period, and when it falls due for a bank.

| job | period | due (bank's time, from its rule file) | does |
|---|---|---|---|
| daily | 2026-10-05 | that day at `day_close` (21:00) | closes the day's register; counts the transfers into the monthly figures |
| monthly | 2026-10 | `notice_day` of the next month at `notice_time` | freezes the notice, opens objections |
| seal | 2026-10 | when the notice's objection window closes | seals the month |
| quarterly | 2026-Q4 | the quarter's redemption month, day 1, at `notice_time` | opens the regular redemption window; freezes the summary of the quarter before |
| quarterly_close | 2026-Q4 | the day after the window's last day, 00:00 | closes the window |
| annual | 2026 | `commendation_month`/`commendation_day` of the next year at `notice_time` | freezes the commendation from the sealed months; then year-end expiry if the rules ask |
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Callable

from sqlalchemy.orm import Session

import rules as rulefiles
from ledger import periods
from ledger import banks
from ground.clock import Clock
from ground.errors import ConflictError, ValidationError
from ground.i18n import _
from ground.tenants import Bank
from ledger.periods import Period
from reports import commendation, services as reports
from reports import expiry
from reports.notice import notice_due
from foundation import wishes
from stats import upkeep as stats_upkeep


@dataclass(frozen=True)
class Job:
    name: str
    kind: str  # the period kind: day, month, quarter, year
    #: (session, bank, cycle, period, clock) -> when it falls due (aware), or None if it never does
    due: Callable
    #: (session, bank, period, by, clock) -> what it did: messages, each shown in its reader's language
    run: Callable
    description: str
    #: What the job is called on a screen (a message, in the reader's language).
    title: object = None


def _at(clock: Clock, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=clock.tz)


# --- when -------------------------------------------------------------------------------------

def _daily_due(session, bank, cycle: rulefiles.Cycle, period: Period, clock):
    return _at(clock, period.start, cycle.day_close)


def _monthly_due(session, bank, cycle, period, clock):
    return notice_due(cycle, period, clock.tz)


def _seal_due(session, bank, cycle, period, clock):
    notice = reports.get_snapshot(session, bank.id, "notice", period.key)
    return notice.window_closes_at if notice is not None else None


def _quarterly_due(session, bank, cycle, period, clock):
    window = commendation.redemption_window(cycle, period)
    opens = _at(clock, window[0] if window else period.start, cycle.notice_time)
    # After the notice of the month before, whose figures the summary reads.
    return max(opens, _monthly_due(session, bank, cycle, period.previous().months()[-1], clock))


def _quarterly_close_due(session, bank, cycle, period, clock):
    window = commendation.redemption_window(cycle, period)
    return _at(clock, window[1] + timedelta(days=1), time(0)) if window else None


def _annual_due(session, bank, cycle, period, clock):
    return commendation.commendation_due(cycle, period, clock.tz)


# --- what -------------------------------------------------------------------------------------

def _daily(session, bank, period, by, clock) -> list:
    snapshot = reports.close_day(session, bank, period.key, by=by, clock=clock)
    content = reports.content_of(snapshot)
    late = len(content["pending_overdue"])
    # Wishes whose claim ran past its deadline undelivered go back on the wall.
    returned = wishes.expire_claims(session, bank, clock=clock)
    # The monthly figures count every transfer up to the chain head from here on.
    stats_upkeep.catch_up(session, bank)
    return [_("%(count)s 条，%(points)s 分，链头 #%(seq)s", count=content["count"],
              points=f"{content['points']:+d}", seq=content["head"]["seq"]),
            *([_("%(n)s 条待审核超过一天", n=late)] if late else []),
            *([_("%(n)s 个微心愿认领过期，重新上墙", n=len(returned))] if returned else [])]


def _monthly(session, bank, period, by, clock) -> list:
    snapshot = reports.publish_notice(session, bank, period, by=by, clock=clock)
    closes = snapshot.window_closes_at.astimezone(clock.tz).strftime("%Y-%m-%d %H:%M")
    return [_("公示 %(hash)s，异议截止 %(closes)s", hash=snapshot.content_hash[:12], closes=closes)]


def _seal(session, bank, period, by, clock) -> list:
    seal = reports.seal_month(session, bank, period, by=by, clock=clock)
    return [_("封账，链头 #%(seq)s", seq=seal.head_seq)]


def _quarterly(session, bank, period, by, clock) -> list:
    from redemption.services import windows as redemption

    _version, book = banks.rulebook(session, bank.id)
    window = commendation.redemption_window(book.settings.cycle, period)
    opened = []
    if window:
        redemption.open_window(session, bank, opens_on=window[0], closes_on=window[1], kind="regular",
                               by=by, clock=clock, memo=f"{period.key} 季兑换")
        opened = [_("兑换期 %(opens)s 至 %(closes)s", opens=window[0].isoformat(), closes=window[1].isoformat())]
    snapshot = reports.summarize_quarter(session, bank, period, by=by, clock=clock)
    return [*opened, _("季度汇总 %(hash)s", hash=snapshot.content_hash[:12])]


def _quarterly_close(session, bank, period, by, clock) -> list:
    from redemption.services import windows as redemption

    _version, book = banks.rulebook(session, bank.id)
    window = commendation.redemption_window(book.settings.cycle, period)
    if window is None:
        return [_("本季度没有常规兑换期")]
    stored = redemption.regular_window_id(session, bank, window[0])
    if stored is None:
        raise ConflictError(_("%(period)s 的兑换期尚未开启", period=period.key), code="window_missing")
    redemption.close_window(session, bank, stored, by=by, clock=clock)
    return [_("兑换期 %(opens)s 至 %(closes)s 已关闭", opens=window[0].isoformat(), closes=window[1].isoformat())]


def _annual(session, bank, period, by, clock) -> list:
    snapshot = reports.commend_year(session, bank, period, by=by, clock=clock)
    content = reports.content_of(snapshot)
    named = sum(len(a["awardees"]) for a in content["awards"])
    expired = expiry.expire_year(session, bank, period, by=by, clock=clock)
    return [_("表彰 %(n)s 人次 %(hash)s", n=named, hash=snapshot.content_hash[:12]),
            *([_("%(n)s 个账户积分清零", n=len(expired))] if expired else [])]


JOBS: dict[str, Job] = {job.name: job for job in (
    Job("daily", "day", _daily_due, _daily, "日登分：关闭当天登分簿", _("日登分")),
    Job("monthly", "month", _monthly_due, _monthly, "月公示：冻结上月公示，开始异议期", _("月公示")),
    Job("seal", "month", _seal_due, _seal, "封账：异议期满后封存该月", _("封账")),
    Job("quarterly", "quarter", _quarterly_due, _quarterly, "季兑换：开启兑换期，冻结季度汇总",
        _("季兑换开始")),
    Job("quarterly_close", "quarter", _quarterly_close_due, _quarterly_close, "季兑换：关闭兑换期",
        _("季兑换结束")),
    Job("annual", "year", _annual_due, _annual, "年表彰：评比并清零（如规则要求）", _("年表彰")),
)}
#: Order among jobs falling due at the same moment: a month's notice before the quarter's summary.
ORDER = {name: i for i, name in enumerate(JOBS)}


def get_job(name: str) -> Job:
    """Return the job with this name, or refuse it naming the jobs there are."""
    if name not in JOBS:
        raise ValidationError({"job": [_("未知任务 %(name)s；可用：%(jobs)s", name=name, jobs=", ".join(JOBS))]},
                              _("未知任务"))
    return JOBS[name]


def parse(job: Job, text: str) -> Period:
    """Parse a period for a job (daily 2026-10-05, monthly 2026-10, quarterly 2026-Q4, annual 2026)."""
    return periods.parse_period(job.kind, text)


def due_at(session: Session, bank: Bank, job: Job, period: Period, clock: Clock) -> datetime | None:
    """Return when a job falls due for a bank and period, by the bank's rules in force."""
    _version, book = banks.rulebook(session, bank.id)
    return job.due(session, bank, book.settings.cycle, period, clock)
