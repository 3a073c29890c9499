"""Year-end expiry (积分清零): after the commendation, what is left of a year's points expires.

Only when the bank's rule file says `expiry: year_end`. An account loses the smaller of its
balance at the year's end and its balance now, so points spent since (at January's desk) are
not taken twice and points earned since are kept. Each loss is a transfer to the PTS "expired"
account, posted today through the ledger's posting function.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import accounts
from ledger import banks
from ledger.chain import request_fingerprint
from ground.clock import Clock
from ground.errors import ConflictError
from ground.i18n import _
from ledger.models import PTS, Account, Transfer
from ground.tenants import Bank
from ledger.periods import Period
from ledger.posting import Draft, Idempotency, legs
from ledger.unit import UnitOfWork

from .models import Snapshot
from .queries import balances_on


def expire_year(session: Session, bank: Bank, year: Period, *, by: str, clock: Clock) -> list[Transfer]:
    """Post the year's expiry transfers once, after its commendation; [] if the rules keep points."""
    _version, book = banks.rulebook(session, bank.id)
    if book.settings.expiry != "year_end":
        return []
    key = f"expiry:{year.key}"
    # The transfers carrying the key are the record that the year has expired (no outcome is
    # kept under it), as they were before keys kept outcomes.
    with UnitOfWork(session, bank, by=by, clock=clock,
                    idem=Idempotency(key, request_fingerprint("EXPIRY", key, {}))) as uow:
        done = list(session.execute(select(Transfer).where(
            Transfer.bank_id == bank.id, Transfer.kind == "expiry",
            Transfer.idempotency_key == key).order_by(Transfer.seq)).scalars())
        if done:
            return done
        if session.execute(select(Snapshot.id).where(Snapshot.bank_id == bank.id, Snapshot.kind == "year",
                                                     Snapshot.period == year.key)).first() is None:
            raise ConflictError(_("%(year)s 年尚未表彰，不能清零", year=year.key), code="not_commended")
        at_year_end = balances_on(session, bank.id, year.end)
        expired = accounts.system_account(session, bank.id, PTS, "expired")
        drafts = []
        for account in session.execute(select(Account).where(
                Account.bank_id == bank.id, Account.ledger == PTS, Account.kind != "system")
                .order_by(Account.id)).scalars():
            amount = min(at_year_end.get(account.code, 0), account.balance)
            if amount > 0:
                drafts.append(Draft(ledger=PTS, debit_id=account.id, credit_id=expired.id, amount=amount,
                                    kind="expiry", occurred_on=clock.today(), doer_id=account.resident_id,
                                    memo=f"{year.key} 年度积分清零"))
        # One entry per account: each expiry stands, or is reversed, on its own.
        posted = legs(uow.post(*([d] for d in drafts)))
        uow.audit("expiry", f"year:{year.key}",
                  {"accounts": len(posted), "points": sum(t.amount for t in posted)})
    return posted
