"""Reading the ledger: a resident's account and history, transfers, and lookups by id for showing them."""
from __future__ import annotations

import functools
from datetime import date

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.db import bank_row
from ground.errors import NotFound
from ground.i18n import _
from ground.store import Prepared
from ground.tenants import Bank

from . import accounts
from .banks import RulesInForce, rulebook
from .models import PTS, Account, Household, Resident, Transfer
from .people import get_resident
from .posting import rules_in_force

def account_summary(session: Session, bank: Bank, resident_id: int, *, clock: Clock) -> dict:
    """Return a resident's balance, their household's, and this month's points.

    One statement whatever the history: balances are stored, the month is read through the
    resident's (bank, doer, day) index, and the rules in force come along.
    """
    today = clock.today()
    found = _SUMMARY.rows(session, {"bank": bank.id, "resident": resident_id,
                                    "start": today.replace(day=1), "end": today})
    if not found:
        raise NotFound(_("找不到该居民"))
    [r] = found
    _version, book = rulebook(session, bank.id, RulesInForce(r.rules_version, r.rules_hash))
    unit = book.settings.account_unit
    return {
        "resident": r.id,
        "name": r.name,
        "household": r.household_code,
        "account_unit": unit,
        "account": f"household:{r.household_id}" if unit == "household" else f"resident:{r.id}",
        # Sums come back as decimals from PostgreSQL: points are integers.
        "balance": int(r.home if unit == "household" else r.own),
        "household_balance": int(r.home + r.members_own),
        "earned_this_month": int(r.earned),
        "penalties_this_month": int(r.penalties),
        "as_of": today,
    }


def _summary_statement() -> Prepared:
    residents, households, accounts_ = Resident.__table__, Household.__table__, Account.__table__
    transfers, members = Transfer.__table__, residents.alias("member")

    def balance(unit):
        return func.coalesce(accounts.account_sql(accounts_.c.balance, residents.c.bank_id,
                                                  accounts.points_code_sql(residents, unit)), 0)

    def this_month(kind):
        return (select(func.coalesce(func.sum(transfers.c.amount), 0))
                # The bank as a parameter, not the outer row's column: PostgreSQL then reads
                # only that bank's partition of the transfers (see migration 0022).
                .where(transfers.c.bank_id == bindparam("bank"), transfers.c.doer_id == residents.c.id,
                       transfers.c.ledger == PTS, transfers.c.kind == kind,
                       transfers.c.occurred_on.between(bindparam("start"), bindparam("end")))
                .scalar_subquery())

    members_own = (select(func.coalesce(func.sum(accounts_.c.balance), 0))
                   .select_from(members.join(accounts_, and_(
                       accounts_.c.bank_id == members.c.bank_id, accounts_.c.ledger == PTS,
                       accounts_.c.code == accounts.points_code_sql(members, "person"))))
                   .where(members.c.household_id == residents.c.household_id)
                   .scalar_subquery())
    return Prepared(
        select(residents.c.id, residents.c.name, residents.c.household_id,
               households.c.code.label("household_code"), balance("person").label("own"),
               balance("household").label("home"), members_own.label("members_own"),
               this_month("deed").label("earned"), this_month("penalty").label("penalties"),
               *(in_force.scalar_subquery().label(name) for in_force, name in
                 zip(rules_in_force(residents.c.bank_id), ("rules_version", "rules_hash"))))
        .join_from(residents, households, households.c.id == residents.c.household_id)
        .where(residents.c.bank_id == bindparam("bank"), residents.c.id == bindparam("resident")))


#: A balance read is one round trip, the posting path's kind of statement: see `Prepared`.
_SUMMARY = _summary_statement()


def resident_transfers(session: Session, bank: Bank, resident_id: int, *, limit: int,
                       before: int | None) -> list[Transfer]:
    """Return the transfers a resident did or received, newest first, before seq `before`."""
    resident = get_resident(session, bank, resident_id)
    stmt = select(Transfer).where(Transfer.bank_id == bank.id, Transfer.doer_id == resident.id)
    if before is not None:
        stmt = stmt.where(Transfer.seq < before)
    return list(session.execute(stmt.order_by(Transfer.seq.desc()).limit(limit)).scalars())


def get_transfer(session: Session, bank: Bank, transfer_id: int) -> Transfer:
    """Return the bank's transfer, or NotFound."""
    return bank_row(session, Transfer, transfer_id, bank.id, _("找不到该流水"))


def account_codes(session: Session, ids) -> dict[int, str]:
    """Return account codes by id, for showing transfers."""
    if not ids:
        return {}
    ids = list(set(ids))
    if len(ids) <= _CODES_PREPARED:
        # Every deed's answer asks this of a few accounts: a statement per count, compiled once.
        return dict(_codes_statement(len(ids)).execute(
            session, {f"id{i}": a for i, a in enumerate(ids)}).fetchall())
    return dict(session.execute(_CODES, {"ids": ids}).all())


_CODES = select(Account.id, Account.code).where(Account.id.in_(bindparam("ids", expanding=True)))
_CODES_PREPARED = 32


@functools.lru_cache(maxsize=_CODES_PREPARED)
def _codes_statement(size: int) -> Prepared:
    return Prepared(select(Account.__table__.c.id, Account.__table__.c.code)
                    .where(Account.__table__.c.id.in_([bindparam(f"id{i}") for i in range(size)])))


def resident_history(session: Session, bank: Bank, resident: Resident, *, since: date | None = None,
                     until: date | None = None, kind: str | None = None, rule: str | None = None,
                     limit: int = 200) -> list[Transfer]:
    """Return a resident's transfers newest first, filtered by date, kind and rule."""
    stmt = select(Transfer).where(Transfer.bank_id == bank.id, Transfer.doer_id == resident.id)
    if since:
        stmt = stmt.where(Transfer.occurred_on >= since)
    if until:
        stmt = stmt.where(Transfer.occurred_on <= until)
    if kind:
        stmt = stmt.where(Transfer.kind == kind)
    if rule:
        stmt = stmt.where(Transfer.rule_code == rule)
    return list(session.execute(stmt.order_by(Transfer.seq.desc()).limit(limit)).scalars())


def points_accounts_of(session: Session, bank: Bank, residents) -> set[int]:
    """Return the ids of the points accounts these residents' entries move: each one's own and
    their household's (whichever the bank keeps points in, and the other if it ever did)."""
    codes = [code for r in residents for code in (f"resident:{r.id}", f"household:{r.household_id}")]
    if not codes:
        return set()
    return set(session.execute(select(Account.id).where(
        Account.bank_id == bank.id, Account.ledger == PTS, Account.code.in_(codes))).scalars())


def effect_on(transfer: Transfer, own: set[int]) -> int:
    """Return what a transfer did to the points of these accounts: + earned, − spent or lost."""
    if transfer.credit_id in own:
        return transfer.amount
    if transfer.debit_id in own:
        return -transfer.amount
    return 0


def reversals_of(session: Session, bank: Bank, transfer_ids) -> dict[int, Transfer]:
    """Return the reversal of each of these transfers that has one, by the original's id."""
    ids = list(set(transfer_ids))
    if not ids:
        return {}
    return {t.reverses_id: t for t in session.execute(select(Transfer).where(
        Transfer.bank_id == bank.id, Transfer.reverses_id.in_(ids))).scalars()}


def residents_by_id(session: Session, bank: Bank, ids) -> dict[int, Resident]:
    """Return the bank's residents with these ids, by id."""
    ids = [i for i in set(ids) if i is not None]
    if not ids:
        return {}
    return {r.id: r for r in session.execute(select(Resident).where(
        Resident.bank_id == bank.id, Resident.id.in_(ids))).scalars()}


def household_codes(session: Session, residents) -> dict[int, str]:
    """Return the household code of each of these residents' households, by household id."""
    ids = {r.household_id for r in residents}
    if not ids:
        return {}
    return dict(session.execute(select(Household.id, Household.code).where(Household.id.in_(ids))).all())
