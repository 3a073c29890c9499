"""Verify: recompute a bank's hash chain, sequence and balances, and name what does not match."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import String, bindparam, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.orm import Session

from . import chain
from ground.i18n import _
from ground.store import Prepared, snapshot
from .models import BALANCE_LIMIT, CNY, FUND_CASH, Account, Transfer
from .periods import PeriodSeal
from ground.tenants import GENESIS_HASH, Bank


class _Canonical(FunctionElement):
    """A date or time column as the text its canonical encoding holds (see `chain._plain`).

    SQLite stores exactly that text already. PostgreSQL formats it while it reads, on its own
    core, instead of the verifier parsing a date object and formatting it back, row by row.
    """

    type = String()
    inherit_cache = True


@compiles(_Canonical)
def _stored_text(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(_Canonical, "postgresql")
def _formatted_on_postgresql(element, compiler, **kw):
    [column] = element.clauses
    if _python_type(column) is datetime:
        return f"to_char({compiler.process(column, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    return f"to_char({compiler.process(column, **kw)}, 'YYYY-MM-DD')"


def _chained(name: str):
    column = getattr(Transfer.__table__.c, name)
    return _Canonical(column).label(name) if _python_type(column) in (date, datetime) else column


def _python_type(column):
    # A decorated type (the timestamps' UTCDateTime) answers for what it stores.
    return getattr(column.type, "impl", column.type).python_type


_COLUMNS = [_chained(c) for c in chain.CHAINED_COLUMNS]
_ACCOUNTS = Account.__table__
_ACCOUNTS_OF_BANK = Prepared(select(_ACCOUNTS.c.id, _ACCOUNTS.c.ledger, _ACCOUNTS.c.code,
                                    _ACCOUNTS.c.balance)
                             .where(_ACCOUNTS.c.bank_id == bindparam("bank")))
_TRANSFERS_IN_ORDER = Prepared(
    select(*_COLUMNS, Transfer.__table__.c.entry_seq, Transfer.__table__.c.prev_hash,
           Transfer.__table__.c.hash)
    .where(Transfer.__table__.c.bank_id == bindparam("bank")).order_by(Transfer.__table__.c.seq))


@dataclass
class Report:
    ok: bool = True
    transfers: int = 0
    head: str = GENESIS_HASH
    problems: list[dict] = field(default_factory=list)

    def add(self, problem: str, message, **where) -> None:
        self.ok = False
        self.problems.append({"problem": problem, "message": message, **where})

    @property
    def first_bad_seq(self) -> int | None:
        seqs = [p["seq"] for p in self.problems if "seq" in p]
        return min(seqs) if seqs else None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "transfers": self.transfers, "head": self.head,
                "first_bad_seq": self.first_bad_seq, "problems": self.problems}


@dataclass(frozen=True)
class RecordedHead:
    """A chain head written down when something was frozen: a month's seal, a notice."""

    #: What recorded it, as a message ("2026-10 的公示").
    what: object
    seq: int
    hash: str
    #: Where it is, for the problem it may become: {"seal": "2026-10"}, {"notice": "2026-10"}.
    where: dict


#: What else records the chain's head, beyond the ledger's own seals: each a function
#: (session, bank_id) -> [RecordedHead], declared by a wing (reports: its frozen notices and
#: registers) and installed by zongzhi.plugins.
RECORDED_HEADS: list = []


def verify_bank(session: Session, bank: Bank, *, batch: int = 5000) -> Report:
    """Walk the bank's transfers in sequence, checking each link and entry, then every balance,
    then every chain head recorded when something was frozen (`RecordedHead`).

    It all reads one snapshot, so a bank being posted to meanwhile verifies as it stood.
    """
    with snapshot(session):
        return _verify(session, bank.id, batch)


def recorded_heads(session: Session, bank_id: int) -> list[RecordedHead]:
    """Every chain head the bank's seals, and what `RECORDED_HEADS` adds, wrote down."""
    seals = session.execute(select(PeriodSeal.month, PeriodSeal.head_seq, PeriodSeal.head_hash)
                            .where(PeriodSeal.bank_id == bank_id)).all()
    heads = [RecordedHead(_("%(month)s 的封账", month=month), seq, hash_, {"seal": month})
             for month, seq, hash_ in seals]
    for more in RECORDED_HEADS:
        heads.extend(more(session, bank_id))
    return heads


def _check_recorded(report: Report, heads: list[RecordedHead], hashes: dict[int, str]) -> None:
    """Compare each recorded head with the chain's hash at its seq now (`hashes`, seq 0 the
    genesis). A paper notice carries its head, so one that no longer matches means the chain
    was rewritten, even if every link was recomputed to match: the rewrite lies after the last
    recorded head that still holds, and the problem names that first seq that may differ."""
    holding = sorted(h.seq for h in heads if hashes.get(h.seq) == h.hash)
    for head in sorted(heads, key=lambda h: h.seq):
        if hashes.get(head.seq) == head.hash:
            continue
        since = max((s for s in holding if s < head.seq), default=0)
        if head.seq not in hashes:
            report.add("recorded_head_missing",
                       _("%(what)s记下的链头第 %(seq)s 号流水已不存在", what=head.what, seq=head.seq),
                       seq=since + 1, recorded_seq=head.seq, **head.where)
        else:
            report.add("recorded_head_mismatch",
                       _("%(what)s记下的链头（第 %(seq)s 号）与现在的流水不符：第 %(first)s 至 %(seq)s 号流水被改写过",
                         what=head.what, seq=head.seq, first=since + 1),
                       seq=since + 1, recorded_seq=head.seq, **head.where)


def _verify(session: Session, bank_id: int, batch: int) -> Report:
    report = Report()
    heads = recorded_heads(session, bank_id)
    wanted = {h.seq for h in heads}
    seen: dict[int, str] = {0: GENESIS_HASH}
    head_seq, head_hash = session.execute(
        select(Bank.head_seq, Bank.head_hash).where(Bank.id == bank_id)).one()
    sums: dict[int, int] = defaultdict(int)
    expected_seq, prev, count, entry = 1, GENESIS_HASH, 0, None
    # Rows stream straight from the driver, as plain tuples: verifying a million transfers must
    # not build a million objects, and the hash input is the stored value exactly as the
    # database holds it (on SQLite, dates are the stored text, which is their canonical form).
    rows = _TRANSFERS_IN_ORDER.stream(session, {"bank": bank_id}, batch=batch)
    n_chained = len(_COLUMNS)
    link = chain.link
    for row in rows:
        values = row[:n_chained]
        seq, debit, credit, amount = values[1], values[3], values[4], values[5]
        entry_seq, stored_prev, stored_hash = row[n_chained], row[n_chained + 1], row[n_chained + 2]
        if seq != expected_seq:
            report.add("sequence_gap", _("第 %(missing)s 号流水缺失，下一条是第 %(seq)s 号", missing=expected_seq, seq=seq),
                       seq=expected_seq)
            expected_seq = seq
        if stored_prev != prev:
            report.add("broken_link", _("第 %(seq)s 号流水的前序哈希与上一条不符", seq=seq), seq=seq)
        # A leg opens its entry (entry_seq is its own seq) or continues the one just opened:
        # an entry's legs are contiguous, numbered by the first.
        if entry_seq == seq:
            entry = seq
        else:
            if entry_seq != entry:
                report.add("broken_entry", _("第 %(seq)s 号流水记在第 %(entry)s 号分录下，"
                                             "但不紧接该分录的其他流水", seq=seq, entry=entry_seq),
                           seq=seq)
            values = (*values, entry_seq)
        computed = link(stored_prev, values)
        if computed != stored_hash:
            report.add("hash_mismatch", _("第 %(seq)s 号流水的内容与其哈希不符（被改动过）", seq=seq), seq=seq)
        prev = stored_hash
        if seq in wanted:
            seen[seq] = stored_hash
        sums[debit] -= amount
        sums[credit] += amount
        expected_seq += 1
        count += 1
    report.transfers, report.head = count, prev
    if (head_seq, head_hash) != (expected_seq - 1, prev):
        report.add("head_mismatch",
                   _("银行记录的链头（第 %(head)s 号）与流水（第 %(last)s 号）不符", head=head_seq, last=expected_seq - 1),
                   seq=min(head_seq, expected_seq - 1) + 1)
    _check_recorded(report, heads, seen)
    _check_balances(report, _ACCOUNTS_OF_BANK.rows(session, {"bank": bank_id}), sums)
    for account_id in sums:
        report.add("unknown_account", _("流水引用了不属于本银行的账户 %(account)s", account=account_id), account_id=account_id)
    return report


def _check_balances(report: Report, accounts, sums: dict[int, int]) -> None:
    """Compare each stored balance with its transfers, and add each ledger up, in integers.

    A balance must be an integer within ±BALANCE_LIMIT, and the fund's cash never below zero,
    as the database now insists: one that is not (SQLite once stored an overflowing sum as the
    REAL 1.8e+19; a database older than the checks may hold such rows) is named, and the ledger
    of a balance that is no integer is not added up, for a float total would be a guess.
    Whatever is left in `sums` afterwards belongs to accounts of no row of this bank.
    """
    ledgers: dict[str, int] = {}
    unknown: set[str] = set()
    for account in accounts:
        balance, recomputed = account.balance, sums.pop(account.id, 0)
        where = dict(account=account.code, ledger=account.ledger)
        if type(recomputed) is not int:
            # Only a transfer amount that is not an integer gets here: its hash does not match.
            report.add("amount_not_integer",
                       _("账户 %(account)s（%(ledger)s）的流水中有非整数的金额", **where), **where)
            unknown.add(account.ledger)
            continue
        if type(balance) is not int:
            report.add("balance_not_integer",
                       _("账户 %(account)s（%(ledger)s）余额 %(balance)s 不是整数，按流水应为 %(recomputed)s",
                         balance=repr(balance), recomputed=recomputed, **where),
                       stored=str(balance), recomputed=recomputed, **where)
            unknown.add(account.ledger)
            continue
        if not -BALANCE_LIMIT <= balance <= BALANCE_LIMIT:
            report.add("balance_out_of_range",
                       _("账户 %(account)s（%(ledger)s）余额 %(balance)s 超出 ±(2^53−1)", balance=balance, **where),
                       stored=balance, recomputed=recomputed, **where)
        if balance < 0 and account.ledger == CNY and account.code in FUND_CASH:
            report.add("fund_below_zero",
                       _("基金现金账户 %(account)s 余额 %(balance)s，不应为负", balance=balance, account=account.code),
                       stored=balance, recomputed=recomputed, **where)
        ledgers[account.ledger] = ledgers.get(account.ledger, 0) + balance
        if balance != recomputed:
            report.add("balance_mismatch",
                       _("账户 %(account)s（%(ledger)s）余额 %(balance)s，按流水应为 %(recomputed)s",
                         balance=balance, recomputed=recomputed, **where),
                       stored=balance, recomputed=recomputed, **where)
    for ledger, total in ledgers.items():
        if total != 0 and ledger not in unknown:
            report.add("unbalanced_ledger", _("%(ledger)s 账本各账户合计为 %(total)s，应为 0", ledger=ledger, total=total), ledger=ledger)
