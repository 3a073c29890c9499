"""Fixtures the reports' tests share."""
from datetime import date

import pytest

from ledger import deeds

from .helpers import RARE_NAMES, deed


@pytest.fixture
def september(session, make):
    """A bank with September's deeds: a patrol team, a cleanup, a hidden-ish mediation, a penalty."""
    bank = make.bank()
    home = make.household(bank, code="H001", name="王家")
    other = make.household(bank, code="H002", name="李家")
    people = [make.resident(bank, name=n, household=home if i < 2 else other) for i, n in enumerate(RARE_NAMES)]
    zhang = make.resident(bank, name="张三", household=other)
    deed(session, bank, "patrol", people[:3], date(2026, 9, 5), make.clock, quantity=2)
    deed(session, bank, "cleanup", [people[3]], date(2026, 9, 6), make.clock)
    deed(session, bank, "litter", [zhang], date(2026, 9, 7), make.clock)
    pending = deed(session, bank, "mediation", [zhang], date(2026, 9, 8), make.clock).pending[0]
    deeds.decide_pending(session, bank, pending.id, approve=True, reason=None, by="rev",
                         clock=make.clock)
    deed(session, bank, "patrol", [zhang], date(2026, 10, 2), make.clock)  # October: not on September's notice
    return bank, people, zhang
