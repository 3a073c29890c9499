"""What the foundation's services share: the accounts its money moves between, its settings in
the rules in force, a deed's points posted inside a foundation write, and the link from an
entry (or a deed held for review) to the project or the wish it was for.

Each service writes as one unit of work (ledger.unit.UnitOfWork): its checks under the bank's
posting lock, the idempotency key replayed or its outcome remembered, the audit entry, and the
commit, or nothing at all on an error.
"""
from __future__ import annotations

from datetime import date
from typing import Sequence

from sqlalchemy.orm import Session

import rules as rulefiles
from ground.errors import CapExceeded, ValidationError
from ground.i18n import _
from ground.tenants import Bank
from ledger import accounts, banks, deeds, periods
from ledger.models import PTS, PendingDeed, Resident
from ledger.posting import Draft, PostedEntry, legs
from ledger.unit import UnitOfWork

from .models import LedgerLink

#: The CNY accounts the foundation moves money between (see the README).
RESTRICTED, UNRESTRICTED, SPENT = "fund:projects", "fund", "spent:projects"
INKIND_RECEIVED, INKIND_GIVEN = "inkind:received", "inkind:given"
DONOR_SOURCE = {"resident": "source:donor", "person": "source:sponsor", "unit": "source:sponsor"}

_PERIODS = {"day": _("当天"), "week": _("本周"), "month": _("本月"), "year": _("本年")}


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


def post_points(uow: UnitOfWork, rule_code: str, residents: Sequence[Resident], *, quantity: int,
                occurred_on: date, memo: str | None) -> tuple[list[PostedEntry], list[PendingDeed]]:
    """Credit each resident a rule's deed inside this unit of work, as the ledger's deed service
    would: one entry per resident, or deeds held for a reviewer when the rule asks for review.

    The same checks: the day may be dated, the rule applies on it, no cap is passed, and the
    deed attachments registered with the ledger may refuse it.
    """
    session, bank, clock = uow.session, uow.bank, uow.clock
    version, book = banks.rulebook(session, bank.id)
    periods.check_dated(session, bank.id, occurred_on, today=clock.today(),
                        backdate_days=book.settings.cycle.backdate_days)
    if not book.knows(rule_code):
        raise ValidationError({"rule": [_("未知规则 %(code)s", code=rule_code)]})
    rule = book.rule_for(rule_code, occurred_on)
    if rule is None:
        raise ValidationError({"rule": [_("规则 %(code)s 在 %(day)s 不适用", code=rule_code,
                                          day=occurred_on.isoformat())]})
    points = rulefiles.deed_points(rule, quantity)
    _check_caps(session, bank, residents, rule, points, occurred_on)
    if rule.review:
        pending = [PendingDeed(bank_id=bank.id, resident_id=r.id, rule_code=rule.code,
                               rule_version=version.version, quantity=quantity, points=points,
                               occurred_on=occurred_on, memo=memo, submitted_by=uow.by,
                               submitted_at=clock.now()) for r in residents]
        session.add_all(pending)
        session.flush()
        entries = []
    else:
        unit = book.settings.account_unit
        system = accounts.system_account(session, bank.id, PTS, "issued" if points > 0 else "penalties")
        drafts = []
        for resident in residents:
            own = accounts.points_account(session, resident, unit)
            debit, credit = (system.id, own.id) if points > 0 else (own.id, system.id)
            drafts.append(Draft(ledger=PTS, debit_id=debit, credit_id=credit, amount=abs(points),
                                kind="deed" if points > 0 else "penalty", occurred_on=occurred_on,
                                rule_code=rule.code, rule_version=version.version,
                                doer_id=resident.id, memo=memo))
        entries, pending = uow.post(*([d] for d in drafts)), []
    outcome = deeds.DeedOutcome(legs(entries), pending)
    for hook in deeds.DEED_ATTACHMENTS.values():
        hook.attach(session, bank, rule, None, outcome)
    uow.audit("deed_pending" if pending else ("penalty" if points < 0 else "deed"), f"rule:{rule.code}",
              {"residents": [r.id for r in residents], "quantity": quantity, "points": points,
               "occurred_on": occurred_on, "transfers": [t.id for t in outcome.transfers],
               "pending": [p.id for p in pending]})
    return entries, pending


def _check_caps(session: Session, bank: Bank, residents, rule, points: int, occurred_on: date) -> None:
    if not rule.caps:
        return
    earned = deeds.earned_under_rule(session, bank.id, [r.id for r in residents], rule,
                                               occurred_on)
    for resident in residents:
        breach = rulefiles.cap_breach(rule, points, earned[resident.id])
        if breach:
            period, remaining = breach
            raise CapExceeded(
                _("%(name)s「%(rule)s」%(period)s上限 %(cap)s 分，还可得 %(left)s 分，本次 %(points)s 分超出上限",
                  name=resident.name, rule=rule.name, period=_PERIODS[period],
                  cap=rule.caps[period], left=remaining, points=points),
                fields={"residents": [f"{resident.id}: remaining {remaining} ({period})"]})
