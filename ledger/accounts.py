"""The chart of accounts: each bank's system accounts, and where a resident's points land."""
from __future__ import annotations

from sqlalchemy import String, cast, literal, select
from sqlalchemy.orm import Session

from . import formatting
from .models import CNY, PTS, Account, Household, Resident
from ground.tenants import Bank

#: System accounts every bank opens with: (ledger, code, Chinese name).
SYSTEM_ACCOUNTS = (
    (PTS, "issued", "积分发放"),
    (PTS, "penalties", "扣分"),
    (PTS, "redeemed", "积分兑换"),
    (PTS, "expired", "积分清零"),
    (CNY, "fund", "综治基金（不限用途）"),
    (CNY, "fund:goods", "综治基金（限购兑换物资）"),
    (CNY, "fund:projects", "综治基金（限微项目）"),
    (CNY, "source:town", "镇投入"),
    (CNY, "source:village", "村投入"),
    (CNY, "source:sponsor", "社会赞助"),
    (CNY, "source:donor", "村民捐献"),
    (CNY, "stock:goods", "兑换物资库存"),
    (CNY, "spent:goods", "兑换物资"),
    (CNY, "spent:projects", "微项目"),
    # In-kind gifts (微心愿) at their stated value: never cash, so never in the fund's balance.
    (CNY, "inkind:received", "实物捐赠（待确认）"),
    (CNY, "inkind:given", "实物捐赠（已送达）"),
)


def open_system_accounts(session: Session, bank_id: int) -> None:
    """Open a new bank's system accounts."""
    session.add_all(Account(bank_id=bank_id, ledger=ledger, code=code, name=name, kind="system")
                    for ledger, code, name in SYSTEM_ACCOUNTS)
    session.flush()


def system_account(session: Session, bank_id: int, ledger: str, code: str) -> Account:
    """Return one of the bank's system accounts, opening it if the bank predates it."""
    account = session.execute(select(Account).where(
        Account.bank_id == bank_id, Account.ledger == ledger, Account.code == code)).scalar_one_or_none()
    if account is None:
        name = next(n for lg, c, n in SYSTEM_ACCOUNTS if (lg, c) == (ledger, code))
        account = Account(bank_id=bank_id, ledger=ledger, code=code, name=name, kind="system")
        session.add(account)
        session.flush()
    return account


def account_sql(column, bank_id, code):
    """One column of a bank's points account found by its code, as a scalar subquery (NULL
    while the account is not opened); `bank_id` and `code` may be columns of an outer query."""
    accounts = Account.__table__
    return (select(column).where(accounts.c.bank_id == bank_id, accounts.c.ledger == PTS,
                                 accounts.c.code == code).scalar_subquery())


def points_code_sql(residents, account_unit: str):
    """The code of the account a resident's points land in ("resident:17", "household:7", as
    `resident_account` and `household_account` open them), as SQL over a residents table."""
    if account_unit == "household":
        return literal("household:") + cast(residents.c.household_id, String)
    return literal("resident:") + cast(residents.c.id, String)


def points_code(resident, account_unit: str) -> str:
    """Return the code of the account a resident's points land in, as `points_code_sql` has it."""
    if account_unit == "household":
        return f"household:{resident.household_id}"
    return f"resident:{resident.id}"


def household_account(session: Session, household: Household) -> Account:
    """Return the household's points account, opening it on first use."""
    return _get_or_open(session, household.bank_id, f"household:{household.id}",
                        name=household.name or household.code, kind="household",
                        household_id=household.id)


def resident_account(session: Session, resident: Resident) -> Account:
    """Return the resident's own points account, opening it on first use."""
    return _get_or_open(session, resident.bank_id, points_code(resident, "person"), name=resident.name,
                        kind="resident", resident_id=resident.id)


def points_account(session: Session, resident: Resident, account_unit: str) -> Account:
    """Return the account a resident's points land in: their own, or their household's."""
    if account_unit == "household":
        return household_account(session, session.get(Household, resident.household_id))
    return resident_account(session, resident)


def money_account(session: Session, bank_id: int, code: str, *, name: str, kind: str) -> Account:
    """Return a CNY account opened as the bank needs it (a micro-project's "project:12"), opening it on first use."""
    return _get_or_open(session, bank_id, code, ledger=CNY, name=name[:100], kind=kind)


def _get_or_open(session: Session, bank_id: int, code: str, *, ledger: str = PTS, **fields) -> Account:
    account = session.execute(select(Account).where(
        Account.bank_id == bank_id, Account.ledger == ledger, Account.code == code)).scalar_one_or_none()
    if account is None:
        account = Account(bank_id=bank_id, ledger=ledger, code=code, **fields)
        session.add(account)
        session.flush()
    return account


def account_names(session: Session, bank: Bank, ids) -> dict[int, str]:
    """Return the bank's accounts by id as people name them (formatting.account_name)."""
    if not ids:
        return {}
    rows = session.execute(select(Account.id, Account.code, Account.name).where(
        Account.bank_id == bank.id, Account.id.in_(list(set(ids))))).all()
    return {i: formatting.account_name(code, name, bank.name) for i, code, name in rows}
