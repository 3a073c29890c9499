"""The fund: money and goods given to it, what it holds, and the quarter's disclosure (财务公开)."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.tenants import Bank
from ledger import periods
from ledger.models import CNY, PTS, Account, Transfer
from ledger.posting import Draft, Idempotency
from ledger.unit import UnitOfWork
from rules.periods import quarter_period

from .. import domain
from ..models import FundReceipt
from . import books


def record_receipt(session: Session, bank: Bank, *, source: str, donor: str | None,
                   received_on: date, amount_fen: int, restriction: str | None, memo: str | None,
                   by: str, clock: Clock, idem: Idempotency | None = None) -> FundReceipt:
    """Record money given to the fund, into the unrestricted fund or a restricted one."""
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem, amounts="amount_fen") as uow:
        if uow.replayed:
            return session.get(FundReceipt, uow.replayed.data["receipt"])
        periods.check_dated(session, bank.id, received_on, today=clock.today(), field="received_on",
                            backdate_days=books.settings(session, bank).cycle.backdate_days)
        giver = books.system(session, bank.id, f"source:{source}")
        fund = books.system(session, bank.id, books.RESTRICTED_TO[restriction])
        label = books.SOURCE_NAMES[source] + (f" {donor}" if donor else "")
        [[transfer]] = uow.post([Draft(
            ledger=CNY, debit_id=giver.id, credit_id=fund.id, amount=amount_fen, kind=books.KIND_RECEIPT,
            occurred_on=received_on, memo=label + (f"：{memo}" if memo else ""))])
        receipt = FundReceipt(bank_id=bank.id, source=source, donor=donor, received_on=received_on,
                              amount_fen=amount_fen, restriction=restriction, transfer_id=transfer.id,
                              memo=memo, recorded_at=clock.now(), recorded_by=by)
        session.add(receipt)
        session.flush()
        uow.remember("posted", {"receipt": receipt.id, "transfers": [transfer.id]})
        uow.audit("fund_receipt", f"receipt:{receipt.id}",
                  {"source": source, "donor": donor, "amount_fen": amount_fen, "restriction": restriction})
    return receipt


def list_receipts(session: Session, bank: Bank, *, first: date | None = None,
                  last: date | None = None, limit: int = 500,
                  before: int | None = None) -> list[tuple[FundReceipt, bool]]:
    """Return receipts (money and goods), newest first, each with whether it was reversed."""
    reversed_ = books.reversed_(FundReceipt.transfer_id)
    stmt = select(FundReceipt, reversed_).where(FundReceipt.bank_id == bank.id)
    if first:
        stmt = stmt.where(FundReceipt.received_on >= first)
    if last:
        stmt = stmt.where(FundReceipt.received_on <= last)
    if before is not None:
        stmt = stmt.where(FundReceipt.id < before)
    return [(r, bool(gone)) for r, gone in session.execute(
        stmt.order_by(FundReceipt.id.desc()).limit(limit)).all()]


def _codes(session: Session, bank: Bank, ledger: str) -> dict[int, str]:
    return dict(session.execute(select(Account.id, Account.code).where(
        Account.bank_id == bank.id, Account.ledger == ledger, Account.kind == "system")).all())


def points_outstanding(session: Session, bank: Bank, on: date | None = None) -> int:
    """Return the points residents and households hold (debts count as nothing), now or on a day."""
    if on is None:
        return int(session.execute(select(func.coalesce(func.sum(Account.balance), 0)).where(
            Account.bank_id == bank.id, Account.ledger == PTS, Account.kind != "system",
            Account.balance > 0)).scalar())
    balances = _balances_on(session, bank, PTS, on)
    system = _codes(session, bank, PTS)
    return sum(v for k, v in balances.items() if k not in system and v > 0)


def _balances_on(session: Session, bank: Bank, ledger: str, on: date) -> dict[int, int]:
    """Return every account's balance at the end of a day, from the transfers dated up to it."""
    where = (Transfer.bank_id == bank.id, Transfer.ledger == ledger, Transfer.occurred_on <= on)
    balances: dict[int, int] = {}
    for account, amount in session.execute(select(Transfer.credit_id, func.sum(Transfer.amount))
                                           .where(*where).group_by(Transfer.credit_id)):
        balances[account] = balances.get(account, 0) + int(amount)
    for account, amount in session.execute(select(Transfer.debit_id, func.sum(Transfer.amount))
                                           .where(*where).group_by(Transfer.debit_id)):
        balances[account] = balances.get(account, 0) - int(amount)
    return balances


def fund_position(session: Session, bank: Bank) -> dict:
    """Return the fund's balances today and its coverage of the points outstanding.

    Money that can honour points: the unrestricted fund, goods-only money and goods already
    on the shelf (at cost). Money for micro-projects cannot, so it is shown but not counted.
    """
    settings = books.settings(session, bank)
    balances = dict(session.execute(select(Account.code, Account.balance).where(
        Account.bank_id == bank.id, Account.ledger == CNY, Account.kind == "system")).all())
    cash = {code: int(balances.get(code, 0)) for code in books.CASH}
    stock = int(balances.get(books.STOCK, 0))
    available = cash["fund"] + cash["fund:goods"] + stock
    points = points_outstanding(session, bank)
    cover = domain.coverage(points, settings.point_value_fen, available,
                            settings.coverage_warning_percent)
    return {"unrestricted_fen": cash["fund"], "goods_only_fen": cash["fund:goods"],
            "projects_only_fen": cash["fund:projects"], "cash_fen": sum(cash.values()),
            "stock_fen": stock, "available_fen": available, "coverage": cover}


def disclosure(session: Session, bank: Bank, year: int, quarter: int, *, clock: Clock) -> dict:
    """Return the quarter's financial disclosure (财务公开): balances, receipts, spending, coverage.

    Two sections that each reconcile: the fund's money (opening + receipts - spending =
    closing) and the goods on the shelf (opening + bought + given - handed out = closing).
    """
    period = quarter_period(year, quarter)
    first, last = period.start, period.end
    today = clock.today()
    as_of = min(last, today)
    codes = _codes(session, bank, CNY)
    names = dict(session.execute(select(Account.id, Account.name).where(
        Account.bank_id == bank.id, Account.ledger == CNY)).all())
    opening = _balances_on(session, bank, CNY, first - timedelta(days=1))
    closing = _balances_on(session, bank, CNY, as_of)
    flows = session.execute(select(Transfer.debit_id, Transfer.credit_id, func.sum(Transfer.amount))
                            .where(Transfer.bank_id == bank.id, Transfer.ledger == CNY,
                                   Transfer.occurred_on.between(first, as_of))
                            .group_by(Transfer.debit_id, Transfer.credit_id)).all()

    def section(members: set[str]) -> dict:
        inside = {i for i, c in codes.items() if c in members}
        net: dict[int, int] = {}
        for debit, credit, amount in flows:
            if credit in inside and debit not in inside:
                net[debit] = net.get(debit, 0) + int(amount)
            elif debit in inside and credit not in inside:
                net[credit] = net.get(credit, 0) - int(amount)
        receipts = [{"source": codes[i].split(":", 1)[1], "name": names[i], "fen": v}
                    for i, v in net.items() if codes.get(i, "").startswith("source:") and v]
        other = [{"code": codes.get(i, ""), "name": names[i], "fen": -v}
                 for i, v in net.items() if not codes.get(i, "").startswith("source:") and v]
        order = list(books.SOURCE_NAMES)
        receipts.sort(key=lambda r: order.index(r["source"]) if r["source"] in order else 99)
        other.sort(key=lambda r: r["code"])
        return {"opening_fen": sum(opening.get(i, 0) for i in inside),
                "receipts": receipts, "receipts_fen": sum(r["fen"] for r in receipts),
                "uses": other, "uses_fen": sum(r["fen"] for r in other),
                "closing_fen": sum(closing.get(i, 0) for i in inside)}

    money, goods = section(set(books.CASH)), section({books.STOCK})
    # Inside the goods section, fen coming from the fund's cash is what was bought.
    bought = sum(use["fen"] for use in goods["uses"] if use["code"] in books.CASH)
    goods["uses"] = [use for use in goods["uses"] if use["code"] not in books.CASH]
    if bought:
        goods["uses"].insert(0, {"code": "purchase", "name": "基金购入", "fen": bought})
    settings = books.settings(session, bank)
    outstanding = points_outstanding(session, bank, None if as_of >= today else as_of)
    by_restriction = {c: closing.get(i, 0) for i, c in codes.items() if c in books.CASH}
    cover = domain.coverage(outstanding, settings.point_value_fen,
                            by_restriction.get("fund", 0) + by_restriction.get("fund:goods", 0)
                            + goods["closing_fen"], settings.coverage_warning_percent)
    receipts = [(r, gone) for r, gone in list_receipts(session, bank, first=first, last=as_of)]
    receipts.reverse()
    return {"bank": bank, "year": year, "quarter": quarter, "first": first, "last": last,
            "as_of": as_of, "money": money, "goods": goods, "restricted": by_restriction,
            "coverage": cover, "receipts": receipts,
            "head_seq": bank.head_seq, "head_hash": bank.head_hash}
