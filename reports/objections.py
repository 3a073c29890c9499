"""Objections (异议) to a month's entries: filed while the month is open, decided by a reviewer.

A month is open to objections until its notice's window closes (then it is sealed). An upheld
objection is corrected in the current open period — a reversal of the entry, or the missing
deed posted today — and the correction is linked to the objection.

The same objection is filed once: one identical to an open one (same resident, same entry or
month, same text) is that one. A card files a few a day at most, counted as its own reports are
(field.services): the card's rows of the bank's day, under the bank's lock.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Iterable

from sqlalchemy import bindparam, case, func, literal_column, null, select, union_all
from sqlalchemy.orm import Session

from ledger import periods, reversals
from ledger import deeds
from ledger.chain import request_fingerprint
from ground.clock import Clock
from ground.db import bank_row
from ground.errors import ConflictError, NotFound, ValidationError, ZongzhiError
from ground.i18n import _
from ledger.models import PTS, Resident, Transfer
from ledger.periods import PeriodSeal
from ground.tenants import Bank
from ledger.posting import Idempotency
from ledger.unit import UnitOfWork
from rules import bounds

from .models import Objection, Snapshot

TEXT_MAX = 500
CORRECTIONS = ("reverse", "deed")
#: Objections one card may file in one day (the bank's day), as many as its own reports.
OBJECTIONS_PER_DAY = 5


class WindowClosed(ConflictError):
    code = "objection_window_closed"


class TooManyObjections(ZongzhiError):
    status = 429
    code = "too_many_objections"

    def __init__(self, per_day: int):
        super().__init__(_("每张卡每天最多提出 %(n)s 条异议，今天已满，请明天再来", n=per_day))


@dataclass(frozen=True)
class Filed:
    """What filing did: the objection, and whether it is new (else the same one, already open)."""

    objection: Objection
    new: bool


def objection_windows(session: Session, bank_id: int, months: Iterable[str],
                      clock: Clock) -> dict[str, tuple[bool, object]]:
    """Say for each month ("YYYY-MM") whether it takes objections now, and until when.

    Open while the month is not sealed and, once its notice is out, until the notice's window
    closes; until when is None while its notice is not out, or once the month is sealed. A month
    still to come takes none. One statement for all the months asked, none if none has begun.
    """
    asked = [periods.parse_period("month", month, field="month") for month in months]
    today = clock.today()
    begun = [period.key for period in asked if period.start <= today]
    sealed, closing = set(), {}
    if begun:
        found = session.execute(_NOTICES_AND_SEALS, {"bank": bank_id, "months": begun})
        for month, closes, is_seal in found:
            if is_seal:
                sealed.add(month)
            else:
                closing[month] = closes
    now = clock.now() if closing else None
    windows = {}
    for period in asked:
        closes = closing.get(period.key)
        if period.key not in begun or period.key in sealed:
            windows[period.key] = (False, None)
        else:
            windows[period.key] = (closes is None or now < closes, closes)
    return windows


# The notices' windows first: the union's columns take their types (a stored instant).
_NOTICES_AND_SEALS = union_all(
    select(Snapshot.period, Snapshot.window_closes_at, literal_column("0")).where(
        Snapshot.bank_id == bindparam("bank"), Snapshot.kind == "notice",
        Snapshot.period.in_(bindparam("months", expanding=True))),
    select(PeriodSeal.month, null(), literal_column("1")).where(
        PeriodSeal.bank_id == bindparam("bank"), PeriodSeal.month.in_(bindparam("months", expanding=True))))


def objection_window(session: Session, bank_id: int, month: str, clock: Clock) -> tuple[bool, object]:
    """Say whether one month takes objections now, and until when (see `objection_windows`)."""
    [window] = objection_windows(session, bank_id, [month], clock).values()
    return window


def text_problem(text: str) -> object | None:
    """Return why an objection's text (as typed) is refused, or None: empty, too long (saying
    how many characters it has), or characters no text may hold."""
    text = bounds.newlines(text or "").strip()
    if not text:
        return _("请填写异议内容")
    if len(text) > TEXT_MAX:
        return _("最多 %(n)s 个字，您写了 %(typed)s 个字", n=TEXT_MAX, typed=len(text))
    return bounds.text_problem(text, max_len=TEXT_MAX, multiline=True)


def file_objection(session: Session, bank: Bank, *, resident_id: int, transfer_id: int | None,
                   month: str | None, text: str, filed_by: str, clock: Clock,
                   idem: Idempotency | None = None) -> Objection:
    """File a resident's objection against an entry, or against a deed missing from a month,
    and return it: the one already open when it is the same (see `file_objection_once`)."""
    return file_objection_once(session, bank, resident_id=resident_id, transfer_id=transfer_id,
                               month=month, text=text, filed_by=filed_by, clock=clock,
                               idem=idem).objection


def file_objection_once(session: Session, bank: Bank, *, resident_id: int, transfer_id: int | None,
                        month: str | None, text: str, filed_by: str, clock: Clock,
                        idem: Idempotency | None = None, per_day: int | None = None) -> Filed:
    """File a resident's objection against an entry, or against a deed missing from a month.

    Refuse a resident or an entry of another bank (as unknown), a month that is not open to
    objections, and an empty or over-long text; nothing is written then. An objection the same
    as one still open (resident, entry or month, text) is not filed again: that one is returned.
    With `per_day`, the filer (a card) files at most so many a day (TooManyObjections, 429).
    A retry with the same key returns the objection the first one filed.
    """
    text = bounds.newlines(text or "").strip()
    problems = {}
    if problem := text_problem(text):
        problems["text"] = [problem]
    if transfer_id is None and not month:
        problems["month"] = [_("对缺漏记录提出异议时须写明月份（YYYY-MM）")]
    if problems:
        raise ValidationError(problems)
    with UnitOfWork(session, bank, by=filed_by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return Filed(get_objection(session, bank, uow.replayed.data["objection"]), True)
        resident = bank_row(session, Resident, resident_id, bank.id, _("找不到该居民"))
        if transfer_id is not None:
            entry = session.get(Transfer, transfer_id)
            if entry is None or entry.bank_id != bank.id or entry.ledger != PTS:
                raise NotFound(_("找不到该流水"))
            entry_month = periods.month_key(entry.occurred_on)
            if month and periods.parse_period("month", month, field="month").key != entry_month:
                raise ValidationError({"month": [_("该记录属于 %(entry_month)s，不是 %(month)s", entry_month=entry_month, month=month)]})
            month = entry_month
        month = periods.parse_period("month", month, field="month").key
        # Looked for under the bank's lock: the same form sent twice at once files it once.
        same = _same_open(session, bank.id, resident.id, transfer_id, month, text)
        if same is not None:
            uow.remember("filed", {"objection": same.id})
            return Filed(same, False)
        open_now, closes = objection_window(session, bank.id, month, clock)
        if not open_now:
            raise WindowClosed(_("%(month)s 不在异议期内（异议期已结束、已封账或该月尚未开始）", month=month),
                               fields={"month": [_("%(month)s 不在异议期内", month=month)]})
        if per_day is not None and _filed_today(session, bank.id, filed_by, clock) >= per_day:
            raise TooManyObjections(per_day)
        objection = Objection(bank_id=bank.id, resident_id=resident.id, transfer_id=transfer_id,
                              month=month, text=text, filed_by=filed_by, filed_at=clock.now())
        session.add(objection)
        session.flush()
        uow.remember("filed", {"objection": objection.id})
        uow.audit("objection", f"objection:{objection.id}",
                  {"resident": resident.id, "transfer": transfer_id, "month": month})
    return Filed(objection, True)


def _same_open(session: Session, bank_id: int, resident_id: int, transfer_id: int | None,
               month: str, text: str) -> Objection | None:
    # The open objection this one repeats: the same entry (or, for a missing deed, the same
    # month), the same words.
    about = (Objection.transfer_id == transfer_id if transfer_id is not None
             else Objection.transfer_id.is_(None) & (Objection.month == month))
    return session.execute(select(Objection).where(
        Objection.bank_id == bank_id, Objection.resident_id == resident_id,
        Objection.status == "open", about, Objection.text == text)
        .order_by(Objection.id).limit(1)).scalar_one_or_none()


def _filed_today(session: Session, bank_id: int, filed_by: str, clock: Clock) -> int:
    # The filer's objections of the bank's day (from its midnight), as a card's reports are counted.
    start = datetime.combine(clock.today(), time(), tzinfo=clock.tz)
    return session.execute(select(func.count()).select_from(Objection).where(
        Objection.bank_id == bank_id, Objection.filed_by == filed_by,
        Objection.filed_at >= start, Objection.filed_at < start + timedelta(days=1))).scalar()


def get_objection(session: Session, bank: Bank, objection_id: int) -> Objection:
    """Return the bank's objection, or NotFound."""
    return bank_row(session, Objection, objection_id, bank.id, _("找不到该异议"))


def list_objections(session: Session, bank: Bank, *, status: str | None = None,
                    month: str | None = None, limit: int = 50, after: int | None = None,
                    newest_first: bool = False) -> list[Objection]:
    """Return the bank's objections, oldest first (or newest first), optionally of one status or month."""
    stmt = select(Objection).where(Objection.bank_id == bank.id)
    if status:
        stmt = stmt.where(Objection.status == status)
    if month:
        stmt = stmt.where(Objection.month == periods.parse_period("month", month, field="month").key)
    if after is not None:
        stmt = stmt.where(Objection.id < after if newest_first else Objection.id > after)
    order = Objection.id.desc() if newest_first else Objection.id
    return list(session.execute(stmt.order_by(order).limit(limit)).scalars())


def reject_objection(session: Session, bank: Bank, objection_id: int, *, reason: str, by: str,
                     clock: Clock, idem: Idempotency | None = None) -> Objection:
    """Reject an open objection with a reason; nothing is posted. A retry with the same key
    returns the objection the first one rejected."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("驳回异议须写明理由")]})
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return get_objection(session, bank, uow.replayed.data["objection"])
        objection = _open(session, bank, objection_id)
        objection.status, objection.reason = "rejected", reason
        objection.decided_by, objection.decided_at = by, clock.now()
        session.flush()
        uow.remember("rejected", {"objection": objection.id})
        uow.audit("objection_reject", f"objection:{objection.id}", {"reason": reason})
    return objection


def uphold_objection(session: Session, bank: Bank, objection_id: int, *, correction: str,
                     reason: str, by: str, clock: Clock, rule: str | None = None,
                     quantity: int = 1, idem: Idempotency | None = None) -> Objection:
    """Uphold an objection and post its correction today, linked to it (see `_uphold`).

    A retry with the same key returns the objection the first one upheld: the writes of
    `_uphold`, each a unit of its own, then join one unit that holds the key.
    """
    decide = dict(correction=correction, reason=reason, by=by, clock=clock, rule=rule,
                  quantity=quantity)
    if idem is None:
        return _uphold(session, bank, objection_id, **decide)
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return get_objection(session, bank, uow.replayed.data["objection"])
        objection = _uphold(session, bank, objection_id, **decide)
        uow.remember("upheld", {"objection": objection.id})
    return objection


def _uphold(session: Session, bank: Bank, objection_id: int, *, correction: str, reason: str,
            by: str, clock: Clock, rule: str | None, quantity: int) -> Objection:
    """Uphold an objection and post its correction today, linked to it.

    `correction` is "reverse" (the entry objected to is reversed) or "deed" (the missing deed
    of `rule` is posted for the resident, approved at once if its rule needs review: the
    reviewer deciding the objection is the one who would approve it). The correction goes
    through the ledger's own services under a key derived from the objection, so a retry
    after a failure half-way posts nothing twice.
    """
    reason = (reason or "").strip()
    problems = {}
    if correction not in CORRECTIONS:
        problems["correction"] = [_("须为以下之一：%(choices)s", choices=", ".join(CORRECTIONS))]
    if not reason:
        problems["reason"] = [_("支持异议须写明理由")]
    if correction == "deed" and not rule:
        problems["rule"] = [_("补登记录须写明规则")]
    if problems:
        raise ValidationError(problems)
    objection = get_objection(session, bank, objection_id)
    if objection.status != "open":
        raise _decided(objection)
    memo = f"异议 #{objection.id} 更正：{reason}"
    fingerprint = request_fingerprint("OBJECTION", str(objection.id), {
        "correction": correction, "rule": rule, "quantity": quantity})
    key = f"objection:{objection.id}"
    if correction == "reverse":
        if objection.transfer_id is None:
            raise ValidationError({"correction": [_("该异议针对缺漏记录，应补登（deed），不能冲正")]})
        posted = reversals.reverse_transfer(session, bank, objection.transfer_id, reason=memo,
                                            by=by, clock=clock, idem=Idempotency(key, fingerprint))
    else:
        outcome = deeds.post_deed(session, bank, rule_code=rule,
                                  resident_ids=[objection.resident_id], quantity=quantity,
                                  occurred_on=clock.today(), memo=memo, by=by, clock=clock,
                                  idem=Idempotency(key, fingerprint))
        if outcome.pending:
            outcome = deeds.decide_pending(
                session, bank, outcome.pending[0].id, approve=True, reason=memo, by=by, clock=clock,
                idem=Idempotency(f"{key}:approve", fingerprint))
        [posted] = outcome.transfers
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        objection = session.get(Objection, objection_id)
        session.refresh(objection)
        if objection.status == "upheld" and objection.correction_id == posted.id:
            return objection
        if objection.status != "open":
            raise _decided(objection)
        objection.status, objection.reason, objection.correction_id = "upheld", reason, posted.id
        objection.decided_by, objection.decided_at = by, clock.now()
        session.flush()
        uow.audit("objection_uphold", f"objection:{objection.id}",
                  {"reason": reason, "correction": correction, "transfer": posted.id})
    return objection


def _open(session: Session, bank: Bank, objection_id: int) -> Objection:
    objection = get_objection(session, bank, objection_id)
    if objection.status != "open":
        raise _decided(objection)
    return objection


def _decided(objection: Objection) -> ConflictError:
    return ConflictError(_("该异议已处理（%(status)s）", status=objection.status), code="already_decided")


def objections_of_month(session: Session, bank_id: int, month: str) -> list[Objection]:
    """Return every objection filed against a month, oldest first."""
    return list(session.execute(select(Objection).where(
        Objection.bank_id == bank_id, Objection.month == month).order_by(Objection.id)).scalars())


def objections_of_residents(session: Session, bank_id: int, resident_ids: list[int], *,
                            limit: int = 20) -> list:
    """Return the latest objections filed for these residents, newest first (a card's holders):
    rows of what a card's page shows (id, month, text, status, reason)."""
    if not resident_ids:
        return []
    return list(session.execute(_OF_RESIDENTS, {"bank": bank_id, "residents": resident_ids,
                                                "limit": limit}).all())


_OF_RESIDENTS = (select(Objection.id, Objection.month, Objection.text, Objection.status, Objection.reason)
                 .where(Objection.bank_id == bindparam("bank"),
                        Objection.resident_id.in_(bindparam("residents", expanding=True)))
                 .order_by(Objection.id.desc()).limit(bindparam("limit")))


def objection_counts(session: Session, months: list[str],
                     bank_ids: list[int] | None = None) -> dict[tuple[int, str], tuple[int, int]]:
    """Return {(bank, "YYYY-MM"): (filed, upheld)} for the months asked, every bank's or those named."""
    stmt = (select(Objection.bank_id, Objection.month, func.count(),
                   func.sum(case((Objection.status == "upheld", 1), else_=0)))
            .where(Objection.month.in_(months)).group_by(Objection.bank_id, Objection.month))
    if bank_ids is not None:
        stmt = stmt.where(Objection.bank_id.in_(bank_ids))
    return {(bank_id, month): (int(filed), int(upheld or 0))
            for bank_id, month, filed, upheld in session.execute(stmt)}


def open_counts(session: Session, bank_id: int) -> dict[str, int]:
    """Return how many objections wait for an answer, per month."""
    return dict(session.execute(select(Objection.month, func.count()).where(
        Objection.bank_id == bank_id, Objection.status == "open").group_by(Objection.month)).all())
