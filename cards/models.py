"""Card tokens: only a hash of each is kept; a card is revoked, never deleted."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class Card(SQLModel, table=True):
    """One printed card: a resident's, or a household's when points are kept per household."""

    __tablename__ = "cards"
    __table_args__ = (
        UniqueConstraint("bank_id", "number"),
        Index("ix_cards_resident", "bank_id", "resident_id"),
        Index("ix_cards_household", "bank_id", "household_id"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    #: Exactly one of the two is set.
    resident_id: Optional[int] = Field(default=None, foreign_key="residents.id")
    household_id: Optional[int] = Field(default=None, foreign_key="households.id")
    #: sha256 of the token in the card's URL; the token itself is printed and never stored.
    token_hash: str = Field(max_length=64, unique=True)
    #: A short number to read over the phone ("7KQ4-M2XD"): names the card, opens nothing.
    number: str = Field(max_length=12)
    issued_at: datetime
    issued_by: str = Field(max_length=80)
    revoked_at: Optional[datetime] = None
    revoked_by: Optional[str] = Field(default=None, max_length=80)
