"""The desk's services: catalog and stock, redemption windows, redemptions, the fund.

Each service takes the session and what it needs, does its checks under the bank's posting lock
(so that twenty desks at once cannot overdraw an account or a shelf) and owns the transaction.
Every point and every fen moves through ledger.posting.post.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from ground import audit
from ledger import accounts, formatting, idempotency, periods
from ledger import banks, people
from ground.clock import Clock
from ground.db import bank_row, transaction
from ground.errors import NotFound, ValidationError
from ledger.models import CNY, FUND_CASH, PTS, Account, Household, Resident, Transfer
from ground.tenants import Bank
from ledger.posting import Draft, Idempotency, legs, lock_chain, post
from ledger.residents import named_residents
from ledger.reversals import Undo, Undoers
from rules.periods import quarter_period

from . import domain
from .errors import (InsufficientFunds, InsufficientPoints, LimitExceeded, OutOfStock,
                     ReversalTooLate, SkuExists, WindowClosed, WindowOverlaps)
from .models import (CatalogItem, FundReceipt, Redemption, RedemptionLine, RedemptionWindow,
                     StockMovement)

#: The fund's cash accounts: unrestricted, goods only, micro-projects only.
CASH = FUND_CASH
#: Goods bought or given for the desk, at cost, until they are handed out.
STOCK = "stock:goods"
SOURCE_NAMES = {"town": "镇投入", "village": "村投入", "sponsor": "社会赞助", "donor": "村民捐献"}
SOURCE_NAMES_EN = {"town": "township", "village": "village", "sponsor": "sponsors", "donor": "villagers"}
RESTRICTED_TO = {None: "fund", "goods": "fund:goods", "projects": "fund:projects"}
#: Transfer kinds this package posts.
KIND_POINTS, KIND_COST = "redemption", "goods_cost"
KIND_PURCHASE, KIND_DONATION, KIND_RECEIPT = "goods_purchase", "goods_donation", "fund_receipt"


def _system(session: Session, bank_id: int, code: str) -> Account:
    return accounts.system_account(session, bank_id, PTS if code in ("redeemed",) else CNY, code)


def _system_ids(session: Session, bank_id: int) -> dict[tuple[str, str], int]:
    """Return the ids of the bank's system accounts by (ledger, code), in one query."""
    ids = {(ledger, code): account_id for account_id, ledger, code in session.execute(
        select(Account.id, Account.ledger, Account.code).where(
            Account.bank_id == bank_id, Account.kind == "system"))}
    for ledger, code, _ in accounts.SYSTEM_ACCOUNTS:
        if (ledger, code) not in ids:  # a bank older than the account: open it now
            ids[ledger, code] = accounts.system_account(session, bank_id, ledger, code).id
    return ids


def _balance(session: Session, account_id: int) -> int:
    # A column read, never the cached object: post() moves balances with UPDATE statements.
    return session.execute(select(Account.balance).where(Account.id == account_id)).scalar_one()


def _reversed(transfer_id_column):
    reversal = aliased(Transfer)
    return exists().where(reversal.reverses_id == transfer_id_column)


def _settings(session: Session, bank: Bank):
    return banks.rulebook(session, bank.id)[1].settings


# --- catalog and stock ---------------------------------------------------------------------------

def create_item(session: Session, bank: Bank, *, sku: str, name: str, points: int, cost_fen: int,
                limit_per_window: int | None, by: str, clock: Clock,
                active: bool = True, idem: Idempotency | None = None) -> CatalogItem:
    """Add goods to the catalog, with nothing in stock yet; a retry with the same key returns them."""
    with transaction(session):
        lock_chain(session, bank.id)
        replayed = idempotency.replay(session, bank.id, idem)
        if replayed:
            return session.get(CatalogItem, replayed[1]["item"])
        if session.execute(select(CatalogItem.id).where(CatalogItem.bank_id == bank.id,
                                                        CatalogItem.sku == sku)).first():
            raise SkuExists(f"货号 {sku} 已存在", f"SKU {sku} already exists")
        item = CatalogItem(bank_id=bank.id, sku=sku, name=name, points=points, cost_fen=cost_fen,
                           limit_per_window=limit_per_window, active=active, created_at=clock.now())
        session.add(item)
        session.flush()
        idempotency.remember(session, bank.id, idem, 201, {"item": item.id}, clock=clock)
        audit.record(session, bank_id=bank.id, actor=by, action="catalog_add",
                     subject=f"item:{item.id}", detail={"sku": sku, "points": points,
                                                        "cost_fen": cost_fen}, clock=clock)
    return item


def update_item(session: Session, bank: Bank, sku: str, *, changes: dict, by: str,
                clock: Clock) -> CatalogItem:
    """Change an item's name, price, cost, limit or whether it is offered; stock moves elsewhere."""
    with transaction(session):
        item = get_item(session, bank, sku, fresh=True)
        for field in ("name", "points", "cost_fen", "limit_per_window", "active"):
            if field in changes:
                setattr(item, field, changes[field])
        session.flush()
        audit.record(session, bank_id=bank.id, actor=by, action="catalog_change",
                     subject=f"item:{item.id}", detail=changes, clock=clock)
    return item


def get_item(session: Session, bank: Bank, sku: str, *, fresh: bool = False) -> CatalogItem:
    """Return the bank's catalog item with this SKU, or NotFound."""
    stmt = select(CatalogItem).where(CatalogItem.bank_id == bank.id, CatalogItem.sku == sku)
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    item = session.execute(stmt).scalar_one_or_none()
    if item is None:
        raise NotFound("物品", "catalog item")
    return item


def list_items(session: Session, bank: Bank, *, include_inactive: bool = True,
               limit: int = 500, after: int | None = None) -> list[CatalogItem]:
    """Return the catalog in SKU order of creation (id), from `after` on."""
    stmt = select(CatalogItem).where(CatalogItem.bank_id == bank.id)
    if not include_inactive:
        stmt = stmt.where(CatalogItem.active.is_(True))
    if after is not None:
        stmt = stmt.where(CatalogItem.id > after)
    return list(session.execute(stmt.order_by(CatalogItem.id).limit(limit)
                                .execution_options(populate_existing=True)).scalars())


def item_names(session: Session, bank: Bank, ids) -> dict[int, str]:
    """Return the names of the bank's goods with these ids (another bank's are not among them)."""
    if not ids:
        return {}
    return dict(session.execute(select(CatalogItem.id, CatalogItem.name).where(
        CatalogItem.bank_id == bank.id, CatalogItem.id.in_(list(ids)))).all())


@dataclass(frozen=True)
class StockOutcome:
    item: CatalogItem
    movement: StockMovement
    transfers: list[Transfer]


def stock_in(session: Session, bank: Bank, sku: str, *, quantity: int, source: str,
             cost_fen: int | None, donor: str | None, donor_source: str = "donor",
             by: str, clock: Clock, idem: Idempotency | None = None) -> StockOutcome:
    """Put goods on the shelf: bought by the fund (goods-only money first), or given in kind.

    `cost_fen` is the lot's total (what was paid, or the gift's stated value); by default the
    item's unit cost times the quantity. A purchase the fund cannot pay is refused.
    """
    with transaction(session, amounts="quantity"):
        lock_chain(session, bank.id)
        replayed = idempotency.replay(session, bank.id, idem)
        if replayed:
            movement = session.get(StockMovement, replayed[1]["movement"])
            return StockOutcome(session.get(CatalogItem, movement.item_id), movement,
                                _transfers(session, replayed[1]["transfers"]))
        item = get_item(session, bank, sku, fresh=True)
        value = item.cost_fen * quantity if cost_fen is None else cost_fen
        today = clock.today()
        stock_account = _system(session, bank.id, STOCK)
        drafts, paid_from = [], []
        if source == "purchase":
            goods_money, free_money = (_system(session, bank.id, c) for c in ("fund:goods", "fund"))
            split = domain.split_payment(value, _balance(session, goods_money.id),
                                         _balance(session, free_money.id))
            if split is None:
                raise InsufficientFunds(
                    f"基金余额不足以支付这批物资（{value / 100:.2f} 元）",
                    f"the fund cannot pay for this lot ({value / 100:.2f} yuan)")
            memo = f"购入 {item.name}×{quantity}"
            for account, amount in ((free_money, split[1]), (goods_money, split[0])):
                if amount:
                    paid_from.append(account.code)
                    drafts.append(Draft(ledger=CNY, debit_id=account.id, credit_id=stock_account.id,
                                        amount=amount, kind=KIND_PURCHASE, occurred_on=today,
                                        memo=memo))
        elif value:
            giver = _system(session, bank.id, f"source:{donor_source}")
            paid_from.append(giver.code)
            drafts.append(Draft(ledger=CNY, debit_id=giver.id, credit_id=stock_account.id,
                                amount=value, kind=KIND_DONATION, occurred_on=today,
                                memo=f"捐赠 {item.name}×{quantity}" + (f"（{donor}）" if donor else "")))
        [transfers] = post(session, bank.id, drafts, by=by, clock=clock, idempotency=idem)
        posted = dict(zip(paid_from, transfers))
        main_transfer = next((t for code, t in posted.items() if code != "fund:goods"), None)
        goods_transfer = posted.get("fund:goods")
        movement = StockMovement(bank_id=bank.id, item_id=item.id, quantity=quantity,
                                 value_fen=value, reason=source, donor=donor,
                                 transfer_id=main_transfer.id if main_transfer else None,
                                 goods_transfer_id=goods_transfer.id if goods_transfer else None,
                                 occurred_on=today, recorded_at=clock.now(), recorded_by=by)
        session.add(movement)
        item.stock += quantity
        item.stock_value_fen += value
        if source == "donation":
            session.add(FundReceipt(bank_id=bank.id, source=donor_source, donor=donor,
                                    received_on=today, amount_fen=value, restriction="goods",
                                    in_kind=True, item_id=item.id, quantity=quantity,
                                    transfer_id=main_transfer.id if main_transfer else None,
                                    recorded_at=clock.now(), recorded_by=by))
        session.flush()
        idempotency.remember(session, bank.id, idem, 201, {
            "movement": movement.id, "transfers": [t.id for t in transfers]}, clock=clock)
        audit.record(session, bank_id=bank.id, actor=by, action=f"stock_{source}",
                     subject=f"item:{item.id}", detail={"quantity": quantity, "value_fen": value,
                                                        "donor": donor}, clock=clock)
    return StockOutcome(item, movement, transfers)


#: Why stock moved, when it was not the desk handing goods out: what the shelf's history lists.
SHELF_REASONS = ("purchase", "donation", "purchase_reversal", "donation_reversal")


def shelf_history(session: Session, bank: Bank, *, limit: int = 20) -> list[tuple[StockMovement, str]]:
    """Return the latest purchases and gifts put on the shelf (and any undone), newest first,
    each with the name of its goods."""
    return [(movement, name) for movement, name in session.execute(
        select(StockMovement, CatalogItem.name).join(CatalogItem, CatalogItem.id == StockMovement.item_id)
        .where(StockMovement.bank_id == bank.id, StockMovement.reason.in_(SHELF_REASONS))
        .order_by(StockMovement.id.desc()).limit(limit))]


def _transfers(session: Session, ids: list[int]) -> list[Transfer]:
    if not ids:
        return []
    return list(session.execute(select(Transfer).where(Transfer.id.in_(ids))
                                .order_by(Transfer.seq)).scalars())


# --- redemption windows --------------------------------------------------------------------------

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
        problems["closes_on"] = ["结束日不能早于开始日"]
    elif (closes_on - opens_on).days > 62:
        problems["closes_on"] = ["一个兑换期最长 63 天"]
    if kind not in ("regular", "extra"):
        problems["kind"] = ["须为 regular 或 extra"]
    if kind == "extra" and closes_on < clock.today():
        problems["closes_on"] = ["不能添加已经结束的兑换期"]
    if problems:
        raise ValidationError(problems)
    with transaction(session):
        lock_chain(session, bank.id)
        replayed = idempotency.replay(session, bank.id, idem)
        if replayed:
            return session.get(RedemptionWindow, replayed[1]["window"])
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
                raise WindowOverlaps(
                    f"与已有兑换期 {formatting.day(clash.opens_on)} 至 {formatting.day(clash.closes_on)} 重叠",
                    f"overlaps the window {formatting.day(clash.opens_on, 'en')} to "
                    f"{formatting.day(clash.closes_on, 'en')}",
                    fields={"opens_on": ["与已有兑换期重叠"]})
        window = RedemptionWindow(bank_id=bank.id, opens_on=opens_on, closes_on=closes_on, kind=kind,
                                  memo=memo, created_at=clock.now(), created_by=by)
        session.add(window)
        session.flush()
        idempotency.remember(session, bank.id, idem, 201, {"window": window.id}, clock=clock)
        audit.record(session, bank_id=bank.id, actor=by, action="window_open",
                     subject=f"window:{window.id}", detail={"opens_on": opens_on, "closes_on": closes_on,
                                                            "kind": kind}, clock=clock)
    return window


def close_window(session: Session, bank: Bank, window_id: int, *, by: str,
                 clock: Clock) -> RedemptionWindow:
    """Close a stored window from today on (the cycle at its end, or the council early)."""
    with transaction(session):
        lock_chain(session, bank.id)
        window = bank_row(session, RedemptionWindow, window_id, bank.id, "兑换期", "redemption window",
                          populate_existing=True)
        if window.closed_at is None:
            window.closed_at, window.closed_by, window.closed_on = clock.now(), by, clock.today()
            session.flush()
            audit.record(session, bank_id=bank.id, actor=by, action="window_close",
                         subject=f"window:{window.id}", clock=clock)
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


def _windows(session: Session, bank: Bank, first_year: int, last_year: int,
             cycle=None) -> list[domain.Window]:
    cycle = cycle or _settings(session, bank).cycle
    stored = session.execute(select(RedemptionWindow).where(
        RedemptionWindow.bank_id == bank.id,
        RedemptionWindow.closes_on >= date(first_year, 1, 1),
        RedemptionWindow.opens_on <= date(last_year, 12, 31))).scalars().all()
    kept = []
    for w in stored:
        closes = w.closes_on if w.closed_on is None else min(w.closes_on, w.closed_on - timedelta(days=1))
        # A window closed before it opened still stands for its month: the rule file's dates
        # do not come back once the cycle has decided.
        kept.append(domain.Window(w.opens_on, closes, w.kind, w.id, w.memo))
    derived = [w for year in range(first_year, last_year + 1)
               for w in domain.regular_windows(year, cycle.redemption_months, cycle.redemption_days)]
    return domain.merge_windows(kept, derived)


# --- redemptions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RedemptionOutcome:
    redemption: Redemption
    lines: list[RedemptionLine]
    transfers: list[Transfer]


def redeem(session: Session, bank: Bank, *, resident_id: int, items: list[tuple[str, int]],
           by: str, clock: Clock, idem: Idempotency | None = None) -> RedemptionOutcome:
    """Exchange points for goods: debit the points, take the stock, post the goods' cost.

    All in one transaction under the bank's posting lock, checked in this order: the window is
    open, the holder's limit per window, the stock, the points. A retry with the same key
    returns the first redemption.
    """
    skus = [sku for sku, _ in items]
    if len(set(skus)) != len(skus):
        raise ValidationError({"items": ["同一货号不能重复出现"]})
    with transaction(session):
        lock_chain(session, bank.id)
        replayed = idempotency.replay(session, bank.id, idem)
        if replayed:
            return get_redemption(session, bank, replayed[1]["redemption"])
        [resident] = named_residents(session, bank, [resident_id], field="resident", say_which=False)
        catalog = {i.sku: i for i in session.execute(
            select(CatalogItem).where(CatalogItem.bank_id == bank.id, CatalogItem.sku.in_(skus))
            .execution_options(populate_existing=True)).scalars()}
        problems = [f"{sku}: 货号不存在" for sku in skus if sku not in catalog]
        problems += [f"{sku}: 已下架" for sku in skus if sku in catalog and not catalog[sku].active]
        if problems:
            raise ValidationError({"items": problems})
        today = clock.today()
        settings = _settings(session, bank)
        window = current_window(session, bank, today, cycle=settings.cycle)
        if window is None:
            upcoming = next_window(session, bank, today, cycle=settings.cycle)
            when = (f"，下次兑换期 {formatting.day(upcoming.opens_on)} 至 "
                    f"{formatting.day(upcoming.closes_on)}" if upcoming else "")
            when_en = (f"; the next window is {formatting.day(upcoming.opens_on, 'en')} to "
                       f"{formatting.day(upcoming.closes_on, 'en')}" if upcoming else "")
            raise WindowClosed("现在不是兑换期" + when, "the desk is not open today" + when_en)
        account = accounts.points_account(session, resident, settings.account_unit)
        _check_limits(session, bank, account.id, catalog, items, window)
        for sku, quantity in items:
            item = catalog[sku]
            if item.stock < quantity:
                raise OutOfStock(f"{item.name} 库存不足：还剩 {item.stock} 件，要兑 {quantity} 件",
                                 f"{item.sku}: {item.stock} left, {quantity} asked",
                                 fields={"items": [f"{sku}: stock {item.stock}"]})
        total = sum(catalog[sku].points * quantity for sku, quantity in items)
        balance = _balance(session, account.id)
        if not domain.affordable(balance, total):
            raise InsufficientPoints(f"积分不足：余额 {balance} 分，需要 {total} 分",
                                     f"not enough points: balance {balance}, needed {total}")
        # Points per person: the standing is the balance, already checked above.
        if (not settings.negative_balance_may_redeem and account.resident_id != resident.id
                and standing(session, bank, resident, account) < 0):
            raise InsufficientPoints("本人积分为负（扣分未抵清），按本村规则暂不能兑换",
                                     "this resident's own points are below zero; the bank's rules "
                                     "do not let them redeem")
        system = _system_ids(session, bank.id)
        redeemed, stock_account, spent = (system[PTS, "redeemed"], system[CNY, STOCK],
                                          system[CNY, "spent:goods"])
        drafts, costs = [], []
        for sku, quantity in items:
            item = catalog[sku]
            cost = domain.cost_of_taking(quantity, item.stock, item.stock_value_fen)
            costs.append(cost)
            memo = f"兑换 {item.name}×{quantity}"
            drafts.append([Draft(ledger=PTS, debit_id=account.id, credit_id=redeemed,
                                 amount=item.points * quantity, kind=KIND_POINTS, occurred_on=today,
                                 doer_id=resident.id, memo=memo)])
            if cost:
                drafts[-1].append(Draft(ledger=CNY, debit_id=stock_account, credit_id=spent,
                                        amount=cost, kind=KIND_COST, occurred_on=today, memo=memo))
        # One entry per line (its points and its cost): the desk may undo one line of several.
        transfers = legs(post(session, bank.id, *drafts, by=by, clock=clock, idempotency=idem))
        redemption = Redemption(bank_id=bank.id, resident_id=resident.id, account_id=account.id,
                                window_opens_on=window.opens_on, window_closes_on=window.closes_on,
                                points=total, cost_fen=sum(costs), balance_after=balance - total,
                                occurred_on=today, recorded_at=clock.now(), recorded_by=by)
        session.add(redemption)
        session.flush()
        lines, posted = [], iter(transfers)
        for (sku, quantity), cost in zip(items, costs):
            item = catalog[sku]
            points_transfer = next(posted)
            cost_transfer = next(posted) if cost else None
            line = RedemptionLine(bank_id=bank.id, redemption_id=redemption.id, item_id=item.id,
                                  account_id=account.id, sku=sku, name=item.name, quantity=quantity,
                                  unit_points=item.points, points=item.points * quantity,
                                  cost_fen=cost, points_transfer_id=points_transfer.id,
                                  cost_transfer_id=cost_transfer.id if cost_transfer else None,
                                  occurred_on=today)
            session.add(line)
            session.flush()
            lines.append(line)
            item.stock -= quantity
            item.stock_value_fen -= cost
            session.add(StockMovement(bank_id=bank.id, item_id=item.id, quantity=-quantity,
                                      value_fen=-cost, reason="redemption",
                                      transfer_id=cost_transfer.id if cost_transfer else None,
                                      redemption_line_id=line.id, occurred_on=today,
                                      recorded_at=clock.now(), recorded_by=by))
        session.flush()
        idempotency.remember(session, bank.id, idem, 201, {
            "redemption": redemption.id, "transfers": [t.id for t in transfers]}, clock=clock)
        audit.record(session, bank_id=bank.id, actor=by, action="redemption",
                     subject=f"redemption:{redemption.id}",
                     detail={"resident": resident.id, "items": dict(items), "points": total},
                     clock=clock)
    return RedemptionOutcome(redemption, lines, transfers)


def _check_limits(session: Session, bank: Bank, account_id: int, catalog: dict,
                  items: list[tuple[str, int]], window: domain.Window) -> None:
    limited = [catalog[sku] for sku, _ in items if catalog[sku].limit_per_window is not None]
    if not limited:
        return
    taken = dict(session.execute(
        select(RedemptionLine.item_id, func.sum(RedemptionLine.quantity)).where(
            RedemptionLine.bank_id == bank.id, RedemptionLine.account_id == account_id,
            RedemptionLine.item_id.in_([i.id for i in limited]),
            RedemptionLine.occurred_on.between(window.opens_on, window.closes_on),
            ~_reversed(RedemptionLine.points_transfer_id))
        .group_by(RedemptionLine.item_id)).all())
    for sku, quantity in items:
        item = catalog[sku]
        left = domain.remaining_allowance(item.limit_per_window, int(taken.get(item.id, 0)))
        if left is not None and quantity > left:
            raise LimitExceeded(
                f"{item.name} 每个兑换期限兑 {item.limit_per_window} 件，本期还可兑 {left} 件",
                f"{item.sku} is limited to {item.limit_per_window} per window; {left} left",
                fields={"items": [f"{item.name}：本期还可兑 {left} 件"]})


def standing(session: Session, bank: Bank, resident: Resident, account: Account) -> int:
    """Return the resident's own points: their deeds less their penalties, redemptions aside.

    Points kept per person: the account's balance. Kept per household: what this member's
    own entries brought into (or took out of) the household's account, so that a member in
    debt to the village rules is known even when the household has points.
    """
    if account.resident_id == resident.id:
        return _balance(session, account.id)
    spent = [a.id for a in (_system(session, bank.id, "redeemed"),
                            accounts.system_account(session, bank.id, PTS, "expired"))]
    rows = session.execute(select(Transfer.debit_id, Transfer.credit_id, func.sum(Transfer.amount))
                           .where(Transfer.bank_id == bank.id, Transfer.doer_id == resident.id,
                                  Transfer.ledger == PTS, Transfer.debit_id.not_in(spent),
                                  Transfer.credit_id.not_in(spent))
                           .group_by(Transfer.debit_id, Transfer.credit_id)).all()
    return sum(amount if credit == account.id else -amount if debit == account.id else 0
               for debit, credit, amount in rows)


def get_redemption(session: Session, bank: Bank, redemption_id: int) -> RedemptionOutcome:
    """Return a redemption with its lines and transfers, or NotFound."""
    redemption = bank_row(session, Redemption, redemption_id, bank.id, "兑换记录", "redemption")
    lines = list(session.execute(select(RedemptionLine).where(
        RedemptionLine.redemption_id == redemption.id).order_by(RedemptionLine.id)).scalars())
    ids = [i for line in lines for i in (line.points_transfer_id, line.cost_transfer_id) if i]
    return RedemptionOutcome(redemption, lines, _transfers(session, ids))


def reversed_lines(session: Session, lines: list[RedemptionLine]) -> set[int]:
    """Return the ids of the lines whose points transfer has been reversed."""
    ids = [line.points_transfer_id for line in lines]
    if not ids:
        return set()
    undone = set(session.execute(select(Transfer.reverses_id).where(
        Transfer.reverses_id.in_(ids))).scalars())
    return {line.id for line in lines if line.points_transfer_id in undone}


class _DeskUndo(Undo):
    """What reversing the desk's entries undoes beside the ledger: a redemption line's goods go
    back on the shelf (on the day only: after it they have left with the resident); a purchase
    or a gift still whole on the shelf comes off it again."""

    def legs(self, session, bank, transfer) -> list[int]:
        # Before entries, a line's points and its cost, or a purchase's two payments, were one-leg
        # entries linked only here.
        if transfer.kind in (KIND_POINTS, KIND_COST):
            column = (RedemptionLine.points_transfer_id if transfer.kind == KIND_POINTS
                      else RedemptionLine.cost_transfer_id)
            linked = select(RedemptionLine.points_transfer_id, RedemptionLine.cost_transfer_id).where(
                column == transfer.id)
        else:
            linked = select(StockMovement.transfer_id, StockMovement.goods_transfer_id).where(
                (StockMovement.transfer_id == transfer.id) | (StockMovement.goods_transfer_id == transfer.id),
                StockMovement.reason.in_(("purchase", "donation")))
        return [i for row in session.execute(linked).all() for i in row if i]

    def apply(self, session, reversal) -> None:
        ids, clock, by = list(reversal.ids), reversal.clock, reversal.by
        lines = session.execute(select(RedemptionLine).where(
            RedemptionLine.points_transfer_id.in_(ids) | RedemptionLine.cost_transfer_id.in_(ids))
            .order_by(RedemptionLine.id)).scalars().all()
        for line in lines:
            if line.occurred_on != clock.today():
                raise ReversalTooLate("兑换只能在当天冲正（物品已领走）",
                                      "a redemption can only be reversed on the day it was made")
            item = session.get(CatalogItem, line.item_id, populate_existing=True)
            item.stock += line.quantity
            item.stock_value_fen += line.cost_fen
            session.add(StockMovement(bank_id=line.bank_id, item_id=item.id, quantity=line.quantity,
                                      value_fen=line.cost_fen, reason="return", redemption_line_id=line.id,
                                      occurred_on=clock.today(), recorded_at=clock.now(), recorded_by=by))
        movements = session.execute(select(StockMovement).where(
            StockMovement.transfer_id.in_(ids) | StockMovement.goods_transfer_id.in_(ids),
            StockMovement.reason.in_(("purchase", "donation"))).order_by(StockMovement.id)).scalars().all()
        for movement in movements:
            item = session.get(CatalogItem, movement.item_id, populate_existing=True)
            stock, value = item.stock - movement.quantity, item.stock_value_fen - movement.value_fen
            if stock < 0 or value < 0 or (stock == 0 and value != 0):
                raise OutOfStock(f"这批 {item.name} 已部分兑出，不能整批冲正",
                                 f"part of this lot of {item.sku} has been handed out; it cannot be reversed")
            item.stock, item.stock_value_fen = stock, value
            mirror = reversal.mirror_of(movement.transfer_id) or reversal.mirror_of(movement.goods_transfer_id)
            session.add(StockMovement(bank_id=movement.bank_id, item_id=item.id, quantity=-movement.quantity,
                                      value_fen=-movement.value_fen, reason=f"{movement.reason}_reversal",
                                      transfer_id=mirror.id, occurred_on=clock.today(),
                                      recorded_at=clock.now(), recorded_by=by))
        session.flush()


def register_undoers(undoers: Undoers) -> None:
    """Register what reversing the desk's entries undoes (the app factory calls this).

    Reversing a receipt whose money was spent needs none: the database refuses any fund cash
    below zero (migration 0009), answered as InsufficientFunds.
    """
    undo = _DeskUndo()
    for kind in (KIND_POINTS, KIND_COST, KIND_PURCHASE, KIND_DONATION):
        undoers.register(kind, undo)


# --- the fund ------------------------------------------------------------------------------------

def record_receipt(session: Session, bank: Bank, *, source: str, donor: str | None,
                   received_on: date, amount_fen: int, restriction: str | None, memo: str | None,
                   by: str, clock: Clock, idem: Idempotency | None = None) -> FundReceipt:
    """Record money given to the fund, into the unrestricted fund or a restricted one."""
    with transaction(session, amounts="amount_fen"):
        lock_chain(session, bank.id)
        replayed = idempotency.replay(session, bank.id, idem)
        if replayed:
            return session.get(FundReceipt, replayed[1]["receipt"])
        periods.check_dated(session, bank.id, received_on, today=clock.today(), field="received_on",
                            backdate_days=_settings(session, bank).cycle.backdate_days)
        giver = _system(session, bank.id, f"source:{source}")
        fund = _system(session, bank.id, RESTRICTED_TO[restriction])
        label = SOURCE_NAMES[source] + (f" {donor}" if donor else "")
        [[transfer]] = post(session, bank.id, [Draft(
            ledger=CNY, debit_id=giver.id, credit_id=fund.id, amount=amount_fen, kind=KIND_RECEIPT,
            occurred_on=received_on, memo=label + (f"：{memo}" if memo else ""))],
            by=by, clock=clock, idempotency=idem)
        receipt = FundReceipt(bank_id=bank.id, source=source, donor=donor, received_on=received_on,
                              amount_fen=amount_fen, restriction=restriction, transfer_id=transfer.id,
                              memo=memo, recorded_at=clock.now(), recorded_by=by)
        session.add(receipt)
        session.flush()
        idempotency.remember(session, bank.id, idem, 201, {"receipt": receipt.id,
                                                           "transfers": [transfer.id]}, clock=clock)
        audit.record(session, bank_id=bank.id, actor=by, action="fund_receipt",
                     subject=f"receipt:{receipt.id}",
                     detail={"source": source, "donor": donor, "amount_fen": amount_fen,
                             "restriction": restriction}, clock=clock)
    return receipt


def list_receipts(session: Session, bank: Bank, *, first: date | None = None,
                  last: date | None = None, limit: int = 500,
                  before: int | None = None) -> list[tuple[FundReceipt, bool]]:
    """Return receipts (money and goods), newest first, each with whether it was reversed."""
    reversed_ = _reversed(FundReceipt.transfer_id)
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
    settings = _settings(session, bank)
    balances = dict(session.execute(select(Account.code, Account.balance).where(
        Account.bank_id == bank.id, Account.ledger == CNY, Account.kind == "system")).all())
    cash = {code: int(balances.get(code, 0)) for code in CASH}
    stock = int(balances.get(STOCK, 0))
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
        order = list(SOURCE_NAMES)
        receipts.sort(key=lambda r: order.index(r["source"]) if r["source"] in order else 99)
        other.sort(key=lambda r: r["code"])
        return {"opening_fen": sum(opening.get(i, 0) for i in inside),
                "receipts": receipts, "receipts_fen": sum(r["fen"] for r in receipts),
                "uses": other, "uses_fen": sum(r["fen"] for r in other),
                "closing_fen": sum(closing.get(i, 0) for i in inside)}

    money, goods = section(set(CASH)), section({STOCK})
    # Inside the goods section, fen coming from the fund's cash is what was bought.
    bought = sum(use["fen"] for use in goods["uses"] if use["code"] in CASH)
    goods["uses"] = [use for use in goods["uses"] if use["code"] not in CASH]
    if bought:
        goods["uses"].insert(0, {"code": "purchase", "name": "基金购入", "fen": bought})
    settings = _settings(session, bank)
    outstanding = points_outstanding(session, bank, None if as_of >= today else as_of)
    by_restriction = {c: closing.get(i, 0) for i, c in codes.items() if c in CASH}
    cover = domain.coverage(outstanding, settings.point_value_fen,
                            by_restriction.get("fund", 0) + by_restriction.get("fund:goods", 0)
                            + goods["closing_fen"], settings.coverage_warning_percent)
    receipts = [(r, gone) for r, gone in list_receipts(session, bank, first=first, last=as_of)]
    receipts.reverse()
    return {"bank": bank, "year": year, "quarter": quarter, "first": first, "last": last,
            "as_of": as_of, "money": money, "goods": goods, "restricted": by_restriction,
            "coverage": cover, "receipts": receipts,
            "head_seq": bank.head_seq, "head_hash": bank.head_hash}


# --- the quarter's desk summary ------------------------------------------------------------------

def desk_summary(session: Session, bank: Bank, year: int, quarter: int) -> dict:
    """Return what the desk gave out in a quarter, item by item, reversals taken out."""
    period = quarter_period(year, quarter)
    first, last = period.start, period.end
    rows = session.execute(
        select(RedemptionLine.item_id, func.sum(RedemptionLine.quantity),
               func.sum(RedemptionLine.points), func.sum(RedemptionLine.cost_fen),
               func.count(func.distinct(RedemptionLine.redemption_id)))
        .where(RedemptionLine.bank_id == bank.id,
               RedemptionLine.occurred_on.between(first, last),
               ~_reversed(RedemptionLine.points_transfer_id))
        .group_by(RedemptionLine.item_id)).all()
    given = {item: (int(q), int(p), int(c)) for item, q, p, c, _ in rows}
    visits = session.execute(
        select(func.count(func.distinct(RedemptionLine.redemption_id)),
               func.count(func.distinct(RedemptionLine.account_id)))
        .where(RedemptionLine.bank_id == bank.id, RedemptionLine.occurred_on.between(first, last),
               ~_reversed(RedemptionLine.points_transfer_id))).one()
    items = []
    for item in list_items(session, bank):
        quantity, points, cost = given.get(item.id, (0, 0, 0))
        if quantity or item.active:
            items.append({"sku": item.sku, "name": item.name, "quantity": quantity, "points": points,
                          "cost_fen": cost, "stock": item.stock, "stock_value_fen": item.stock_value_fen})
    return {"bank": bank, "year": year, "quarter": quarter, "first": first, "last": last,
            "items": items, "visits": int(visits[0]), "holders": int(visits[1]),
            "quantity": sum(i["quantity"] for i in items), "points": sum(i["points"] for i in items),
            "cost_fen": sum(i["cost_fen"] for i in items)}


# --- the desk's look-ups -------------------------------------------------------------------------

def holder_view(session: Session, bank: Bank, resident: Resident, *, clock: Clock) -> dict:
    """Return what the desk shows once a resident is found: whose points, how many, the window."""
    settings = _settings(session, bank)
    household = session.get(Household, resident.household_id)
    account = accounts.points_account(session, resident, settings.account_unit)
    window = current_window(session, bank, clock.today())
    return {"resident": resident, "household": household, "account": account,
            "account_unit": settings.account_unit, "balance": _balance(session, account.id),
            "window": window, "upcoming": window or next_window(session, bank, clock.today())}


def household_members(session: Session, bank: Bank, code: str) -> tuple[Household, list[Resident]]:
    """Return a household (a household card was scanned) and its active members, or NotFound."""
    home = people.find_household(session, bank, code)
    if home is None:
        raise NotFound("住户", "household")
    return home, list(session.execute(select(Resident).where(
        Resident.household_id == home.id, Resident.active.is_(True)).order_by(Resident.id)).scalars())
