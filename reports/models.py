"""The reports' tables: frozen snapshots of a period, and residents' objections to a notice."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ledger.models import BigId

#: What a snapshot freezes: a day's register close, a month's notice, a quarter's summary, a
#: year's commendation.
SNAPSHOT_KINDS = ("day", "notice", "quarter", "year")


class Snapshot(SQLModel, table=True):
    """One period's report, frozen as canonical JSON with its hash, so printing twice prints the same."""

    __tablename__ = "report_snapshots"
    __table_args__ = (UniqueConstraint("bank_id", "kind", "period"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    kind: str = Field(max_length=10)
    #: The period's key: 2026-10-05, 2026-10, 2026-Q4, 2026.
    period: str = Field(max_length=10)
    content: str = Field(sa_column=Column(Text, nullable=False))
    #: sha256 of `content`, printed on paper next to the chain head.
    content_hash: str = Field(max_length=64)
    head_seq: int = Field(sa_type=BigInteger)
    head_hash: str = Field(max_length=64)
    created_at: datetime
    created_by: str = Field(max_length=80)
    #: For a notice: when its objection window closes (and the month may be sealed).
    window_closes_at: Optional[datetime] = None


class Objection(SQLModel, table=True):
    """A resident's objection (异议) to an entry of a month, or to a deed missing from it."""

    __tablename__ = "objections"
    __table_args__ = (Index("ix_objections_bank_status", "bank_id", "status"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    resident_id: int = Field(foreign_key="residents.id")
    #: The entry objected to; None when the objection is about a deed that is missing.
    transfer_id: Optional[int] = Field(default=None, sa_type=BigId, foreign_key="transfers.id")
    month: str = Field(max_length=7)
    text: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="open", max_length=10)  # open | upheld | rejected
    filed_by: str = Field(max_length=80)
    filed_at: datetime
    decided_by: Optional[str] = Field(default=None, max_length=80)
    decided_at: Optional[datetime] = None
    reason: Optional[str] = Field(default=None, sa_column=Column(Text))
    #: The correction posted when upheld: a reversal of the entry, or the missing deed.
    correction_id: Optional[int] = Field(default=None, sa_type=BigId, foreign_key="transfers.id")
