"""The figures kept per bank and month, in step with the transfers that make them.

The daily close counts each bank's transfers into these rows up to its chain head and marks how
far it went (`CountedUpTo`); a reader adds the few transfers posted since (see `stats.upkeep`),
so a dashboard reads a few rows a month and at most a day of transfers, whatever the ledger's length. Money is in fen, points whole.
Months are whole numbers YYYYMM (202610): the same in both databases, and ordered.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String
from sqlmodel import Field, SQLModel


def _whole() -> Column:
    return Column(BigInteger, nullable=False, default=0, server_default="0")


class MonthFigures(SQLModel, table=True):
    """A bank's month: points earned, penalised and redeemed, and the month's change in what is held."""

    __tablename__ = "stats_months"

    bank_id: int = Field(foreign_key="banks.id", primary_key=True)
    month: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    #: Points residents earned by deeds dated in the month, less reversals of such deeds.
    earned: int = Field(default=0, sa_column=_whole())
    #: Penalty points dated in the month, less reversals of penalties.
    penalty: int = Field(default=0, sa_column=_whole())
    #: Points handed in at the desk in the month, less reversed redemptions.
    redeemed: int = Field(default=0, sa_column=_whole())
    #: The month's change in the points residents and households hold (debts net against it).
    held_change: int = Field(default=0, sa_column=_whole())
    #: The month's change in the fund's cash (fund, fund:goods, fund:projects), in fen.
    cash_change_fen: int = Field(default=0, sa_column=_whole())
    #: The month's change in what can honour points (fund, fund:goods, goods on the shelf), in fen.
    backing_change_fen: int = Field(default=0, sa_column=_whole())
    #: Residents whose deeds of the month, less reversals, came to more than nothing.
    active_residents: int = Field(default=0, sa_column=_whole())


class RuleMonthFigures(SQLModel, table=True):
    """A bank's month by rule: the points earned and the penalty points under each rule."""

    __tablename__ = "stats_rule_months"

    bank_id: int = Field(foreign_key="banks.id", primary_key=True)
    month: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    rule_code: str = Field(sa_column=Column(String(40), primary_key=True))
    earned: int = Field(default=0, sa_column=_whole())
    penalty: int = Field(default=0, sa_column=_whole())


class ResidentMonthFigures(SQLModel, table=True):
    """What one resident earned in a month: whether they took part, without reading the ledger."""

    __tablename__ = "stats_resident_months"

    bank_id: int = Field(foreign_key="banks.id", primary_key=True)
    month: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    resident_id: int = Field(foreign_key="residents.id", primary_key=True)
    earned: int = Field(default=0, sa_column=_whole())


class CountedUpTo(SQLModel, table=True):
    """How far a bank's transfers are counted into its figures: every seq up to `counted_seq`.

    A bank without a row has none counted yet.
    """

    __tablename__ = "stats_progress"

    bank_id: int = Field(foreign_key="banks.id", primary_key=True)
    counted_seq: int = Field(default=0, sa_column=_whole())
