"""Export a bank's ledger: CSV for spreadsheets, a beancount journal that proves its balances."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterator, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import sheets
from ground.store import snapshot
from .models import CNY, PTS, Account, Resident, Transfer
from ground.tenants import Bank

CSV_COLUMNS = ("seq", "id", "ledger", "occurred_on", "recorded_at", "recorded_by", "kind",
               "debit", "credit", "amount", "rule", "rule_version", "resident", "resident_name",
               "memo", "reverses", "hash", "prev_hash")

#: Beancount names of the accounts every bank opens with, by (ledger, code).
BEANCOUNT_ACCOUNTS = {
    (PTS, "issued"): "Equity:Points:Issued",
    (PTS, "penalties"): "Income:Points:Penalties",
    (PTS, "redeemed"): "Income:Points:Redeemed",
    (PTS, "expired"): "Income:Points:Expired",
    (CNY, "fund"): "Assets:Fund:Unrestricted",
    (CNY, "fund:goods"): "Assets:Fund:Goods",
    (CNY, "fund:projects"): "Assets:Fund:Projects",
    (CNY, "source:town"): "Income:Fund:Town",
    (CNY, "source:village"): "Income:Fund:Village",
    (CNY, "source:sponsor"): "Income:Fund:Sponsor",
    (CNY, "source:donor"): "Income:Fund:Donor",
    (CNY, "stock:goods"): "Assets:Fund:Stock",
    (CNY, "spent:goods"): "Expenses:Fund:Goods",
    (CNY, "spent:projects"): "Expenses:Fund:Projects",
}

_HOLDER = re.compile(r"^(resident|household):([0-9]+)$")
_BATCH = 5000


@dataclass(frozen=True)
class _Account:
    id: int
    ledger: str
    code: str
    name: str
    balance: int


def write_csv(session: Session, bank: Bank, out: TextIO) -> int:
    """Write every transfer of the bank to `out` as CSV in seq order; return how many.

    The file starts with a UTF-8 byte order mark so that Excel on a village laptop reads the
    Chinese names and memos correctly; read it back with encoding "utf-8-sig". Amounts are
    integers as the ledger keeps them: points on PTS, fen on CNY. Text that a spreadsheet
    would take for a formula (a memo "=HYPERLINK(...)") is written behind a quote (`ledger.sheets`).
    """
    with snapshot(session):
        head, accounts = _snapshot(session, bank)
        codes = {a.id: a.code for a in accounts}
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        count = 0
        for t in _transfers(session, bank, head):
            writer.writerow(sheets.row((
                t.seq, t.id, t.ledger, t.occurred_on.isoformat(), _iso(t.recorded_at),
                t.recorded_by, t.kind, codes[t.debit_id], codes[t.credit_id], t.amount,
                _blank(t.rule_code), _blank(t.rule_version), _blank(t.doer_id),
                _blank(t.resident_name), _blank(t.memo), _blank(t.reverses_id), t.hash, t.prev_hash,
            )))
            count += 1
    return count


def write_beancount(session: Session, bank: Bank, out: TextIO) -> int:
    """Write the bank's ledger to `out` as a beancount journal; return how many transfers."""
    with snapshot(session):
        head, accounts = _snapshot(session, bank)
        first = session.execute(select(func.min(Transfer.occurred_on)).where(
            Transfer.bank_id == bank.id, Transfer.seq <= head)).scalar()
        opened = _utc_date(bank.created_at)
        if first is not None and first < opened:
            opened = first
        names = _beancount_names(accounts)
        out.write(f"option \"title\" {_string(bank.name)}\n")
        out.write("option \"operating_currency\" \"CNY\"\n\n")
        out.write(f"{opened} commodity PTS\n  name: \"积分\"\n")
        out.write(f"{opened} commodity CNY\n  name: \"人民币\"\n\n")
        for a in accounts:
            out.write(f"{opened} open {names[a.id]} {a.ledger}\n"
                      f"  name: {_string(a.name)}\n  code: {_string(a.code)}\n")
        out.write("\n")
        latest, count = opened, 0
        for t in _transfers(session, bank, head):
            out.write(_transaction(t, names))
            latest = max(latest, t.occurred_on)
            count += 1
        # Balances hold at the start of their day, so the day after the last entry covers all.
        # Each asserts the stored column: bean-check itself proves the ledger adds up.
        checked_on = latest + timedelta(days=1)
        for a in accounts:
            # Exactly, not within beancount's inferred tolerance (which would forgive one fen).
            tolerance = " ~ 0.00" if a.ledger == CNY else ""
            out.write(f"{checked_on} balance {names[a.id]} "
                      f"{_units(a.ledger, a.balance)}{tolerance} {a.ledger}\n")
    return count


def _beancount_names(accounts) -> dict[int, str]:
    """Return a valid, unique beancount account name for each account, by account id."""
    names: dict[int, str] = {}
    taken: set[str] = set()
    for a in accounts:
        name = _beancount_name(a.ledger, a.code, a.id)
        if name in taken:
            name = f"{name}-{a.id}"
        taken.add(name)
        names[a.id] = name
    return names


def _beancount_name(ledger: str, code: str, account_id: int) -> str:
    if (ledger, code) in BEANCOUNT_ACCOUNTS:
        return BEANCOUNT_ACCOUNTS[ledger, code]
    holder = _HOLDER.match(code)
    if ledger == PTS and holder:
        kind, number = holder.groups()
        return f"Liabilities:Points:{kind.capitalize()}:{kind[0].upper()}{number}"
    # One flat component, so that no fallback can become another account's parent (a balance
    # assertion on a parent account counts its children too).
    slug = re.sub(r"[^A-Za-z0-9]+", "-", code).strip("-") or f"A{account_id}"
    slug = slug[0].upper() + slug[1:]
    return f"Equity:Other:{ledger}:{slug}"


def _transaction(t, names: dict[int, str]) -> str:
    narration = t.kind + (f" {t.rule_code}" if t.rule_code else "") + (f": {t.memo}" if t.memo else "")
    payee = f"{_string(t.resident_name)} " if t.resident_name else ""
    lines = [f"{t.occurred_on} * {payee}{_string(narration)}",
             f"  seq: {t.seq}", f"  id: {t.id}", f"  hash: \"{t.hash}\""]
    if t.rule_code:
        lines.append(f"  rule: {_string(t.rule_code)}")
        if t.rule_version is not None:
            lines.append(f"  rule_version: {t.rule_version}")
    if t.doer_id is not None:
        lines.append(f"  resident: {t.doer_id}")
    if t.reverses_id is not None:
        lines.append(f"  reverses: {t.reverses_id}")
    lines.append(f"  {names[t.debit_id]} {_units(t.ledger, -t.amount)} {t.ledger}")
    lines.append(f"  {names[t.credit_id]} {_units(t.ledger, t.amount)} {t.ledger}")
    return "\n".join(lines) + "\n\n"


def _units(ledger: str, amount: int) -> str:
    """Points as they are; fen as yuan with two exact decimals (1250 -> 12.50)."""
    if ledger != CNY:
        return str(amount)
    yuan, fen = divmod(abs(amount), 100)
    return f"{'-' if amount < 0 else ''}{yuan}.{fen:02d}"


_ESCAPES = {"\\": "\\\\", "\"": "\\\"", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r"[\\\"\n\r\t]")


def _string(text: str | None) -> str:
    # Beancount unescapes these C-style, so a memo comes back exactly and stays on one line.
    return "\"" + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group()], text or "") + "\""


def _snapshot(session: Session, bank: Bank) -> tuple[int, list[_Account]]:
    # The chain head and the balances come from one statement, hence one snapshot even under
    # READ COMMITTED; posting moves both in one transaction, so the transfers up to that head
    # (which are never updated or deleted) are exactly the ones those balances count.
    rows = session.execute(
        select(Account.id, Account.ledger, Account.code, Account.name, Account.balance, Bank.head_seq)
        .join(Bank, Bank.id == Account.bank_id).where(Account.bank_id == bank.id)
        .order_by(Account.id)).all()
    if not rows:
        return session.execute(select(Bank.head_seq).where(Bank.id == bank.id)).scalar_one(), []
    return rows[0].head_seq, [_Account(r.id, r.ledger, r.code, r.name, r.balance) for r in rows]


def _transfers(session: Session, bank: Bank, head: int) -> Iterator:
    stmt = (select(Transfer.seq, Transfer.id, Transfer.ledger, Transfer.occurred_on,
                   Transfer.recorded_at, Transfer.recorded_by, Transfer.kind, Transfer.debit_id,
                   Transfer.credit_id, Transfer.amount, Transfer.rule_code, Transfer.rule_version,
                   Transfer.doer_id, Resident.name.label("resident_name"), Transfer.memo,
                   Transfer.reverses_id, Transfer.hash, Transfer.prev_hash)
            .outerjoin(Resident, Resident.id == Transfer.doer_id)
            .where(Transfer.bank_id == bank.id, Transfer.seq <= head).order_by(Transfer.seq))
    # Rows stream from the driver in batches: a million transfers never become a million objects.
    yield from session.connection().execute(
        stmt.execution_options(stream_results=True, yield_per=_BATCH))


def _utc_date(moment: datetime) -> date:
    if moment.utcoffset() is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.date()


def _iso(moment: datetime) -> str:
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def _blank(value) -> object:
    return "" if value is None else value
