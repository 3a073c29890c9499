"""A unit of work on the ground floor: one write, its audit entries, and the commit, or nothing.

    with Unit(session, by=user.name, clock=clock) as unit:
        ...                                           # checks and writes, through the session
        unit.audit("token_revoke", f"token:{token.id}", {"user": user.name}, bank_id=user.bank_id)

Every write goes through one. A write to a bank's ledger uses ledger.unit.UnitOfWork, which is
this with the bank's posting lock, the idempotency key and the posting added; the county's own
writes (users, tokens, sign-ins, which web/ makes beneath the ledger) use this one as it is.
"""
from __future__ import annotations

import sys

from sqlalchemy.orm import Session

from . import audit
from .clock import Clock
from .db import transaction
from .store import pipelined


class Unit:
    """One write, all or nothing.

    Entering opens the write transaction (ground.db.transaction: it commits on a clean exit and
    rolls everything back on an error; what the database refuses as must-never-be comes out as
    the API's error, naming the request field `amounts` when a balance would leave its range).
    Inside, the service writes through the session and notes audit entries with `audit`; on a
    clean exit the entries are written, sent together, and the transaction commits. An
    exception anywhere writes nothing at all.
    """

    #: The bank whose audit log the entries go to, unless `audit` names another (None: the county's).
    bank_id: int | None = None

    def __init__(self, session: Session, *, by: str | None, clock: Clock | None,
                 amounts: str = "amount") -> None:
        self.session, self.by, self.clock, self.amounts = session, by, clock, amounts
        self._audits: list[dict] = []
        self._transaction = None

    def __enter__(self):
        self._transaction = transaction(self.session, amounts=self.amounts)
        self._transaction.__enter__()
        try:
            self._begin()
        except BaseException:
            if not self._end_failed():
                raise
        return self

    def _begin(self) -> None:
        """What a kind of unit does first, inside the transaction (nothing, here)."""

    def audit(self, action: str, subject: str | None = None, detail: dict | None = None, *,
              bank_id: int | None = ..., actor: str | None = None) -> None:
        """Note an entry for the audit log (ground.audit), by `actor` (else `by`), in the log of
        `bank_id` (else the unit's bank), written with the rest on a clean exit."""
        self._audits.append({"action": action, "subject": subject, "detail": detail,
                             "bank_id": bank_id, "actor": actor})

    def __exit__(self, error_type, error, traceback) -> bool:
        if error_type is None:
            try:
                self._write()
            except BaseException:
                if not self._end_failed():
                    raise
                return False
        return self._transaction.__exit__(error_type, error, traceback)

    def _end_failed(self) -> bool:
        # Roll the transaction back for the exception being handled; true if it was swallowed.
        return self._transaction.__exit__(*sys.exc_info())

    def _write(self) -> None:
        """Write what was noted: the audit entries, sent together."""
        if self._audits:
            with pipelined(self.session):
                self._write_audits()

    def _write_audits(self) -> None:
        for entry in self._audits:
            bank_id = self.bank_id if entry["bank_id"] is ... else entry["bank_id"]
            audit.record(self.session, bank_id=bank_id, actor=entry["actor"] or self.by,
                         clock=self.clock, action=entry["action"], subject=entry["subject"],
                         detail=entry["detail"])
