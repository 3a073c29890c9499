"""What the foundation's services share: the accounts its money moves between, its settings in
the rules in force, and the link from a deed's points to the project or the wish it was for.

Each service takes the session and what it needs, makes its checks, and owns the transaction:
it commits on success and rolls everything back on error. Writes that move money take the
bank's posting lock first, so a balance checked is still the balance when the transfer lands.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import banks
from ground.db import transaction
from ground.tenants import Bank

from .models import LedgerLink

#: The CNY accounts the foundation moves money between (see the README).
RESTRICTED, UNRESTRICTED, SPENT = "fund:projects", "fund", "spent:projects"
INKIND_RECEIVED, INKIND_GIVEN = "inkind:received", "inkind:given"
DONOR_SOURCE = {"resident": "source:donor", "person": "source:sponsor", "unit": "source:sponsor"}


def rules_of(session: Session, bank: Bank):
    """Return the bank's foundation settings from the rules in force."""
    return banks.rulebook(session, bank.id)[1].foundation


def _link_deeds(session: Session, bank: Bank, outcome, *, purpose: str,
                application_id: int | None = None, wish_id: int | None = None) -> None:
    with transaction(session):
        have_t = set(session.execute(select(LedgerLink.transfer_id).where(
            LedgerLink.transfer_id.in_([t.id for t in outcome.transfers] or [0]))).scalars())
        have_p = set(session.execute(select(LedgerLink.pending_id).where(
            LedgerLink.pending_id.in_([p.id for p in outcome.pending] or [0]))).scalars())
        session.add_all(LedgerLink(bank_id=bank.id, purpose=purpose, transfer_id=t.id,
                                   application_id=application_id, wish_id=wish_id,
                                   resident_id=t.doer_id)
                        for t in outcome.transfers if t.id not in have_t)
        session.add_all(LedgerLink(bank_id=bank.id, purpose=purpose, pending_id=p.id,
                                   application_id=application_id, wish_id=wish_id,
                                   resident_id=p.resident_id)
                        for p in outcome.pending if p.id not in have_p)
