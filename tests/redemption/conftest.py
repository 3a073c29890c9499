"""The desk's fixtures: a village whose redemption window is open on the tests' day (15 October)."""
from __future__ import annotations

import functools

import pytest

from redemption import services

from ..conftest import RULES

#: The shared rules, with the October window running 1-20 October, so the desk is open today.
DESK_RULES = RULES.replace("  account_unit: person\n", """  account_unit: person
  point_value_fen: 10
  coverage_warning_percent: 120
  cycle:
    redemption_months: [1, 4, 7, 10]
    redemption_days: 20
""")
HOUSEHOLD_DESK_RULES = DESK_RULES.replace("account_unit: person", "account_unit: household")


class Desk:
    """A bank with people, points, money in the fund and goods on the shelf."""

    def __init__(self, make, session, clock, rules=DESK_RULES):
        self.make, self.session, self.clock = make, session, clock
        self.bank = make.bank(rules=rules)
        self.east = make.household(self.bank, "E01", "王家")
        self.wang = make.resident(self.bank, "王大", self.east)
        self.wang2 = make.resident(self.bank, "王二", self.east)
        self.li = make.resident(self.bank, "李四")

    # Users are made on first use: each password hash (scrypt) costs a noticeable moment.
    @functools.cached_property
    def clerk(self):
        return self.make.token(self.bank, "clerk")

    @functools.cached_property
    def desk(self):
        return self.make.token(self.bank, "desk")

    @functools.cached_property
    def reviewer(self):
        return self.make.token(self.bank, "reviewer")

    @functools.cached_property
    def supervisor(self):
        return self.make.token(self.bank, "supervisor")

    def points(self, resident, amount: int):
        """Give a resident `amount` points (a multiple of 3) through the clean-up rule."""
        assert amount % 3 == 0
        return self.make.deed(self.bank, "cleanup", [resident], quantity=amount // 3)

    def money(self, fen: int, *, source="town", restriction=None, donor=None):
        return services.record_receipt(self.session, self.bank, source=source, donor=donor,
                                       received_on=self.clock.today(), amount_fen=fen,
                                       restriction=restriction, memo=None, by="test", clock=self.clock)

    def item(self, sku="rice", name="大米 5kg", points=30, cost_fen=2500, stock=10, limit=None):
        services.create_item(self.session, self.bank, sku=sku, name=name, points=points,
                             cost_fen=cost_fen, limit_per_window=limit, by="test", clock=self.clock)
        if stock:
            services.stock_in(self.session, self.bank, sku, quantity=stock, source="purchase",
                              cost_fen=None, donor=None, by="test", clock=self.clock)
        return services.get_item(self.session, self.bank, sku, fresh=True)

    def redeem(self, client, resident, items, headers=None, key=None):
        extra = {"Idempotency-Key": key} if key else {}
        return client.post(f"/api/v1/banks/{self.bank.code}/redemptions",
                           json={"resident": resident.id,
                                 "items": [{"sku": s, "quantity": q} for s, q in items]},
                           headers={**(headers or self.desk), **extra})

    def balance(self, resident) -> int:
        from ledger.reading import account_summary

        self.session.rollback()
        return account_summary(self.session, self.bank, resident.id, clock=self.clock)["balance"]

    def stock(self, sku="rice") -> int:
        self.session.rollback()
        return services.get_item(self.session, self.bank, sku, fresh=True).stock


@pytest.fixture
def desk(make, session, clock):
    return Desk(make, session, clock)


@pytest.fixture
def household_desk(make, session, clock):
    return Desk(make, session, clock, rules=HOUSEHOLD_DESK_RULES)


def csrf_token(client, path: str) -> str:
    """Return the CSRF token of the form a page serves, as a browser would post it back."""
    import re

    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, make, bank, role: str, name: str) -> None:
    """Create a user and sign them in through the real form (with its CSRF token)."""
    make.user(bank, role, name=name)
    answer = client.post("/login", data={"name": name, "password": "correct horse battery",
                                         "csrf_token": csrf_token(client, "/login")})
    assert answer.status_code == 302, answer.get_data(as_text=True)
