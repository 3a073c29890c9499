"""Redeeming: points exchanged for goods. The desk reads what the plan needs, the domain plans
the redemption (redemption.domain.plan_redemption), and the plan is posted in one unit of work."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.errors import ValidationError
from ground.i18n import _
from ground.tenants import Bank
from ledger import accounts
from ledger.models import CNY, PTS, Account, Resident, Transfer
from ledger.posting import Draft, Idempotency, legs
from ledger.residents import named_residents
from ledger.unit import UnitOfWork

from .. import domain
from ..models import CatalogItem, Redemption, RedemptionLine, StockMovement
from . import books
from .reading import RedemptionOutcome, get_redemption
from .windows import current_window, next_window


def redeem(session: Session, bank: Bank, *, resident_id: int, items: list[tuple[str, int]],
           by: str, clock: Clock, idem: Idempotency | None = None) -> RedemptionOutcome:
    """Exchange points for goods: debit the points, take the stock, post the goods' cost.

    All in one unit of work under the bank's posting lock, checked as domain.plan_redemption
    says. A retry with the same key returns the first redemption.
    """
    skus = [sku for sku, _quantity in items]
    if len(set(skus)) != len(skus):
        raise ValidationError({"items": [_("同一货号不能重复出现")]})
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return get_redemption(session, bank, uow.replayed.data["redemption"])
        [resident] = named_residents(session, bank, [resident_id], field="resident", say_which=False)
        catalog = {i.sku: i for i in session.execute(
            select(CatalogItem).where(CatalogItem.bank_id == bank.id, CatalogItem.sku.in_(skus))
            .execution_options(populate_existing=True)).scalars()}
        today = clock.today()
        settings = books.settings(session, bank)
        window = current_window(session, bank, today, cycle=settings.cycle)
        upcoming = None if window else next_window(session, bank, today, cycle=settings.cycle)
        account = accounts.points_account(session, resident, settings.account_unit)
        balance = books.balance(session, account.id)
        # Points per person: the standing is the balance, which the plan checks anyway.
        own = (None if settings.negative_balance_may_redeem or account.resident_id == resident.id
               else standing(session, bank, resident, account))
        plan = domain.plan_redemption(
            items, {sku: _goods(item) for sku, item in catalog.items()}, window=window,
            upcoming=upcoming, taken=_taken(session, bank, account.id, catalog.values(), window),
            holder=domain.Holder(balance, own))
        return _post(session, uow, bank, resident, account, plan, catalog)


def _goods(item: CatalogItem) -> domain.Goods:
    return domain.Goods(item.id, item.sku, item.name, item.points, item.stock, item.stock_value_fen,
                        item.limit_per_window, item.active)


def _taken(session: Session, bank: Bank, account_id: int, catalog, window) -> dict[int, int]:
    """Return the units of each limited item the account has taken in the window, undone aside."""
    limited = [i.id for i in catalog if i.limit_per_window is not None]
    if not limited or window is None:
        return {}
    return {item: int(quantity) for item, quantity in session.execute(
        select(RedemptionLine.item_id, func.sum(RedemptionLine.quantity)).where(
            RedemptionLine.bank_id == bank.id, RedemptionLine.account_id == account_id,
            RedemptionLine.item_id.in_(limited),
            RedemptionLine.occurred_on.between(window.opens_on, window.closes_on),
            ~books.reversed_(RedemptionLine.entry_id))
        .group_by(RedemptionLine.item_id))}


def _post(session: Session, uow: UnitOfWork, bank: Bank, resident: Resident, account: Account,
          plan: domain.Plan, catalog: dict[str, CatalogItem]) -> RedemptionOutcome:
    """Post the plan: one entry per line (its points and its cost: the desk may undo one line of
    several), the redemption and its lines, the stock taken off the shelf."""
    clock, today = uow.clock, uow.clock.today()
    system = books.system_ids(session, bank.id)
    redeemed, stock_account, spent = (system[PTS, "redeemed"], system[CNY, books.STOCK],
                                      system[CNY, "spent:goods"])
    drafts = []
    for line in plan.lines:
        memo = f"兑换 {line.goods.name}×{line.quantity}"
        drafts.append([Draft(ledger=PTS, debit_id=account.id, credit_id=redeemed, amount=line.points,
                             kind=books.KIND_POINTS, occurred_on=today, doer_id=resident.id, memo=memo)])
        if line.cost_fen:
            drafts[-1].append(Draft(ledger=CNY, debit_id=stock_account, credit_id=spent,
                                    amount=line.cost_fen, kind=books.KIND_COST, occurred_on=today,
                                    memo=memo))
    entries = uow.post(*drafts)
    redemption = Redemption(bank_id=bank.id, resident_id=resident.id, account_id=account.id,
                            window_opens_on=plan.window.opens_on, window_closes_on=plan.window.closes_on,
                            points=plan.points, cost_fen=plan.cost_fen, balance_after=plan.balance_after,
                            occurred_on=today, recorded_at=clock.now(), recorded_by=uow.by)
    session.add(redemption)
    session.flush()
    lines = [RedemptionLine(bank_id=bank.id, redemption_id=redemption.id, item_id=line.goods.id,
                            account_id=account.id, sku=line.goods.sku, name=line.goods.name,
                            quantity=line.quantity, unit_points=line.goods.points, points=line.points,
                            cost_fen=line.cost_fen, entry_id=entry[0].id, occurred_on=today)
             for line, entry in zip(plan.lines, entries)]
    session.add_all(lines)
    session.flush()
    for planned, line in zip(plan.lines, lines):
        item = catalog[planned.goods.sku]
        item.stock -= planned.quantity
        item.stock_value_fen -= planned.cost_fen
        session.add(StockMovement(bank_id=bank.id, item_id=item.id, quantity=-planned.quantity,
                                  value_fen=-planned.cost_fen, reason="redemption", entry_id=line.entry_id,
                                  redemption_line_id=line.id, occurred_on=today,
                                  recorded_at=clock.now(), recorded_by=uow.by))
    session.flush()
    transfers = legs(entries)
    uow.remember("posted", {"redemption": redemption.id, "transfers": [t.id for t in transfers]})
    uow.audit("redemption", f"redemption:{redemption.id}",
              {"resident": resident.id, "items": {line.sku: line.quantity for line in lines},
               "points": plan.points})
    return RedemptionOutcome(redemption, lines, transfers,
                             {line.entry_id: list(entry) for line, entry in zip(lines, entries)})


def standing(session: Session, bank: Bank, resident: Resident, account: Account) -> int:
    """Return the resident's own points: their deeds less their penalties, redemptions aside.

    Points kept per person: the account's balance. Kept per household: what this member's
    own entries brought into (or took out of) the household's account, so that a member in
    debt to the village rules is known even when the household has points.
    """
    if account.resident_id == resident.id:
        return books.balance(session, account.id)
    spent = [a.id for a in (books.system(session, bank.id, "redeemed"),
                            accounts.system_account(session, bank.id, PTS, "expired"))]
    rows = session.execute(select(Transfer.debit_id, Transfer.credit_id, func.sum(Transfer.amount))
                           .where(Transfer.bank_id == bank.id, Transfer.doer_id == resident.id,
                                  Transfer.ledger == PTS, Transfer.debit_id.not_in(spent),
                                  Transfer.credit_id.not_in(spent))
                           .group_by(Transfer.debit_id, Transfer.credit_id)).all()
    return sum(amount if credit == account.id else -amount if debit == account.id else 0
               for debit, credit, amount in rows)
