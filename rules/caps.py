"""Evaluating a deed against its rule: the points it is worth and whether a cap allows it."""
from __future__ import annotations

from datetime import date

from .model import CAP_PERIODS, Rule
from .periods import period_of


def deed_points(rule: Rule, quantity: int) -> int:
    """Return the signed points of `quantity` units of the rule (negative for a penalty)."""
    if type(quantity) is not int or quantity <= 0:
        raise ValueError(f"quantity must be a positive integer, not {quantity!r}")
    return rule.points * quantity


def period_bounds(period: str, on: date) -> tuple[date, date]:
    """Return the first and last day of the day, week (Monday on), month or year around `on`."""
    if period not in CAP_PERIODS:
        raise ValueError(f"unknown cap period {period!r}")
    bounds = period_of(period, on)
    return bounds.start, bounds.end


def cap_breach(rule: Rule, points: int, earned: dict[str, int]) -> tuple[str, int] | None:
    """Return (period, points still allowed) for the tightest cap the deed would break, or None.

    `earned` holds what the resident already has under the rule in each capped period.
    """
    breaches = []
    for period in CAP_PERIODS:
        if period in rule.caps:
            remaining = max(rule.caps[period] - earned.get(period, 0), 0)
            if points > remaining:
                breaches.append((remaining, CAP_PERIODS.index(period), period))
    if not breaches:
        return None
    remaining, _, period = min(breaches)
    return period, remaining
