"""The foundation's tables: applicants and members, applications and everything that happens to
them (transitions, files, review, the council's decision, tranches, progress), and wishes.

Money is integer fen (BigInteger); each row carries its bank's id, as every table does.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import BigInteger, Column, ForeignKeyConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class Applicant(SQLModel, table=True):
    """A resident group or a community welfare station (公益站) that applies for micro-projects."""

    __tablename__ = "foundation_applicants"
    __table_args__ = (UniqueConstraint("bank_id", "name"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id", index=True)
    kind: str = Field(max_length=12)  # group | station
    name: str = Field(max_length=100)
    phone: Optional[str] = Field(default=None, max_length=20)
    created_by: str = Field(max_length=80)
    created_at: datetime


class Member(SQLModel, table=True):
    """A resident who belongs to an applicant: what recusal checks against."""

    __tablename__ = "foundation_members"
    __table_args__ = (UniqueConstraint("applicant_id", "resident_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    applicant_id: int = Field(foreign_key="foundation_applicants.id", index=True)
    resident_id: int = Field(foreign_key="residents.id", index=True)


class ReviewerResident(SQLModel, table=True):
    """Who a reviewer (a user) is in the village: the resident, so kin can be recused."""

    __tablename__ = "foundation_reviewer_residents"

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    user_id: int = Field(foreign_key="users.id", unique=True)
    resident_id: int = Field(foreign_key="residents.id")
    linked_by: str = Field(max_length=80)
    linked_at: datetime


class Application(SQLModel, table=True):
    """A micro-project application (微项目申请) and, once awarded, the project itself."""

    __tablename__ = "foundation_applications"
    __table_args__ = (Index("ix_foundation_applications_bank_state", "bank_id", "state"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id", index=True)
    applicant_id: int = Field(foreign_key="foundation_applicants.id", index=True)
    title: str = Field(max_length=100)
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    amount_requested: int = Field(sa_type=BigInteger)
    starts_on: date
    ends_on: date
    state: str = Field(default="draft", max_length=12)
    #: Set by the council's decision: what was awarded, or why not.
    amount_awarded: Optional[int] = Field(default=None, sa_type=BigInteger)
    decline_reason: Optional[str] = Field(default=None, sa_column=Column(Text))
    #: Kept in step with the ledger in the same transaction as each transfer.
    disbursed: int = Field(default=0, sa_type=BigInteger)
    spent: int = Field(default=0, sa_type=BigInteger)
    returned: int = Field(default=0, sa_type=BigInteger)
    completion_report: Optional[str] = Field(default=None, sa_column=Column(Text))
    entered_by: str = Field(max_length=80)
    created_at: datetime
    updated_at: datetime


class Line(SQLModel, table=True):
    """A budget line of an application, or a line of what the completed project spent."""

    __tablename__ = "foundation_lines"

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    application_id: int = Field(foreign_key="foundation_applications.id", index=True)
    kind: str = Field(max_length=8)  # budget | spent
    position: int
    item: str = Field(max_length=100)
    amount: int = Field(sa_type=BigInteger)


class Transition(SQLModel, table=True):
    """One move of an application's state machine: who, when, from what to what."""

    __tablename__ = "foundation_transitions"

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    application_id: int = Field(foreign_key="foundation_applications.id", index=True)
    action: str = Field(max_length=12)
    from_state: str = Field(max_length=12)
    to_state: str = Field(max_length=12)
    by: str = Field(max_length=80)
    at: datetime
    note: Optional[str] = Field(default=None, sa_column=Column(Text))


class Attachment(SQLModel, table=True):
    """A file kept under the instance folder: a photo, the scanned paper form, a progress photo."""

    __tablename__ = "foundation_attachments"

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    application_id: int = Field(foreign_key="foundation_applications.id", index=True)
    progress_id: Optional[int] = Field(default=None, foreign_key="foundation_progress.id")
    kind: str = Field(max_length=12)  # photo | paper_form | progress | completion
    filename: str = Field(max_length=200)
    #: Relative to the instance folder: foundation/<bank>/<application>/<random>.<ext>
    path: str = Field(max_length=300)
    content_type: str = Field(max_length=60)
    size: int
    sha256: str = Field(max_length=64)
    #: For a paper form entered by the clerk: whose signed form it is.
    on_behalf_of: Optional[str] = Field(default=None, max_length=100)
    entered_by: str = Field(max_length=80)
    entered_at: datetime


class PanelSeat(SQLModel, table=True):
    """A reviewer asked to score an application, and any conflict they declared."""

    __tablename__ = "foundation_panel"
    __table_args__ = (UniqueConstraint("application_id", "user_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    application_id: int = Field(foreign_key="foundation_applications.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    declared_conflict: bool = False
    declared_note: Optional[str] = Field(default=None, sa_column=Column(Text))
    declared_at: Optional[datetime] = None


class Score(SQLModel, table=True):
    """One reviewer's score (0–5) on one criterion, with a comment."""

    __tablename__ = "foundation_scores"
    __table_args__ = (UniqueConstraint("application_id", "user_id", "criterion"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    application_id: int = Field(foreign_key="foundation_applications.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    criterion: str = Field(max_length=40)
    weight: int
    score: int
    comment: Optional[str] = Field(default=None, sa_column=Column(Text))
    at: datetime


class Decision(SQLModel, table=True):
    """The council meeting that decided an application: attendance, quorum, votes, minutes."""

    __tablename__ = "foundation_decisions"

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    application_id: int = Field(foreign_key="foundation_applications.id", unique=True)
    met_on: date
    #: The attendees' names, as JSON; how many they were, and the quorum then in force.
    attendees: str = Field(sa_column=Column(Text, nullable=False))
    attendee_count: int
    quorum: int
    votes_for: int
    votes_against: int
    abstaining: int
    minutes: str = Field(sa_column=Column(Text, nullable=False))
    outcome: str = Field(max_length=12)  # awarded | declined
    amount: Optional[int] = Field(default=None, sa_type=BigInteger)
    reason: Optional[str] = Field(default=None, sa_column=Column(Text))
    #: The reviewers' weighted mean score in hundredths, as it stood at the meeting.
    weighted_score: Optional[int] = None
    recorded_by: str = Field(max_length=80)
    recorded_at: datetime


class Tranche(SQLModel, table=True):
    """One payment of an award, from the fund to the project's account."""

    __tablename__ = "foundation_tranches"

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    application_id: int = Field(foreign_key="foundation_applications.id", index=True)
    amount: int = Field(sa_type=BigInteger)
    from_restricted: int = Field(sa_type=BigInteger)
    from_unrestricted: int = Field(sa_type=BigInteger)
    paid_on: date
    memo: Optional[str] = Field(default=None, sa_column=Column(Text))
    by: str = Field(max_length=80)
    at: datetime


class Progress(SQLModel, table=True):
    """A progress update on a project, with photos as attachments."""

    __tablename__ = "foundation_progress"

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    application_id: int = Field(foreign_key="foundation_applications.id", index=True)
    reported_on: date
    percent: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    by: str = Field(max_length=80)
    at: datetime


class LedgerLink(SQLModel, table=True):
    """What an event on the ledger was for: a project's tranche or its completion, a volunteer's
    deed on a project, a wish's gift delivered or handed on, a donor's points for a wish.

    It names the event once, by its entry (the seq of the entry's first leg): the legs, their
    accounts, amounts and doers are the entry's own. A deed held for review is named by its
    pending row until it is decided.
    """

    __tablename__ = "foundation_ledger_links"
    __table_args__ = (
        Index("ix_foundation_links_bank_purpose", "bank_id", "purpose"),
        UniqueConstraint("bank_id", "entry_seq", name="uq_foundation_links_entry"),
        ForeignKeyConstraint(["bank_id", "entry_seq"], ["transfers.bank_id", "transfers.seq"],
                             name="fk_foundation_links_entry"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    purpose: str = Field(max_length=12)  # tranche | completion | volunteer | inkind | donor
    entry_seq: Optional[int] = Field(default=None, sa_type=BigInteger)
    pending_id: Optional[int] = Field(default=None, foreign_key="pending_deeds.id", unique=True)
    application_id: Optional[int] = Field(default=None, foreign_key="foundation_applications.id",
                                          index=True)
    tranche_id: Optional[int] = Field(default=None, foreign_key="foundation_tranches.id")
    wish_id: Optional[int] = Field(default=None, foreign_key="foundation_wishes.id", index=True)


class Wish(SQLModel, table=True):
    """A resident's small wish (微心愿), collected by the clerk and shown masked on the wall."""

    __tablename__ = "foundation_wishes"
    __table_args__ = (Index("ix_foundation_wishes_bank_state", "bank_id", "state"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id", index=True)
    resident_id: int = Field(foreign_key="residents.id", index=True)
    title: str = Field(max_length=100)
    description: str = Field(sa_column=Column(Text, nullable=False))
    estimated_value: Optional[int] = Field(default=None, sa_type=BigInteger)
    state: str = Field(default="collected", max_length=12)
    collected_by: str = Field(max_length=80)
    collected_at: datetime
    verified_by: Optional[str] = Field(default=None, max_length=80)
    verified_at: Optional[datetime] = None
    reject_reason: Optional[str] = Field(default=None, sa_column=Column(Text))
    published_at: Optional[datetime] = None
    thanks: Optional[str] = Field(default=None, sa_column=Column(Text))
    fulfilled_on: Optional[date] = None


class Claim(SQLModel, table=True):
    """A promise to fulfil a wish by a deadline, by one donor or several together."""

    __tablename__ = "foundation_claims"

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    wish_id: int = Field(foreign_key="foundation_wishes.id", index=True)
    status: str = Field(default="active", max_length=12)  # active | expired | delivered | fulfilled
    deadline: date
    claimed_by: str = Field(max_length=80)
    claimed_at: datetime
    delivered_on: Optional[date] = None
    closed_at: Optional[datetime] = None


class Donor(SQLModel, table=True):
    """One donor of a claim: a resident, or an outside person or unit with a name and phone."""

    __tablename__ = "foundation_donors"

    id: Optional[int] = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="banks.id")
    claim_id: int = Field(foreign_key="foundation_claims.id", index=True)
    kind: str = Field(max_length=12)  # resident | person | unit
    resident_id: Optional[int] = Field(default=None, foreign_key="residents.id")
    name: str = Field(max_length=100)
    phone: Optional[str] = Field(default=None, max_length=20)
    #: The gift's stated value in fen, recorded at delivery.
    value: Optional[int] = Field(default=None, sa_type=BigInteger)
