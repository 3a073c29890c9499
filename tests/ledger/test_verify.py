"""Verify catches tampering done behind the database's back."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from ground.tenants import Bank
from ledger.verify import verify_bank
from redemption.services import fund
from zongzhi.cli import main


def _drop_guards(conn):
    if conn.dialect.name == "sqlite":
        conn.execute(text("DROP TRIGGER transfers_no_update"))
        conn.execute(text("DROP TRIGGER transfers_no_delete"))
    else:
        # For this transaction only: the guards stay on for every test after this one.
        conn.execute(text("SET LOCAL session_replication_role = replica"))


@pytest.fixture
def ledger_with_five(make, session):
    bank = make.bank()
    people = [make.resident(bank, name=n) for n in ("张三", "李四")]
    for _ in range(5):
        make.deed(bank, "cleanup", people[:1])
    return bank


@pytest.mark.parametrize("tamper, problem", [
    ("UPDATE transfers SET amount = amount + 10 WHERE seq = 3", "hash_mismatch"),
    ("UPDATE transfers SET memo = '改过' WHERE seq = 3", "hash_mismatch"),
    ("UPDATE transfers SET hash = 'ab' || substr(hash, 3) WHERE seq = 3", "broken_link"),
    ("DELETE FROM transfers WHERE seq = 3", "sequence_gap"),
])
def test_verify_names_the_first_transfer_that_was_tampered_with(app, session, ledger_with_five,
                                                                tamper, problem):
    engine = app.extensions["zongzhi.engine"]
    with engine.begin() as conn:
        _drop_guards(conn)
        conn.execute(text(tamper))
    report = verify_bank(session, session.get(Bank, ledger_with_five.id))
    assert not report.ok
    assert report.first_bad_seq == 3
    assert problem in {p["problem"] for p in report.problems}


def test_verify_catches_a_balance_edited_without_a_transfer(app, session, ledger_with_five):
    with app.extensions["zongzhi.engine"].begin() as conn:
        conn.execute(text("UPDATE accounts SET balance = balance + 100 WHERE kind = 'resident'"))
    report = verify_bank(session, session.get(Bank, ledger_with_five.id))
    kinds = {p["problem"] for p in report.problems}
    assert not report.ok
    assert {"balance_mismatch", "unbalanced_ledger"} <= kinds


def test_verify_command_exits_1_naming_the_bad_seq(app, session, ledger_with_five, database_url,
                                                   monkeypatch):
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", database_url)
    runner = CliRunner()
    ok = runner.invoke(main, ["verify", "hp"])
    assert ok.exit_code == 0, ok.output
    assert "OK, 5 transfers" in ok.output
    with app.extensions["zongzhi.engine"].begin() as conn:
        _drop_guards(conn)
        conn.execute(text("UPDATE transfers SET amount = 1 WHERE seq = 4"))
    broken = runner.invoke(main, ["verify", "hp"])
    assert broken.exit_code == 1
    assert "seq 4" in broken.output


def test_verify_endpoint_reports_ok_and_head(client, make, session, ledger_with_five):
    headers = make.token(ledger_with_five, "supervisor")
    answer = client.get("/api/v1/banks/hp/verify", headers=headers)
    assert answer.status_code == 200
    body = answer.get_json()
    bank = session.get(Bank, ledger_with_five.id)
    session.refresh(bank)
    assert body["ok"] is True and body["transfers"] == 5 and body["problems"] == []
    assert body["head"] == bank.head_hash


@pytest.fixture
def without_balance_checks(app):
    """Let a bad balance be planted: the database refuses one since migration 0009, but a
    database written before it (or by hand, behind its back) may hold one, and verify must say so.
    On SQLite the triggers go with the test's own copy of the database; on PostgreSQL the checks
    are dropped from the run's shared database and put back afterwards, validated as the
    migration leaves them, once the planted rows are gone (the next test empties the tables
    anyway; replica mode lets them go without their transfers)."""
    checks = {"ck_accounts_balance_range": "balance BETWEEN -9007199254740991 AND 9007199254740991",
              "ck_accounts_fund_floor": "ledger <> 'CNY' OR code NOT IN ('fund', 'fund:goods', "
                                        "'fund:projects') OR balance >= 0"}
    engine = app.extensions["zongzhi.engine"]
    with engine.begin() as conn:
        for name in checks:
            if conn.dialect.name == "sqlite":
                conn.execute(text(f"DROP TRIGGER {name}_update"))
            else:
                conn.execute(text(f"ALTER TABLE accounts DROP CONSTRAINT {name}"))
    yield engine
    if engine.dialect.name != "sqlite":
        engine.dispose()
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for name, condition in checks.items():
                conn.execute(text(f"DELETE FROM accounts WHERE NOT ({condition})"))
                conn.execute(text(f"ALTER TABLE accounts ADD CONSTRAINT {name} CHECK ({condition})"))


@pytest.mark.parametrize("planted, problem", [
    ("1.8e19", "balance_not_integer"),
    ("'12 points'", "balance_not_integer"),
    ("9007199254740992", "balance_out_of_range"),
    ("-9223372036854775808", "balance_out_of_range"),
])
def test_verify_names_an_account_whose_balance_is_not_an_integer_or_out_of_range(
        session, ledger_with_five, without_balance_checks, planted, problem):
    if without_balance_checks.dialect.name != "sqlite" and problem == "balance_not_integer":
        pytest.skip("PostgreSQL's bigint holds integers only")
    with without_balance_checks.begin() as conn:
        conn.execute(text(f"UPDATE accounts SET balance = {planted} WHERE code = 'issued'"))
    report = verify_bank(session, session.get(Bank, ledger_with_five.id))
    assert not report.ok
    [found] = [p for p in report.problems if p["problem"] == problem]
    assert (found["account"], found["ledger"], found["recomputed"]) == ("issued", "PTS", -15)
    # Added up in integers: no float in the report, and no total made of a guess.
    assert not any(isinstance(v, float) for p in report.problems for v in p.values())
    if problem == "balance_not_integer":
        assert "unbalanced_ledger" not in {p["problem"] for p in report.problems}



def test_verify_names_a_fund_cash_account_below_zero(session, make, clock, without_balance_checks):
    bank = make.bank()
    fund.record_receipt(session, bank, source="town", donor=None, received_on=clock.today(),
                        amount_fen=500, restriction="goods", memo=None, by="test", clock=clock)
    with without_balance_checks.begin() as conn:
        conn.execute(text("UPDATE accounts SET balance = -100 WHERE code = 'fund:goods'"))
    report = verify_bank(session, session.get(Bank, bank.id))
    [found] = [p for p in report.problems if p["problem"] == "fund_below_zero"]
    assert (found["account"], found["stored"], found["recomputed"]) == ("fund:goods", -100, 500)


def test_verify_names_the_accounts_of_a_transfer_amount_that_is_not_an_integer(
        app, session, ledger_with_five):
    engine = app.extensions["zongzhi.engine"]
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's bigint holds integers only")
    with engine.begin() as conn:
        _drop_guards(conn)
        conn.execute(text("UPDATE transfers SET amount = 2.5 WHERE seq = 3"))
    report = verify_bank(session, session.get(Bank, ledger_with_five.id))
    assert report.first_bad_seq == 3
    assert sorted(p["account"] for p in report.problems if p["problem"] == "amount_not_integer") == [
        "issued", "resident:1"]
    assert not any(isinstance(v, float) for p in report.problems for v in p.values())


# --- a rewritten chain, every link recomputed: the heads frozen papers carry ---------------------

def _rewrite_from(engine, bank_id: int, seq: int) -> None:
    """Change transfer `seq`'s amount, move its two balances to match, and recompute every link
    from it on and the bank's head: what someone covering their tracks would do. Only the heads
    written down elsewhere (notices, registers, seals) still remember the chain as it was."""
    from ledger.chain import CHAINED_COLUMNS, chained, link

    columns = ", ".join(CHAINED_COLUMNS)
    with engine.begin() as conn:
        _drop_guards(conn)
        where = {"bank": bank_id, "seq": seq}
        conn.execute(text("UPDATE transfers SET amount = amount + 1 WHERE bank_id = :bank AND seq = :seq"), where)
        debit, credit = conn.execute(text("SELECT debit_id, credit_id FROM transfers "
                                          "WHERE bank_id = :bank AND seq = :seq"), where).one()
        conn.execute(text("UPDATE accounts SET balance = balance - 1 WHERE id = :id"), {"id": debit})
        conn.execute(text("UPDATE accounts SET balance = balance + 1 WHERE id = :id"), {"id": credit})
        prev = conn.execute(text("SELECT hash FROM transfers WHERE bank_id = :bank AND seq = :seq"),
                            {"bank": bank_id, "seq": seq - 1}).scalar_one()
        rows = conn.execute(text(f"SELECT {columns}, entry_seq, id FROM transfers "
                                 "WHERE bank_id = :bank AND seq >= :seq ORDER BY seq"), where).all()
        for row in rows:
            values = tuple(row[:len(CHAINED_COLUMNS)])
            new = link(prev, chained(values, row[-2]))
            conn.execute(text("UPDATE transfers SET prev_hash = :prev, hash = :hash WHERE id = :id"),
                         {"prev": prev, "hash": new, "id": row[-1]})
            prev = new
        conn.execute(text("UPDATE banks SET head_hash = :hash WHERE id = :bank"), {"hash": prev, "bank": bank_id})


@pytest.fixture
def frozen_along_the_way(make, session, clock):
    """Seven transfers: a day register frozen after the 2nd, September's notice and seal after
    the 5th."""
    from ledger import periods
    from reports import services as reports

    bank = make.bank()
    wang = make.resident(bank, name="王大")
    for _ in range(2):
        make.deed(bank, "cleanup", [wang], occurred_on=clock.today().replace(day=14))
    reports.close_day(session, bank, "2026-10-14", by="test", clock=clock)
    for _ in range(3):
        make.deed(bank, "cleanup", [wang])
    reports.publish_notice(session, bank, "2026-09", by="test", clock=clock)
    periods.seal_month(session, bank.id, "2026-09", by="test", clock=clock)
    session.commit()
    for _ in range(2):
        make.deed(bank, "cleanup", [wang])
    return bank


def test_a_chain_rewritten_link_by_link_is_caught_by_the_heads_its_notice_and_seal_carry(
        app, session, frozen_along_the_way):
    bank = session.get(Bank, frozen_along_the_way.id)
    assert verify_bank(session, bank).ok
    _rewrite_from(app.extensions["zongzhi.engine"], bank.id, 3)
    session.rollback()
    report = verify_bank(session, session.get(Bank, bank.id))
    found = {p["problem"] for p in report.problems}
    # Every link and balance was made to match: only the recorded heads give it away.
    assert not found & {"hash_mismatch", "broken_link", "balance_mismatch", "head_mismatch"}
    assert not report.ok and found == {"recorded_head_mismatch"}
    named = {(p.get("notice"), p.get("seal"), p["recorded_seq"], p["seq"]) for p in report.problems}
    # The day register frozen at seq 2 still holds: the rewrite lies in 3..5.
    assert named == {("2026-09", None, 5, 3), (None, "2026-09", 5, 3)}
    assert report.first_bad_seq == 3
    assert any("2026-09 的公示记下的链头（第 5 号）与现在的流水不符：第 3 至 5 号流水被改写过" == p["message"]
               for p in report.problems)


def test_the_verify_command_and_endpoint_both_name_a_rewritten_chain(
        app, client, make, session, frozen_along_the_way, database_url, monkeypatch):
    _rewrite_from(app.extensions["zongzhi.engine"], frozen_along_the_way.id, 3)
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", database_url)
    broken = CliRunner().invoke(main, ["verify", "hp"])
    assert broken.exit_code == 1 and "BROKEN at transfer seq 3" in broken.output
    assert "recorded_head_mismatch" in broken.output
    body = client.get("/api/v1/banks/hp/verify", headers=make.token(frozen_along_the_way, "supervisor")).get_json()
    assert body["ok"] is False and body["first_bad_seq"] == 3
    assert {p["problem"] for p in body["problems"]} == {"recorded_head_mismatch"}


def test_a_recorded_head_beyond_the_chain_is_named_when_transfers_are_cut_off(
        app, session, frozen_along_the_way):
    with app.extensions["zongzhi.engine"].begin() as conn:
        _drop_guards(conn)
        conn.execute(text("DELETE FROM transfers WHERE seq >= 5"))
        conn.execute(text("UPDATE banks SET head_seq = 4, head_hash = "
                          "(SELECT hash FROM transfers WHERE seq = 4)"))
    session.rollback()
    report = verify_bank(session, session.get(Bank, frozen_along_the_way.id))
    missing = [p for p in report.problems if p["problem"] == "recorded_head_missing"]
    assert {(p.get("notice"), p.get("seal"), p["recorded_seq"]) for p in missing} == {
        ("2026-09", None, 5), (None, "2026-09", 5)}
