"""The catalogue and its stock: goods added and changed, purchases and gifts put on the shelf."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.errors import NotFound
from ground.i18n import _
from ground.tenants import Bank
from ledger.models import CNY, Transfer
from ledger.posting import Draft, Idempotency
from ledger.unit import UnitOfWork

from .. import domain
from ..errors import InsufficientFunds, SkuExists
from ..models import CatalogItem, FundReceipt, StockMovement
from . import books

#: Why stock moved, when it was not the desk handing goods out: what the shelf's history lists.
SHELF_REASONS = ("purchase", "donation", "purchase_reversal", "donation_reversal")


def create_item(session: Session, bank: Bank, *, sku: str, name: str, points: int, cost_fen: int,
                limit_per_window: int | None, by: str, clock: Clock,
                active: bool = True, idem: Idempotency | None = None) -> CatalogItem:
    """Add goods to the catalog, with nothing in stock yet; a retry with the same key returns them."""
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(CatalogItem, uow.replayed.data["item"])
        if session.execute(select(CatalogItem.id).where(CatalogItem.bank_id == bank.id,
                                                        CatalogItem.sku == sku)).first():
            raise SkuExists(_("货号 %(sku)s 已存在", sku=sku))
        item = CatalogItem(bank_id=bank.id, sku=sku, name=name, points=points, cost_fen=cost_fen,
                           limit_per_window=limit_per_window, active=active, created_at=clock.now())
        session.add(item)
        session.flush()
        uow.remember("created", {"item": item.id})
        uow.audit("catalog_add", f"item:{item.id}", {"sku": sku, "points": points, "cost_fen": cost_fen})
    return item


def update_item(session: Session, bank: Bank, sku: str, *, changes: dict, by: str,
                clock: Clock) -> CatalogItem:
    """Change an item's name, price, cost, limit or whether it is offered; stock moves elsewhere."""
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        item = get_item(session, bank, sku, fresh=True)
        for field in ("name", "points", "cost_fen", "limit_per_window", "active"):
            if field in changes:
                setattr(item, field, changes[field])
        session.flush()
        uow.audit("catalog_change", f"item:{item.id}", changes)
    return item


def get_item(session: Session, bank: Bank, sku: str, *, fresh: bool = False) -> CatalogItem:
    """Return the bank's catalog item with this SKU, or NotFound."""
    stmt = select(CatalogItem).where(CatalogItem.bank_id == bank.id, CatalogItem.sku == sku)
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    item = session.execute(stmt).scalar_one_or_none()
    if item is None:
        raise NotFound(_("找不到该物品"))
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
    """Goods put on the shelf: the item as it now stands, the movement, the transfers posted."""

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
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem, amounts="quantity") as uow:
        if uow.replayed:
            movement = session.get(StockMovement, uow.replayed.data["movement"])
            return StockOutcome(session.get(CatalogItem, movement.item_id), movement,
                                _transfers(session, uow.replayed.data["transfers"]))
        item = get_item(session, bank, sku, fresh=True)
        value = item.cost_fen * quantity if cost_fen is None else cost_fen
        today = clock.today()
        stock_account = books.system(session, bank.id, books.STOCK)
        drafts = []
        if source == "purchase":
            goods_money, free_money = (books.system(session, bank.id, c) for c in ("fund:goods", "fund"))
            split = domain.split_payment(value, books.balance(session, goods_money.id),
                                         books.balance(session, free_money.id))
            if split is None:
                raise InsufficientFunds(_("基金余额不足以支付这批物资（%(yuan)s 元）",
                                          yuan=f"{value / 100:.2f}"))
            memo = f"购入 {item.name}×{quantity}"
            for account, amount in ((free_money, split[1]), (goods_money, split[0])):
                if amount:
                    drafts.append(Draft(ledger=CNY, debit_id=account.id, credit_id=stock_account.id,
                                        amount=amount, kind=books.KIND_PURCHASE, occurred_on=today,
                                        memo=memo))
        elif value:
            giver = books.system(session, bank.id, f"source:{donor_source}")
            drafts.append(Draft(ledger=CNY, debit_id=giver.id, credit_id=stock_account.id,
                                amount=value, kind=books.KIND_DONATION, occurred_on=today,
                                memo=f"捐赠 {item.name}×{quantity}" + (f"（{donor}）" if donor else "")))
        [entry] = uow.post(drafts)
        first = entry[0].id if len(entry) else None
        movement = StockMovement(bank_id=bank.id, item_id=item.id, quantity=quantity,
                                 value_fen=value, reason=source, donor=donor, entry_id=first,
                                 occurred_on=today, recorded_at=clock.now(), recorded_by=by)
        session.add(movement)
        item.stock += quantity
        item.stock_value_fen += value
        if source == "donation":
            session.add(FundReceipt(bank_id=bank.id, source=donor_source, donor=donor,
                                    received_on=today, amount_fen=value, restriction="goods",
                                    in_kind=True, item_id=item.id, quantity=quantity,
                                    transfer_id=first, recorded_at=clock.now(), recorded_by=by))
        session.flush()
        uow.remember("posted", {"movement": movement.id, "transfers": [t.id for t in entry]})
        uow.audit(f"stock_{source}", f"item:{item.id}",
                  {"quantity": quantity, "value_fen": value, "donor": donor})
    return StockOutcome(item, movement, list(entry))


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
