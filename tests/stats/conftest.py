"""A month of a village's life, posted through the real services, for the figures to count."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from ledger import reversals
from ledger.models import Transfer
from reports import objections

from ..redemption.conftest import DESK_RULES, Desk


class Village(Desk):
    """Three residents, deeds in September and October, a penalty, a reversal, the fund, the desk.

    What it posts, in points: 王二 cleans up on 20 September (3); in October 王大 patrols 3 hours
    (6) and cleans up 10 times (30), 李四 patrols 3 hours (6, later reversed) and drops litter
    (penalty 5); 王大 redeems a bag of rice (30). The fund receives ¥1,000.00 and buys 10 bags at
    ¥25.00. One objection is filed against October.
    """

    def __init__(self, make, session, clock, code="hp", name="和平村综治银行"):
        self.make, self.session, self.clock = make, session, clock
        self.bank = make.bank(code=code, name=name, rules=DESK_RULES)
        self.east = make.household(self.bank, "E01", "王家")
        self.wang = make.resident(self.bank, "王大", self.east)
        self.wang2 = make.resident(self.bank, "王二", self.east)
        self.li = make.resident(self.bank, "李四")

    def live_a_month(self, client) -> None:
        make, bank = self.make, self.bank
        make.deed(bank, "cleanup", [self.wang2], occurred_on=date(2026, 9, 20))
        make.deed(bank, "patrol", [self.wang, self.li], quantity=3)
        make.deed(bank, "cleanup", [self.wang], quantity=10)
        make.deed(bank, "litter", [self.li])
        patrol = self.session.execute(select(Transfer).where(
            Transfer.bank_id == bank.id, Transfer.doer_id == self.li.id,
            Transfer.rule_code == "patrol")).scalar_one()
        reversals.reverse_transfer(self.session, bank, patrol.id, reason="登记错了", by="test", clock=self.clock)
        self.money(100_000)
        self.item(stock=10)
        answer = self.redeem(client, self.wang, [("rice", 1)])
        assert answer.status_code == 201, answer.get_json()
        objections.file_objection(self.session, bank, resident_id=self.li.id, transfer_id=None,
                                  month="2026-10", text="漏登了一次巡逻", filed_by="test", clock=self.clock)


@pytest.fixture
def village(make, session, clock, client):
    v = Village(make, session, clock)
    v.live_a_month(client)
    return v
