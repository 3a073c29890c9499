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

import sys
from typing import Sequence

from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.db import transaction
from ground.store import Prepared, pipelined
from ground.tenants import Bank

from ground import audit

from . import idempotency
from .idempotency import Stored
from .posting import Draft, Idempotency, PostedEntry, lock_chain_with, post


class UnitOfWork:
    """One write to one bank, all or nothing.

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
    notes audit entries with `audit`, and gives its outcome to `remember`. On a clean exit the
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
        self.session, self.bank, self.by, self.clock, self.idem = session, bank, by, clock, idem
        self.amounts, self._reads = amounts, reads
        self.reads: list = []
        self.replayed: Stored | None = None
        self._audits: list[dict] = []
        self._outcome: tuple[str | None, dict] | None = None
        self._transaction = None

    def __enter__(self) -> "UnitOfWork":
        self._transaction = transaction(self.session, amounts=self.amounts)
        self._transaction.__enter__()
        try:
            if self.bank is not None:
                self.reads = lock_chain_with(self.session, self.bank.id, *self._reads)
                self.replayed = idempotency.lookup(self.session, self.bank.id, self.idem)
        except BaseException:
            if not self._transaction.__exit__(*sys.exc_info()):
                raise
        return self

    def post(self, *entries: Sequence[Draft]) -> list[PostedEntry]:
        """Post entries to the bank (ledger.posting.post), as `by`, under the idempotency key."""
        return post(self.session, self.bank.id, *entries, by=self.by, clock=self.clock,
                    idempotency=self.idem)

    def audit(self, action: str, subject: str | None = None, detail: dict | None = None) -> None:
        """Note an entry for the audit log (ground.audit), by `by`, written with the outcome."""
        self._audits.append({"action": action, "subject": subject, "detail": detail})

    def remember(self, kind: str | None, data: dict) -> None:
        """Give the write's outcome: its kind ("posted", "held", ...) and the ids it is made of,
        as JSON. It is stored under the idempotency key, for a retry to find as `replayed`."""
        self._outcome = (kind, data)

    def __exit__(self, error_type, error, traceback) -> bool:
        if error_type is None:
            try:
                self._write()
            except BaseException:
                if not self._transaction.__exit__(*sys.exc_info()):
                    raise
                return False
        return self._transaction.__exit__(error_type, error, traceback)

    def _write(self) -> None:
        if not self._audits and (self._outcome is None or self.idem is None):
            return
        bank_id = self.bank.id if self.bank is not None else None
        with pipelined(self.session):
            if self._outcome is not None and bank_id is not None:
                idempotency.keep(self.session, bank_id, self.idem, *self._outcome, clock=self.clock)
            for entry in self._audits:
                audit.record(self.session, bank_id=bank_id, actor=self.by, clock=self.clock, **entry)
