"""The cycle's one table: a run of a job for a bank and a period, also the lock that claims it."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

#: due: recorded by the scheduler, not yet handed to the broker; queued: handed to the broker
#: (the distributed cycle, `cycle.queue`); running: claimed by one process; then done or failed.
STATUSES = ("due", "queued", "running", "done", "failed")


class JobRun(SQLModel, table=True):
    """One (job, bank, period): claimed by one process, then done or failed.

    With a broker, the scheduler first records it as due, then queued once the broker has it.

    The unique key is the lock: of two schedulers claiming the same run, the database lets one
    insert the row; the other finds it there and moves on.
    """

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "bank_id", "period"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    job: str = Field(max_length=20)
    bank_id: int = Field(foreign_key="banks.id")
    period: str = Field(max_length=10)
    status: str = Field(default="running", max_length=10)
    #: Who claimed it: host and process id.
    owner: str = Field(max_length=120)
    attempts: int = 1
    started_at: datetime
    #: A claim still running after this is taken to be a dead process's, and may be taken over;
    #: a run queued until this is taken to be lost by the broker, and is queued again.
    lease_until: datetime
    finished_at: Optional[datetime] = None
    result: Optional[str] = Field(default=None, sa_column=Column(Text))
    error: Optional[str] = Field(default=None, sa_column=Column(Text))
