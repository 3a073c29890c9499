"""The day's register (登分簿): every points entry recorded that day, with totals per rule.

The clerk prints it in the evening and signs it with a council reviewer; the daily close
freezes its figures with the chain head.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ledger.models import PTS, Household, PendingDeed, Resident, Transfer
from ground.tenants import Bank

from .queries import DEED_KINDS, RuleLookup, local_day_bounds, original_alias, signed_points_column


@dataclass(frozen=True)
class RegisterEntry:
    """One line of the register."""

    id: int
    seq: int
    kind: str
    occurred_on: date
    recorded_at: datetime
    resident_id: int | None
    resident: str
    household: str
    rule_code: str | None
    rule_name: str
    points: int
    memo: str | None
    recorded_by: str
    #: For a reversal: the id and sequence number of the entry it reverses.
    reverses_id: int | None = None
    reverses_seq: int | None = None

    def as_dict(self) -> dict:
        return {"id": self.id, "seq": self.seq, "kind": self.kind,
                "occurred_on": self.occurred_on.isoformat(),
                "recorded_at": self.recorded_at.isoformat(), "resident_id": self.resident_id,
                "resident": self.resident, "household": self.household, "rule": self.rule_code,
                "rule_name": self.rule_name, "points": self.points, "memo": self.memo,
                "recorded_by": self.recorded_by, "reverses": self.reverses_id,
                "reverses_seq": self.reverses_seq}


@dataclass(frozen=True)
class RuleTotal:
    rule_code: str
    rule_name: str
    count: int
    points: int


@dataclass(frozen=True)
class DayRegister:
    """A bank's register for one day: its entries in chain order and the totals per rule."""

    bank_id: int
    day: date
    entries: tuple[RegisterEntry, ...]
    totals: tuple[RuleTotal, ...] = field(default_factory=tuple)

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def points(self) -> int:
        return sum(e.points for e in self.entries)

    def as_dict(self) -> dict:
        return {"day": self.day.isoformat(), "count": self.count, "points": self.points,
                "entries": [e.as_dict() for e in self.entries],
                "totals": [{"rule": t.rule_code, "rule_name": t.rule_name, "count": t.count,
                            "points": t.points} for t in self.totals]}


def day_register(session: Session, bank: Bank, day: date, *, clock: Clock | None = None) -> DayRegister:
    """Return the points entries recorded on `day` (the village's day) and their totals per rule.

    Deeds, penalties and their reversals count; redemptions and the fund have their own books.
    Points are signed as the resident sees them: + for a deed, − for a penalty, a reversal the
    mirror of what it reverses.
    """
    tz = (clock or Clock()).tz
    start, end = local_day_bounds(day, tz)
    original = original_alias()
    rows = session.execute(
        select(Transfer, signed_points_column(original.kind), original.seq, Resident.name,
               Household.code)
        .outerjoin(original, original.id == Transfer.reverses_id)
        .outerjoin(Resident, Resident.id == Transfer.doer_id)
        .outerjoin(Household, Household.id == Resident.household_id)
        .where(Transfer.bank_id == bank.id, Transfer.ledger == PTS,
               Transfer.recorded_at >= start, Transfer.recorded_at < end,
               (Transfer.kind.in_(DEED_KINDS)) | ((Transfer.kind == "reversal")
                                                 & original.kind.in_(DEED_KINDS)))
        .order_by(Transfer.seq)).all()
    lookup = RuleLookup(session, bank.id)
    entries, totals = [], {}
    for t, points, original_seq, name, household in rows:
        rule_name = lookup.name(t.rule_code, t.rule_version, t.occurred_on)
        entries.append(RegisterEntry(
            id=t.id, seq=t.seq, kind=t.kind, occurred_on=t.occurred_on, recorded_at=t.recorded_at,
            resident_id=t.doer_id, resident=name or "", household=household or "",
            rule_code=t.rule_code, rule_name=rule_name, points=int(points), memo=t.memo,
            recorded_by=t.recorded_by, reverses_id=t.reverses_id, reverses_seq=original_seq))
        key = t.rule_code or ""
        count, total = totals.get(key, (0, 0))
        totals[key] = (count + 1, total + int(points))
    rule_totals = tuple(RuleTotal(code, lookup.name(code, None, day), count, total)
                        for code, (count, total) in sorted(totals.items()))
    return DayRegister(bank.id, day, tuple(entries), rule_totals)


def overdue_pending(session: Session, bank: Bank, *, before: datetime) -> list[PendingDeed]:
    """Return deeds still waiting for a reviewer that were submitted before `before`, oldest first."""
    return list(session.execute(select(PendingDeed).where(
        PendingDeed.bank_id == bank.id, PendingDeed.status == "pending",
        PendingDeed.submitted_at < before).order_by(PendingDeed.id)).scalars())
