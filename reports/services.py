"""The reports' services: freeze a period (day, notice, quarter, year), seal a month, read them back.

Each service owns its transaction. A frozen snapshot is canonical JSON with its sha256; freezing
the same period again returns the first snapshot unchanged, so printing twice prints the same.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import date, datetime, time, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ledger import formatting, periods
from ledger import banks
from ground.clock import Clock
from ground.errors import ConflictError, NotFound
from ground.i18n import _, in_language, render
from ground.tenants import Bank
from ledger.chain import canonical_json
from ledger.periods import Period, PeriodSeal, parse_period
from ledger.unit import UnitOfWork
from ledger.verify import RecordedHead

from . import commendation as commendations
from . import notice as notices
from .models import Snapshot
from .objections import objections_of_month
from .queries import RuleLookup
from .register import day_register, overdue_pending

log = logging.getLogger(__name__)


# --- snapshots ---------------------------------------------------------------------------------

def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def get_snapshot(session: Session, bank_id: int, kind: str, period: str) -> Snapshot | None:
    """Return the frozen snapshot of a period, if it was frozen."""
    return session.execute(select(Snapshot).where(
        Snapshot.bank_id == bank_id, Snapshot.kind == kind, Snapshot.period == period)).scalar_one_or_none()


def current_notice(session: Session, bank: Bank) -> dict | None:
    """Return the latest monthly notice put up (its month, when objections close, the key of its
    public address), if any."""
    row = session.execute(_LATEST_NOTICE, {"bank": bank.id}).first()
    return {"month": row.period, "closes_at": row.window_closes_at,
            "key": row.content_hash[:16]} if row else None


_LATEST_NOTICE = (select(Snapshot.period, Snapshot.window_closes_at, Snapshot.content_hash)
                  .where(Snapshot.bank_id == bindparam("bank"), Snapshot.kind == "notice")
                  .order_by(Snapshot.period.desc()).limit(1))


def banks_with_notice(session: Session, month: str) -> set[int]:
    """Return the banks whose notice of the month ("YYYY-MM") is up."""
    return set(session.execute(select(Snapshot.bank_id).where(
        Snapshot.kind == "notice", Snapshot.period == month)).scalars())


#: What a frozen snapshot is called where verify names it, by kind.
_KIND_WORDS = {"day": lambda period: _("%(period)s 的日登记", period=period),
               "notice": lambda period: _("%(period)s 的公示", period=period),
               "quarter": lambda period: _("%(period)s 的季度报告", period=period),
               "year": lambda period: _("%(period)s 的年度表彰", period=period)}


def frozen_heads(session: Session, bank_id: int) -> list[RecordedHead]:
    """The chain head each of the bank's frozen snapshots carries (printed on its paper), for
    verify to hold the chain to (`ledger.verify.RECORDED_HEADS`)."""
    rows = session.execute(select(Snapshot.kind, Snapshot.period, Snapshot.head_seq, Snapshot.head_hash)
                           .where(Snapshot.bank_id == bank_id)).all()
    return [RecordedHead(_KIND_WORDS[kind](period) if kind in _KIND_WORDS else f"{kind} {period}",
                         seq, head_hash, {kind: period})
            for kind, period, seq, head_hash in rows]


#: What reports adds to every verify (zongzhi.plugins installs it).
RECORDED_HEADS = [frozen_heads]


def content_of(snapshot: Snapshot) -> dict:
    """Return a snapshot's content as data."""
    return json.loads(snapshot.content)


def _freeze(uow: UnitOfWork, kind: str, period: str, content: dict, head: tuple[int, str],
            *, window_closes_at: datetime | None = None) -> Snapshot:
    text = canonical_json(content)
    snapshot = Snapshot(bank_id=uow.bank.id, kind=kind, period=period, content=text,
                        content_hash=content_hash(text), head_seq=head[0], head_hash=head[1],
                        created_at=uow.clock.now(), created_by=uow.by, window_closes_at=window_closes_at)
    uow.session.add(snapshot)
    uow.session.flush()
    uow.audit(f"freeze_{kind}", f"{kind}:{period}", {"hash": snapshot.content_hash, "head_seq": head[0]})
    return snapshot


def _local(clock: Clock, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=clock.tz)


def _not_over(period: Period, clock: Clock) -> ConflictError:
    return ConflictError(_("%(period)s 尚未结束，不能出报表", period=period.key), code="period_not_over")


# --- 日登分: the daily close -----------------------------------------------------------------

def close_day(session: Session, bank: Bank, day: date | str, *, by: str, clock: Clock) -> Snapshot:
    """Close a day's register: its entries' count and points per rule, the chain head, and the
    reminder of deeds waiting for review for more than a day."""
    period = parse_period("day", day) if isinstance(day, str) else periods.period_of("day", day)
    if period.start > clock.today():
        raise _not_over(period, clock)
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        head = uow.head
        existing = get_snapshot(session, bank.id, "day", period.key)
        if existing:
            return existing
        register = day_register(session, bank, period.start, clock=clock)
        cutoff = min(clock.now(), _local(clock, period.start + timedelta(days=1), time(0))) - timedelta(days=1)
        waiting = overdue_pending(session, bank, before=cutoff)
        content = {
            "bank": {"code": bank.code, "name": bank.name}, "day": period.key,
            "count": register.count, "points": register.points,
            "first_seq": register.entries[0].seq if register.entries else None,
            "last_seq": register.entries[-1].seq if register.entries else None,
            "totals": register.as_dict()["totals"],
            "head": {"seq": head[0], "hash": head[1]},
            "pending_overdue": [{"id": p.id, "resident_id": p.resident_id, "rule": p.rule_code,
                                 "occurred_on": p.occurred_on.isoformat(),
                                 "submitted_at": p.submitted_at.isoformat()} for p in waiting],
        }
        snapshot = _freeze(uow, "day", period.key, content, head)
    if waiting:
        log.warning("%s %s: %d deed(s) waiting for review for more than a day (ids %s)", bank.code,
                    period.key, len(waiting), ", ".join(str(p.id) for p in waiting[:20]))
    return snapshot


# --- 月公示: the monthly notice and its seal ----------------------------------------------------

def publish_notice(session: Session, bank: Bank, month: str | Period, *, by: str, clock: Clock) -> Snapshot:
    """Freeze a finished month's notice and open its objection window."""
    period = parse_period("month", month) if isinstance(month, str) else month
    if period.end >= clock.today():
        raise _not_over(period, clock)
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        head = uow.head
        existing = get_snapshot(session, bank.id, "notice", period.key)
        if existing:
            return existing
        _version, book = banks.rulebook(session, bank.id)
        cycle = book.settings.cycle
        published = clock.now()
        closes = published + timedelta(days=cycle.objection_days)
        content = {
            "bank": {"code": bank.code, "name": bank.name}, "month": period.key,
            "published_at": published.isoformat(),
            "objection_deadline": closes.astimezone(clock.tz).isoformat(timespec="minutes"),
            "objection_days": cycle.objection_days,
            "how_to_object": render(notices.HOW_TO_OBJECT, "zh"),
            "account_unit": book.settings.account_unit,
            "categories": list(book.settings.categories),
            "rules_version": book.content_hash,
            "head": {"seq": head[0], "hash": head[1]},
            **notices.gather_notice(session, bank, period, book),
        }
        late = notices.late_entries(session, bank.id, period, head[0], _notice_heads(session, bank.id),
                                    RuleLookup(session, bank.id).rule)
        if late:
            content["late"] = late
        return _freeze(uow, "notice", period.key, content, head, window_closes_at=closes)


def _notice_heads(session: Session, bank_id: int) -> dict[str, int]:
    """Return the chain head each frozen notice of the bank was frozen at, by month."""
    return dict(session.execute(select(Snapshot.period, Snapshot.head_seq).where(
        Snapshot.bank_id == bank_id, Snapshot.kind == "notice")).all())


def get_notice(session: Session, bank: Bank, month: str) -> Snapshot:
    """Return a month's frozen notice, or NotFound if it is not out (yet)."""
    period = parse_period("month", month, field="month")
    snapshot = get_snapshot(session, bank.id, "notice", period.key)
    if snapshot is None:
        year, number = period.start.year, period.start.month
        raise NotFound(_("找不到 %(month)s 的公示",
                         month=in_language(lambda lang: formatting.month(year, number, lang))))
    return snapshot


def seal_month(session: Session, bank: Bank, month: str | Period, *, by: str, clock: Clock) -> PeriodSeal:
    """Seal a month once its notice's objection window has closed; sealing again returns the seal."""
    period = parse_period("month", month) if isinstance(month, str) else month
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        sealed = periods.get_seal(session, bank.id, period.key)
        if sealed:
            return sealed
        notice = get_snapshot(session, bank.id, "notice", period.key)
        if notice is None:
            raise ConflictError(_("%(month)s 尚未公示，不能封账", month=period.key), code="notice_missing")
        if clock.now() < notice.window_closes_at:
            closes = notice.window_closes_at.astimezone(clock.tz).strftime("%Y-%m-%d %H:%M")
            raise ConflictError(_("%(month)s 的异议期到 %(closes)s 才结束", month=period.key, closes=closes),
                                code="objection_window_open")
        seal = periods.seal_month(session, bank.id, period.key, by=by, clock=clock)
        open_objections = [o.id for o in objections_of_month(session, bank.id, period.key)
                           if o.status == "open"]
        uow.audit("seal", f"month:{period.key}", {"head_seq": seal.head_seq, "head_hash": seal.head_hash,
                                                  "open_objections": open_objections})
    return seal


# --- 季兑换 and 年表彰 ----------------------------------------------------------------------------

def summarize_quarter(session: Session, bank: Bank, quarter: str | Period, *, by: str,
                      clock: Clock) -> Snapshot:
    """Freeze the quarter's summary: the three months before its redemption window, from their notices."""
    period = parse_period("quarter", quarter) if isinstance(quarter, str) else quarter
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        head = uow.head
        existing = get_snapshot(session, bank.id, "quarter", period.key)
        if existing:
            return existing
        _version, book = banks.rulebook(session, bank.id)
        window = commendations.redemption_window(book.settings.cycle, period)
        covered = commendations.summary_months(period)
        if covered[-1].end >= clock.today():
            raise _not_over(covered[-1], clock)
        first_month = periods.period_of("month", periods.first_day(session, bank, clock.tz))
        frozen, hashes = {}, {}
        for m in covered:
            snapshot = get_snapshot(session, bank.id, "notice", m.key)
            if snapshot is not None:
                frozen[m.key], hashes[m.key] = content_of(snapshot), snapshot.content_hash
            elif m.end >= first_month.start:
                raise ConflictError(_("%(month)s 尚未公示，不能汇总本季度", month=m.key), code="notice_missing")
        content = {"bank": {"code": bank.code, "name": bank.name}, "quarter": period.key,
                   "window": {"opens_on": window[0].isoformat(), "closes_on": window[1].isoformat()}
                   if window else None,
                   "head": {"seq": head[0], "hash": head[1]},
                   **commendations.quarter_summary(frozen, [m.key for m in covered], hashes)}
        return _freeze(uow, "quarter", period.key, content, head)


def commend_year(session: Session, bank: Bank, year: str | Period, *, by: str, clock: Clock) -> Snapshot:
    """Freeze the year's commendation from its sealed months: rankings, titles and awardees."""
    period = parse_period("year", year) if isinstance(year, str) else year
    if period.end >= clock.today():
        raise _not_over(period, clock)
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        head = uow.head
        existing = get_snapshot(session, bank.id, "year", period.key)
        if existing:
            return existing
        first = periods.first_day(session, bank, clock.tz)
        needed = [m for m in period.months() if m.end >= first]
        sealed = {s for s in session.execute(select(PeriodSeal.month).where(
            PeriodSeal.bank_id == bank.id, PeriodSeal.month.in_([m.key for m in needed]))).scalars()}
        missing = [m.key for m in needed if m.key not in sealed]
        if missing:
            raise ConflictError(_("以下月份尚未封账，不能评比：%(months)s", months=", ".join(missing)),
                                code="months_not_sealed")
        _version, book = banks.rulebook(session, bank.id)
        content = {"bank": {"code": bank.code, "name": bank.name}, "year": period.key,
                   "head": {"seq": head[0], "hash": head[1]},
                   "sealed_months": [m.key for m in needed],
                   **commendations.gather_year(session, bank, period, book)}
        return _freeze(uow, "year", period.key, content, head)
