"""Periods of the calendar: a day, week, month, quarter or year, the one type that everything
counting in periods uses (the cycle's jobs, the notices, the desk's quarters, the caps).

Plain values on plain dates: each period knows its first and last day, its key as the API and
the command line write it (2026-10, 2026-Q4), its name as a reader reads it (2026年10月,
2026年第四季度), and the periods before and after it.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

#: The periods the cycle runs its jobs for and the API names; a cap may also count by the week.
KINDS = ("day", "month", "quarter", "year")

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_QUARTERS_ZH = "一二三四"


@dataclass(frozen=True, order=True)
class Period:
    """One day, week, month, quarter or year: its first and last day, its kind and its key."""

    start: date
    end: date
    kind: str
    key: str

    def __str__(self) -> str:
        return self.key

    @property
    def year(self) -> int:
        return self.start.year

    @property
    def number(self) -> int:
        """Return which month (1–12) or quarter (1–4) of its year this is."""
        if self.kind == "month":
            return self.start.month
        if self.kind == "quarter":
            return (self.start.month + 2) // 3
        raise ValueError(f"a {self.kind} is not numbered within its year")

    def next(self) -> "Period":
        """Return the period of the same kind that follows this one."""
        return period_of(self.kind, self.end + timedelta(days=1))

    def previous(self) -> "Period":
        """Return the period of the same kind before this one."""
        return period_of(self.kind, self.start - timedelta(days=1))

    def months(self) -> list["Period"]:
        """Return the months this period covers (a day or a month gives its own month)."""
        months, m = [], period_of("month", self.start)
        while m.start <= self.end:
            months.append(m)
            m = m.next()
        return months

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end

    def label(self, lang: str = "zh") -> str:
        """Return the period as a reader reads it: 2026年10月5日, 2026年10月, 2026年第四季度,
        2026年; in English 5 Oct 2026, Oct 2026, Q4 2026, 2026. A week reads as its key."""
        d, en = self.start, lang == "en"
        if self.kind == "day":
            return f"{d.day} {MONTHS_EN[d.month - 1]} {d.year}" if en else f"{d.year}年{d.month}月{d.day}日"
        if self.kind == "month":
            return f"{MONTHS_EN[d.month - 1]} {d.year}" if en else f"{d.year}年{d.month}月"
        if self.kind == "quarter":
            return f"Q{self.number} {d.year}" if en else f"{d.year}年第{_QUARTERS_ZH[self.number - 1]}季度"
        if self.kind == "year":
            return str(d.year) if en else f"{d.year}年"
        return self.key


@lru_cache(maxsize=4096)
def period_of(kind: str, day: date) -> Period:
    """Return the period of this kind that contains the day (a week runs Monday to Sunday)."""
    if kind == "day":
        return Period(day, day, "day", day.isoformat())
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        iso = start.isocalendar()
        return Period(start, start + timedelta(days=6), "week", f"{iso.year:04d}-W{iso.week:02d}")
    if kind == "month":
        last = calendar.monthrange(day.year, day.month)[1]
        return Period(day.replace(day=1), day.replace(day=last), "month", f"{day.year:04d}-{day.month:02d}")
    if kind == "quarter":
        q = (day.month - 1) // 3 + 1
        start = date(day.year, 3 * q - 2, 1)
        end = period_of("month", date(day.year, 3 * q, 1)).end
        return Period(start, end, "quarter", f"{day.year:04d}-Q{q}")
    if kind == "year":
        return Period(date(day.year, 1, 1), date(day.year, 12, 31), "year", f"{day.year:04d}")
    raise ValueError(f"unknown period kind {kind!r}")


def quarter_period(year: int, number: int) -> Period:
    """Return the quarter `number` (1–4) of the year."""
    if number not in (1, 2, 3, 4):
        raise ValueError("quarter must be 1–4")
    return period_of("quarter", date(year, 3 * number, 1))


def periods_since(kind: str, first: date, last: date) -> list[Period]:
    """Return every period of a kind from the one holding `first` to the one holding `last`."""
    found, p = [], period_of(kind, first)
    while p.start <= last:
        found.append(p)
        p = p.next()
    return found
