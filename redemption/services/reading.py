"""Reading what the desk did: a redemption with its legs, which lines were undone, the quarter's
summary, and what the desk shows once a resident or a household is found."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.db import bank_row
from ground.errors import NotFound
from ground.i18n import _
from ground.tenants import Bank
from ledger import accounts, reversals
from ledger import people
from ledger.models import Household, Resident, Transfer
from rules.periods import quarter_period

from ..models import Redemption, RedemptionLine
from . import books
from .catalog import list_items
from .windows import current_window, next_window


@dataclass(frozen=True)
class RedemptionOutcome:
    """A redemption, its lines, and the legs of the entry each line posted."""

    redemption: Redemption
    lines: list[RedemptionLine]
    #: Every leg, in chain order.
    transfers: list
    #: Each line's legs (its points, and the goods' cost when they cost anything), by its entry_id.
    entries: dict[int, list]

    def leg_ids(self, line: RedemptionLine) -> tuple[int, int | None]:
        """Return the ids of a line's points transfer and of its cost transfer (None if none)."""
        legs = self.entries[line.entry_id]
        return (next(t.id for t in legs if t.kind == books.KIND_POINTS),
                next((t.id for t in legs if t.kind == books.KIND_COST), None))


def get_redemption(session: Session, bank: Bank, redemption_id: int) -> RedemptionOutcome:
    """Return a redemption with its lines and their legs, or NotFound."""
    redemption = bank_row(session, Redemption, redemption_id, bank.id, _("找不到该兑换记录"))
    lines = list(session.execute(select(RedemptionLine).where(
        RedemptionLine.redemption_id == redemption.id).order_by(RedemptionLine.id)).scalars())
    entries = reversals.entries(session, bank, [line.entry_id for line in lines])
    transfers = sorted((t for legs in entries.values() for t in legs), key=lambda t: t.seq)
    return RedemptionOutcome(redemption, lines, transfers, entries)


def reversed_lines(session: Session, lines: list[RedemptionLine]) -> set[int]:
    """Return the ids of the lines whose entry has been reversed."""
    ids = [line.entry_id for line in lines]
    if not ids:
        return set()
    undone = set(session.execute(select(Transfer.reverses_id).where(
        Transfer.reverses_id.in_(ids))).scalars())
    return {line.id for line in lines if line.entry_id in undone}


def desk_summary(session: Session, bank: Bank, year: int, quarter: int) -> dict:
    """Return what the desk gave out in a quarter, item by item, reversals taken out."""
    period = quarter_period(year, quarter)
    first, last = period.start, period.end
    kept = (RedemptionLine.bank_id == bank.id, RedemptionLine.occurred_on.between(first, last),
            ~books.reversed_(RedemptionLine.entry_id))
    rows = session.execute(
        select(RedemptionLine.item_id, func.sum(RedemptionLine.quantity),
               func.sum(RedemptionLine.points), func.sum(RedemptionLine.cost_fen))
        .where(*kept).group_by(RedemptionLine.item_id)).all()
    given = {item: (int(q), int(p), int(c)) for item, q, p, c in rows}
    visits = session.execute(
        select(func.count(func.distinct(RedemptionLine.redemption_id)),
               func.count(func.distinct(RedemptionLine.account_id))).where(*kept)).one()
    items = []
    for item in list_items(session, bank):
        quantity, points, cost = given.get(item.id, (0, 0, 0))
        if quantity or item.active:
            items.append({"sku": item.sku, "name": item.name, "quantity": quantity, "points": points,
                          "cost_fen": cost, "stock": item.stock, "stock_value_fen": item.stock_value_fen})
    return {"bank": bank, "year": year, "quarter": quarter, "first": first, "last": last,
            "items": items, "visits": int(visits[0]), "holders": int(visits[1]),
            "quantity": sum(i["quantity"] for i in items), "points": sum(i["points"] for i in items),
            "cost_fen": sum(i["cost_fen"] for i in items)}


def holder_view(session: Session, bank: Bank, resident: Resident, *, clock: Clock) -> dict:
    """Return what the desk shows once a resident is found: whose points, how many, the window."""
    settings = books.settings(session, bank)
    household = session.get(Household, resident.household_id)
    account = accounts.points_account(session, resident, settings.account_unit)
    window = current_window(session, bank, clock.today())
    return {"resident": resident, "household": household, "account": account,
            "account_unit": settings.account_unit, "balance": books.balance(session, account.id),
            "window": window, "upcoming": window or next_window(session, bank, clock.today())}


def household_members(session: Session, bank: Bank, code: str) -> tuple[Household, list[Resident]]:
    """Return a household (a household card was scanned) and its active members, or NotFound."""
    home = people.find_household(session, bank, code)
    if home is None:
        raise NotFound(_("找不到该住户"))
    return home, list(session.execute(select(Resident).where(
        Resident.household_id == home.id, Resident.active.is_(True)).order_by(Resident.id)).scalars())
