"""Idempotency keys: a retried write returns its first outcome and writes nothing."""
from __future__ import annotations

import json

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.store import Prepared
from ground.errors import IdempotencyMismatch
from .models import IdempotencyRecord
from .posting import Idempotency


def replay(session: Session, bank_id: int, idem: Idempotency | None) -> tuple[int, dict] | None:
    """Return (status, outcome) stored under the user's key, or None if the key is new to them.

    Call it under the bank's posting lock, so two retries arriving together cannot both miss.
    """
    if idem is None:
        return None
    found = _STORED.rows(session, {"bank": bank_id, "user": idem.user_id, "key": idem.key})
    if not found:
        return None
    [record] = found
    if record.request_hash != idem.request_hash:
        raise IdempotencyMismatch()
    return record.status, json.loads(record.outcome)


def remember(session: Session, bank_id: int, idem: Idempotency | None, status: int, outcome: dict,
             *, clock: Clock) -> None:
    """Store the outcome of a write under its key, in the write's own transaction."""
    if idem is None:
        return
    _REMEMBER.execute(session, {
        "bank_id": bank_id, "user_id": idem.user_id, "key": idem.key,
        "request_hash": idem.request_hash, "status": status, "outcome": json.dumps(outcome),
        "created_at": clock.now()})


_RECORDS = IdempotencyRecord.__table__
_STORED = Prepared(select(_RECORDS.c.request_hash, _RECORDS.c.status, _RECORDS.c.outcome)
                   .where(_RECORDS.c.bank_id == bindparam("bank"), _RECORDS.c.user_id == bindparam("user"),
                          _RECORDS.c.key == bindparam("key")))
_REMEMBER = Prepared(insert(_RECORDS),
                     columns=["bank_id", "user_id", "key", "request_hash", "status", "outcome", "created_at"])
