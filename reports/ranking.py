"""Ranking with ties, as plain functions: the notice's ranks and the commendation's order.

Notice ranks are competition ranks ("1224"): equal scores share a rank, the next rank skips,
and equals are listed in a stable order (their tiebreak key, e.g. the resident's id).

The commendation needs a strict order to name a fixed number of awardees. Its documented
tie rule, applied in turn until two candidates differ:

1. more points in the title's category (or in total, for a title without one);
2. fewer penalty points in the year;
3. more deeds in the year (more often did good, not once big);
4. the lower id — registered earlier with the bank.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, TypeVar

T = TypeVar("T")

TIE_RULE_ZH = "同分时依次比较：扣分少者优先、登记次数多者优先、登记在先（编号小）者优先。"
TIE_RULE_EN = ("Ties are broken in turn by fewer penalty points, then more deeds, then the earlier "
               "registration (lower id).")


def competition_ranks(items: Iterable[T], score: Callable[[T], int],
                      tiebreak: Callable[[T], Any]) -> list[tuple[int, T]]:
    """Return (rank, item) pairs, best first: equal scores share a rank, listed by `tiebreak`."""
    ordered = sorted(items, key=lambda item: (-score(item), tiebreak(item)))
    ranked, rank, last = [], 0, None
    for position, item in enumerate(ordered, start=1):
        value = score(item)
        if value != last:
            rank, last = position, value
        ranked.append((rank, item))
    return ranked


def competition_rank(scores: Iterable[int], score: int) -> int:
    """Return the competition rank `score` has among `scores` (as `competition_ranks` gives it):
    one more than the number of scores above it."""
    return 1 + sum(1 for other in scores if other > score)


def commendation_order(candidates: Iterable[dict]) -> list[dict]:
    """Return candidates in commendation order by the documented tie rule.

    Each candidate is a dict with `points`, `penalties` (a positive number of points lost),
    `deeds` (count) and `id`.
    """
    return sorted(candidates, key=lambda c: (-c["points"], c["penalties"], -c["deeds"], c["id"]))


def top(candidates: Iterable[dict], count: int) -> list[dict]:
    """Return the first `count` candidates with a positive score, in commendation order."""
    return [c for c in commendation_order(candidates) if c["points"] > 0][:count]
