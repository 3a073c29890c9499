"""The desk's tables: catalog items, stock movements, redemption windows, redemptions, fund receipts.

The money and the points themselves live on the ledger; these rows say what the transfers were
for (which goods, which donor), and keep the stock, which is not money.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ledger.models import BigId

#: Where money comes from (the ledger's source:<code> accounts) and what it may be spent on.
SOURCES = ("town", "village", "sponsor", "donor")
RESTRICTIONS = ("goods", "projects")
#: Why stock moved.
STOCK_REASONS = ("purchase", "donation", "redemption", "return", "purchase_reversal",
                 "donation_reversal")
WINDOW_KINDS = ("regular", "extra")


class CatalogItem(SQLModel, table=True):
    """One kind of goods at the desk: its price in points, its cost in fen, what is in stock."""

    __tablename__ = "catalog_items"
    __table_args__ = (
        UniqueConstraint("bank_id", "sku"),
        # The database refuses stock below zero, however many desks run (migration 0009).
        CheckConstraint("stock >= 0 AND stock_value_fen >= 0", name="ck_catalog_items_stock_floor"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id", index=True)
    sku: str = Field(max_length=40)
    name: str = Field(max_length=100)
    points: int
    #: What one unit costs the fund, in fen: the default price of a purchase.
    cost_fen: int = Field(sa_type=BigInteger)
    stock: int = 0
    #: What the units in stock cost, in fen; kept equal to the item's share of stock:goods.
    stock_value_fen: int = Field(default=0, sa_type=BigInteger)
    #: Most units one holder (resident, or household when points are per household) may take
    #: in one window; None for no limit.
    limit_per_window: Optional[int] = None
    active: bool = True
    created_at: datetime


class StockMovement(SQLModel, table=True):
    """Stock coming in (purchase, donation) or going out (redemption), and what it was worth."""

    __tablename__ = "stock_movements"
    __table_args__ = (Index("ix_stock_movements_item", "bank_id", "item_id", "id"),
                      Index("ix_stock_movements_entry", "entry_id"))

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    item_id: int = Field(foreign_key="catalog_items.id")
    #: Signed: positive in, negative out.
    quantity: int
    #: Signed like quantity: the value that moved with the units, in fen.
    value_fen: int = Field(sa_type=BigInteger)
    reason: str = Field(max_length=20)
    donor: Optional[str] = Field(default=None, max_length=100)
    #: The ledger entry that carried the value, by its first leg (ledger.reversals.entry_of
    #: gives its legs): a purchase's payments (a second from fund:goods when goods-only money
    #: paid part), a gift's value, a redemption line's points and cost, a reversal's mirror.
    #: None for a gift stated at zero and for goods given back (the line says which).
    entry_id: Optional[int] = Field(default=None, sa_type=BigId, foreign_key="transfers.id")
    redemption_line_id: Optional[int] = Field(default=None, foreign_key="redemption_lines.id")
    occurred_on: date
    recorded_at: datetime
    recorded_by: str = Field(max_length=80)


class RedemptionWindow(SQLModel, table=True):
    """A window the desk is open in: a quarter's regular one (opened by the cycle) or an extra one."""

    __tablename__ = "redemption_windows"
    __table_args__ = (Index("ix_redemption_windows_bank", "bank_id", "opens_on"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    opens_on: date
    closes_on: date
    kind: str = Field(max_length=10)
    memo: Optional[str] = Field(default=None, max_length=200)
    created_at: datetime
    created_by: str = Field(max_length=80)
    #: Set when the window is closed (early, or by the cycle at its end): from closed_on on,
    #: the desk no longer takes redemptions in it.
    closed_at: Optional[datetime] = None
    closed_on: Optional[date] = None
    closed_by: Optional[str] = Field(default=None, max_length=80)


class Redemption(SQLModel, table=True):
    """One visit to the desk: a resident took goods for points; its lines say which."""

    __tablename__ = "redemptions"
    __table_args__ = (Index("ix_redemptions_bank_day", "bank_id", "occurred_on"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    resident_id: int = Field(foreign_key="residents.id", index=True)
    #: The points account paid from: the resident's, or the household's.
    account_id: int = Field(foreign_key="accounts.id")
    window_opens_on: date
    window_closes_on: date
    points: int
    cost_fen: int = Field(sa_type=BigInteger)
    balance_after: int = Field(sa_type=BigInteger)
    occurred_on: date
    recorded_at: datetime
    recorded_by: str = Field(max_length=80)


class RedemptionLine(SQLModel, table=True):
    """One item of a redemption, with the entry it posted (its points, and the goods' cost)."""

    __tablename__ = "redemption_lines"
    __table_args__ = (Index("ix_redemption_lines_account", "bank_id", "account_id", "item_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    redemption_id: int = Field(foreign_key="redemptions.id", index=True)
    item_id: int = Field(foreign_key="catalog_items.id")
    account_id: int = Field(foreign_key="accounts.id")
    sku: str = Field(max_length=40)
    name: str = Field(max_length=100)
    quantity: int
    unit_points: int
    points: int
    cost_fen: int = Field(sa_type=BigInteger)
    #: The entry's first leg, the points (ledger.reversals.entry_of gives the cost leg too).
    entry_id: int = Field(sa_type=BigId, foreign_key="transfers.id", unique=True)
    occurred_on: date


class FundReceipt(SQLModel, table=True):
    """Money (or goods, at their stated value) given to the fund: by whom, from which source."""

    __tablename__ = "fund_receipts"
    __table_args__ = (Index("ix_fund_receipts_bank_day", "bank_id", "received_on"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    source: str = Field(max_length=10)
    donor: Optional[str] = Field(default=None, max_length=100)
    received_on: date
    amount_fen: int = Field(sa_type=BigInteger)
    #: None (unrestricted), goods or projects; an in-kind gift is goods by nature.
    restriction: Optional[str] = Field(default=None, max_length=10)
    in_kind: bool = False
    item_id: Optional[int] = Field(default=None, foreign_key="catalog_items.id")
    quantity: Optional[int] = None
    transfer_id: Optional[int] = Field(default=None, sa_type=BigId, foreign_key="transfers.id")
    memo: Optional[str] = Field(default=None, sa_column=Column(Text))
    recorded_at: datetime
    recorded_by: str = Field(max_length=80)
