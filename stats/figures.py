"""The dashboards' arithmetic as plain functions: months, ranges, shares, running totals.

No Flask, no database: the services pass in the kept rows and get plain values back.
"""
from __future__ import annotations

from datetime import date
from typing import Iterable

#: The longest range one request may ask for: ten years of months.
MAX_MONTHS = 120


def month_number(day: date) -> int:
    """Return the month a day falls in as a whole number YYYYMM (202610)."""
    return day.year * 100 + day.month


def month_text(month: int) -> str:
    """Return a YYYYMM month as 2026-10."""
    return f"{month // 100:04d}-{month % 100:02d}"


def month_start(month: int) -> date:
    """Return the first day of a YYYYMM month."""
    return date(month // 100, month % 100, 1)


def add_months(month: int, count: int) -> int:
    """Return the YYYYMM month `count` months after (or before, if negative) `month`."""
    index = (month // 100) * 12 + month % 100 - 1 + count
    return (index // 12) * 100 + index % 12 + 1


def months_between(first: int, last: int) -> list[int]:
    """Return every YYYYMM month from `first` to `last`, both included."""
    out, month = [], first
    while month <= last:
        out.append(month)
        month = add_months(month, 1)
    return out


def span(first: int, last: int) -> int:
    """Return how many months run from `first` to `last`, both included."""
    return ((last // 100) * 12 + last % 100) - ((first // 100) * 12 + first % 100) + 1


def percent_tenths(part: int, whole: int) -> float | None:
    """Return part/whole as a percent to one decimal, rounded down; None when whole is 0.

    Rounded down, as the fund's coverage is: a village at 99.96% has not reached 100%.
    """
    if whole <= 0:
        return None
    return (max(0, part) * 1000 // whole) / 10


def running(changes: dict[int, int], months: Iterable[int]) -> dict[int, int]:
    """Return the total at the end of each month, from each month's change (months in order).

    Changes dated before the first month asked for count too: pass them under any earlier month.
    """
    total, out = 0, {}
    months = list(months)
    first = months[0] if months else None
    total = sum(v for m, v in changes.items() if first is not None and m < first)
    for month in months:
        total += changes.get(month, 0)
        out[month] = total
    return out


def year_to_date(monthly: dict[int, int], year: int, through_month: int) -> list[int]:
    """Return the running total of a year's months 1..through_month (12 at most)."""
    total, out = 0, []
    for m in range(1, through_month + 1):
        total += monthly.get(year * 100 + m, 0)
        out.append(total)
    return out


def rank_banks(rows: list[dict]) -> list[dict]:
    """Order a county's banks: coverage warnings first, then by participation, highest first.

    A bank with nobody registered (no participation to speak of) comes last of its group; ties
    keep the order of the bank codes.
    """
    return sorted(rows, key=lambda r: (not r["coverage_warning"],
                                       -(r["participation_percent"] if r["participation_percent"]
                                         is not None else -1),
                                       r["code"]))
