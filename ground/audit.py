"""The audit log: who did what, when, in which bank; written in the same transaction as the act."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Optional

from sqlalchemy import Column, Index, Text, insert
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from ground.clock import Clock
from ground.store import Prepared


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_bank_at", "bank_id", "at"),
                      Index("ix_audit_action_actor_at", "action", "actor", "at"),
                      Index("ix_audit_action_subject_at", "action", "subject", "at"))

    id: Optional[int] = Field(default=None, primary_key=True)
    #: None for what concerns no single bank (a county admin signing in, say).
    bank_id: Optional[int] = Field(default=None, foreign_key="banks.id")
    at: datetime
    actor: str = Field(max_length=80)
    #: What happened, as a stable code: login, deed, reversal, approve, reject, rules_load, import ...
    action: str = Field(max_length=40)
    #: What it happened to, e.g. "transfer:17", "resident:5", "pending:3".
    subject: Optional[str] = Field(default=None, max_length=80)
    detail: Optional[str] = Field(default=None, sa_column=Column(Text))


def record(session: Session, *, bank_id: int | None, actor: str, action: str,
           subject: str | None = None, detail: dict | None = None, clock: Clock) -> None:
    """Add an entry to the audit log; the caller's transaction commits it with the act itself."""
    # Written at once, as one statement built once: every deed writes an entry.
    _INSERT.execute(session, {
        "bank_id": bank_id, "at": clock.now(), "actor": actor, "action": action, "subject": subject,
        "detail": json.dumps(detail, ensure_ascii=False, default=str) if detail else None})


_INSERT = Prepared(insert(AuditEntry.__table__),
                   columns=["bank_id", "at", "actor", "action", "subject", "detail"])


def entries(session: Session, bank_id: int, *, action: str | None = None, actor: str | None = None,
            before: int | None = None, limit: int = 100) -> list[AuditEntry]:
    """Return the bank's audit entries newest first, optionally one action or one actor's."""
    from sqlalchemy import select

    stmt = select(AuditEntry).where(AuditEntry.bank_id == bank_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    return list(session.execute(stmt.order_by(AuditEntry.id.desc()).limit(limit)).scalars())
