"""Idempotency keys: a retried write returns its first outcome and writes nothing.

What is kept under a key is the outcome of the write as the service saw it, as JSON: its kind
("posted", "held", ...) and the ids it is made of. Never an HTTP status: the view that answers
chooses that. Rows written before kept a status in the `status` column; it is written 0 now and
read by nothing (an old row replays from its ids, as a new one does).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.store import Prepared
from ground.errors import IdempotencyMismatch
from .models import IdempotencyRecord
from .posting import Idempotency


@dataclass(frozen=True)
class Stored:
    """An outcome kept under a key: its kind (None in rows from before kinds were kept) and its data."""

    kind: str | None
    data: dict


def lookup(session: Session, bank_id: int, idem: Idempotency | None) -> Stored | None:
    """Return the outcome stored under the user's key, or None if the key is new to them.

    A key used with a different request raises IdempotencyMismatch (409). Call it under the
    bank's posting lock, so two retries arriving together cannot both miss.
    """
    if idem is None:
        return None
    found = _STORED.rows(session, {"bank": bank_id, "user": idem.user_id, "key": idem.key})
    if not found:
        return None
    [record] = found
    if record.request_hash != idem.request_hash:
        raise IdempotencyMismatch()
    data = json.loads(record.outcome)
    return Stored(data.pop("kind", None), data)


def keep(session: Session, bank_id: int, idem: Idempotency | None, kind: str | None, data: dict,
         *, clock: Clock) -> None:
    """Store the outcome of a write under its key, in the write's own transaction."""
    if idem is None:
        return
    _REMEMBER.execute(session, {
        "bank_id": bank_id, "user_id": idem.user_id, "key": idem.key,
        "request_hash": idem.request_hash, "status": 0,
        "outcome": json.dumps({"kind": kind, **data} if kind else data), "created_at": clock.now()})


# The forms the services not yet writing through ledger.unit.UnitOfWork use.

def replay(session: Session, bank_id: int, idem: Idempotency | None) -> tuple[None, dict] | None:
    """Return (None, outcome data) stored under the user's key, or None (see `lookup`)."""
    stored = lookup(session, bank_id, idem)
    return None if stored is None else (None, stored.data)


def remember(session: Session, bank_id: int, idem: Idempotency | None, status: int, outcome: dict,
             *, clock: Clock) -> None:
    """Store the outcome of a write under its key (see `keep`); `status` is not stored."""
    keep(session, bank_id, idem, None, outcome, clock=clock)


_RECORDS = IdempotencyRecord.__table__
_STORED = Prepared(select(_RECORDS.c.request_hash, _RECORDS.c.outcome)
                   .where(_RECORDS.c.bank_id == bindparam("bank"), _RECORDS.c.user_id == bindparam("user"),
                          _RECORDS.c.key == bindparam("key")))
_REMEMBER = Prepared(insert(_RECORDS),
                     columns=["bank_id", "user_id", "key", "request_hash", "status", "outcome", "created_at"])
