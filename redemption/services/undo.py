"""What reversing the desk's entries undoes beside the ledger: the goods on the shelf."""
from __future__ import annotations

from sqlalchemy import select

from ground.i18n import _
from ledger.reversals import Undo, Undoers

from ..domain import label
from ..errors import OutOfStock, ReversalTooLate
from ..models import CatalogItem, RedemptionLine, StockMovement
from . import books


class _DeskUndo(Undo):
    """A redemption line's goods go back on the shelf (on the day only: after it they have left
    with the resident); a purchase or a gift still whole on the shelf comes off it again."""

    def apply(self, session, reversal) -> None:
        ids, clock, by = list(reversal.ids), reversal.clock, reversal.by
        lines = session.execute(select(RedemptionLine).where(RedemptionLine.entry_id.in_(ids))
                                .order_by(RedemptionLine.id)).scalars().all()
        for line in lines:
            if line.occurred_on != clock.today():
                raise ReversalTooLate(_("兑换只能在当天冲正（物品已领走）"))
            item = session.get(CatalogItem, line.item_id, populate_existing=True)
            item.stock += line.quantity
            item.stock_value_fen += line.cost_fen
            session.add(StockMovement(bank_id=line.bank_id, item_id=item.id, quantity=line.quantity,
                                      value_fen=line.cost_fen, reason="return", redemption_line_id=line.id,
                                      occurred_on=clock.today(), recorded_at=clock.now(), recorded_by=by))
        movements = session.execute(select(StockMovement).where(
            StockMovement.entry_id.in_(ids), StockMovement.reason.in_(("purchase", "donation")))
            .order_by(StockMovement.id)).scalars().all()
        for movement in movements:
            item = session.get(CatalogItem, movement.item_id, populate_existing=True)
            stock, value = item.stock - movement.quantity, item.stock_value_fen - movement.value_fen
            if stock < 0 or value < 0 or (stock == 0 and value != 0):
                raise OutOfStock(_("这批 %(item)s 已部分兑出，不能整批冲正", item=label(item.sku, item.name)))
            item.stock, item.stock_value_fen = stock, value
            session.add(StockMovement(bank_id=movement.bank_id, item_id=item.id, quantity=-movement.quantity,
                                      value_fen=-movement.value_fen, reason=f"{movement.reason}_reversal",
                                      entry_id=reversal.mirror_of(movement.entry_id).id,
                                      occurred_on=clock.today(), recorded_at=clock.now(), recorded_by=by))
        session.flush()


def register_undoers(undoers: Undoers) -> None:
    """Register what reversing the desk's entries undoes (the app factory calls this).

    Reversing a receipt whose money was spent needs none: the database refuses any fund cash
    below zero (migration 0009), answered as InsufficientFunds.
    """
    undo = _DeskUndo()
    for kind in (books.KIND_POINTS, books.KIND_COST, books.KIND_PURCHASE, books.KIND_DONATION):
        undoers.register(kind, undo)
