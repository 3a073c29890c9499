"""The desk's arithmetic as plain functions: windows, coverage, limits, stock at cost.

No Flask, no database: the services pass in plain values and act on what comes back.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Sequence


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
