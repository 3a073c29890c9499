"""Reading the kept figures: a bank's months, the county's banks and months, the year's open data.

Every figure comes from the rows `stats.upkeep` keeps, plus the transfers posted since the daily
close last counted them (`upkeep.tail`: at most about a day's), the residents' register (with
the deeds of those off a month's register, see `_residents_at`), the objections and the notices:
never from the whole ledger. Each answer reads one snapshot, so a catch-up committing meanwhile
changes nothing in it. Reads only; nothing here writes.
"""
from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from typing import Callable

from sqlalchemy import (Integer, and_, bindparam, case, cast, distinct, extract, func, join, literal_column,
                        not_, or_, select)
from sqlalchemy.orm import Session

from ledger import periods
from ledger import banks as ledger_banks
from ground.clock import Clock
from ground.store import Prepared, pipelined, snapshot
from ground.errors import NotFound, ValidationError
from ground.i18n import _
from ledger.models import PTS, Resident, RuleVersion, Transfer
from ground.tenants import Bank
from redemption import domain
from reports.objections import objection_counts
from reports.services import banks_with_notice

from . import figures, upkeep
from .models import MonthFigures, RuleMonthFigures

#: Where a rule no longer in the rule file in force is counted.
OTHER_CATEGORY = "其他"
#: A month's figures as kept.
FIGURES = ("earned", "penalty", "redeemed", "held_change", "cash_change_fen", "backing_change_fen",
           "active_residents")


def _add(into: dict, key, sums: dict) -> None:
    """Add a month's uncounted sums to the figures kept under `key` (zeros if none are kept)."""
    row = into.setdefault(key, {})
    for name, value in sums.items():
        row[name] = row.get(name, 0) + value


# --- the range asked for -------------------------------------------------------------------------

def parse_range(first: str | None, last: str | None, *, today: date,
                default_months: int = 12) -> tuple[int, int]:
    """Return the (first, last) YYYYMM months of ?from=&to=; 422 naming the field that is wrong.

    Without `to`, the current month; without `from`, the `default_months` up to `to`.
    """
    problems: dict[str, list[str]] = {}
    parsed = {}
    for name, text in (("from", first), ("to", last)):
        if text is None or not text.strip():
            continue
        try:
            parsed[name] = figures.month_number(periods.parse_period("month", text, field=name).start)
        except ValidationError as err:
            problems.update(err.fields)
    if problems:
        raise ValidationError(problems, _("月份范围有误"))
    last_month = parsed.get("to", figures.month_number(today))
    first_month = parsed.get("from", figures.add_months(last_month, 1 - default_months))
    if first_month > last_month:
        raise ValidationError({"from": [_("起始月份 %(first)s 晚于结束月份 %(last)s",
                                          first=figures.month_text(first_month),
                                          last=figures.month_text(last_month))]},
                              _("月份范围有误"))
    if figures.span(first_month, last_month) > figures.MAX_MONTHS:
        raise ValidationError({"to": [_("一次最多查询 %(n)s 个月", n=figures.MAX_MONTHS)]}, _("月份范围有误"))
    return first_month, last_month


def parse_month(text: str | None, *, today: date, field: str = "month") -> int:
    """Return the YYYYMM month of ?month= (this month when absent); 422 naming the field."""
    if text is None or not text.strip():
        return figures.month_number(today)
    return figures.month_number(periods.parse_period("month", text, field=field).start)


# --- what the figures are made of ----------------------------------------------------------------

def _send(session: Session, statement: Prepared, params: dict | None = None) -> Callable[[], list]:
    """Run a statement now and return what reads its rows: inside `ground.store.pipelined`, the
    statements go together and their rows are read once the block is over."""
    cursor = statement.execute(session, params)
    return lambda: statement.rows_from(cursor)


def _month_ends(months: list[int], clock: Clock) -> list[datetime]:
    """Return the moment each YYYYMM month ends in the banks' time zone (the next one starts)."""
    return [datetime.combine(figures.month_start(figures.add_months(m, 1)), datetime.min.time(),
                             tzinfo=clock.tz) for m in months]


@functools.cache
def _registered(count: int, one_bank: bool) -> Prepared:
    """The count of the residents registered by each of `count` month ends (binds end_0, end_1 ...)."""
    first_end = case(*((Resident.created_at < bindparam(f"end_{i}"), literal_column(str(i))) for i in range(count)),
                     else_=None)
    stmt = (select(Resident.bank_id, first_end.label("month"), func.count().label("n"))
            .where(Resident.active).group_by(Resident.bank_id, first_end))
    return Prepared(stmt.where(Resident.bank_id == bindparam("bank")) if one_bank else stmt)


#: The month a transfer is dated in, as YYYYMM.
_DATED_IN = cast(extract("year", Transfer.occurred_on) * 100 + extract("month", Transfer.occurred_on), Integer)


@functools.cache
def _dated_outside(count: int, one_bank: bool) -> Prepared:
    """The count of the residents off a month's register with a deed or penalty dated in it, for
    each of `count` months (binds end_i and month_i as `_registered`, first_day and last_day).

    Off the register of a month is moved away (inactive), or registered after its end. Only
    those residents are looked at, and only their own entries, through the transfers' (bank,
    doer, day) index: never the whole ledger. A reversal is dated the day it is made, not in the
    deed's month: it says nothing of who was there, and is left out.
    """
    # The first of the months asked by whose end the resident was registered (none: after all).
    since = case(*((Resident.created_at < bindparam(f"end_{i}"), bindparam(f"month_{i}", type_=Integer))
                   for i in range(count)), else_=None)
    stmt = (select(Resident.bank_id, _DATED_IN.label("month"), func.count(distinct(Resident.id)).label("n"))
            .select_from(join(Resident, Transfer, and_(Transfer.bank_id == Resident.bank_id,
                                                       Transfer.doer_id == Resident.id)))
            .where(or_(not_(Resident.active), Resident.created_at >= bindparam("end_0")),
                   or_(not_(Resident.active), since.is_(None), since > _DATED_IN),
                   Transfer.occurred_on.between(bindparam("first_day"), bindparam("last_day")),
                   Transfer.ledger == PTS, Transfer.rule_code.is_not(None), Transfer.reverses_id.is_(None))
            .group_by(Resident.bank_id, _DATED_IN))
    return Prepared(stmt.where(Resident.bank_id == bindparam("bank")) if one_bank else stmt)


def _residents_at(session: Session, months: list[int], clock: Clock, *,
                  bank_id: int | None = None) -> Callable[[], dict[tuple[int, int], int]]:
    """Send the count of each month's residents; return what reads it as {(bank, month): residents}
    (after a pipelined block, see `_send`). `months` are YYYYMM, in order.

    A month's residents are everyone who could take part in it: those on the register, still
    active, by its end, and anyone else with a deed or penalty dated in it (registered later, the
    deed dated back; or moved away since). So who took part, counted from the same deeds, is
    never more than the residents, and a resident who moved away leaves only the months that
    hold nothing of theirs.

    The register is read in one pass (the bank's, or the county's), whatever the number of months:
    each resident is counted once, in the first month (of those asked) by whose end they were
    there, and the months after add up what came before.
    """
    params = {f"end_{i}": end for i, end in enumerate(_month_ends(months, clock))}
    if bank_id is not None:
        params["bank"] = bank_id
    rows = _send(session, _registered(len(months), bank_id is not None), params)
    outside = _send(session, _dated_outside(len(months), bank_id is not None), {
        **params, **{f"month_{i}": month for i, month in enumerate(months)},
        "first_day": figures.month_start(months[0]),
        "last_day": figures.month_start(figures.add_months(months[-1], 1)) - timedelta(days=1)})

    def read() -> dict[tuple[int, int], int]:
        joined: dict[tuple[int, int], int] = {}
        for bank, index, n in rows():
            if index is not None:
                joined[bank, months[index]] = int(n)
        out = {}
        for bank in {bank for bank, _month in joined}:
            running = 0
            for month in months:
                running += joined.get((bank, month), 0)
                out[bank, month] = running
        asked = set(months)
        for bank, month, n in outside():
            if month in asked:
                out[bank, month] = out.get((bank, month), 0) + int(n)
        return out
    return read


def _objections(session: Session, bank_ids: list[int] | None, months: list[int]) -> dict:
    """Return {(bank, YYYYMM): (filed, upheld)} for the months asked."""
    keys = [figures.month_text(m) for m in months]
    return {(bank_id, int(month.replace("-", ""))): counts
            for (bank_id, month), counts in objection_counts(session, keys, bank_ids).items()}


def _in_force(one_bank: bool) -> Prepared:
    latest = select(RuleVersion.bank_id, func.max(RuleVersion.version).label("version")).group_by(RuleVersion.bank_id)
    if one_bank:
        latest = latest.where(RuleVersion.bank_id == bindparam("bank"))
    latest = latest.subquery()
    return Prepared(select(RuleVersion.bank_id, RuleVersion.version, RuleVersion.content_hash)
                    .join(latest, (latest.c.bank_id == RuleVersion.bank_id)
                          & (latest.c.version == RuleVersion.version)))


#: Which rule version is in force, every bank's or one bank's.
_IN_FORCE = {False: _in_force(False), True: _in_force(True)}


def _books(session: Session, bank_id: int | None = None) -> Callable[[], dict]:
    """Send the read of the rule book in force of every bank (or of one); return what reads the
    answer as {bank: book} (books parse once a process)."""
    rows = _send(session, _IN_FORCE[bank_id is not None], {"bank": bank_id} if bank_id is not None else None)
    return lambda: {bank: ledger_banks.rulebook(session, bank, ledger_banks.RulesInForce(version, content_hash))[1]
                    for bank, version, content_hash in rows()}


def _coverage(book, held: int, backing_fen: int) -> domain.Coverage:
    settings = book.settings
    return domain.coverage(held, settings.point_value_fen, backing_fen, settings.coverage_warning_percent)


# --- one bank ------------------------------------------------------------------------------------

def bank_months(session: Session, bank: Bank, first: int, last: int, *, clock: Clock) -> list[dict]:
    """Return the bank's figures for every month from `first` to `last` (YYYYMM), in order."""
    bank_id = bank.id
    with snapshot(session):
        return _bank_months(session, bank_id, first, last, clock=clock)


def _bank_months(session: Session, bank_id: int, first: int, last: int, *, clock: Clock) -> list[dict]:
    months = figures.months_between(first, last)
    kept = {row.month: {name: int(getattr(row, name)) for name in FIGURES} for row in session.execute(
        select(MonthFigures).where(MonthFigures.bank_id == bank_id, MonthFigures.month <= last)).scalars()}
    by_rule: dict[int, dict[str, list[int]]] = {}
    for row in session.execute(select(RuleMonthFigures).where(
            RuleMonthFigures.bank_id == bank_id, RuleMonthFigures.month.between(first, last))).scalars():
        by_rule.setdefault(row.month, {})[row.rule_code] = [int(row.earned), int(row.penalty)]
    uncounted = upkeep.tail(session, bank_id)
    for (_bank, month), sums in uncounted.months.items():
        if month <= last:
            _add(kept, month, sums)
    for (_bank, month, code), (earned, penalty) in uncounted.rules.items():
        if first <= month <= last:
            sums = by_rule.setdefault(month, {}).setdefault(code, [0, 0])
            sums[0], sums[1] = sums[0] + earned, sums[1] + penalty
    book = _books(session, bank_id)()[bank_id]
    names = {rule.code: rule for rule in book.rules}
    registered = _residents_at(session, months, clock, bank_id=bank_id)()
    residents = {month: registered.get((bank_id, month), 0) for month in months}
    held = figures.running({m: r["held_change"] for m, r in kept.items()}, months)
    cash = figures.running({m: r["cash_change_fen"] for m, r in kept.items()}, months)
    backing = figures.running({m: r["backing_change_fen"] for m, r in kept.items()}, months)
    objections = _objections(session, [bank_id], months)

    out = []
    for month in months:
        row = kept.get(month)
        categories = {category: 0 for category in book.settings.categories}
        penalties: dict[str, int] = {}
        for code, (earned, penalty) in sorted(by_rule.get(month, {}).items()):
            rule = names.get(code)
            if earned:
                category = rule.category if rule else OTHER_CATEGORY
                categories[category] = categories.get(category, 0) + earned
            if penalty:
                penalties[code] = penalty
        active = row["active_residents"] if row else 0
        cover = _coverage(book, held[month], backing[month])
        filed, upheld = objections.get((bank_id, month), (0, 0))
        out.append({
            "month": figures.month_text(month), "residents": residents[month],
            "active_residents": active,
            "participation_percent": figures.percent_tenths(active, residents[month]),
            "points": row["earned"] if row else 0, "points_by_category": categories,
            "penalty_points": row["penalty"] if row else 0,
            "penalties_by_rule": [{"rule": code, "name": names[code].name if code in names else code,
                                   "points": points}
                                  for code, points in sorted(penalties.items(), key=lambda p: -p[1])],
            "redeemed_points": row["redeemed"] if row else 0,
            "points_outstanding": held[month], "fund_fen": cash[month],
            "coverage_percent": cover.percent, "coverage_warning_percent": cover.warning_percent,
            "coverage_warning": cover.warning,
            "objections": {"filed": filed, "upheld": upheld},
        })
    return out


def open_year(session: Session, code: str, year: int, *, clock: Clock) -> tuple[Bank, list[dict]]:
    """Return a bank and its months of a year up to this one, each saying whether it is sealed
    (its figures final), for anyone; NotFound for a year to come."""
    bank = session.execute(select(Bank).where(Bank.code == code)).scalar_one_or_none()
    today = clock.today()
    if bank is None or year > today.year:
        raise NotFound(_("找不到该公开数据"))
    last = min(year * 100 + 12, figures.month_number(today))
    months = bank_months(session, bank, year * 100 + 1, last, clock=clock)
    sealed = set(session.execute(select(periods.PeriodSeal.month).where(
        periods.PeriodSeal.bank_id == bank.id, periods.PeriodSeal.month.startswith(f"{year:04d}-"))).scalars())
    for month in months:
        month["sealed"] = month["month"] in sealed
    return bank, months


def year_so_far(session: Session, bank: Bank, today: date) -> dict:
    """Return points earned, month by month running, this year so far and the same months last year."""
    this = figures.month_number(today)
    year, through = this // 100, this % 100
    bank_id = bank.id
    with snapshot(session):
        rows = {month: int(earned) for month, earned in session.execute(
            select(MonthFigures.month, MonthFigures.earned).where(
                MonthFigures.bank_id == bank_id,
                MonthFigures.month.between((year - 1) * 100 + 1, this))).all()}
        for (_bank, month), sums in upkeep.tail_months(session, bank_id).items():
            rows[month] = rows.get(month, 0) + sums["earned"]
    return {"year": year, "months": list(range(1, through + 1)),
            "this_year": figures.year_to_date(rows, year, through),
            "last_year": figures.year_to_date(rows, year - 1, through)}


# --- the county ----------------------------------------------------------------------------------

#: A bank's totals for the county: the month's, and what is held up to its end.
_BANK_TOTALS = ("earned", "penalty", "active", "held", "backing", "cash")


def _notice_due(book, month: int, clock: Clock) -> datetime:
    cycle = book.settings.cycle
    next_start = figures.month_start(figures.add_months(month, 1))
    return datetime.combine(next_start.replace(day=cycle.notice_day), cycle.notice_time, tzinfo=clock.tz)


def county_banks(session: Session, month: int, *, clock: Clock) -> list[dict]:
    """Return every bank's figures for one month, coverage warnings first, then by participation."""
    with snapshot(session):
        uncounted = upkeep.tail_months(session)
        with pipelined(session):
            registered = _residents_at(session, [month], clock)
            banks = _send(session, _BANK_LIST)
            totals = _send(session, _BANK_MONTH, {"month": month})
            books = _books(session)
        return _county_banks(session, month, uncounted, registered(), banks(), totals(), books(), clock=clock)


def county(session: Session, month: int, first: int, last: int, *, clock: Clock) -> tuple[list[dict], list[dict]]:
    """Return every bank's figures for `month` (as `county_banks`) and the county's totals for each
    month from `first` to `last`, read at one moment: the tails and the register once for both."""
    months = figures.months_between(first, last)
    with snapshot(session):
        uncounted = upkeep.tail_months(session)
        with pipelined(session):
            registered = _residents_at(session, sorted({month, *months}), clock)
            banks = _send(session, _BANK_LIST)
            totals = _send(session, _BANK_MONTH, {"month": month})
            county_months = _send(session, _COUNTY_MONTHS, {"first": months[0], "last": months[-1]})
            books = _books(session)
        registered_by = registered()
        return (_county_banks(session, month, uncounted, registered_by, banks(), totals(), books(), clock=clock),
                _county_months(months, county_months(), uncounted, registered_by))


_BANK_LIST = Prepared(select(Bank.id, Bank.code, Bank.name).order_by(Bank.code))
_IN_MONTH = MonthFigures.month == bindparam("month")
#: Each bank's month and what it holds at the month's end, from the figures kept.
_BANK_MONTH = Prepared(
    select(MonthFigures.bank_id,
           upkeep.total(case((_IN_MONTH, MonthFigures.earned), else_=0)).label("earned"),
           upkeep.total(case((_IN_MONTH, MonthFigures.penalty), else_=0)).label("penalty"),
           upkeep.total(case((_IN_MONTH, MonthFigures.active_residents), else_=0)).label("active"),
           upkeep.total(MonthFigures.held_change).label("held"),
           upkeep.total(MonthFigures.backing_change_fen).label("backing"),
           upkeep.total(MonthFigures.cash_change_fen).label("cash"))
    .where(MonthFigures.month <= bindparam("month")).group_by(MonthFigures.bank_id))
#: The county's months from the figures kept: who took part, points, penalties.
_COUNTY_MONTHS = Prepared(
    select(MonthFigures.month, upkeep.total(MonthFigures.active_residents).label("active"),
           upkeep.total(MonthFigures.earned).label("earned"), upkeep.total(MonthFigures.penalty).label("penalty"))
    .where(MonthFigures.month.between(bindparam("first"), bindparam("last"))).group_by(MonthFigures.month))


def _county_banks(session: Session, month: int, uncounted: dict, registered: dict, banks: list, totals: list,
                  books: dict, *, clock: Clock) -> list[dict]:
    ids = [b.id for b in banks]
    if not ids:
        return []
    totals = {row.bank_id: {name: int(getattr(row, name)) for name in _BANK_TOTALS} for row in totals}
    for (bank_id, counted_month), sums in uncounted.items():
        if counted_month <= month:
            now_only = counted_month == month
            _add(totals, bank_id, {
                "earned": sums["earned"] if now_only else 0, "penalty": sums["penalty"] if now_only else 0,
                "active": sums["active_residents"] if now_only else 0, "held": sums["held_change"],
                "backing": sums["backing_change_fen"], "cash": sums["cash_change_fen"]})
    objections = _objections(session, None, [month])
    posted = banks_with_notice(session, figures.month_text(month))
    now = clock.now()
    rows = []
    for bank in banks:
        kept = totals.get(bank.id)
        residents = registered.get((bank.id, month), 0)
        active = kept["active"] if kept else 0
        cover = _coverage(books[bank.id], kept["held"] if kept else 0, kept["backing"] if kept else 0)
        filed, upheld = objections.get((bank.id, month), (0, 0))
        notice_posted = bank.id in posted
        rows.append({
            "code": bank.code, "name": bank.name, "residents": residents, "active_residents": active,
            "participation_percent": figures.percent_tenths(active, residents),
            "points": kept["earned"] if kept else 0, "penalty_points": kept["penalty"] if kept else 0,
            "fund_fen": kept["cash"] if kept else 0,
            "coverage_percent": cover.percent, "coverage_warning": cover.warning,
            "objections": {"filed": filed, "upheld": upheld}, "notice_posted": notice_posted,
            "notice_late": not notice_posted and now > _notice_due(books[bank.id], month, clock),
        })
    return figures.rank_banks(rows)


def _county_months(months: list[int], kept: list, uncounted: dict, registered: dict) -> list[dict]:
    """Return the county's totals for each month: residents, who took part, points, penalties."""
    kept = {int(m): (int(a), int(e), int(p)) for m, a, e, p in kept}
    for (_bank, month), sums in uncounted.items():
        if months[0] <= month <= months[-1]:
            active, earned, penalty = kept.get(month, (0, 0, 0))
            kept[month] = (active + sums["active_residents"], earned + sums["earned"],
                           penalty + sums["penalty"])
    residents = dict.fromkeys(months, 0)
    for (_bank, month), n in registered.items():
        if month in residents:
            residents[month] += n
    out = []
    for month in months:
        active, earned, penalty = kept.get(month, (0, 0, 0))
        out.append({"month": figures.month_text(month), "residents": residents[month],
                    "active_residents": active,
                    "participation_percent": figures.percent_tenths(active, residents[month]),
                    "points": earned, "penalty_points": penalty})
    return out


def previous_months(today: date, count: int) -> tuple[int, int]:
    """Return the (first, last) YYYYMM of the `count` months up to this one."""
    last = figures.month_number(today)
    return figures.add_months(last, 1 - count), last


def last_month(today: date) -> int:
    """Return last month as YYYYMM: the month whose notice the county checks for."""
    return figures.month_number(today.replace(day=1) - timedelta(days=1))
