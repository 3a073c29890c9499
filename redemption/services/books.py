"""The desk's side of the ledger: its system accounts, its transfer kinds, balances as they stand."""
from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from ground.tenants import Bank
from ledger import accounts
from ledger import banks
from ledger.models import CNY, FUND_CASH, PTS, Account, Transfer

#: The fund's cash accounts: unrestricted, goods only, micro-projects only.
CASH = FUND_CASH
#: Goods bought or given for the desk, at cost, until they are handed out.
STOCK = "stock:goods"
SOURCE_NAMES = {"town": "镇投入", "village": "村投入", "sponsor": "社会赞助", "donor": "村民捐献"}
SOURCE_NAMES_EN = {"town": "township", "village": "village", "sponsor": "sponsors", "donor": "villagers"}


def source_names(lang: str) -> dict[str, str]:
    """The fund's sources as a screen in `lang` ("zh" or "en") names them."""
    return SOURCE_NAMES_EN if lang == "en" else SOURCE_NAMES
RESTRICTED_TO = {None: "fund", "goods": "fund:goods", "projects": "fund:projects"}
#: Transfer kinds the desk posts.
KIND_POINTS, KIND_COST = "redemption", "goods_cost"
KIND_PURCHASE, KIND_DONATION, KIND_RECEIPT = "goods_purchase", "goods_donation", "fund_receipt"


def system(session: Session, bank_id: int, code: str) -> Account:
    """Return one of the bank's system accounts by its code (`redeemed` is in points)."""
    return accounts.system_account(session, bank_id, PTS if code in ("redeemed",) else CNY, code)


def system_ids(session: Session, bank_id: int) -> dict[tuple[str, str], int]:
    """Return the ids of the bank's system accounts by (ledger, code), in one query."""
    ids = {(ledger, code): account_id for account_id, ledger, code in session.execute(
        select(Account.id, Account.ledger, Account.code).where(
            Account.bank_id == bank_id, Account.kind == "system"))}
    for ledger, code, _ in accounts.SYSTEM_ACCOUNTS:
        if (ledger, code) not in ids:  # a bank older than the account: open it now
            ids[ledger, code] = accounts.system_account(session, bank_id, ledger, code).id
    return ids


def balance(session: Session, account_id: int) -> int:
    """Return an account's balance as the database holds it now."""
    # A column read, never the cached object: post() moves balances with UPDATE statements.
    return session.execute(select(Account.balance).where(Account.id == account_id)).scalar_one()


def reversed_(transfer_id_column):
    """A condition: the transfer in this column (an entry's first leg: its whole entry) was reversed."""
    reversal = aliased(Transfer)
    return exists().where(reversal.reverses_id == transfer_id_column)


def settings(session: Session, bank: Bank):
    """Return the settings of the bank's rule book in force."""
    return banks.rulebook(session, bank.id)[1].settings
