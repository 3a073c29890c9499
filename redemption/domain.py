"""The desk's arithmetic as plain functions: windows, coverage, limits, stock at cost, and the
plan of a redemption.

No Flask, no database: the services pass in plain values and act on what comes back.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Mapping, Sequence

from ground.errors import ValidationError
from ground.i18n import _, in_language
from ledger import formatting

from .errors import InsufficientPoints, LimitExceeded, OutOfStock, WindowClosed


# --- windows -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """A stretch of days when the desk is open: regular (from the rules) or extra (the council's)."""

    opens_on: date
    closes_on: date
    kind: str = "regular"
    #: The stored window's id; None for a regular window derived from the rule file's dates.
    id: int | None = None
    #: Why it was opened (an extra window: the council's decision, say).
    memo: str | None = None

    def contains(self, day: date) -> bool:
        return self.opens_on <= day <= self.closes_on

    def overlaps(self, other: "Window") -> bool:
        return self.opens_on <= other.closes_on and other.opens_on <= self.closes_on


def regular_windows(year: int, months: Sequence[int], days: int) -> list[Window]:
    """Return the year's regular windows: the first `days` days of each redemption month."""
    out = []
    for month in sorted(set(months)):
        last = calendar.monthrange(year, month)[1]
        out.append(Window(date(year, month, 1), date(year, month, min(days, last))))
    return out


def merge_windows(stored: Iterable[Window], derived: Iterable[Window]) -> list[Window]:
    """Return the windows in force: the stored ones, and each derived regular window whose month
    has no stored regular window yet (once the cycle opens or closes a quarter's window, its
    record is what counts). Closed stored windows are passed in already shortened or left out."""
    stored = list(stored)
    taken = {(w.opens_on.year, w.opens_on.month) for w in stored if w.kind == "regular"}
    merged = stored + [w for w in derived if (w.opens_on.year, w.opens_on.month) not in taken]
    return sorted(merged, key=lambda w: (w.opens_on, w.closes_on))


def window_on(day: date, windows: Iterable[Window]) -> Window | None:
    """Return the window open on `day` (the one closing last if several), or None."""
    open_now = [w for w in windows if w.contains(day)]
    return max(open_now, key=lambda w: w.closes_on) if open_now else None


def next_window(day: date, windows: Iterable[Window]) -> Window | None:
    """Return the window open on `day`, else the first one that opens after it, else None."""
    current = window_on(day, windows)
    if current:
        return current
    later = [w for w in windows if w.opens_on > day]
    return min(later, key=lambda w: w.opens_on) if later else None


def window_state(window: Window, day: date) -> str:
    """Say where a window stands on `day`: open, upcoming, over, or closed (closed on or before
    its first day, so its last day falls before its first)."""
    if window.closes_on < window.opens_on:
        return "closed"
    if window.contains(day):
        return "open"
    return "upcoming" if window.opens_on > day else "over"


# --- coverage ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Coverage:
    """The fund against the points it must honour, in fen; percent is None when no points are out."""

    points_outstanding: int
    point_value_fen: int
    liability_fen: int
    available_fen: int
    percent: int | None
    warning_percent: int
    warning: bool


def coverage(points_outstanding: int, point_value_fen: int, available_fen: int,
             warning_percent: int) -> Coverage:
    """Value the points outstanding and say how much of it the fund covers, and whether to warn.

    The percent is rounded down (a council should never read 100% when it is 99.9%), and the
    warning fires strictly below the threshold.
    """
    liability = max(0, points_outstanding) * point_value_fen
    percent = None if liability == 0 else max(0, available_fen) * 100 // liability
    warning = percent is not None and percent < warning_percent
    return Coverage(points_outstanding, point_value_fen, liability, available_fen, percent,
                    warning_percent, warning)


# --- the catalog ---------------------------------------------------------------------------------

SKU_MAX = 40


def new_sku(initials: str, taken: Iterable[str]) -> str:
    """Return a code for new goods from its name's initials ("大米 5kg" → "dm5kg"): ASCII letters,
    digits and hyphens, "item" when none are left, "-2", "-3" … after one already taken."""
    base = "".join(ch for ch in initials.lower() if ch.isascii() and (ch.isalnum() or ch in "-_."))
    base = base.lstrip("-_.")[:SKU_MAX - 4] or "item"
    taken = {t.lower() for t in taken}
    sku, n = base, 1
    while sku.lower() in taken:
        n += 1
        sku = f"{base}-{n}"
    return sku


# --- the desk ------------------------------------------------------------------------------------

def remaining_allowance(limit: int | None, already: int) -> int | None:
    """Return how many more units a holder may take in this window; None when unlimited."""
    return None if limit is None else max(0, limit - already)


def cost_of_taking(quantity: int, stock: int, stock_value_fen: int) -> int:
    """Return the cost at which `quantity` units leave a stock of `stock` worth `stock_value_fen`.

    Moving average in whole fen: the share is rounded down, and the last unit out takes what is
    left, so the stock's value reaches zero exactly when the stock does.
    """
    if not 0 < quantity <= stock:
        raise ValueError(f"cannot take {quantity} of {stock}")
    if quantity == stock:
        return stock_value_fen
    return stock_value_fen * quantity // stock


def affordable(balance: int, total_points: int) -> bool:
    """Say whether a balance pays for a redemption without going below zero."""
    return total_points <= balance


def split_payment(amount: int, restricted: int, unrestricted: int) -> tuple[int, int] | None:
    """Pay `amount` from goods-only money first, then from unrestricted money; None if short.

    Returns (from restricted, from unrestricted).
    """
    from_restricted = min(amount, max(0, restricted))
    rest = amount - from_restricted
    if rest > max(0, unrestricted):
        return None
    return from_restricted, rest


# --- a redemption, planned -----------------------------------------------------------------------

@dataclass(frozen=True)
class Goods:
    """An item as the desk finds it when a basket comes in."""

    id: int
    sku: str
    name: str
    points: int
    stock: int
    stock_value_fen: int
    limit_per_window: int | None = None
    active: bool = True


@dataclass(frozen=True)
class Holder:
    """Whose points pay: the account's balance, and whether the resident may redeem from it.

    `standing` is the resident's own points when they are kept per household and the rules bar a
    resident below zero from redeeming (None when that does not apply)."""

    balance: int
    standing: int | None = None


@dataclass(frozen=True)
class PlannedLine:
    """One item of the basket: what it costs in points, what its units cost the fund."""

    goods: Goods
    quantity: int
    points: int
    cost_fen: int


@dataclass(frozen=True)
class Plan:
    """A redemption ready to post: its lines, in the basket's order, and what they come to."""

    window: Window
    lines: tuple[PlannedLine, ...]
    points: int
    cost_fen: int
    balance_after: int


def plan_redemption(basket: Sequence[tuple[str, int]], goods: Mapping[str, Goods], *,
                    window: Window | None, upcoming: Window | None, taken: Mapping[int, int],
                    holder: Holder) -> Plan:
    """Plan the exchange of a basket of (sku, quantity) for points, or refuse it.

    Checked in this order: every SKU is offered, the desk is open (`window`; `upcoming` is named
    when not), the holder's limit per window (`taken`: units of each item, by id, already
    taken in it), the stock, the points, the resident's own standing.
    """
    problems = [_("%(sku)s: 货号不存在", sku=sku) for sku, _q in basket if sku not in goods]
    problems += [_("%(sku)s: 已下架", sku=sku) for sku, _q in basket
                 if sku in goods and not goods[sku].active]
    if problems:
        raise ValidationError({"items": problems})
    if window is None:
        if upcoming is None:
            raise WindowClosed(_("现在不是兑换期"))
        raise WindowClosed(_("现在不是兑换期，下次兑换期 %(opens)s 至 %(closes)s",
                             opens=_day(upcoming.opens_on), closes=_day(upcoming.closes_on)))
    for sku, quantity in basket:
        item = goods[sku]
        left = remaining_allowance(item.limit_per_window, taken.get(item.id, 0))
        if left is not None and quantity > left:
            raise LimitExceeded(
                _("%(item)s 每个兑换期限兑 %(limit)s 件，本期还可兑 %(left)s 件",
                  item=label(item.sku, item.name), limit=item.limit_per_window, left=left),
                fields={"items": [_("%(item)s：本期还可兑 %(left)s 件", item=label(item.sku, item.name),
                                    left=left)]})
    for sku, quantity in basket:
        item = goods[sku]
        if item.stock < quantity:
            raise OutOfStock(_("%(item)s 库存不足：还剩 %(left)s 件，要兑 %(asked)s 件",
                               item=label(item.sku, item.name), left=item.stock, asked=quantity),
                             fields={"items": [_("%(item)s：库存 %(left)s 件", item=label(item.sku, item.name),
                                                 left=item.stock)]})
    lines = tuple(PlannedLine(goods[sku], quantity, goods[sku].points * quantity,
                              cost_of_taking(quantity, goods[sku].stock, goods[sku].stock_value_fen))
                  for sku, quantity in basket)
    total = sum(line.points for line in lines)
    if not affordable(holder.balance, total):
        raise InsufficientPoints(_("积分不足：余额 %(balance)s 分，需要 %(total)s 分",
                                   balance=holder.balance, total=total))
    if holder.standing is not None and holder.standing < 0:
        raise InsufficientPoints(_("本人积分为负（扣分未抵清），按本村规则暂不能兑换"))
    return Plan(window, lines, total, sum(line.cost_fen for line in lines), holder.balance - total)


def _day(day: date):
    return in_language(lambda lang: formatting.day(day, lang))


def label(sku: str, name: str):
    """Return how a message names goods: by name in Chinese, by SKU in English (as the desk's
    English always has)."""
    return in_language(lambda lang: sku if lang == "en" else name)
