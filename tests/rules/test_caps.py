"""Evaluating a deed: its points, the periods caps count over, and what a cap still allows."""
from __future__ import annotations

from datetime import date

import pytest

from rules import Rule, cap_breach, deed_points, period_bounds

PATROL = Rule(code="patrol", name="夜间巡逻", category="社会治安", points=2, unit="小时",
              caps={"day": 8, "month": 60})
LITTER = Rule(code="litter", name="乱扔垃圾", category="环境卫生", points=-5, unit="次")


def test_points_are_per_unit_and_a_penalty_is_negative():
    assert deed_points(PATROL, 3) == 6
    assert deed_points(LITTER, 2) == -10


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True, "2"])
def test_a_quantity_must_be_a_positive_integer(quantity):
    with pytest.raises(ValueError):
        deed_points(PATROL, quantity)


@pytest.mark.parametrize("period, on, bounds", [
    ("day", date(2026, 10, 15), (date(2026, 10, 15), date(2026, 10, 15))),
    ("week", date(2026, 10, 15), (date(2026, 10, 12), date(2026, 10, 18))),  # Monday to Sunday
    ("week", date(2026, 12, 31), (date(2026, 12, 28), date(2027, 1, 3))),
    ("month", date(2026, 2, 10), (date(2026, 2, 1), date(2026, 2, 28))),
    ("year", date(2026, 10, 15), (date(2026, 1, 1), date(2026, 12, 31))),
])
def test_period_bounds(period, on, bounds):
    assert period_bounds(period, on) == bounds


def test_a_deed_within_every_cap_is_allowed():
    assert cap_breach(PATROL, 4, {"day": 4, "month": 50}) is None


def test_the_tightest_breached_cap_is_named_with_what_is_left():
    assert cap_breach(PATROL, 6, {"day": 4, "month": 50}) == ("day", 4)
    assert cap_breach(PATROL, 6, {"day": 0, "month": 58}) == ("month", 2)


def test_an_exhausted_cap_leaves_nothing_never_less():
    assert cap_breach(PATROL, 2, {"day": 9, "month": 0}) == ("day", 0)
