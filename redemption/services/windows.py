"""Redemption windows: the days the desk is open, regular (the rule file's, the cycle's) or extra."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.db import bank_row
from ground.errors import ValidationError
from ground.i18n import _, in_language
from ground.tenants import Bank
from ledger import formatting
from ledger.posting import Idempotency
from ledger.unit import UnitOfWork

from .. import domain
from ..errors import WindowOverlaps
from ..models import RedemptionWindow
from . import books


def open_window(session: Session, bank: Bank, *, opens_on: date, closes_on: date, kind: str,
                by: str, clock: Clock, memo: str | None = None,
                idem: Idempotency | None = None) -> RedemptionWindow:
    """Open a redemption window: a quarter's regular one (the cycle calls this) or an extra one.

    Opening the same regular window again returns the one already there. An extra window may
    not overlap another window, so that a holder's limit per window stays unambiguous. A retry
    with the same key returns the window the first one opened.
    """
    problems = {}
    if closes_on < opens_on:
        problems["closes_on"] = [_("结束日不能早于开始日")]
    elif (closes_on - opens_on).days > 62:
        problems["closes_on"] = [_("一个兑换期最长 63 天")]
    if kind not in ("regular", "extra"):
        problems["kind"] = [_("须为 regular 或 extra")]
    if kind == "extra" and closes_on < clock.today():
        problems["closes_on"] = [_("不能添加已经结束的兑换期")]
    if problems:
        raise ValidationError(problems)
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(RedemptionWindow, uow.replayed.data["window"])
        if kind == "regular":
            existing = session.execute(select(RedemptionWindow).where(
                RedemptionWindow.bank_id == bank.id, RedemptionWindow.kind == "regular",
                RedemptionWindow.opens_on == opens_on)).scalar_one_or_none()
            if existing is not None:
                return existing
        else:
            wanted = domain.Window(opens_on, closes_on, kind)
            clash = next((w for w in _windows(session, bank, opens_on.year - 1, closes_on.year + 1)
                          if w.overlaps(wanted)), None)
            if clash is not None:
                raise WindowOverlaps(_("与已有兑换期 %(opens)s 至 %(closes)s 重叠",
                                       opens=in_language(lambda lang: formatting.day(clash.opens_on, lang)),
                                       closes=in_language(lambda lang: formatting.day(clash.closes_on, lang))),
                                     fields={"opens_on": [_("与已有兑换期重叠")]})
        window = RedemptionWindow(bank_id=bank.id, opens_on=opens_on, closes_on=closes_on, kind=kind,
                                  memo=memo, created_at=clock.now(), created_by=by)
        session.add(window)
        session.flush()
        uow.remember("created", {"window": window.id})
        uow.audit("window_open", f"window:{window.id}",
                  {"opens_on": opens_on, "closes_on": closes_on, "kind": kind})
    return window


def close_window(session: Session, bank: Bank, window_id: int, *, by: str,
                 clock: Clock) -> RedemptionWindow:
    """Close a stored window from today on (the cycle at its end, or the council early)."""
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        window = bank_row(session, RedemptionWindow, window_id, bank.id, _("找不到该兑换期"),
                          populate_existing=True)
        if window.closed_at is None:
            window.closed_at, window.closed_by, window.closed_on = clock.now(), by, clock.today()
            session.flush()
            uow.audit("window_close", f"window:{window.id}")
    return window


def regular_window_id(session: Session, bank: Bank, opens_on: date) -> int | None:
    """Return the id of the regular window stored as opening on `opens_on` (the cycle opened it), if any."""
    return session.execute(select(RedemptionWindow.id).where(
        RedemptionWindow.bank_id == bank.id, RedemptionWindow.kind == "regular",
        RedemptionWindow.opens_on == opens_on)).scalar()


def windows_in_force(session: Session, bank: Bank, first_year: int,
                     last_year: int) -> list[domain.Window]:
    """Return the windows of those years: the stored ones and the rule file's regular dates."""
    return _windows(session, bank, first_year, last_year)


def current_window(session: Session, bank: Bank, day: date, *, cycle=None) -> domain.Window | None:
    """Return the window the desk is open in on `day`, or None.

    `cycle` is the rule book's cycle settings, when the caller has them at hand already.
    """
    return domain.window_on(day, _windows(session, bank, day.year - 1, day.year + 1, cycle))


def next_window(session: Session, bank: Bank, day: date, *, cycle=None) -> domain.Window | None:
    """Return the window open on `day`, else the next to open, else None."""
    return domain.next_window(day, _windows(session, bank, day.year - 1, day.year + 1, cycle))


_STORED = select(RedemptionWindow.id, RedemptionWindow.opens_on, RedemptionWindow.closes_on,
                 RedemptionWindow.closed_on, RedemptionWindow.kind, RedemptionWindow.memo).where(
    RedemptionWindow.bank_id == bindparam("bank"), RedemptionWindow.closes_on >= bindparam("first"),
    RedemptionWindow.opens_on <= bindparam("last"))


def _windows(session: Session, bank: Bank, first_year: int, last_year: int,
             cycle=None) -> list[domain.Window]:
    cycle = cycle or books.settings(session, bank).cycle
    stored = session.execute(_STORED, {"bank": bank.id, "first": date(first_year, 1, 1),
                                       "last": date(last_year, 12, 31)}).all()
    kept = []
    for w in stored:
        closes = w.closes_on if w.closed_on is None else min(w.closes_on, w.closed_on - timedelta(days=1))
        # A window closed before it opened still stands for its month: the rule file's dates
        # do not come back once the cycle has decided.
        kept.append(domain.Window(w.opens_on, closes, w.kind, w.id, w.memo))
    derived = [w for year in range(first_year, last_year + 1)
               for w in domain.regular_windows(year, cycle.redemption_months, cycle.redemption_days)]
    return domain.merge_windows(kept, derived)
