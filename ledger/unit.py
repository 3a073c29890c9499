"""The unit of work: what every write service does around its own checks, written once.

    with UnitOfWork(session, bank, by=user.name, clock=clock, idem=idem) as uow:
        if uow.replayed:                        # this key's first outcome: nothing is written
            return session.get(Tranche, uow.replayed.data["tranche"])
        ...                                     # checks, under the bank's posting lock
        [entry] = uow.post(drafts)              # one entry per event (ledger.posting.post)
        ...
        uow.audit("tranche", f"application:{application.id}", {"amount": amount})
        uow.remember("posted", {"tranche": tranche.id})
    return tranche

A service returns what happened (an outcome of its own: ids, objects, whether something was
held or posted), never an HTTP status: the view that answers chooses 200, 201 or 202.
"""
from __future__ import annotations

from typing import Sequence

from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.store import Prepared, pipelined
from ground.tenants import Bank
from ground.unit import Unit

from . import idempotency
from .idempotency import Stored
from .posting import Draft, Idempotency, PostedEntry, lock_chain, lock_chain_with, post


class UnitOfWork(Unit):
    """One write to one bank, all or nothing: ground.unit.Unit, with the bank's lock, its
    idempotency key and its posting.

    Entering opens the write transaction (ground.db.transaction: it commits on a clean exit and
    rolls everything back on an error; what the database refuses as must-never-be comes out as
    the API's error, naming the request field `amounts` when a balance would leave its range),
    takes the bank's posting lock (ledger.posting.lock_chain: the bank's writes are serialised,
    and checks made now still hold when the transfers land), and looks the idempotency key up.
    `reads` are (statement, parameters) pairs sent with the lock in one round trip; their
    cursors are `uow.reads`, in order.

    `replayed` is then the outcome stored under this user's key (kind and data: a Stored), when
    the same request was made before; the service returns what it describes and writes nothing.
    A key already used with a different request raises IdempotencyMismatch (409), and nothing
    is written. A key used by no one yet, or no key, leaves `replayed` None.

    Inside, the service posts its entries with `post` (as `by`, at `clock`, under the key),
    notes audit entries with `audit` (the bank's, unless one names another), and gives its outcome to `remember`. On a clean exit the
    audit entries and the outcome (under the key) are written, sent together, and the
    transaction commits; an exception anywhere writes nothing at all.

    `bank` may be None for a write that creates the bank: then there is no lock and no key to
    look up, and the service sets `uow.bank` to the new bank (its audit entries are the bank's).

    Writes to other tables (a household, a stock movement) go through the session as usual;
    they commit or roll back with the rest.
    """

    def __init__(self, session: Session, bank: Bank | None, *, by: str | None, clock: Clock,
                 idem: Idempotency | None = None, amounts: str = "amount",
                 reads: Sequence[tuple[Prepared, dict]] = ()) -> None:
        super().__init__(session, by=by, clock=clock, amounts=amounts)
        self.bank, self.idem, self._reads = bank, idem, reads
        self.reads: list = []
        self.replayed: Stored | None = None
        self._outcome: tuple[str | None, dict] | None = None

    @property
    def bank_id(self) -> int | None:
        return self.bank.id if self.bank is not None else None

    def _begin(self) -> None:
        if self.bank is not None:
            self.reads = lock_chain_with(self.session, self.bank.id, *self._reads)
            self.replayed = idempotency.lookup(self.session, self.bank.id, self.idem)

    @property
    def head(self) -> tuple[int, str]:
        """The bank's chain head (last seq, last hash), as the lock read it and posting keeps it."""
        return lock_chain(self.session, self.bank.id)

    def post(self, *entries: Sequence[Draft]) -> list[PostedEntry]:
        """Post entries to the bank (ledger.posting.post), as `by`, under the idempotency key."""
        return post(self.session, self.bank.id, *entries, by=self.by, clock=self.clock,
                    idempotency=self.idem)

    def remember(self, kind: str | None, data: dict) -> None:
        """Give the write's outcome: its kind ("posted", "held", ...) and the ids it is made of,
        as JSON. It is stored under the idempotency key, for a retry to find as `replayed`."""
        self._outcome = (kind, data)

    def _write(self) -> None:
        keep = self._outcome is not None and self.idem is not None and self.bank is not None
        if not keep and not self._audits:
            return
        with pipelined(self.session):
            if keep:
                idempotency.keep(self.session, self.bank.id, self.idem, *self._outcome, clock=self.clock)
            self._write_audits()
