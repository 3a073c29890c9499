"""Keeping the monthly figures in step with the transfers, and checking that they are.

One set of statements says what a run of transfers adds to the figures: grouped by the month
the transfers are dated in, each classed by the accounts it moves between (points from `issued`
to a resident or household are earned, from a holder to `penalties` a penalty, to `redeemed`
a redemption, and a reversal counts back). `catch_up`, run by the daily close, adds a bank's
transfers since the last seq counted and moves that mark; posting does nothing more. `tail` runs
the same selects, read-only, over the transfers after the mark (at most a day's), so the figures
read are always current; `check` runs them over the whole ledger and names every figure that the
kept rows and the tail together do not give.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import BigInteger, Integer, and_, bindparam, case, cast, extract, func, literal_column, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ground.i18n import _
from ground.store import Prepared, connection_of, pipelined, snapshot
from ledger.models import CNY, FUND_CASH, PTS, Account, Transfer
from ground.tenants import Bank

from .models import CountedUpTo, MonthFigures, ResidentMonthFigures, RuleMonthFigures

#: What can honour the points outstanding: the unrestricted fund, goods-only money and goods
#: already on the shelf at cost (as the fund's own page counts it).
BACKING = ("fund", "fund:goods", "stock:goods")
HOLDERS = ("resident", "household")

_T = Transfer.__table__
_DEBIT = Account.__table__.alias("debit_account")
_CREDIT = Account.__table__.alias("credit_account")
_MONTHS = MonthFigures.__table__
_RULES = RuleMonthFigures.__table__
_RESIDENTS = ResidentMonthFigures.__table__
_PROGRESS = CountedUpTo.__table__
_BANKS = Bank.__table__

#: The month a transfer is dated in, as YYYYMM.
_MONTH = cast(extract("year", _T.c.occurred_on) * 100 + extract("month", _T.c.occurred_on), Integer)


def _one_of(column, values):
    # Constants written into the statement: it is compiled once and run on the driver, which
    # takes no lists (see ground.store.Prepared). The values are this module's own names.
    return or_(*(column == literal_column(f"'{value}'") for value in values))


def _holder(account):
    return _one_of(account.c.kind, HOLDERS)


def _system(account, codes):
    return and_(account.c.kind == literal_column("'system'"), _one_of(account.c.code, codes))


def _between_holder_and(codes, *, toward_system: bool):
    """Points moved between a holder and the system accounts `codes`, signed: + in the usual way."""
    to_system = and_(_T.c.ledger == PTS, _holder(_DEBIT), _system(_CREDIT, codes))
    from_system = and_(_T.c.ledger == PTS, _system(_DEBIT, codes), _holder(_CREDIT))
    forward, back = (to_system, from_system) if toward_system else (from_system, to_system)
    return case((forward, _T.c.amount), (back, -_T.c.amount), else_=0)


def total(expression):
    """SUM as a whole number: PostgreSQL's SUM of bigint is numeric, which the driver would hand
    over as Decimal, one conversion a value; cast, it comes as int."""
    return cast(func.sum(expression), BigInteger)


def _into(condition_debit, condition_credit):
    return case((condition_credit, _T.c.amount), else_=0) - case((condition_debit, _T.c.amount), else_=0)


EARNED = _between_holder_and(("issued",), toward_system=False)
PENALTY = _between_holder_and(("penalties",), toward_system=True)
REDEEMED = _between_holder_and(("redeemed",), toward_system=True)
HELD = _into(and_(_T.c.ledger == PTS, _holder(_DEBIT)), and_(_T.c.ledger == PTS, _holder(_CREDIT)))
CASH = _into(and_(_T.c.ledger == CNY, _system(_DEBIT, FUND_CASH)),
             and_(_T.c.ledger == CNY, _system(_CREDIT, FUND_CASH)))
BACKED = _into(and_(_T.c.ledger == CNY, _system(_DEBIT, BACKING)),
               and_(_T.c.ledger == CNY, _system(_CREDIT, BACKING)))

#: The sums a month's figures keep of its transfers.
_SUMS = ("earned", "penalty", "redeemed", "held_change", "cash_change_fen", "backing_change_fen")
#: A month's figures as the tail's months give them.
_MONTH_FIGURES = (*_SUMS, "active_residents")

_JOINED = (_T.join(_DEBIT, _DEBIT.c.id == _T.c.debit_id).join(_CREDIT, _CREDIT.c.id == _T.c.credit_id))
#: The transfers counted: one bank's, from one sequence number to another.
_RANGE = (_T.c.bank_id == bindparam("bank"), _T.c.seq.between(bindparam("first"), bindparam("last")))


def _selects(source, *where):
    """What a run of transfers adds to the figures, by month: by rule, by resident, and in all."""
    rules = (select(_T.c.bank_id, _MONTH.label("month"), _T.c.rule_code,
                    total(EARNED).label("earned"), total(PENALTY).label("penalty"))
             .select_from(source).where(*where, _T.c.rule_code.is_not(None), _T.c.ledger == PTS)
             .group_by(_T.c.bank_id, _MONTH, _T.c.rule_code))
    residents = (select(_T.c.bank_id, _MONTH.label("month"), _T.c.doer_id.label("resident_id"),
                        total(EARNED).label("earned"))
                 .select_from(source).where(*where, _T.c.doer_id.is_not(None), _T.c.ledger == PTS)
                 .group_by(_T.c.bank_id, _MONTH, _T.c.doer_id).having(func.sum(EARNED) != 0))
    months = (select(_T.c.bank_id, _MONTH.label("month"), total(EARNED).label("earned"),
                     total(PENALTY).label("penalty"), total(REDEEMED).label("redeemed"),
                     total(HELD).label("held_change"), total(CASH).label("cash_change_fen"),
                     total(BACKED).label("backing_change_fen"))
              .select_from(source).where(*where).group_by(_T.c.bank_id, _MONTH))
    return rules, residents, months


RULE_ROWS, RESIDENT_ROWS, MONTH_ROWS = _selects(_JOINED, *_RANGE)

#: How far each bank's figures are counted, and its head: a bank without a row has none counted.
_MARKS = (select(_BANKS.c.id, func.coalesce(_PROGRESS.c.counted_seq, 0).label("counted"))
          .select_from(_BANKS.outerjoin(_PROGRESS, _PROGRESS.c.bank_id == _BANKS.c.id))
          .where(_BANKS.c.head_seq > func.coalesce(_PROGRESS.c.counted_seq, 0)))


#: On PostgreSQL the marks go as two arrays, so a county's two hundred banks plan as one join.
_MARKS_PG = (func.unnest(bindparam("banks", type_=postgresql.ARRAY(Integer)),
                         bindparam("counted", type_=postgresql.ARRAY(BigInteger)))
             .table_valued("bank_id", "counted").render_derived(name="marks"))
_AFTER_MARKS_PG = (_MARKS_PG.join(_T, and_(_T.c.bank_id == _MARKS_PG.c.bank_id, _T.c.seq > _MARKS_PG.c.counted))
                   .join(_DEBIT, _DEBIT.c.id == _T.c.debit_id).join(_CREDIT, _CREDIT.c.id == _T.c.credit_id))


def _tail_selects(marks, dialect: str):
    """The statements of the transfers after each bank's mark: one index range a bank, never the ledger.

    They are the months (who took part included), the rules and the residents; the months alone
    hold everything a county needs.
    """
    if dialect == "postgresql":
        source, where = _AFTER_MARKS_PG, ()
    else:
        source = _JOINED
        where = (or_(*(and_(_T.c.bank_id == bank_id, _T.c.seq > counted) for bank_id, counted in marks)),)
    rules, residents, _months = _selects(source, *where)
    return _tail_months(source, *where), rules, residents


def _tail_months(source, *where):
    """The uncounted sums of each bank's month beside the change in who took part, as one select.

    The transfers are summed by resident first (those of no resident together): who took part
    moves by the residents whose month crosses zero, each one's uncounted sum beside what their
    month already counts, looked up by its key.
    """
    sums = {"earned": EARNED, "penalty": PENALTY, "redeemed": REDEEMED, "held_change": HELD,
            "cash_change_fen": CASH, "backing_change_fen": BACKED}
    month = _MONTH.label("month")
    people = (select(_T.c.bank_id, month, _T.c.doer_id, *(total(expr).label(name) for name, expr in sums.items()))
              .select_from(source).where(*where).group_by(_T.c.bank_id, month, _T.c.doer_id).subquery("people"))
    counted = func.coalesce(_RESIDENTS.c.earned, 0)
    crossed = case((people.c.doer_id.is_(None), 0),
                   else_=case((counted + people.c.earned > 0, 1), else_=0) - case((counted > 0, 1), else_=0))
    return (select(people.c.bank_id, people.c.month, *(total(people.c[name]).label(name) for name in _SUMS),
                   total(crossed).label("active_residents"))
            .select_from(people.outerjoin(_RESIDENTS, and_(
                _RESIDENTS.c.bank_id == people.c.bank_id, _RESIDENTS.c.month == people.c.month,
                _RESIDENTS.c.resident_id == people.c.doer_id)))
            .group_by(people.c.bank_id, people.c.month))


def _upserts(insert) -> list[Prepared]:
    """The three statements that add a run of transfers to the figures, for one dialect's INSERT."""
    rules = insert(_RULES).from_select(["bank_id", "month", "rule_code", "earned", "penalty"], RULE_ROWS)
    rules = rules.on_conflict_do_update(
        index_elements=["bank_id", "month", "rule_code"],
        set_={"earned": _RULES.c.earned + rules.excluded.earned,
              "penalty": _RULES.c.penalty + rules.excluded.penalty})
    people = insert(_RESIDENTS).from_select(["bank_id", "month", "resident_id", "earned"], RESIDENT_ROWS)
    people = people.on_conflict_do_update(
        index_elements=["bank_id", "month", "resident_id"],
        set_={"earned": _RESIDENTS.c.earned + people.excluded.earned})
    # Who took part is counted after their months are updated (the statement before), from
    # the bank's few hundred rows of that month, never from the ledger.
    grouped = MONTH_ROWS.subquery("grouped")
    active = (select(func.count()).where(_RESIDENTS.c.bank_id == grouped.c.bank_id,
                                         _RESIDENTS.c.month == grouped.c.month, _RESIDENTS.c.earned > 0)
              .scalar_subquery())
    # The WHERE is what SQLite's grammar needs between an INSERT's SELECT and its ON CONFLICT.
    rows = select(*grouped.c, active.label("active_residents")).where(grouped.c.month > 0)
    months = insert(_MONTHS).from_select([*(c.name for c in grouped.c), "active_residents"], rows)
    months = months.on_conflict_do_update(
        index_elements=["bank_id", "month"],
        set_={**{name: _MONTHS.c[name] + months.excluded[name] for name in _SUMS},
              "active_residents": months.excluded.active_residents})
    return [Prepared(statement) for statement in (rules, people, months)]


def _sql(expression, dialect) -> str:
    return str(expression.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _one_statement_upsert() -> list[Prepared]:
    """PostgreSQL's form: the same sums as one statement (data-modifying CTEs), one plan and one
    execution a posting. The transfers are read once; who took part moves by the residents whose
    month crosses zero, which the residents' upsert returns."""
    pg = postgresql.dialect()
    sums = {"earned": EARNED, "penalty": PENALTY, "redeemed": REDEEMED, "held_change": HELD,
            "cash_change_fen": CASH, "backing_change_fen": BACKED}
    picked = ", ".join(f"{_sql(expr, pg)} AS {name}" for name, expr in sums.items())
    joined = _sql(select(_T.c.id).select_from(_JOINED), pg).split("\nFROM ", 1)[1]
    totals = ", ".join(f"sum({name}) AS {name}" for name in _SUMS)
    moved = ", ".join(f"{name} = stats_months.{name} + excluded.{name}" for name in _SUMS)
    text_sql = f"""
WITH t AS MATERIALIZED (
  SELECT {_sql(_MONTH, pg)} AS month, transfers.ledger, transfers.rule_code, transfers.doer_id, {picked}
  FROM {joined}
  WHERE transfers.bank_id = %(bank)s AND transfers.seq BETWEEN %(first)s AND %(last)s),
r AS (
  INSERT INTO stats_rule_months (bank_id, month, rule_code, earned, penalty)
  SELECT %(bank)s, month, rule_code, sum(earned), sum(penalty) FROM t
  WHERE rule_code IS NOT NULL AND ledger = 'PTS' GROUP BY month, rule_code
  ON CONFLICT (bank_id, month, rule_code) DO UPDATE SET
    earned = stats_rule_months.earned + excluded.earned, penalty = stats_rule_months.penalty + excluded.penalty),
d AS (
  SELECT month, doer_id, sum(earned) AS delta FROM t
  WHERE doer_id IS NOT NULL AND ledger = 'PTS' GROUP BY month, doer_id HAVING sum(earned) <> 0),
p AS (
  INSERT INTO stats_resident_months (bank_id, month, resident_id, earned)
  SELECT %(bank)s, month, doer_id, delta FROM d
  ON CONFLICT (bank_id, month, resident_id) DO UPDATE SET earned = stats_resident_months.earned + excluded.earned
  RETURNING month, resident_id, earned),
a AS (
  SELECT p.month, sum(CASE WHEN p.earned > 0 AND p.earned - d.delta <= 0 THEN 1
                           WHEN p.earned <= 0 AND p.earned - d.delta > 0 THEN -1 ELSE 0 END) AS active
  FROM p JOIN d ON d.month = p.month AND d.doer_id = p.resident_id GROUP BY p.month),
g AS (SELECT month, {totals} FROM t GROUP BY month)
INSERT INTO stats_months (bank_id, month, {", ".join(_SUMS)}, active_residents)
SELECT %(bank)s, g.month, {", ".join("g." + n for n in _SUMS)}, coalesce(a.active, 0)
FROM g LEFT JOIN a ON a.month = g.month
ON CONFLICT (bank_id, month) DO UPDATE SET {moved},
  active_residents = stats_months.active_residents + excluded.active_residents"""
    return [_Raw(text_sql)]


class _Raw(Prepared):
    """A statement already written in the driver's own dialect (psycopg's %(name)s)."""

    def __init__(self, sql: str):
        super().__init__(None)
        self.sql = sql
        self.statement = text(sql.replace("%(", ":").replace(")s", ""))

    def _for(self, dialect):
        return self.sql, dict


_STATEMENTS = {"sqlite": _upserts(sqlite.insert), "postgresql": _one_statement_upsert()}


_PROGRESS_ROW = {
    "sqlite": Prepared(sqlite.insert(_PROGRESS).values(bank_id=bindparam("bank"), counted_seq=0)
                       .on_conflict_do_nothing()),
    "postgresql": Prepared(postgresql.insert(_PROGRESS).values(bank_id=bindparam("bank"), counted_seq=0)
                           .on_conflict_do_nothing()),
}


def catch_up(session: Session, bank: Bank | int) -> int:
    """Count the bank's transfers posted since its figures were last counted; return how many.

    The bank's progress row is locked first (FOR UPDATE on PostgreSQL; SQLite has one writer),
    so two catch-ups at once count each transfer once: the second waits, then finds it counted.
    Counting again counts nothing. The caller commits.
    """
    bank_id = bank if isinstance(bank, int) else bank.id
    dialect = session.get_bind().dialect.name
    _PROGRESS_ROW[dialect].execute(session, {"bank": bank_id})
    counted = session.execute(select(_PROGRESS.c.counted_seq).where(_PROGRESS.c.bank_id == bank_id)
                              .with_for_update()).scalar_one()
    # Read after the lock: every transfer up to a committed head is committed with it.
    head = session.execute(select(Bank.head_seq).where(Bank.id == bank_id)).scalar_one()
    if head <= counted:
        return 0
    params = {"bank": bank_id, "first": counted + 1, "last": head}
    for statement in _STATEMENTS[dialect]:
        statement.execute(session, params)
    session.execute(_PROGRESS.update().where(_PROGRESS.c.bank_id == bank_id).values(counted_seq=head))
    return head - counted


@dataclass
class Tail:
    """What the transfers not counted yet add to the figures kept, keyed by bank and month.

    `months[bank, month]` holds the sums of MONTH_ROWS and `active_residents`, the change in who
    took part; `rules[bank, month, code]` (earned, penalty); `residents[bank, month, id]` earned.
    """

    months: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)
    residents: dict = field(default_factory=dict)

    def month(self, bank_id: int, month: int) -> dict:
        return self.months.get((bank_id, month), {})


#: Each tail's few thousand transfers at most are looked up row by row through the accounts' and
#: the residents' figures' keys, where PostgreSQL would otherwise hash the whole of both; its
#: estimate of them is two hundred banks' worth of a third of a ledger, which would have it
#: compile the statement to machine code (JIT) for longer than the statement runs. With the
#: transfers partitioned by bank (migration 0022) it would also scan every partition rather than
#: probe each bank's own by its (bank, seq) key: scans are off for it too.
_TAIL_SETTINGS = (("SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off", "SET LOCAL jit = off",
                   "SET LOCAL enable_seqscan = off"),
                  ("SET LOCAL enable_hashjoin TO DEFAULT", "SET LOCAL enable_mergejoin TO DEFAULT",
                   "SET LOCAL jit TO DEFAULT", "SET LOCAL enable_seqscan TO DEFAULT"))
#: PostgreSQL's statements do not depend on the marks (they go as arrays): built and compiled once.
_MARKS_ALL = Prepared(_MARKS)
_MARKS_OF_BANK = Prepared(_MARKS.where(_BANKS.c.id == bindparam("bank")))
_TAIL_PG = tuple(Prepared(statement) for statement in _tail_selects(None, "postgresql"))


def _read_tail(session: Session, bank_id: int | None, *, months_only: bool) -> Tail:
    conn = connection_of(session)
    if conn.dialect.name == "postgresql":
        return _read_tail_pg(session, bank_id, months_only=months_only)
    out = Tail()
    marks = conn.execute(_MARKS if bank_id is None else _MARKS.where(_BANKS.c.id == bank_id)).all()
    if not marks:
        return out
    statements = _tail_selects(marks, conn.dialect.name)
    _fill(out, *(conn.execute(statement) for statement in statements[:1 if months_only else 3]))
    return out


def _read_tail_pg(session: Session, bank_id: int | None, *, months_only: bool) -> Tail:
    """The same on PostgreSQL: the marks, then the settings, the statements and the settings back
    sent together (one round trip), each statement compiled once."""
    out = Tail()
    marks = (_MARKS_OF_BANK.execute(session, {"bank": bank_id}) if bank_id is not None
             else _MARKS_ALL.execute(session)).fetchall()
    if not marks:
        return out
    params = {"banks": [m[0] for m in marks], "counted": [m[1] for m in marks]}
    driver = connection_of(session).connection.driver_connection
    wanted = _TAIL_PG[:1] if months_only else _TAIL_PG
    with pipelined(session):
        for setting in _TAIL_SETTINGS[0]:
            driver.execute(setting)
        cursors = [statement.execute(session, params) for statement in wanted]
        for setting in _TAIL_SETTINGS[1]:
            driver.execute(setting)
    _fill(out, *(statement.rows_from(cursor) for statement, cursor in zip(wanted, cursors)))
    return out


def _fill(out: Tail, months, rules=(), residents=()) -> None:
    """Put the rows of the tail's statements (the months; the rules and residents if read) in `out`."""
    for row in months:
        out.months[row.bank_id, row.month] = {name: int(value) for name, value in zip(_MONTH_FIGURES, row[2:])}
    for row in rules:
        out.rules[row.bank_id, row.month, row.rule_code] = (int(row.earned), int(row.penalty))
    for row in residents:
        out.residents[row.bank_id, row.month, row.resident_id] = int(row.earned)


def tail(session: Session, bank_id: int | None = None) -> Tail:
    """Read what the uncounted transfers of one bank (or of every bank) add; reads only.

    Read it in the same snapshot as the figures kept it adds to (`ground.store.snapshot`), so a
    catch-up committing meanwhile neither counts a transfer twice nor drops it.
    """
    return _read_tail(session, bank_id, months_only=False)


def tail_months(session: Session, bank_id: int | None = None) -> dict:
    """Read only `Tail.months` (in one statement), for whoever needs no rule and no resident."""
    return _read_tail(session, bank_id, months_only=True).months


def rebuild(connection, bank_id: int, head_seq: int) -> None:
    """Count a bank's whole ledger into empty figures (a schema upgrade did this once).

    It leaves the mark of what is counted alone: whoever calls it sets that."""
    params = {"bank": bank_id, "first": 1, "last": head_seq}
    for statement in _STATEMENTS[connection.dialect.name]:
        connection.execute(statement.statement, params)


# --- the check ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """One figure kept that the transfers do not give: where, which, kept and recomputed."""

    month: int
    figure: str
    kept: int
    recomputed: int

    def __str__(self) -> str:
        return (f"{self.month // 100}-{self.month % 100:02d} {self.figure}: "
                f"kept {self.kept}, the transfers give {self.recomputed}")


def verify_figures(session: Session, bank: Bank, report) -> None:
    """Add to a ledger verify report every monthly figure the transfers do not give."""
    for difference in check(session, bank):
        report.add("figures_differ", _("月度数字与流水不符：%(difference)s", difference=str(difference)),
                   month=figures_month(difference))


def figures_month(difference: Difference) -> str:
    return f"{difference.month // 100}-{difference.month % 100:02d}"


def check(session: Session, bank: Bank) -> list[Difference]:
    """Recompute the bank's figures from its transfers and return every one kept otherwise.

    It reads one snapshot, so a bank being posted to meanwhile is checked as it stood.
    """
    with snapshot(session):
        return _check(session, bank.id)


def _check(session: Session, bank_id: int) -> list[Difference]:
    head = session.execute(select(Bank.head_seq).where(Bank.id == bank_id)).scalar_one()
    params = {"bank": bank_id, "first": 1, "last": head}
    conn = session.connection()
    fresh: dict[tuple[int, str], int] = {}
    for row in conn.execute(MONTH_ROWS, params):
        for name in _SUMS:
            fresh[row.month, name] = int(getattr(row, name))
    for row in conn.execute(RULE_ROWS, params):
        fresh[row.month, f"earned:{row.rule_code}"] = int(row.earned)
        fresh[row.month, f"penalty:{row.rule_code}"] = int(row.penalty)
    for row in conn.execute(RESIDENT_ROWS, params):
        fresh[row.month, f"resident:{row.resident_id}"] = int(row.earned)
        if row.earned > 0:
            fresh[row.month, "active_residents"] = fresh.get((row.month, "active_residents"), 0) + 1

    kept: dict[tuple[int, str], int] = {}
    for row in conn.execute(select(_MONTHS).where(_MONTHS.c.bank_id == bank_id)):
        for name in (*_SUMS, "active_residents"):
            kept[row.month, name] = int(getattr(row, name))
    for row in conn.execute(select(_RULES).where(_RULES.c.bank_id == bank_id)):
        kept[row.month, f"earned:{row.rule_code}"] = int(row.earned)
        kept[row.month, f"penalty:{row.rule_code}"] = int(row.penalty)
    for row in conn.execute(select(_RESIDENTS).where(_RESIDENTS.c.bank_id == bank_id)):
        kept[row.month, f"resident:{row.resident_id}"] = int(row.earned)
    uncounted = tail(session, bank_id)
    for (_bank, month), sums in uncounted.months.items():
        for name, value in sums.items():
            kept[month, name] = kept.get((month, name), 0) + value
    for (_bank, month, code), (earned, penalty) in uncounted.rules.items():
        for name, value in ((f"earned:{code}", earned), (f"penalty:{code}", penalty)):
            kept[month, name] = kept.get((month, name), 0) + value
    for (_bank, month, resident_id), earned in uncounted.residents.items():
        kept[month, f"resident:{resident_id}"] = kept.get((month, f"resident:{resident_id}"), 0) + earned

    keys = sorted(k for k in set(fresh) | set(kept) if fresh.get(k, 0) != kept.get(k, 0))
    return [Difference(month, figure, kept.get((month, figure), 0), fresh.get((month, figure), 0))
            for month, figure in keys]
