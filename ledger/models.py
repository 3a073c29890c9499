"""The ledger's tables: banks, rule versions, households, residents, accounts, transfers."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import (BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer, Text,
                        UniqueConstraint, text)
from sqlmodel import Field, SQLModel

from rules import bounds

#: An integer key that is 64-bit on PostgreSQL and still the rowid alias on SQLite.
BigId = BigInteger().with_variant(Integer, "sqlite")

PTS = "PTS"
CNY = "CNY"
LEDGERS = (PTS, CNY)
#: The largest balance an account may hold, either way: the bound of every whole number
#: (2^53 - 1). The database refuses any balance beyond it, or not an integer (migration 0009).
BALANCE_LIMIT = bounds.MAX_WHOLE
#: The fund's cash accounts (CNY): unrestricted, goods only, micro-projects only. A receipt
#: credits them, so their balance is the money the fund holds, and it never goes below zero.
FUND_CASH = ("fund", "fund:goods", "fund:projects")


class RuleVersion(SQLModel, table=True):
    __tablename__ = "rule_versions"
    __table_args__ = (UniqueConstraint("bank_id", "version"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id", index=True)
    version: int
    content_hash: str = Field(max_length=64)
    content: str = Field(sa_column=Column(Text, nullable=False))
    source_name: str = Field(default="", max_length=255)
    loaded_at: datetime
    loaded_by: str = Field(default="", max_length=80)


class Household(SQLModel, table=True):
    __tablename__ = "households"
    __table_args__ = (UniqueConstraint("bank_id", "code"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id", index=True)
    code: str = Field(max_length=40)
    name: str = Field(default="", max_length=100)
    active: bool = True
    created_at: datetime


class Resident(SQLModel, table=True):
    __tablename__ = "residents"
    # The register as the figures count it: who was there, still active, by each month's end.
    __table_args__ = (Index("ix_residents_registered", "bank_id", "created_at",
                            sqlite_where=text("active = 1"), postgresql_where=text("active")),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id", index=True)
    household_id: int = Field(foreign_key="households.id", index=True)
    name: str = Field(max_length=50)
    phone: Optional[str] = Field(default=None, max_length=20)
    #: Search keys: full pinyin without tones ("zhangsan") and initials ("zs"); several of each,
    #: space-separated, when the name has several readings (曾: "zengsan cengsan").
    pinyin: str = Field(default="", max_length=300)
    initials: str = Field(default="", max_length=60)
    #: Relation to the head of household (户主, 配偶, 子, ...), as the roster says.
    relation: str = Field(default="", max_length=20)
    #: The name's reading as a clerk recorded it, for characters pypinyin does not know.
    reading: str = Field(default="", max_length=300)
    active: bool = True
    created_at: datetime


class ResidentMove(SQLModel, table=True):
    """A resident moving from one household to another: the history stays with the resident."""

    __tablename__ = "resident_moves"
    __table_args__ = (Index("ix_resident_moves_resident", "bank_id", "resident_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    resident_id: int = Field(foreign_key="residents.id")
    from_household_id: int = Field(foreign_key="households.id")
    to_household_id: int = Field(foreign_key="households.id")
    moved_at: datetime
    moved_by: str = Field(max_length=80)
    reason: Optional[str] = Field(default=None, sa_column=Column(Text))


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("bank_id", "ledger", "code"),
        # Migration 0009 makes the database refuse these (on SQLite by triggers, which also
        # refuse a balance stored as anything but an integer); ground.db.refusal answers them.
        CheckConstraint(f"balance BETWEEN {-BALANCE_LIMIT} AND {BALANCE_LIMIT}",
                        name="ck_accounts_balance_range"),
        CheckConstraint(f"ledger <> 'CNY' OR code NOT IN {FUND_CASH!r} OR balance >= 0",
                        name="ck_accounts_fund_floor"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id", index=True)
    ledger: str = Field(max_length=3)
    #: Stable name within the bank and ledger: "issued", "resident:17", "household:7" ...
    code: str = Field(max_length=60)
    name: str = Field(default="", max_length=100)
    kind: str = Field(max_length=12)  # system | resident | household
    resident_id: Optional[int] = Field(default=None, foreign_key="residents.id")
    household_id: Optional[int] = Field(default=None, foreign_key="households.id")
    #: Kept in step with transfers in the same transaction, so a read is one row.
    balance: int = Field(default=0, sa_type=BigInteger)


class Transfer(SQLModel, table=True):
    """One movement of a positive amount from a debit account to a credit account.

    Append-only: the database refuses UPDATE and DELETE (see the first migration). A transfer is
    one leg of an entry, the transfers of one event (see ledger.posting.post).
    """

    __tablename__ = "transfers"
    __table_args__ = (
        UniqueConstraint("bank_id", "seq"),
        Index("ix_transfers_doer", "bank_id", "doer_id", "seq"),
        Index("ix_transfers_rule_doer_day", "bank_id", "doer_id", "rule_code", "occurred_on"),
        Index("ix_transfers_occurred", "bank_id", "occurred_on"),
        # A resident's month (balance screen, caps) without walking the whole bank's month.
        Index("ix_transfers_doer_day", "bank_id", "doer_id", "occurred_on"),
        Index("ux_transfers_reverses", "reverses_id", unique=True,
              sqlite_where=text("reverses_id IS NOT NULL"),
              postgresql_where=text("reverses_id IS NOT NULL")),
        # An entry's legs, from the number of any one of them (migration 0019).
        Index("ix_transfers_entry", "bank_id", "entry_seq"),
        # The database refuses a leg naming an entry after itself (on SQLite by a trigger).
        CheckConstraint("entry_seq BETWEEN 1 AND seq", name="ck_transfers_entry_seq"),
    )

    id: Optional[int] = Field(default=None, sa_column=Column(BigId, primary_key=True))
    bank_id: int = Field(foreign_key="banks.id")
    seq: int = Field(sa_type=BigInteger)
    #: The entry this transfer is a leg of: the seq of the entry's first leg (its own, for a
    #: one-leg entry). An entry's legs are contiguous; the hash chain covers it (ledger.chain).
    entry_seq: int = Field(sa_type=BigInteger)
    ledger: str = Field(max_length=3)
    debit_id: int = Field(foreign_key="accounts.id", index=True)
    credit_id: int = Field(foreign_key="accounts.id", index=True)
    amount: int = Field(sa_type=BigInteger)
    kind: str = Field(max_length=20)
    rule_code: Optional[str] = Field(default=None, max_length=40)
    rule_version: Optional[int] = None
    doer_id: Optional[int] = Field(default=None, foreign_key="residents.id")
    occurred_on: date
    recorded_at: datetime
    recorded_by: str = Field(max_length=80)
    memo: Optional[str] = Field(default=None, sa_column=Column(Text))
    reverses_id: Optional[int] = Field(default=None, sa_type=BigId, foreign_key="transfers.id")
    idempotency_key: Optional[str] = Field(default=None, max_length=200)
    request_hash: Optional[str] = Field(default=None, max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class LegacyEvent(SQLModel, table=True):
    """A transfer posted before entries existed (migration 0019) that was one event with others.

    Each such transfer was an entry of its own; what made them one event (a redemption line's
    points and its cost, a purchase paid from two funds) only the wing knew. Migration 0020
    wrote those events down here, every leg with the event's first leg, so that reversing any
    one of them reverses them all (ledger.reversals.entry_of).
    """

    __tablename__ = "legacy_events"
    __table_args__ = (Index("ix_legacy_events_first", "bank_id", "first_id"),)

    transfer_id: int = Field(sa_column=Column(BigId, ForeignKey("transfers.id"), primary_key=True))
    bank_id: int = Field(foreign_key="banks.id")
    #: The event's first leg (the lowest seq); it is among the event's rows too.
    first_id: int = Field(sa_type=BigId, foreign_key="transfers.id")


class PendingDeed(SQLModel, table=True):
    """A deed whose rule needs a reviewer: held here, outside every balance, until decided."""

    __tablename__ = "pending_deeds"
    __table_args__ = (Index("ix_pending_bank_status", "bank_id", "status"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    resident_id: int = Field(foreign_key="residents.id", index=True)
    rule_code: str = Field(max_length=40)
    rule_version: int
    quantity: int
    points: int
    occurred_on: date
    memo: Optional[str] = Field(default=None, sa_column=Column(Text))
    status: str = Field(default="pending", max_length=10)  # pending | approved | rejected
    submitted_by: str = Field(max_length=80)
    submitted_at: datetime
    decided_by: Optional[str] = Field(default=None, max_length=80)
    decided_at: Optional[datetime] = None
    reason: Optional[str] = Field(default=None, sa_column=Column(Text))
    transfer_id: Optional[int] = Field(default=None, sa_type=BigId, foreign_key="transfers.id")


class IdempotencyRecord(SQLModel, table=True):
    """The first outcome of a retried write, so a retry returns it and writes nothing.

    A key is one user's (`user_id`, 0 for the system's own keys and for records kept from
    before keys were scoped): the same key from another user is a request of its own.
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("bank_id", "user_id", "key", name="uq_idempotency_records_scope"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    #: Not a foreign key: 0 stands for no user. A default of the database's own, so a statement
    #: that leaves the column out (a Prepared insert, a script) still writes 0.
    user_id: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default=text("0")))
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    #: The HTTP status that rows from before migration 0019 kept; 0 since, and read by nothing:
    #: an outcome is not an answer (the view chooses that), and an old row replays from its ids.
    status: int
    #: The outcome, as JSON: its kind and the ids it is made of, {"kind": "posted",
    #: "transfers": [ids], "pending": [ids]} say (see ledger.idempotency; old rows have no kind).
    outcome: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime
