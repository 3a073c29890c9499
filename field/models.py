"""The field's tables: photos kept in the database, what they are evidence of, activities with
their sign-ups and check-ins, and residents' own reports.

Each row carries its bank's id, as every table does.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ledger.models import BigId


class Photo(SQLModel, table=True):
    """A photo as stored: re-encoded JPEG, EXIF gone, longest side at most 1600 px."""

    __tablename__ = "field_photos"

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id", index=True)
    sha256: str = Field(max_length=64)
    width: int
    height: int
    size: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_by: str = Field(max_length=80)
    uploaded_at: datetime


class Evidence(SQLModel, table=True):
    """One photo shown as evidence of a transfer or of a deed held for review."""

    __tablename__ = "field_evidence"
    __table_args__ = (Index("ix_field_evidence_transfer", "bank_id", "transfer_id"),
                      Index("ix_field_evidence_pending", "bank_id", "pending_id"))

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    photo_id: int = Field(foreign_key="field_photos.id")
    transfer_id: Optional[int] = Field(default=None, sa_type=BigId, foreign_key="transfers.id")
    pending_id: Optional[int] = Field(default=None, foreign_key="pending_deeds.id")
    position: int = 0


class Activity(SQLModel, table=True):
    """An activity the council publishes (活动): residents sign up, are checked in, and earn one team deed."""

    __tablename__ = "field_activities"
    __table_args__ = (Index("ix_field_activities_bank", "bank_id", "ends_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    title: str = Field(max_length=100)
    rule_code: str = Field(max_length=40)
    quantity: int = 1
    starts_at: datetime
    ends_at: datetime
    place: Optional[str] = Field(default=None, max_length=100)
    capacity: Optional[int] = None
    created_by: str = Field(max_length=80)
    created_at: datetime
    closed_by: Optional[str] = Field(default=None, max_length=80)
    closed_at: Optional[datetime] = None
    #: What closing it answered, as JSON {"status", "transfers", "pending"}: the answer to every later close.
    outcome: Optional[str] = Field(default=None, sa_column=Column(Text))


class Signup(SQLModel, table=True):
    """A resident who signed up for an activity from their card."""

    __tablename__ = "field_signups"
    __table_args__ = (UniqueConstraint("activity_id", "resident_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    activity_id: int = Field(foreign_key="field_activities.id")
    resident_id: int = Field(foreign_key="residents.id")
    at: datetime


class Checkin(SQLModel, table=True):
    """A resident checked in at an activity by a grid worker; each person once."""

    __tablename__ = "field_checkins"
    __table_args__ = (UniqueConstraint("activity_id", "resident_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    activity_id: int = Field(foreign_key="field_activities.id")
    resident_id: int = Field(foreign_key="residents.id")
    at: datetime
    by: str = Field(max_length=80)


class Report(SQLModel, table=True):
    """A resident's own report of a deed (积分申报): the deed held for review, and the card it came from."""

    __tablename__ = "field_reports"
    __table_args__ = (Index("ix_field_reports_card", "bank_id", "card_id", "submitted_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    card_id: int = Field(foreign_key="cards.id")
    pending_id: int = Field(foreign_key="pending_deeds.id", unique=True)
    submitted_at: datetime
