"""Posting: append-only transfers, the hash chain, balances in step, concurrency."""
from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DatabaseError, IntegrityError

from ledger import accounts, banks, chain, deeds
from ledger.models import CNY, PTS, Account, Transfer
from ground.tenants import Bank
from ledger.posting import Draft, post
from ledger.verify import verify_bank


def _issue(session, bank, resident, amount, clock):
    issued = accounts.system_account(session, bank.id, PTS, "issued")
    account = accounts.resident_account(session, resident)
    [[t]] = post(session, bank.id, [Draft(PTS, issued.id, account.id, amount, "deed", clock.today(),
                                        doer_id=resident.id)], by="test", clock=clock)
    session.commit()
    return t


def test_posting_moves_both_balances_and_they_sum_to_zero(session, make, clock):
    bank = make.bank()
    zhang = make.resident(bank)
    _issue(session, bank, zhang, 7, clock)
    _issue(session, bank, zhang, 5, clock)
    balances = dict(session.execute(select(Account.code, Account.balance).where(
        Account.bank_id == bank.id, Account.ledger == PTS)).all())
    assert balances[f"resident:{zhang.id}"] == 12
    assert balances["issued"] == -12
    assert sum(balances.values()) == 0


def test_each_transfer_links_to_the_previous_hash_with_contiguous_seq(session, make, clock):
    bank = make.bank()
    zhang = make.resident(bank)
    first = _issue(session, bank, zhang, 1, clock)
    second = _issue(session, bank, zhang, 2, clock)
    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_hash == first.hash
    values = [getattr(second, c) for c in chain.CHAINED_COLUMNS]
    assert second.hash == chain.link(first.hash, values)
    session.refresh(bank)
    assert (bank.head_seq, bank.head_hash) == (2, second.hash)


@pytest.mark.parametrize("amount", [0, -3, 1.5, True, "4"])
def test_posting_refuses_an_amount_that_is_not_a_positive_integer(session, make, clock, amount):
    bank = make.bank()
    zhang = make.resident(bank)
    with pytest.raises(ValueError):
        _issue(session, bank, zhang, amount, clock)
    session.rollback()
    assert session.execute(select(Transfer)).first() is None


def test_posting_refuses_an_account_of_another_bank(session, make, clock):
    bank, other = make.bank("a"), make.bank("b")
    theirs = accounts.resident_account(session, make.resident(other))
    session.commit()
    issued = accounts.system_account(session, bank.id, PTS, "issued")
    with pytest.raises(IntegrityError, match="its own bank and ledger"):
        post(session, bank.id, [Draft(PTS, issued.id, theirs.id, 1, "deed", clock.today())],
             by="test", clock=clock)
    session.rollback()
    assert session.execute(select(Transfer)).first() is None


def test_the_database_refuses_a_transfer_across_banks_or_ledgers_from_raw_sql(app, session, make, clock):
    bank, other = make.bank("a"), make.bank("b")
    mine = accounts.resident_account(session, make.resident(bank))
    theirs = accounts.resident_account(session, make.resident(other))
    issued = accounts.system_account(session, bank.id, PTS, "issued")
    fund = accounts.system_account(session, bank.id, CNY, "fund")
    session.commit()
    row = dict(bank_id=bank.id, seq=1, ledger=PTS, amount=1, kind="deed", occurred_on=clock.today(),
               recorded_at=clock.now(), recorded_by="raw", entry_seq=1, prev_hash="0" * 64, hash="1" * 64)
    engine = app.extensions["zongzhi.engine"]
    for debit, credit, amount in [(issued.id, theirs.id, 1), (fund.id, mine.id, 1),
                                  (issued.id, issued.id, 1), (issued.id, mine.id, 0)]:
        with pytest.raises(IntegrityError, match="its own bank and ledger"):
            with engine.begin() as conn:
                conn.execute(insert(Transfer.__table__),
                             {**row, "debit_id": debit, "credit_id": credit, "amount": amount})
    with engine.begin() as conn:
        conn.execute(insert(Transfer.__table__), {**row, "debit_id": issued.id, "credit_id": mine.id})
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM transfers")).scalar() == 1


@pytest.mark.parametrize("statement", [
    "UPDATE transfers SET amount = 999",
    "UPDATE transfers SET memo = 'edited'",
    "DELETE FROM transfers",
])
def test_the_database_refuses_to_change_or_remove_a_transfer(app, session, make, clock, statement):
    bank = make.bank()
    _issue(session, bank, make.resident(bank), 3, clock)
    engine = app.extensions["zongzhi.engine"]
    with pytest.raises(DatabaseError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT amount, memo FROM transfers")).all() == [(3, None)]


def test_postgres_refuses_truncating_transfers(app, session, make, clock):
    engine = app.extensions["zongzhi.engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    bank = make.bank()
    _issue(session, bank, make.resident(bank), 3, clock)
    with pytest.raises(DatabaseError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE transfers CASCADE"))


def test_concurrent_posting_never_forks_or_gaps_the_chain(app, make, clock):
    """Several threads, each with its own connection, post deeds to one bank at once."""
    session = app.extensions["zongzhi.sessions"]()
    bank = make.bank()
    people = [make.resident(bank, name=f"巡逻员{i}") for i in range(4)]
    threads_n, per_thread = 6, 10
    errors = []

    def worker(n):
        s = app.extensions["zongzhi.sessions"]()
        try:
            b = s.get(Bank, bank.id)
            for i in range(per_thread):
                deeds.post_deed(s, b, rule_code="cleanup", resident_ids=[people[(n + i) % 4].id],
                                quantity=1, occurred_on=clock.today(), memo=f"t{n}-{i}",
                                by=f"worker{n}", clock=clock)
        except Exception as exc:  # collected, so the test can report it
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total = threads_n * per_thread
    seqs = session.execute(select(Transfer.seq).where(Transfer.bank_id == bank.id)
                           .order_by(Transfer.seq)).scalars().all()
    assert seqs == list(range(1, total + 1))
    report = verify_bank(session, session.get(Bank, bank.id))
    assert report.ok, report.problems
    earned = session.execute(select(Account.balance).where(
        Account.bank_id == bank.id, Account.kind == "resident")).scalars().all()
    assert sum(earned) == total * 3
    session.close()


def test_on_postgresql_a_deed_into_one_bank_never_waits_on_another_banks_posting(app, make, clock):
    """Bank A's posting is held open under its lock: a deed into bank B goes through at once,
    while a second deed into bank A waits for the first to end."""
    if app.extensions["zongzhi.engine"].dialect.name != "postgresql":
        pytest.skip("SQLite has one writer for the whole database: its group commit queues them")
    from ledger.unit import UnitOfWork

    a, b = make.bank("hp", "和平村综治银行"), make.bank("dz", "大庄村综治银行")
    zhang, li = make.resident(a, name="张三"), make.resident(b, name="李四")
    wang = make.resident(a, name="王五")
    sessions = app.extensions["zongzhi.sessions"]
    holding, release = threading.Event(), threading.Event()
    done: dict[str, float] = {}

    def hold_a():
        with sessions() as s, UnitOfWork(s, s.get(Bank, a.id), by="a-clerk", clock=clock):
            holding.set()
            release.wait(30)

    def deed(name, bank_id, resident_id):
        with sessions() as s:
            deeds.post_deed(s, s.get(Bank, bank_id), rule_code="cleanup", resident_ids=[resident_id],
                            quantity=1, occurred_on=clock.today(), memo=None, by=name, clock=clock)
        done[name] = time.monotonic()

    holder = threading.Thread(target=hold_a)
    holder.start()
    assert holding.wait(10)
    into_b = threading.Thread(target=deed, args=("b", b.id, li.id))
    into_a = threading.Thread(target=deed, args=("a", a.id, wang.id))
    into_a.start()
    into_b.start()
    into_b.join(10)
    assert "b" in done, "a deed into bank B waited on bank A's lock"
    time.sleep(0.5)
    assert "a" not in done, "a second deed into bank A did not wait for the first's lock"
    released = time.monotonic()
    release.set()
    holder.join(10)
    into_a.join(10)
    assert done["a"] >= released
    with sessions() as s:
        assert [accounts.resident_account(s, r).balance for r in (zhang, li, wang)] == [0, 3, 3]


def test_a_deed_records_the_rule_version_it_was_posted_under(session, make, clock):
    from tests.conftest import RULES

    bank = make.bank()
    zhang = make.resident(bank)
    [before] = make.deed(bank, "cleanup", [zhang]).transfers
    new = banks.load_rules(session, bank, RULES.replace("points: 3", "points: 4"),
                           source_name="v2.yaml", by="test", clock=clock)
    [after] = make.deed(bank, "cleanup", [zhang]).transfers
    assert (before.rule_version, before.amount) == (1, 3)
    assert (after.rule_version, after.amount) == (new.version, 4) == (2, 4)
    session.expire_all()
    assert session.get(Transfer, before.id).amount == 3


def test_loading_the_same_rules_again_adds_no_version(session, make, clock):
    from tests.conftest import RULES

    bank = make.bank()
    again = banks.load_rules(session, bank, RULES, source_name="same.yaml", by="t", clock=clock)
    assert again.version == 1


def test_verify_on_an_empty_bank_is_ok(session, make):
    report = verify_bank(session, make.bank())
    assert report.ok and report.transfers == 0


def test_deed_dated_today_is_allowed_and_tomorrow_is_not(session, make, clock):
    from ground.errors import ValidationError

    bank = make.bank()
    zhang = make.resident(bank)
    assert make.deed(bank, "cleanup", [zhang], occurred_on=clock.today()).posted
    with pytest.raises(ValidationError) as err:
        make.deed(bank, "cleanup", [zhang], occurred_on=date(2026, 10, 16))
    assert "occurred_on" in err.value.fields
