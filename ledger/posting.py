"""Posting: the one function that writes transfers, extends the hash chain and moves balances."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from . import chain
from .clock import Clock
from .models import Account, Bank, Transfer


@dataclass(frozen=True)
class Draft:
    """A transfer about to be posted: everything but its place in the chain."""

    ledger: str
    debit_id: int
    credit_id: int
    amount: int
    kind: str
    occurred_on: date
    rule_code: str | None = None
    rule_version: int | None = None
    doer_id: int | None = None
    memo: str | None = None
    reverses_id: int | None = None


@dataclass(frozen=True)
class Idempotency:
    """The retry key a client sent and the fingerprint of its request."""

    key: str
    request_hash: str


def lock_chain(session: Session, bank_id: int) -> tuple[int, str]:
    """Take the bank's posting lock and return its chain head (last seq, last hash).

    Every write that may post takes this first, so one bank's writes are serialised: the chain
    never forks, a sequence number is never skipped, and checks made under the lock (caps,
    balances, stock, idempotency keys) still hold when the transfer lands. On SQLite the
    transaction already holds the write lock (BEGIN IMMEDIATE); on PostgreSQL the row lock does it.
    """
    row = session.execute(
        select(Bank.head_seq, Bank.head_hash).where(Bank.id == bank_id).with_for_update()
    ).one()
    return row.head_seq, row.head_hash


def post(session: Session, bank_id: int, drafts: Sequence[Draft], *, by: str, clock: Clock,
         idempotency: Idempotency | None = None) -> list[Transfer]:
    """Append the drafts to the bank's ledger in order, moving balances; the caller commits."""
    if not drafts:
        return []
    _check(session, bank_id, drafts)
    seq, head = lock_chain(session, bank_id)
    recorded_at = clock.now()
    key = idempotency.key if idempotency else None
    request_hash = idempotency.request_hash if idempotency else None
    transfers = []
    movements: dict[int, int] = {}
    for d in drafts:
        seq += 1
        values = dict(
            bank_id=bank_id, seq=seq, ledger=d.ledger, debit_id=d.debit_id, credit_id=d.credit_id,
            amount=d.amount, kind=d.kind, rule_code=d.rule_code, rule_version=d.rule_version,
            doer_id=d.doer_id, occurred_on=d.occurred_on, recorded_at=recorded_at,
            recorded_by=by, memo=d.memo, reverses_id=d.reverses_id, idempotency_key=key,
            request_hash=request_hash,
        )
        prev, head = head, chain.link(head, [values[c] for c in chain.CHAINED_COLUMNS])
        transfers.append(Transfer(**values, prev_hash=prev, hash=head))
        movements[d.debit_id] = movements.get(d.debit_id, 0) - d.amount
        movements[d.credit_id] = movements.get(d.credit_id, 0) + d.amount
    session.add_all(transfers)
    moved = [{"account": a, "delta": d} for a, d in movements.items() if d]
    if moved:
        # One statement for every account the batch touches, however many there are.
        session.execute(_MOVE_BALANCE, moved)
    session.execute(update(Bank).where(Bank.id == bank_id).values(head_seq=seq, head_hash=head))
    session.flush()
    return transfers


_ACCOUNTS = Account.__table__
_MOVE_BALANCE = (update(_ACCOUNTS).where(_ACCOUNTS.c.id == bindparam("account"))
                 .values(balance=_ACCOUNTS.c.balance + bindparam("delta")))


def _check(session: Session, bank_id: int, drafts: Sequence[Draft]) -> None:
    # These are programming errors, not user input: every service validates before drafting.
    ids = {d.debit_id for d in drafts} | {d.credit_id for d in drafts}
    accounts = {a.id: a for a in session.execute(
        select(Account.id, Account.bank_id, Account.ledger).where(Account.id.in_(ids)))}
    for d in drafts:
        if type(d.amount) is not int or d.amount <= 0:
            raise ValueError(f"a transfer amount must be a positive integer, not {d.amount!r}")
        if d.debit_id == d.credit_id:
            raise ValueError("a transfer needs two different accounts")
        for account_id in (d.debit_id, d.credit_id):
            a = accounts.get(account_id)
            if a is None or a.bank_id != bank_id or a.ledger != d.ledger:
                raise ValueError(f"account {account_id} is not on bank {bank_id}'s {d.ledger} ledger")
