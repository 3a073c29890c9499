"""Entries: the transfers of one event, contiguous in the chain, under the number of the first."""
from __future__ import annotations

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from ground.db import transaction
from ground.tenants import Bank
from ledger import accounts, chain
from ledger.models import CNY, PTS, Transfer
from ledger.posting import Draft, PostedEntry, legs, post
from ledger.verify import verify_bank


def _money(session, bank, clock):
    town = accounts.system_account(session, bank.id, CNY, "source:town")
    fund = accounts.system_account(session, bank.id, CNY, "fund")
    goods = accounts.system_account(session, bank.id, CNY, "fund:goods")
    return town, fund, goods


def _stored(session, bank):
    session.rollback()
    return list(session.execute(select(Transfer).where(Transfer.bank_id == bank.id)
                                .order_by(Transfer.seq)).scalars())


def test_an_entrys_legs_are_contiguous_and_named_by_the_first(session, make, clock):
    bank = make.bank()
    town, fund, goods = _money(session, bank, clock)
    today = clock.today()
    with transaction(session):
        alone, pair, empty, trio = post(
            session, bank.id,
            [Draft(CNY, town.id, fund.id, 100, "grant", today)],
            [Draft(CNY, town.id, fund.id, 200, "grant", today), Draft(CNY, town.id, goods.id, 300, "grant", today)],
            [],
            [Draft(CNY, town.id, fund.id, 1, "grant", today)] * 3,
            by="test", clock=clock)
    assert isinstance(pair, PostedEntry)
    assert (alone.seq, pair.seq, empty.seq, trio.seq) == (1, 2, None, 4)
    assert [leg.amount for leg in pair] == [200, 300] and len(trio) == 3 and list(empty) == []
    assert [t.id for t in legs([alone, pair, empty, trio])] == [t.id for t in _stored(session, bank)]
    assert [(t.seq, t.entry_seq) for t in _stored(session, bank)] == [(1, 1), (2, 2), (3, 2), (4, 4),
                                                                     (5, 4), (6, 4)]
    assert verify_bank(session, session.get(Bank, bank.id)).ok


def test_a_one_leg_entry_hashes_as_before_entries_and_a_later_leg_hashes_its_entry(session, make, clock):
    bank = make.bank()
    town, fund, goods = _money(session, bank, clock)
    today = clock.today()
    with transaction(session):
        post(session, bank.id, [Draft(CNY, town.id, fund.id, 5, "grant", today)],
             [Draft(CNY, town.id, fund.id, 6, "grant", today), Draft(CNY, town.id, goods.id, 7, "grant", today)],
             by="test", clock=clock)
    first, second, third = _stored(session, bank)

    def values(t):
        return [getattr(t, c) for c in chain.CHAINED_COLUMNS]

    # The first leg of an entry (and so every transfer from before entries) encodes as it always did.
    assert first.hash == chain.link(first.prev_hash, values(first))
    assert second.hash == chain.link(second.prev_hash, values(second))
    # A later leg's hash covers the entry it belongs to.
    assert third.hash == chain.link(third.prev_hash, [*values(third), 2])
    assert third.hash != chain.link(third.prev_hash, values(third))


def _drop_guards(conn):
    if conn.dialect.name == "sqlite":
        conn.execute(text("DROP TRIGGER transfers_no_update"))
    else:
        conn.execute(text("ALTER TABLE transfers DISABLE TRIGGER transfers_no_update"))


def _restore_guards(conn):
    if conn.dialect.name != "sqlite":
        conn.execute(text("ALTER TABLE transfers ENABLE TRIGGER transfers_no_update"))


@pytest.mark.parametrize("tamper", [
    "UPDATE transfers SET entry_seq = 1 WHERE seq = 3",   # a leg moved into an earlier entry
    "UPDATE transfers SET entry_seq = 3 WHERE seq = 3",   # a leg split off its entry
])
def test_verify_names_a_leg_moved_between_entries(app, session, make, clock, tamper):
    bank = make.bank()
    town, fund, goods = _money(session, bank, clock)
    today = clock.today()
    with transaction(session):
        post(session, bank.id, [Draft(CNY, town.id, fund.id, 5, "grant", today)],
             [Draft(CNY, town.id, fund.id, 6, "grant", today), Draft(CNY, town.id, goods.id, 7, "grant", today)],
             by="test", clock=clock)
    with app.extensions["zongzhi.engine"].begin() as conn:
        _drop_guards(conn)
        conn.execute(text(tamper))
        _restore_guards(conn)
    report = verify_bank(session, session.get(Bank, bank.id))
    assert not report.ok and report.first_bad_seq == 3
    problems = {p["problem"] for p in report.problems}
    assert "hash_mismatch" in problems
    if "entry_seq = 1" in tamper:
        assert "broken_entry" in problems


@pytest.mark.parametrize("entry_seq", [0, 2])
def test_the_database_refuses_a_leg_naming_no_entry_or_one_after_it(app, session, make, clock, entry_seq):
    bank = make.bank()
    mine = accounts.resident_account(session, make.resident(bank))
    issued = accounts.system_account(session, bank.id, PTS, "issued")
    session.commit()
    row = dict(bank_id=bank.id, seq=1, ledger=PTS, amount=1, kind="deed", occurred_on=clock.today(),
               recorded_at=clock.now(), recorded_by="raw", prev_hash="0" * 64, hash="1" * 64,
               debit_id=issued.id, credit_id=mine.id)
    engine = app.extensions["zongzhi.engine"]
    with pytest.raises(IntegrityError, match="ck_transfers_entry_seq"):
        with engine.begin() as conn:
            conn.execute(insert(Transfer.__table__), {**row, "entry_seq": entry_seq})
    with engine.begin() as conn:
        conn.execute(insert(Transfer.__table__), {**row, "entry_seq": 1})


def test_a_teams_deed_is_one_entry_per_resident(session, make, clock):
    bank = make.bank()
    team = [make.resident(bank, name=n) for n in ("张三", "李四", "王五")]
    outcome = make.deed(bank, "patrol", team, quantity=2)
    assert [(t.seq, t.entry_seq) for t in _stored(session, bank)] == [(1, 1), (2, 2), (3, 3)]
    assert len(outcome.transfers) == 3
