"""Posting: the one function that writes transfers, extends the hash chain and moves balances.

What it posts are entries: the transfers (legs) of one event, under one number the chain covers.
"""
from __future__ import annotations

from dataclasses import dataclass, make_dataclass
from datetime import date
from typing import Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import chain
from ground.clock import Clock
from ground.store import Prepared, connection_of, pipelined
from .models import Account, RuleVersion, Transfer
from ground.tenants import Bank


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
    """The retry key a client sent, the fingerprint of its request, and whose key it is.

    Keys belong to the user who sent them (`user_id`; 0 for keys the system makes itself), so
    one user's key never replays another user's answer.
    """

    key: str
    request_hash: str
    user_id: int = 0


def lock_chain(session: Session, bank_id: int) -> tuple[int, str]:
    """Take the bank's posting lock and return its chain head (last seq, last hash).

    Every write that may post takes this first, so one bank's writes are serialised: the chain
    never forks, a sequence number is never skipped, and checks made under the lock (caps,
    balances, stock, idempotency keys) still hold when the transfer lands. On SQLite the
    transaction already holds the write lock (BEGIN IMMEDIATE); on PostgreSQL the row lock does it.
    The lock lasts as long as the transaction, so a second call in the same transaction (a
    service, then `post`) answers from what the first one read, and `post` keeps it current.
    """
    return _lock(session, bank_id).head


def locked_rules(session: Session, bank_id: int) -> tuple[int, str] | None:
    """Return (version, content hash) of the bank's rules in force if this transaction holds its lock.

    The lock's one read notes them, so a deed looks its rule up under the lock for nothing.
    """
    held = _held(session, begin=False).get(bank_id)
    return held.rules if held is not None else None


def reread_lock(session: Session, bank_id: int) -> None:
    """Forget what the lock read (after loading a new rule version under it); the lock stays held."""
    _held(session, begin=False).pop(bank_id, None)


@dataclass
class _Held:
    head: tuple[int, str]
    rules: tuple[int, str] | None


def lock_chain_with(session: Session, bank_id: int, *reads: tuple[Prepared, dict]) -> list:
    """Take the bank's posting lock, as `lock_chain` does, and run reads under it; return their cursors.

    Each read is a (statement, parameters) pair. The lock and the reads are sent together, so on
    PostgreSQL the transaction's BEGIN, the lock and every read take one round trip; the
    database runs them in the order sent, so each read sees what the lock holder sees.
    """
    held = _held(session)
    with pipelined(session):
        lock = None if bank_id in held else _LOCK.execute(session, {"bank": bank_id})
        cursors = [statement.execute(session, params) for statement, params in reads]
    if lock is not None:
        _hold(held, bank_id, lock.fetchone())
    return cursors


def _lock(session: Session, bank_id: int) -> _Held:
    held = _held(session)
    entry = held.get(bank_id)
    if entry is None:
        entry = _hold(held, bank_id, _LOCK.execute(session, {"bank": bank_id}).fetchone())
    return entry


def _hold(held: dict, bank_id: int, row) -> _Held:
    if row is None:
        raise LookupError(f"there is no bank {bank_id} to lock")
    seq, last, version, content_hash = row
    entry = held[bank_id] = _Held((seq, last), (version, content_hash) if version else None)
    return entry


def _held(session: Session, *, begin: bool = True) -> dict[int, _Held]:
    # What this session's current transaction has locked, by bank. A new transaction (after a
    # commit or a rollback) is a new object, so what an earlier one read is never reused; with
    # no transaction (and `begin` false) nothing is held.
    if begin:
        connection_of(session)
    transaction = session.get_transaction()
    if transaction is None:
        return {}
    entry = session.info.get(_HELD)
    if entry is None or entry[0] is not transaction:
        entry = session.info[_HELD] = (transaction, {})
    return entry[1]


def rules_in_force(bank_id):
    """The bank's rule version in force (the last loaded), as two one-row selects: its number
    and its content hash. `bank_id` is a value, a parameter or a column to correlate with."""
    versions = RuleVersion.__table__
    latest = (select(versions.c.version).where(versions.c.bank_id == bank_id)
              .order_by(versions.c.version.desc()).limit(1))
    return latest, latest.with_only_columns(versions.c.content_hash)


#: A transfer as `post` wrote it: every column of its row, id included, read-only. Rows read
#: back later are the ORM's `Transfer`, with the same attributes; building ORM objects for rows
#: just written would cost more than writing them.
Posted = make_dataclass("Posted", [column.key for column in Transfer.__table__.columns],
                        frozen=True, slots=True)


@dataclass(frozen=True)
class PostedEntry:
    """An entry as `post` wrote it: its number (the seq of its first leg) and its legs, in order.

    It reads as the sequence of its legs: `[points, cost] = entry`, `entry[0].id`.
    An entry with no legs posts nothing: its seq is None.
    """

    seq: int | None
    legs: tuple[Posted, ...]

    def __iter__(self):
        return iter(self.legs)

    def __len__(self) -> int:
        return len(self.legs)

    def __getitem__(self, index):
        return self.legs[index]


def legs(entries: Sequence[PostedEntry]) -> list[Posted]:
    """Return the legs of these entries, in the order they were posted."""
    return [leg for entry in entries for leg in entry.legs]


def post(session: Session, bank_id: int, *entries: Sequence[Draft], by: str, clock: Clock,
         idempotency: Idempotency | None = None) -> list[PostedEntry]:
    """Append entries to the bank's ledger in order, moving balances; the caller commits.

    Each argument is one entry: the drafts of one event (one leg or several), posted together,
    contiguous in the chain, each leg naming the entry by the seq of its first leg, and reversed
    together (see ledger.reversals). Events that only happen to be written at once (a patrol
    team's deeds, one per resident) are one entry each: `post(session, bank, *([d] for d in drafts))`.
    Returns one PostedEntry per argument.
    """
    entries = [tuple(drafts) for drafts in entries]
    if not any(entries):
        return [PostedEntry(None, ()) for _ in entries]
    # Accounts opened earlier in this transaction must be rows before transfers name them.
    session.flush()
    _check([d for drafts in entries for d in drafts])
    held = _lock(session, bank_id)
    seq, head = held.head
    recorded_at = clock.now()
    key = idempotency.key if idempotency else None
    request_hash = idempotency.request_hash if idempotency else None
    rows = []
    movements: dict[int, int] = {}
    link, columns = chain.link, chain.CHAINED_COLUMNS
    for drafts in entries:
        entry_seq = seq + 1
        for d in drafts:
            seq += 1
            values = dict(
                bank_id=bank_id, seq=seq, ledger=d.ledger, debit_id=d.debit_id, credit_id=d.credit_id,
                amount=d.amount, kind=d.kind, rule_code=d.rule_code, rule_version=d.rule_version,
                doer_id=d.doer_id, occurred_on=d.occurred_on, recorded_at=recorded_at,
                recorded_by=by, memo=d.memo, reverses_id=d.reverses_id, idempotency_key=key,
                request_hash=request_hash, entry_seq=entry_seq,
            )
            chained = [values[c] for c in columns]
            if seq != entry_seq:  # see chain.chained
                chained.append(entry_seq)
            prev, head = head, link(head, chained)
            values["prev_hash"], values["hash"] = prev, head
            rows.append(values)
            movements[d.debit_id] = movements.get(d.debit_id, 0) - d.amount
            movements[d.credit_id] = movements.get(d.credit_id, 0) + d.amount
    moved = [{"bank": bank_id, "account": a, "delta": d} for a, d in movements.items() if d]
    # Statements compiled once (the ORM's unit of work would cost more than the writes), sent
    # together: on PostgreSQL the rows, the balances and the head take one round trip.
    ids, waiting = [], []
    with pipelined(session) as together:
        for row in rows:
            cursor = _INSERT.execute(session, row)
            if together:
                waiting.append(cursor)
            else:
                # Read at once: an INSERT left unread keeps its compiled statement busy, and
                # the next row would have to compile it again.
                [[transfer_id]] = cursor.fetchall()
                ids.append(transfer_id)
        if moved:
            # One statement for every account the batch touches, however many there are.
            _MOVE_BALANCE.executemany(session, moved)
        _MOVE_HEAD.execute(session, {"bank": bank_id, "seq": seq, "hash": head})
    ids += [cursor.fetchone()[0] for cursor in waiting]
    held.head = (seq, head)
    loaded = session.identity_map.get(session.identity_key(Bank, bank_id))
    if loaded is not None:
        # The bank as this session already holds it shows the new head, as a fresh read would.
        set_committed_value(loaded, "head_seq", seq)
        set_committed_value(loaded, "head_hash", head)
    posted = [Posted(id=i, **values) for i, values in zip(ids, rows)]
    done, start = [], 0
    for drafts in entries:
        legs_ = tuple(posted[start:start + len(drafts)])
        start += len(drafts)
        done.append(PostedEntry(legs_[0].seq if legs_ else None, legs_))
    return done


_HELD = "zongzhi.chain_heads"
_BANKS = Bank.__table__
_ACCOUNTS = Account.__table__
_TRANSFERS = Transfer.__table__
_LOCK = Prepared(select(_BANKS.c.head_seq, _BANKS.c.head_hash,
                        *(in_force.scalar_subquery() for in_force in rules_in_force(_BANKS.c.id)))
                 .where(_BANKS.c.id == bindparam("bank")).with_for_update(of=_BANKS))
_INSERT = Prepared(insert(_TRANSFERS).returning(_TRANSFERS.c.id),
                   columns=[*chain.CHAINED_COLUMNS, chain.ENTRY_COLUMN, "prev_hash", "hash"])
# By the account's whole key (bank, id): on PostgreSQL that is the primary key (migration 0022).
_MOVE_BALANCE = Prepared(update(_ACCOUNTS).where(_ACCOUNTS.c.bank_id == bindparam("bank"),
                                                 _ACCOUNTS.c.id == bindparam("account"))
                         .values(balance=_ACCOUNTS.c.balance + bindparam("delta")))
_MOVE_HEAD = Prepared(update(_BANKS).where(_BANKS.c.id == bindparam("bank"))
                      .values(head_seq=bindparam("seq"), head_hash=bindparam("hash")))


def _check(drafts: Sequence[Draft]) -> None:
    # These are programming errors, not user input: every service validates before drafting.
    # That both accounts are on the transfer's bank and ledger the database checks as it
    # inserts (a trigger, see migration 0008), for every writer, at no extra round trip.
    for d in drafts:
        if type(d.amount) is not int or d.amount <= 0:
            raise ValueError(f"a transfer amount must be a positive integer, not {d.amount!r}")
        if d.debit_id == d.credit_id:
            raise ValueError("a transfer needs two different accounts")
