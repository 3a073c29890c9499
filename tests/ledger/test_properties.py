"""Property tests: random days at two banks' offices, and every invariant of the ledger after
each step.

Deeds, penalties, reversals (of anything, twice, of a reversal, of the other bank's entries),
redemptions, receipts, purchases and gifts in kind, in any order Hypothesis finds. After every
step, in every bank: each ledger sums to zero, each balance is the sum of its transfers, stock
and the fund's cash never go below zero, no redemption overdraws, and `verify` passes. A step
the services refuse must write nothing at all.

Each example opens two fresh banks in the test's database (a new database per example would
cost more than the example). The banks of earlier examples stay, unread: an example sees only
its own two, so that replaying it (as Hypothesis does to shrink a failure) meets what it met the
first time. The database is read once per step, on a connection of its own, and that one
reading serves every invariant and the next step's "before".
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, initialize, invariant, multiple,
                                 rule, run_state_machine_as_test)
from sqlalchemy import func, select

from ledger import deeds, reversals
from ground.errors import ConflictError, NotFound
from ledger.models import CNY, FUND_CASH, PTS, Account, Transfer
from ground.tenants import Bank
from ledger.verify import verify_bank
from redemption.services import books, catalog, fund, redeeming
from redemption.models import CatalogItem, Redemption, StockMovement

from ..redemption.conftest import DESK_RULES

SETTINGS = settings(max_examples=25, stateful_step_count=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow], print_blob=True)
#: What each rule of DESK_RULES is worth per unit (mediation waits for a reviewer: nothing moves).
POINTS = {"cleanup": 3, "patrol": 2, "litter": -5, "mediation": 0}
#: The desk's goods: (sku, points, cost in fen, limit per window).
GOODS = (("rice", 10, 500, None), ("oil", 6, 300, 2))
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Seen:
    """The whole database as the invariants look at it, in a handful of reads."""

    heads: dict        # bank id -> (head seq, head hash)
    accounts: dict     # account id -> (bank id, ledger, code, balance)
    moved: dict        # account id -> what its transfers add up to
    chained: dict      # bank id -> how many transfers it holds
    items: dict        # (bank id, sku) -> (item id, stock, stock value)
    stock_moved: dict  # item id -> (quantity, value) its stock movements add up to
    overdrawn: list    # redemptions that left a balance below zero

    @classmethod
    def read(cls, conn, banks: list[int]) -> "Seen":
        moved: dict[int, int] = {}
        chained: dict[int, int] = {}
        for bank, debit, credit, amount, count in conn.execute(
                select(Transfer.bank_id, Transfer.debit_id, Transfer.credit_id,
                       func.sum(Transfer.amount), func.count())
                .where(Transfer.bank_id.in_(banks))
                .group_by(Transfer.bank_id, Transfer.debit_id, Transfer.credit_id)):
            moved[debit] = moved.get(debit, 0) - int(amount)
            moved[credit] = moved.get(credit, 0) + int(amount)
            chained[bank] = chained.get(bank, 0) + count
        seen = cls(
            heads={bank: (seq, head) for bank, seq, head in conn.execute(
                select(Bank.id, Bank.head_seq, Bank.head_hash).where(Bank.id.in_(banks)))},
            accounts={account: tuple(rest) for account, *rest in conn.execute(
                select(Account.id, Account.bank_id, Account.ledger, Account.code, Account.balance)
                .where(Account.bank_id.in_(banks)))},
            moved=moved,
            chained=chained,
            items={(bank, sku): (item, stock, value) for item, bank, sku, stock, value in conn.execute(
                select(CatalogItem.id, CatalogItem.bank_id, CatalogItem.sku, CatalogItem.stock,
                       CatalogItem.stock_value_fen).where(CatalogItem.bank_id.in_(banks)))},
            stock_moved={item: (int(q), int(v)) for item, q, v in conn.execute(
                select(StockMovement.item_id, func.sum(StockMovement.quantity),
                       func.sum(StockMovement.value_fen)).where(StockMovement.bank_id.in_(banks))
                .group_by(StockMovement.item_id))},
            overdrawn=conn.execute(select(Redemption.id).where(
                Redemption.bank_id.in_(banks), Redemption.balance_after < 0)).all())
        conn.rollback()  # end the read: the next one sees what was written meanwhile
        return seen

    def balance(self, bank_id: int, ledger: str, code: str) -> int:
        return next((balance for bank, lg, c, balance in self.accounts.values()
                     if (bank, lg, c) == (bank_id, ledger, code)), 0)

    def cash(self, bank_id: int) -> int:
        return sum(self.balance(bank_id, CNY, code) for code in FUND_CASH)

    def stock(self, bank_id: int, sku: str) -> int:
        return self.items[bank_id, sku][1]

    def of_bank(self, bank_id: int) -> tuple:
        """All that `verify` reads of a bank: while it stays the same, so does its report."""
        return (self.heads[bank_id], self.chained.get(bank_id, 0),
                sorted((a, row) for a, row in self.accounts.items() if row[0] == bank_id))

    def written(self) -> tuple:
        """What a refused write must leave as it was."""
        return self.heads, self.accounts, self.items


class Office:
    """One bank of the example: its residents and what the desk sells."""

    def __init__(self, make, session, clock):
        self.bank = make.bank(code=f"prop{next(_numbers)}", rules=DESK_RULES)
        self.residents = [make.resident(self.bank, name) for name in ("王大", "李四")]
        for sku, points, cost, limit in GOODS:
            catalog.create_item(session, self.bank, sku=sku, name=sku, points=points, cost_fen=cost,
                             limit_per_window=limit, by="test", clock=clock)


class TwoBanks(RuleBasedStateMachine):
    transfers = Bundle("transfers")

    def __init__(self, session, make, clock, reader):
        super().__init__()
        self.session, self.clock, self.reader = session, clock, reader
        self.offices = [Office(make, session, clock), Office(make, session, clock)]
        self._seen: Seen | None = None
        self._verified: dict[int, tuple] = {}

    # --- steps ----------------------------------------------------------------------------------

    @initialize(target=transfers, money=st.integers(5000, 10_000), stock=st.integers(3, 6),
                quantity=st.integers(5, 20))
    def opening_day(self, money, stock, quantity):
        """The first bank opens with money in the fund, goods on the shelf and points earned,
        so that redemptions and reversals of spent money come within a few steps; the second
        opens with nothing, so that every floor is met from zero."""
        bank = self.offices[0].bank
        posted = [self.receipt(0, money, None)]
        for sku, *_ in GOODS:
            posted += self.stock_in(0, next(g for g in GOODS if g[0] == sku), stock, False, 0).values
        outcome = deeds.post_deed(
            self.session, bank, rule_code="cleanup", resident_ids=[r.id for r in self.offices[0].residents],
            quantity=quantity, occurred_on=self.clock.today(), memo=None, by="test", clock=self.clock)
        self._seen = None
        return multiple(*posted, *[(0, t.id) for t in outcome.transfers])

    @rule(target=transfers, b=st.integers(0, 1), who=st.integers(0, 1),
          rule_code=st.sampled_from(sorted(POINTS)), quantity=st.integers(1, 8))
    def deed(self, b, who, rule_code, quantity):
        bank, resident = self.offices[b].bank, self.offices[b].residents[who]
        account = f"resident:{resident.id}"
        before = self._now().balance(bank.id, PTS, account)
        outcome = self._attempt(lambda: deeds.post_deed(
            self.session, bank, rule_code=rule_code, resident_ids=[resident.id],
            quantity=quantity, occurred_on=self.clock.today(), memo=None, by="test", clock=self.clock))
        if outcome is None:
            return multiple()
        assert self._now().balance(bank.id, PTS, account) == before + POINTS[rule_code] * quantity
        return multiple(*[(b, t.id) for t in outcome.transfers])

    @rule(target=transfers, b=st.integers(0, 1), picked=transfers,
          reason=st.sampled_from(["录错了", "重复"]))
    def reverse(self, b, picked, reason):
        bank = self.offices[b].bank
        owner, transfer_id = picked
        head = self._now().heads[bank.id][0]
        if owner != b:
            # Another bank's entry is unknown here: 404, never a way in.
            assert self._attempt(lambda: reversals.reverse_transfer(
                self.session, bank, transfer_id, reason=reason, by="test", clock=self.clock),
                refusal=NotFound) is None
            return multiple()
        reversal = self._attempt(lambda: reversals.reverse_transfer(
            self.session, bank, transfer_id, reason=reason, by="test", clock=self.clock))
        if reversal is None:
            return multiple()
        # Each new entry mirrors the one it reverses (a linked partner may come along).
        original, mirror = Transfer.__table__, Transfer.__table__.alias()
        new = self.reader.execute(
            select(mirror.c.id, original.c.bank_id,
                   (original.c.debit_id == mirror.c.credit_id) & (original.c.credit_id == mirror.c.debit_id)
                   & (original.c.amount == mirror.c.amount))
            .join(original, original.c.id == mirror.c.reverses_id)
            .where(mirror.c.bank_id == bank.id, mirror.c.seq > head)).all()
        self.reader.rollback()
        assert reversal.id in [t for t, _, _ in new]
        assert len(new) == self._now().heads[bank.id][0] - head
        assert all(owner == bank.id and mirrors for _, owner, mirrors in new)
        return multiple(*[(b, t) for t, _, _ in new])

    @rule(target=transfers, b=st.integers(0, 1), who=st.integers(0, 1),
          good=st.sampled_from(GOODS), quantity=st.integers(1, 2))
    def redeem(self, b, who, good, quantity):
        bank, resident = self.offices[b].bank, self.offices[b].residents[who]
        sku, points = good[0], good[1]
        account = f"resident:{resident.id}"
        before = self._now()
        outcome = self._attempt(lambda: redeeming.redeem(
            self.session, bank, resident_id=resident.id, items=[(sku, quantity)], by="test",
            clock=self.clock))
        if outcome is None:
            return multiple()
        after = self._now()
        assert after.balance(bank.id, PTS, account) == before.balance(bank.id, PTS, account) - points * quantity
        assert after.balance(bank.id, PTS, account) >= 0
        assert after.stock(bank.id, sku) == before.stock(bank.id, sku) - quantity
        return multiple(*[(b, t.id) for t in outcome.transfers])

    @rule(target=transfers, b=st.integers(0, 1), amount=st.integers(100, 6000),
          restriction=st.sampled_from([None, "goods", "projects"]))
    def receipt(self, b, amount, restriction):
        bank = self.offices[b].bank
        code = books.RESTRICTED_TO[restriction]
        before = self._now().balance(bank.id, CNY, code)
        receipt = self._attempt(lambda: fund.record_receipt(
            self.session, bank, source="town", donor=None, received_on=self.clock.today(),
            amount_fen=amount, restriction=restriction, memo=None, by="test", clock=self.clock))
        assert receipt is not None, "a receipt is never refused"
        assert self._now().balance(bank.id, CNY, code) == before + amount
        return (b, receipt.transfer_id)

    @rule(target=transfers, b=st.integers(0, 1), good=st.sampled_from(GOODS),
          quantity=st.integers(1, 4), gift=st.booleans(), value=st.integers(0, 3000))
    def stock_in(self, b, good, quantity, gift, value):
        bank = self.offices[b].bank
        sku, cost = good[0], good[2]
        before = self._now()
        outcome = self._attempt(lambda: catalog.stock_in(
            self.session, bank, sku, quantity=quantity,
            source="donation" if gift else "purchase", cost_fen=value if gift else None,
            donor="村民" if gift else None, by="test", clock=self.clock))
        if outcome is None:
            return multiple()
        after = self._now()
        assert after.stock(bank.id, sku) == before.stock(bank.id, sku) + quantity
        assert after.cash(bank.id) == before.cash(bank.id) - (0 if gift else cost * quantity)
        return multiple(*[(b, t.id) for t in outcome.transfers])

    # --- what must hold after every step ---------------------------------------------------------

    @invariant()
    def every_ledger_of_every_bank_sums_to_zero(self):
        totals: dict[tuple, int] = {}
        for bank, ledger, _, balance in self._now().accounts.values():
            totals[bank, ledger] = totals.get((bank, ledger), 0) + balance
        assert {key: total for key, total in totals.items() if total} == {}

    @invariant()
    def every_balance_is_the_sum_of_its_transfers(self):
        now = self._now()
        balances = {account: row[3] for account, row in now.accounts.items()}
        assert all(type(balance) is int for balance in balances.values())
        assert ({a: b for a, b in balances.items() if b} == {a: m for a, m in now.moved.items() if m})

    @invariant()
    def no_floor_is_crossed(self):
        now = self._now()
        assert [row for row in now.accounts.values()
                if row[1] == CNY and row[2] in FUND_CASH and row[3] < 0] == []
        assert all(stock >= 0 and value >= 0 for _, stock, value in now.items.values())
        assert now.overdrawn == []

    @invariant()
    def stock_is_what_moved_and_its_value_is_on_the_ledger(self):
        now = self._now()
        on_shelf: dict[int, int] = {}
        for (bank, _), (item, stock, value) in now.items.items():
            assert (stock, value) == now.stock_moved.get(item, (0, 0))
            on_shelf[bank] = on_shelf.get(bank, 0) + value
        assert all(now.balance(bank, CNY, books.STOCK) == value for bank, value in on_shelf.items())

    @invariant()
    def verify_passes(self):
        for office in self.offices:
            # A bank the step left exactly as it was verifies as it did last time.
            seen = self._now().of_bank(office.bank.id)
            if self._verified.get(office.bank.id) != seen:
                report = verify_bank(self.session, office.bank)
                assert report.ok, report.problems
                self._verified[office.bank.id] = seen

    # --- helpers ---------------------------------------------------------------------------------

    def _attempt(self, write, *, refusal=ConflictError):
        """Run a write and return what it returned; if the services refuse it (`refusal`),
        check that nothing at all was written and return None."""
        before = self._now()
        self._seen = None
        try:
            return write()
        except refusal:
            assert self._now().written() == before.written()
            return None

    def _now(self) -> Seen:
        """The database as it is now, read once between two writes."""
        if self._seen is None:
            self._seen = Seen.read(self.reader, [office.bank.id for office in self.offices])
        return self._seen


@pytest.mark.slow
def test_random_days_at_two_banks_keep_every_invariant(app, session, make, clock):
    with app.extensions["zongzhi.engine"].connect() as reader:
        run_state_machine_as_test(lambda: TwoBanks(session, make, clock, reader), settings=SETTINGS)
