"""The database refuses what must never be: balances beyond their range or not integers, stock
below zero, the fund's cash below zero. Whoever writes (a service, `post`, hand-written SQL),
and the API answers the refusal as a 4xx, writing nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from ledger import accounts
from ground.audit import AuditEntry
from ground.db import transaction
from ground.errors import InsufficientFunds, OutOfStock, ValidationError
from ledger.models import BALANCE_LIMIT, CNY, PTS, Account, Transfer
from ground.tenants import Bank
from ledger.posting import Draft, post
from ledger.verify import verify_bank
from redemption.services import catalog
from redemption.services import fund as the_fund

from ..redemption.conftest import DESK_RULES

HUGE = 1_800_000_000_000_000_000


def _written(session) -> tuple:
    """What the database holds that a refused write must not have changed."""
    session.rollback()
    return (session.execute(select(func.count()).select_from(Transfer)).scalar(),
            session.execute(select(func.count()).select_from(AuditEntry)).scalar(),
            sorted(session.execute(select(Account.id, Account.balance)).all()))


def _balance(session, bank, ledger, code):
    session.rollback()
    return session.execute(select(Account.balance).where(
        Account.bank_id == bank.id, Account.ledger == ledger, Account.code == code)).scalar_one()


# --- a balance is an integer within ±(2^53 − 1) -----------------------------------------------

def test_two_penalties_that_would_overflow_a_balance_are_refused_naming_the_quantity(session, make):
    # Seen: on SQLite the second one turned the balance into the REAL 1.8e19 and broke the bank
    # for ever; on PostgreSQL it answered 500. A balance must stay a safe integer either way.
    bank = make.bank()
    zhang = make.resident(bank)
    make.deed(bank, "cleanup", [zhang])
    before = _written(session)
    for _ in range(2):
        with pytest.raises(ValidationError) as refused:
            make.deed(bank, "litter", [zhang], quantity=HUGE)
        assert "quantity" in refused.value.fields
    assert _written(session) == before
    assert verify_bank(session, session.get(Bank, bank.id)).ok


def test_a_deed_whose_points_do_not_fit_in_64_bits_is_refused_naming_the_quantity(session, make):
    # 3 × 10^19 is beyond PostgreSQL's bigint (22003) and beyond what SQLite's driver can bind.
    bank = make.bank()
    zhang = make.resident(bank)
    before = _written(session)
    with pytest.raises(ValidationError) as refused:
        make.deed(bank, "cleanup", [zhang], quantity=10 ** 19)
    assert "quantity" in refused.value.fields
    assert _written(session) == before


def test_a_penalty_of_1800000000000000000_over_the_api_answers_422_twice_and_writes_nothing(
        client, session, make):
    bank = make.bank()
    zhang = make.resident(bank)
    headers = make.token(bank)
    before = _written(session)
    for _ in range(2):
        answer = client.post("/api/v1/banks/hp/deeds", headers=headers, json={
            "rule": "litter", "residents": [zhang.id], "quantity": HUGE, "occurred_on": "2026-10-15"})
        assert answer.status_code == 422, answer.get_json()
        assert "quantity" in answer.get_json()["fields"]
    assert _written(session) == before
    assert client.get(f"/api/v1/banks/hp/residents/{zhang.id}/account",
                      headers=headers).get_json()["balance"] == 0


def test_a_balance_may_reach_the_limit_but_posting_beyond_it_is_refused(session, make, clock):
    bank = make.bank()
    zhang = make.resident(bank)
    issued = accounts.system_account(session, bank.id, PTS, "issued")
    mine = accounts.resident_account(session, zhang)
    session.commit()

    def give(amount):
        with transaction(session):
            post(session, bank.id, [Draft(PTS, issued.id, mine.id, amount, "deed", clock.today(),
                                          doer_id=zhang.id)], by="test", clock=clock)

    give(BALANCE_LIMIT)
    with pytest.raises(ValidationError) as refused:
        give(1)
    assert "amount" in refused.value.fields
    assert _balance(session, bank, PTS, mine.code) == BALANCE_LIMIT
    assert _balance(session, bank, PTS, "issued") == -BALANCE_LIMIT
    assert verify_bank(session, session.get(Bank, bank.id)).ok


@pytest.mark.parametrize("value", [str(BALANCE_LIMIT + 1), str(-BALANCE_LIMIT - 1), "1.8e19",
                                   "1.5", "'abc'", "9223372036854775807"])
def test_the_database_refuses_a_balance_out_of_range_or_not_an_integer_from_raw_sql(
        app, session, make, value):
    engine = app.extensions["zongzhi.engine"]
    if value == "1.5" and engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL's bigint rounds 1.5 to 2 as it stores it: it never holds a fraction")
    bank = make.bank()
    zhang = accounts.resident_account(session, make.resident(bank))
    session.commit()
    with pytest.raises(DatabaseError):
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE accounts SET balance = {value} WHERE id = :id"), {"id": zhang.id})
    with pytest.raises(DatabaseError):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO accounts (bank_id, ledger, code, name, kind, balance) "
                              f"VALUES (:bank, 'PTS', 'raw', '', 'resident', {value})"), {"bank": bank.id})
    with engine.connect() as conn:
        assert conn.execute(text("SELECT balance FROM accounts WHERE id = :id"),
                            {"id": zhang.id}).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM accounts WHERE code = 'raw'")).scalar() == 0


# --- stock never below zero -------------------------------------------------------------------

@pytest.fixture
def shop(make, session, clock):
    """A desk with money in the fund and ten bags of rice on the shelf."""
    bank = make.bank(rules=DESK_RULES)
    the_fund.record_receipt(session, bank, source="town", donor=None, received_on=clock.today(),
                                 amount_fen=50_000, restriction=None, memo=None, by="test", clock=clock)
    catalog.create_item(session, bank, sku="rice", name="大米", points=30, cost_fen=2500,
                              limit_per_window=None, by="test", clock=clock)
    catalog.stock_in(session, bank, "rice", quantity=10, source="purchase", cost_fen=None,
                           donor=None, by="test", clock=clock)
    return bank


@pytest.mark.parametrize("column", ["stock", "stock_value_fen"])
def test_the_database_refuses_stock_below_zero_from_raw_sql(app, session, shop, column):
    engine = app.extensions["zongzhi.engine"]
    with pytest.raises(DatabaseError):
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE catalog_items SET {column} = -1"))
    assert (catalog.get_item(session, shop, "rice", fresh=True).stock,
            catalog.get_item(session, shop, "rice", fresh=True).stock_value_fen) == (10, 25_000)


def test_a_write_that_would_take_stock_below_zero_answers_out_of_stock_and_writes_nothing(
        session, shop, clock):
    # A service that forgot its check: the database still refuses, and the refusal is the API's.
    before = _written(session)
    with pytest.raises(OutOfStock):
        with transaction(session):
            item = catalog.get_item(session, shop, "rice", fresh=True)
            item.stock -= 11
    assert _written(session) == before
    assert catalog.get_item(session, shop, "rice", fresh=True).stock == 10


# --- the fund's cash never below zero ---------------------------------------------------------

@pytest.mark.parametrize("code", ["fund", "fund:goods", "fund:projects"])
def test_the_database_refuses_a_fund_cash_account_below_zero_from_raw_sql(app, session, make, code):
    bank = make.bank()
    engine = app.extensions["zongzhi.engine"]
    with pytest.raises(DatabaseError):
        with engine.begin() as conn:
            conn.execute(text("UPDATE accounts SET balance = -1 WHERE bank_id = :bank AND ledger = 'CNY' "
                              "AND code = :code"), {"bank": bank.id, "code": code})
    assert _balance(session, bank, CNY, code) == 0


def test_money_the_fund_gives_out_comes_from_its_sources_which_may_go_below_zero(session, shop):
    # The sign convention: a receipt moves money from source:town (debit, below zero) into the
    # fund (credit, above zero). Only the fund's cash accounts have a floor.
    assert _balance(session, shop, CNY, "source:town") == -50_000
    assert _balance(session, shop, CNY, "fund") == 25_000


def test_posting_more_than_the_fund_holds_is_refused_as_insufficient_funds(session, shop, clock):
    spent = accounts.system_account(session, shop.id, CNY, "spent:projects")
    fund = accounts.system_account(session, shop.id, CNY, "fund")
    session.commit()
    before = _written(session)
    with pytest.raises(InsufficientFunds):
        with transaction(session):
            post(session, shop.id, [Draft(CNY, fund.id, spent.id, 25_001, "project_spend",
                                          clock.today())], by="test", clock=clock)
    assert _written(session) == before


def _receipt_then_spend_it(session, make, clock):
    bank = make.bank(rules=DESK_RULES)
    receipt = the_fund.record_receipt(
        session, bank, source="town", donor=None, received_on=clock.today(), amount_fen=5_000,
        restriction=None, memo=None, by="test", clock=clock)
    catalog.create_item(session, bank, sku="soap", name="肥皂", points=5, cost_fen=500,
                              limit_per_window=None, by="test", clock=clock)
    catalog.stock_in(session, bank, "soap", quantity=6, source="purchase", cost_fen=None,
                           donor=None, by="test", clock=clock)
    return bank, receipt


def test_reversing_a_fund_receipt_after_the_money_was_spent_answers_409_and_writes_nothing(
        client, session, make, clock):
    bank, receipt = _receipt_then_spend_it(session, make, clock)
    headers = make.token(bank)
    before = _written(session)
    answer = client.post(f"/api/v1/banks/hp/transfers/{receipt.transfer_id}/reverse",
                         json={"reason": "录错了"}, headers={**headers, "Accept-Language": "en"})
    assert (answer.status_code, answer.get_json()["error"]) == (409, "insufficient_funds")
    assert "fund" in answer.get_json()["message"]
    assert _written(session) == before
    assert _balance(session, bank, CNY, "fund") == 2_000


def test_reversing_money_into_the_fund_of_any_kind_never_takes_it_below_zero(
        client, session, make, clock):
    # No wing's Undo knows this kind (a grant from the village, say): the database does.
    bank, _ = _receipt_then_spend_it(session, make, clock)
    fund = accounts.system_account(session, bank.id, CNY, "fund")
    village = accounts.system_account(session, bank.id, CNY, "source:village")
    with transaction(session):
        [[returned]] = post(session, bank.id, [Draft(CNY, village.id, fund.id, 1_000, "grant",
                                                   clock.today())], by="test", clock=clock)
    with transaction(session):
        post(session, bank.id, [Draft(CNY, fund.id, village.id, 3_000, "project_tranche",
                                      clock.today())], by="test", clock=clock)
    headers = make.token(bank)
    before = _written(session)
    answer = client.post(f"/api/v1/banks/hp/transfers/{returned.id}/reverse",
                         json={"reason": "录错了"}, headers=headers)
    assert (answer.status_code, answer.get_json()["error"]) == (409, "insufficient_funds")
    assert _written(session) == before
    assert _balance(session, bank, CNY, "fund") == 0
    assert verify_bank(session, session.get(Bank, bank.id)).ok
