"""Periods of the cycle as input names them (the type itself is `rules.periods.Period`), the
days an entry may be dated, and the seal that closes a month for good.

A month is open until its notice's objection window ends; then it is sealed and nothing more
may be dated inside it. The seal records who sealed it, when, and the chain head at that moment,
so a printed notice can be checked against the ledger years later. An entry is dated from input
only inside the bank's open months: not in the future, not in a sealed month, and not further
back than the rule file's `cycle.backdate_days`; `check_dated` is the one place that says so.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Optional

from sqlalchemy import BigInteger, UniqueConstraint, bindparam, func, select
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from rules import bounds
from rules.periods import KINDS, Period, period_of

from ground.clock import Clock
from ground.store import Prepared
from ground.errors import ConflictError, PeriodSealed, TooOld, ValidationError
from ground.i18n import _
from .models import PendingDeed, Transfer
from ground.tenants import Bank
from .posting import lock_chain

# ASCII digits only: \d would take other scripts' digits, which int() then reads.
_PATTERNS = {
    "day": (re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$"), _("YYYY-MM-DD，例如 2026-10-05")),
    "month": (re.compile(r"^([0-9]{4})-([0-9]{2})$"), _("YYYY-MM，例如 2026-10")),
    "quarter": (re.compile(r"^([0-9]{4})-Q([0-9])$"), _("YYYY-Qn，例如 2026-Q4")),
    "year": (re.compile(r"^([0-9]{4})$"), _("YYYY，例如 2026")),
}


def parse_period(kind: str, text: str, *, field: str = "period") -> Period:
    """Parse a period written as the command line and the API write it; refuse one that does not exist."""
    if kind not in _PATTERNS:
        raise ValidationError({"kind": [_("周期类型须为以下之一：%(kinds)s", kinds=", ".join(KINDS))]})
    pattern, shape = _PATTERNS[kind]
    match = pattern.match((text or "").strip())
    problem = None
    if not match:
        problem = _("格式须为 %(shape)s", shape=shape)
    else:
        parts = [int(p) for p in match.groups()]
        year = parts[0]
        try:
            if kind == "day":
                start = date(year, parts[1], parts[2])
            elif kind == "month":
                start = date(year, parts[1], 1)
            elif kind == "quarter":
                if not 1 <= parts[1] <= 4:
                    raise ValueError("quarter must be 1..4")
                start = date(year, 3 * parts[1] - 2, 1)
            else:
                start = date(year, 1, 1)
        except ValueError:
            problem = _("%(text)s 不是一个存在的日期或周期（%(shape)s）", text=text, shape=shape)
        else:
            if not bounds.YEAR_MIN <= year <= bounds.YEAR_MAX:
                problem = _("%(text)s 不在 %(first)s–%(last)s 年之间", text=text, first=bounds.YEAR_MIN,
                            last=bounds.YEAR_MAX)
    if problem:
        raise ValidationError({field: [problem]}, _("周期有误"))
    return period_of(kind, start)


def parse_day(text: str | None, *, field: str, default: date | None = None) -> date | None:
    """Parse a day typed in a query or a form (`?day=`, `?since=`), `default` when left empty;
    one that does not exist or lies outside the years the cycle knows is a 422 naming `field`."""
    if text is None or not text.strip():
        return default
    return parse_period("day", text, field=field).start


def month_key(day: date) -> str:
    """Return the month a day falls in, as 2026-10."""
    return period_of("month", day).key


# --- the days an entry may be dated ----------------------------------------------------------

def earliest_day(today: date, backdate_days: int) -> date:
    """Return the earliest day an entry may be dated today, `backdate_days` back (rule file)."""
    return today - timedelta(days=backdate_days)


def dating_problem(day: date, *, today: date, backdate_days: int,
                   field: str = "occurred_on") -> ValidationError | None:
    """Return why `day` may not date an entry today, leaving the seal aside, or None.

    Pure: a day in the future (422), or further back than `backdate_days` (422 too_old, naming
    the earliest day allowed), so that nothing slips into months the cycle has finished with.
    """
    if day > today:
        return ValidationError({field: [_("日期不能晚于今天（%(today)s）", today=today.isoformat())]},
                               _("日期不能晚于今天"))
    first = earliest_day(today, backdate_days)
    if day < first:
        return TooOld({field: [_("不能早于 %(first)s（最多补登 %(n)s 天前的记录）",
                                 first=first.isoformat(), n=backdate_days)]},
                      _("日期 %(day)s 太早：最早只能补登到 %(first)s（%(n)s 天内）",
                        day=day.isoformat(), first=first.isoformat(), n=backdate_days))
    return None


def check_dated(session: Session, bank_id: int, day: date, *, today: date, backdate_days: int,
                field: str = "occurred_on", sealed: bool | None = None) -> None:
    """Refuse a day that may not date an entry: in the future or too old (422), or inside a
    sealed month (409 period_sealed).

    `sealed` is what `sealed_read` found, when the caller sent it with other reads.
    """
    problem = dating_problem(day, today=today, backdate_days=backdate_days, field=field)
    if problem is not None:
        raise problem
    if sealed is None:
        sealed = is_sealed(session, bank_id, day)
    if sealed:
        key = month_key(day)
        raise PeriodSealed(_("%(month)s 已封账，不能再登记该月日期的记录（%(day)s）",
                             month=key, day=day.isoformat()),
                           fields={field: [_("%(month)s 已封账", month=key)]})


def first_day(session: Session, bank: Bank, tz) -> date:
    """Return the first day the bank's cycle covers: the day it opened, or the day of its
    earliest entry (or deed waiting for review) when one was dated before that.

    Every month from here on gets its notice and its seal, so a deed dated back before the bank
    opened is published and sealed like any other.
    """
    opened = bank.created_at.astimezone(tz).date()
    dated = session.execute(select(
        select(func.min(Transfer.occurred_on)).where(Transfer.bank_id == bank.id).scalar_subquery(),
        select(func.min(PendingDeed.occurred_on)).where(
            PendingDeed.bank_id == bank.id, PendingDeed.status == "pending").scalar_subquery(),
    )).one()
    earliest = min([opened, *(d for d in dated if d is not None)])
    # Nothing is dated before the years the cycle knows; an older row must not make it walk
    # through centuries.
    return max(earliest, date(bounds.YEAR_MIN, 1, 1))


class PeriodSeal(SQLModel, table=True):
    """A sealed month of one bank: who sealed it, when, and the chain head at that moment."""

    __tablename__ = "period_seals"
    __table_args__ = (UniqueConstraint("bank_id", "month"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    #: The month, written 2026-10.
    month: str = Field(max_length=7)
    sealed_at: datetime
    sealed_by: str = Field(max_length=80)
    head_seq: int = Field(sa_type=BigInteger)
    head_hash: str = Field(max_length=64)


def is_sealed(session: Session, bank_id: int, day: date) -> bool:
    """Say whether the month that contains `day` is sealed for the bank."""
    statement, params = sealed_read(bank_id, day)
    return statement.execute(session, params).fetchone() is not None


def sealed_read(bank_id: int, day: date) -> tuple[Prepared, dict]:
    """The read behind `is_sealed` (a row if sealed, none if open), to send with others."""
    # Every posting asks, so the statement is built once.
    return _SEALED, {"bank": bank_id, "month": month_key(day)}


_SEALS = PeriodSeal.__table__
_SEALED = Prepared(select(_SEALS.c.id).where(_SEALS.c.bank_id == bindparam("bank"),
                                             _SEALS.c.month == bindparam("month")))


def get_seal(session: Session, bank_id: int, month: str) -> PeriodSeal | None:
    """Return the month's seal, if it is sealed."""
    return session.execute(select(PeriodSeal).where(
        PeriodSeal.bank_id == bank_id, PeriodSeal.month == month)).scalar_one_or_none()


def seal_month(session: Session, bank_id: int, month: str, *, by: str, clock: Clock) -> PeriodSeal:
    """Seal a month under the bank's posting lock, recording the chain head; the caller commits.

    Sealing a sealed month again is refused: the first seal is the one that counts.
    """
    period = parse_period("month", month)
    head_seq, head_hash = lock_chain(session, bank_id)
    if get_seal(session, bank_id, period.key) is not None:
        raise ConflictError(_("%(month)s 已封账", month=period.key), code="already_sealed")
    seal = PeriodSeal(bank_id=bank_id, month=period.key, sealed_at=clock.now(), sealed_by=by,
                      head_seq=head_seq, head_hash=head_hash)
    session.add(seal)
    session.flush()
    return seal
