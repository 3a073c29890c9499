"""What the foundation's services share: the accounts its money moves between, its settings in
the rules in force, and the link from an entry (or a deed held for review) to the project or the wish it was for.

Each service writes as one unit of work (ledger.unit.UnitOfWork): its checks under the bank's
posting lock, the idempotency key replayed or its outcome remembered, the audit entry, and the
commit, or nothing at all on an error.
"""
from __future__ import annotations

from typing import Sequence

from sqlalchemy.orm import Session

from ground.tenants import Bank
from ledger import banks
from ledger.models import PendingDeed
from ledger.posting import PostedEntry

from .models import LedgerLink

#: The CNY accounts the foundation moves money between (see the README).
RESTRICTED, UNRESTRICTED, SPENT = "fund:projects", "fund", "spent:projects"
INKIND_RECEIVED, INKIND_GIVEN = "inkind:received", "inkind:given"
DONOR_SOURCE = {"resident": "source:donor", "person": "source:sponsor", "unit": "source:sponsor"}

def rules_of(session: Session, bank: Bank):
    """Return the bank's foundation settings from the rules in force."""
    return banks.rulebook(session, bank.id)[1].foundation


def link(session: Session, bank: Bank, purpose: str, *, entries: Sequence[PostedEntry] = (),
         pending: Sequence[PendingDeed] = (), application_id: int | None = None,
         tranche_id: int | None = None, wish_id: int | None = None) -> None:
    """Say what these entries (and deeds held for review) were for: one link per event."""
    about = {"application_id": application_id, "tranche_id": tranche_id, "wish_id": wish_id}
    session.add_all([LedgerLink(bank_id=bank.id, purpose=purpose, entry_seq=e.seq, **about)
                     for e in entries if e.seq is not None]
                    + [LedgerLink(bank_id=bank.id, purpose=purpose, pending_id=p.id, **about)
                       for p in pending])
